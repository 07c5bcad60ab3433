#!/usr/bin/env bash
# The backfill's throughput against moto and moto's own BatchWriteItem
# ceiling, the --max-wcu hold, and peak memory at 10k and N orders (not part
# of `make test`; figures in docs/migration.md). Starts its own moto and
# PostgreSQL.
#   scripts/bench-migrate.sh                 # 10,000 then 100,000 orders
#   scripts/bench-migrate.sh --orders 20000  # 10,000 then 20,000
#   scripts/bench-migrate.sh --max-wcu 800   # the limited run at 800 WCU/s
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

orders=100000
pass=()
while [ $# -gt 0 ]; do
    case "$1" in
        --orders) orders=${2:?--orders needs a number}; shift 2 ;;
        --max-wcu|--page-size) pass+=("$1" "${2:?$1 needs a number}"); shift 2 ;;
        *) echo "error: unknown argument $1 (--orders N, --max-wcu X, --page-size N)" >&2; exit 2 ;;
    esac
done

cargo build --release --quiet -p acme-migrate --example bench_backfill
bin="$root/target/release/examples/bench_backfill"
echo "bench-migrate $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -m)"
for n in 10000 "$orders"; do
    echo "== $n orders"
    scripts/with-moto.sh scripts/with-postgres.sh "$bin" --orders "$n" "${pass[@]}"
done
