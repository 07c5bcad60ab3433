#!/usr/bin/env bash
# Synth benchmark: the sample counties plus 50 generated ones (made with
# `acme-infra county add`, the pipeline's own path), synthesized by the release
# binary. Prints wall time per run (min / median / max over RUNS) and peak RSS.
#   RUNS=20 scripts/bench-synth.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=${RUNS:-10}
generated=${GENERATED:-50}

cargo build --release --quiet
bin="$root/target/release/acme-infra"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r environments "$work/environments"
samples=$(find environments -name '*.yaml' ! -name defaults.yaml | wc -l)

regions=(us-east-1 us-east-2 us-west-2 eu-west-1)
states=(TX WA GA CA NY FL IL OH)
for i in $(seq 1 "$generated"); do
    st=${states[$((i % ${#states[@]}))]}
    "$bin" county add "bench-$i" --name "Bench County $i" --state "$st" \
        --account "$(printf '2%011d' "$i")" --region "${regions[$((i % ${#regions[@]}))]}" \
        --environments "$work/environments" 2>/dev/null
done

python3 - "$bin" "$work" "$runs" "$samples" "$generated" <<'PY'
import resource, statistics, subprocess, sys, time
bin, work, runs, samples, generated = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
cmd = [bin, "synth", "--environments", f"{work}/environments", "--out", f"{work}/cdk.out", "--quiet"]
subprocess.run(cmd, check=True)  # warm the page cache; not counted
walls = []
for _ in range(runs):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    walls.append((time.perf_counter() - t0) * 1000)
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
import glob, os
files = glob.glob(f"{work}/cdk.out/*.template.json")
size = sum(os.path.getsize(f) for f in files)
print(f"synth of {samples} sample + {generated} generated counties ({len(files)} templates, {size/1e6:.2f} MB written), {runs} runs:")
print(f"  wall ms: min {min(walls):.1f}  median {statistics.median(walls):.1f}  max {max(walls):.1f}   (target < 100)")
print(f"  peak RSS: {peak_kb/1024:.1f} MB   (target < 30)")
PY
