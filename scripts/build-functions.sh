#!/usr/bin/env bash
# Builds the Lambda bundles (one bootstrap.zip per function) with cargo-lambda,
# which cross-links with zig. Installs cargo-lambda into .venv once.
#   scripts/build-functions.sh                  # arm64 -> target/lambda/arm64/<fn>/bootstrap.zip
#   ARCH=x86_64 scripts/build-functions.sh      # x86_64 -> target/lambda/x86_64/...
#   ALLOW_ARCH_FALLBACK=1 scripts/build-functions.sh   # x86_64 if the arm64 target can't be installed
# Uses the workspace's [profile.lambda] (opt-level s, thin LTO, strip, panic abort).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

functions=(order-api order-worker stream-publisher order-sweeper legacy-sync)
arch=${ARCH:-arm64}
# Lambda rejects a bundle over 50 MB zipped; ours should stay far below.
size_target_bytes=$((5 * 1024 * 1024))

bin=$(scripts/py-tools.sh)
venv=$(dirname "$bin")
stamp="$venv/.requirements-lambda.sha256"
want=$(sha256sum requirements-lambda.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "installing cargo-lambda (and zig) into .venv..." >&2
    if ! "$bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-lambda.txt >&2; then
        echo "error: cannot install the bundler (cargo-lambda and zig, requirements-lambda.txt) into .venv: pip failed above" >&2
        echo "  fix: where PyPI is reachable, run '$bin/python -m pip install -r requirements-lambda.txt'," >&2
        echo "       then 'make functions' again (or pass --assets-dir to deploy with zips built elsewhere)." >&2
        exit 1
    fi
    echo "$want" > "$stamp"
fi
# cargo-lambda finds zig through `python3 -m ziglang`: the venv's python.
export PATH="$bin:$PATH"
if ! cargo lambda --version >/dev/null 2>&1; then
    echo "error: the bundler is missing: 'cargo lambda' does not run with $bin first on PATH" >&2
    echo "  fix: rm '$stamp' and run 'make functions' again (it reinstalls cargo-lambda into .venv)" >&2
    exit 1
fi

case "$arch" in
    arm64 | aarch64)
        triple=aarch64-unknown-linux-gnu
        if ! rustup target list --installed | grep -qx "$triple"; then
            if ! out=$(rustup target add "$triple" 2>&1); then
                echo "error: cannot install the Rust target $triple for arm64 bundles:" >&2
                echo "$out" | sed 's/^/    /' >&2
                echo "  fix: run 'rustup target add $triple' where the Rust dist server is reachable," >&2
                echo "       or build x86_64 bundles with ARCH=x86_64 (and set the county's architecture to x86_64)." >&2
                if [ "${ALLOW_ARCH_FALLBACK:-0}" = 1 ]; then
                    echo "warning: ALLOW_ARCH_FALLBACK=1: building x86_64 bundles instead" >&2
                    arch=x86_64
                else
                    exit 1
                fi
            fi
        fi
        ;;
    x86_64 | x86-64 | amd64) arch=x86_64 ;;
    *)
        echo "error: ARCH must be arm64 or x86_64, got '$arch'" >&2
        exit 2
        ;;
esac
if [ "$arch" = x86_64 ]; then arch_flag=--x86-64; else arch=arm64; arch_flag=--arm64; fi

lambda_dir="target/lambda/$arch"
packages=()
for f in "${functions[@]}"; do packages+=(--package "$f"); done
echo "==> cargo lambda build --profile lambda $arch_flag (${functions[*]})" >&2
cargo lambda build --profile lambda "$arch_flag" --output-format zip \
    --lambda-dir "$lambda_dir" "${packages[@]}"

status=0
echo "bundles ($arch):"
for f in "${functions[@]}"; do
    zip="$lambda_dir/$f/bootstrap.zip"
    if [ ! -f "$zip" ]; then
        echo "  $f: missing $zip" >&2
        status=1
        continue
    fi
    bytes=$(stat -c %s "$zip")
    verdict=ok
    if [ "$bytes" -gt "$size_target_bytes" ]; then verdict="OVER the 5 MB target"; status=1; fi
    printf '  %-18s %8.2f MB  %s  (%s)\n' "$f" "$(echo "$bytes / 1048576" | bc -l)" "$zip" "$verdict"
done
exit $status
