#!/usr/bin/env bash
# Installs the Python tools the tests use (moto server, cfn-lint, checkov, duckdb,
# check-jsonschema) into .venv, once; later runs only check the pins. Prints the venv's bin
# directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$root/requirements-dev.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >&2
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "installing Python test tools into .venv (moto, cfn-lint, checkov, duckdb, check-jsonschema)..." >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/requirements-dev.txt" >&2
    echo "$want" > "$stamp"
fi
echo "$venv/bin"
