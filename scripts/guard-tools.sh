#!/usr/bin/env bash
# Installs cfn-guard (AWS CloudFormation Guard, Apache-2.0) into tools/guard,
# once, and prints its path. The binary comes from the npm package
# @cdklabs/cdk-validator-cfnguard, which ships cfn-guard's own Linux and macOS
# release builds: a few seconds to install, where `cargo install cfn-guard`
# compiles for many minutes. The package is checked against its pinned
# integrity before anything in it runs. The rules it runs are in the
# repository (stacks/tests/guard/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/tools/guard"
package="@cdklabs/cdk-validator-cfnguard@0.0.62"
integrity="sha512-Sg2k8067B0AIJ82QFSLhHTUIqxOYTKABvVrTHiyc6j0rE2NHli2diIYqf+w+DkuDKCYYgMIOga3OrYMOHUw0mQ=="
version="cfn-guard 3.1.1"
bin="$dir/cfn-guard"

if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "$version" ]; then
    echo "$bin"
    exit 0
fi
case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) build=ubuntu/x86_64 ;;
    Linux/aarch64 | Linux/arm64) build=ubuntu/aarch64 ;;
    Darwin/x86_64) build=macos/x86_64 ;;
    Darwin/arm64) build=macos/aarch64 ;;
    *) echo "no cfn-guard build for $(uname -s)/$(uname -m): install cfn-guard 3.1.1 (cargo install --locked cfn-guard --version 3.1.1) into $dir" >&2; exit 1 ;;
esac
echo "installing $version into tools/guard (from npm $package)..." >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball=$(cd "$work" && npm pack "$package" --silent --no-audit --no-fund)
got="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0 2>/dev/null || openssl dgst -sha512 -binary "$work/$tarball" | base64)"
if [ "$got" != "$integrity" ]; then
    echo "$package: integrity $got, expected $integrity; not installing" >&2
    exit 1
fi
tar -xzf "$work/$tarball" -C "$work" "package/bin/$build/cfn-guard"
mkdir -p "$dir"
install -m 0755 "$work/package/bin/$build/cfn-guard" "$bin"
"$bin" --version >&2
echo "$bin"
