#!/usr/bin/env bash
# Prints the path of shellcheck, installing Debian's package `shellcheck` when it is missing
# (as scripts/with-postgres.sh installs PostgreSQL): the tests check the shell script
# `acme-infra pipeline init` writes with it.
set -euo pipefail
if ! command -v shellcheck >/dev/null; then
    echo "installing shellcheck (Debian package shellcheck)..." >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: shellcheck is not installed and this is not root; run: sudo apt-get install -y shellcheck" >&2
        exit 1
    fi
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >&2
fi
command -v shellcheck
