#!/usr/bin/env bash
# Installs the pinned Node tools (the AWS CDK CLI) into tools/node, once.
# Prints the bin directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/tools/node"
if [ ! -x "$dir/node_modules/.bin/cdk" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "installing the AWS CDK CLI into tools/node..." >&2
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2
fi
echo "$dir/node_modules/.bin"
