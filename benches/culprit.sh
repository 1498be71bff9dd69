#!/usr/bin/env bash
# From two pinned sets to the commit (issue 20): wall time of `qcompat bisect --from GOOD --to BAD --repo PATH` and
# each stage's probe runs against the bounds docs/cli.md states (with one job). Cold: a fresh qcompat cache, so every
# environment is built (from uv's cache of wheels: nothing is downloaded once uv has them), every commit's wheel is
# built and every probe runs; warm: the same command again, which should probe and build nothing.
# Usage: benches/culprit.sh [--jobs N] -- BISECT ARGS...   e.g.
#   benches/culprit.sh -- --matrix matrices/litgpt.toml --probe litgpt-qlora \
#       --from 'reports/litgpt.snap.toml#litgpt=0.4.4,bitsandbytes=0.49.2,torch=2.3.0' \
#       --to 'reports/litgpt.snap.toml#litgpt=0.4.5,bitsandbytes=0.49.2,torch=2.3.0' --repo /path/to/pytorch-lightning
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=1
if [ "${1:-}" = "--jobs" ]; then jobs=$2; shift 2; fi
[ "${1:-}" = "--" ] && shift
# The probes dominate the wall time (tens of seconds each); qcompat's own build profile does not show in it.
cargo build --quiet
bin=$PWD/target/debug/qcompat
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for label in cold warm; do
  start=$(python3 -c 'import time; print(time.perf_counter())')
  "$bin" bisect "$@" --jobs "$jobs" --cache-dir "$work/cache" --format json --output "$work/$label.json" \
    2>"$work/$label.err"
  end=$(python3 -c 'import time; print(time.perf_counter())')
  python3 - "$work/$label.json" "$label" "$start" "$end" "$jobs" <<'PY'
import json, math, sys
report, label = json.load(open(sys.argv[1])), sys.argv[2]
wall, jobs = float(sys.argv[4]) - float(sys.argv[3]), int(sys.argv[5])
log2 = lambda n: math.ceil(math.log2(n)) if n > 1 else 0

def verdict(runs, bound):
    return f"bound {bound}, {'within' if runs <= bound else 'OVER'}" if jobs == 1 else "bounds are for one job"

stage = report["packages"]
n = len(report["changed"])
k = len(stage["culprits"])
bound = 2 + log2(n + 1) + 1 if k == 1 else 2 + log2(n + 1) + log2(n) + 2
names = ", ".join(c["package"] for c in stage["culprits"])
print(f"{label}: packages: {names} among {n} changed: probe runs={stage['probe_runs']} ({verdict(stage['probe_runs'], bound)})")
for r in report["releases"]:
    b = log2(r["candidates"]) + 2
    print(f"{label}: releases: {r['axis']} {r.get('last_good')} -> {r.get('first_bad')}: N={r['candidates']} "
          f"probe runs={r['probe_runs']} ({verdict(r['probe_runs'], b)})")
c = report.get("commits")
if c:
    first_bad = c.get("first_bad") or {}
    b = log2(c["candidates"]) + 2
    print(f"{label}: commits: first bad {first_bad.get('hash')} {first_bad.get('date')} {first_bad.get('title')!r}: "
          f"N={c['candidates']} probe runs={c['probe_runs']} builds={c['builds']} ({verdict(c['probe_runs'], b)})")
print(f"{label}: wall={wall:.1f}s")
PY
done
