#!/usr/bin/env bash
# The test command (README, CI): formatting, lints, then every test in the
# workspace with a moto server running and cfn-lint on PATH.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n==> %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "installing test tools (moto, cfn-lint) into .venv"
bin=$(scripts/py-tools.sh)
"$bin/cfn-lint" --version >&2

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (against a fresh moto server)"
ACME_CFN_LINT="$bin/cfn-lint" scripts/with-moto.sh cargo test --workspace --locked
