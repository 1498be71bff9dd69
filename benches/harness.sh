#!/usr/bin/env bash
# Harness overhead benchmarks (issue 2), each a ratio measured side by side in this one run:
#  1. warm rerun: wall time of `qcompat run` on the toy matrix ÷ (sum of probe process times ÷ jobs); target ≤ 1.05
#  2. env creation with a warm uv cache: qcompat building the environments ÷ `uv venv` + `uv pip install` by hand for
#     the same requirement sets; target ≤ 1.05
# Usage: benches/harness.sh [--real]   (--real adds a torch 2.3.0 environment to benchmark 2; needs the index)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/qcompat
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 fixtures/toy/build_wheels.py "$work/wheels"
export UV_FIND_LINKS="$work/wheels" UV_NO_INDEX=1
now() { python3 -c 'import time; print(time.perf_counter())'; }

# The toy matrix's releases that run to completion (hangs and crashes measure the timeout, not the harness).
cat >"$work/bench.toml" <<'TOML'
name = "bench"
probes = ["toy-load"]
timeout = "60s"
[axes]
toyquant = ["1.0", "1.1", "1.6", "1.8.dev1"]
TOML

jobs=2
"$bin" run --matrix "$work/bench.toml" --cache-dir "$work/cache" --jobs $jobs --format json --output "$work/cold.json" 2>/dev/null
runs=5
for i in $(seq $runs); do
  t0=$(now)
  "$bin" run --matrix "$work/bench.toml" --cache-dir "$work/cache" --jobs $jobs --format json --output "$work/warm$i.json" 2>/dev/null
  t1=$(now)
  echo "$t0 $t1" >"$work/time$i"
done
python3 - "$work" $runs $jobs <<'PY'
import json, sys
work, runs, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ratios = []
for i in range(1, runs + 1):
    t0, t1 = map(float, open(f"{work}/time{i}").read().split())
    report = json.load(open(f"{work}/warm{i}.json"))
    assert not any(c["env"]["created"] for c in report["cells"]), "warm run built an environment"
    busy = sum(c["process_s"] for c in report["cells"]) / jobs
    ratios.append((t1 - t0) / busy)
    print(f"warm run {i}: wall {t1 - t0:.3f}s, probe processes {busy * jobs:.3f}s / {jobs} jobs = {busy:.3f}s, ratio {ratios[-1]:.3f}")
ratios.sort()
print(f"warm rerun overhead ratio (median of {runs}): {ratios[runs // 2]:.3f}  (target <= 1.05)")
PY

# 2. Environment creation, warm uv cache. qcompat's share of a cold run is (cold wall − cold probe time) minus the
# same for a warm run (start-up that is not environment work); the anchor builds the same sets with uv by hand.
python=$(python3 -c 'import sys; print(sys.executable)')
sets=("toyquant==1.0" "toyquant==1.1" "toyquant==1.6" "toyquant==1.8.dev1")
matrix="$work/bench.toml"
if [ "${1:-}" = "--real" ]; then
  unset UV_NO_INDEX
  sets=("torch==2.3.0 numpy<2")
  printf 'name = "bench"\nprobes = ["toy-load"]\n[axes]\ntorch = ["2.3.0"]\n[pins]\nnumpy = "<2"\n' >"$matrix"
  uv pip install --dry-run --python "$python" torch==2.3.0 'numpy<2' >/dev/null 2>&1 || true
fi
rounds=3
for round in $(seq $rounds); do
  rm -rf "$work/cache" "$work/hand"
  t0=$(now)
  "$bin" run --matrix "$matrix" --cache-dir "$work/cache" --jobs 1 --format json --output "$work/cold.json" 2>/dev/null || true
  t1=$(now)
  "$bin" run --matrix "$matrix" --cache-dir "$work/cache" --jobs 1 --format json --output "$work/warm.json" 2>/dev/null || true
  t2=$(now)
  i=0
  for set in "${sets[@]}"; do
    i=$((i + 1))
    uv venv --quiet --relocatable --python "$python" "$work/hand/$i"
    # shellcheck disable=SC2086 # a set is several requirements
    uv pip install --quiet --python "$work/hand/$i/bin/python" $set
  done
  t3=$(now)
  echo "$t0 $t1 $t2 $t3" >"$work/env$round"
done
python3 - "$work" $rounds <<'PY'
import json, sys
work, rounds = sys.argv[1], int(sys.argv[2])
ratios = []
for r in range(1, rounds + 1):
    t0, t1, t2, t3 = map(float, open(f"{work}/env{r}").read().split())
    cold = json.load(open(f"{work}/cold.json")) if r == rounds else None
    probe = lambda name: sum(c["process_s"] for c in json.load(open(f"{work}/{name}.json"))["cells"])
    qcompat = ((t1 - t0) - probe("cold")) - ((t2 - t1) - probe("warm"))
    hand = t3 - t2
    ratios.append(qcompat / hand)
    print(f"round {r}: qcompat environments {qcompat:.3f}s, uv by hand {hand:.3f}s, ratio {ratios[-1]:.3f}")
ratios.sort()
print(f"env creation ratio qcompat / uv by hand (median of {rounds}): {ratios[rounds // 2]:.3f}  (target <= 1.05)")
PY
