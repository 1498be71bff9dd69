#!/usr/bin/env bash
# Bisect cost (issue 10): probe runs, rounds and wall time to find a boundary among N published candidates, against
# the bound ceil(log2 N) + 2 (the two endpoint checks) with one job; cold (no journal, environments as the cache has
# them) and warm (a rerun of the finished bisect, which should probe nothing).
# Usage: benches/bisect.sh [--cache-dir DIR] -- BISECT ARGS...   e.g.
#   benches/bisect.sh -- --matrix matrices/lightning.toml --axis lightning --good 2.3.0.dev20240428 --bad 2.3.0 \
#       --filter bitsandbytes=0.49.2 --probe checkpoint-load
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${QCOMPAT_CACHE_DIR:-$HOME/.cache/qcompat}"
if [ "${1:-}" = "--cache-dir" ]; then cache=$2; shift 2; fi
[ "${1:-}" = "--" ] && shift
cargo build --release --quiet
bin=$PWD/target/release/qcompat
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A private journal: the cold run must not reuse earlier bisects' probes (environments stay cached).
matrix=$(python3 -c 'import sys; a = sys.argv[1:]; print(a[a.index("--matrix") + 1])' "$@")
matrix_name=$("$bin" run --matrix "$matrix" --list --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["matrix"])')
rm -f "$cache/runs/$matrix_name"/bisect-*.jsonl
for label in cold warm; do
  start=$(python3 -c 'import time; print(time.perf_counter())')
  "$bin" bisect "$@" --jobs 1 --cache-dir "$cache" --format json --output "$work/$label.json" 2>"$work/$label.err"
  end=$(python3 -c 'import time; print(time.perf_counter())')
  python3 - "$work/$label.json" "$label" "$start" "$end" <<'PY'
import json, math, sys
report, label, start, end = json.load(open(sys.argv[1])), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
n = report["candidates"]
bound = math.ceil(math.log2(n)) + 2
window = (report.get("last_good"), report.get("first_bad")) if report["direction"] == "regression" \
    else (report.get("last_bad"), report.get("first_good"))
print(f"{label}: {report['axis']} {report['direction']} {window[0]} -> {window[1]}: N={n} probe runs={report['probe_runs']} "
      f"(bound {bound}, {'within' if report['probe_runs'] <= bound else 'OVER'}) rounds={report['rounds']} wall={end - start:.1f}s")
PY
done
