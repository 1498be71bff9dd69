#!/usr/bin/env bash
# Probe start-up against the anchor of issue 9: tox 4 + tox-uv running qcompat's own probe script in its own
# environments, side by side in one run (interleaved rounds, medians), on the six lightning cells of the issue
# (checkpoint-load; bitsandbytes 0.49.2, torch 2.3.0, numpy<2, setuptools<70), 2 jobs on both sides.
#   warm: environments built on both sides;  cold: new environments on both sides (uv's cache warm).
# qcompat runs twice warm: as is (probes fork from a shared preloaded interpreter where cells allow) and --isolate
# (every probe in a fresh interpreter, as before preloading).
# Prints each round and the medians, then qcompat ÷ tox-uv (issue 9's goal: warm ≤ 0.5), the per-cell import time and
# the overhead ratio wall ÷ (probe process time ÷ jobs) of both qcompat sides.
# Usage: benches/startup.sh [RUNS]     (needs the package index or a warm uv cache, and python3 with pip)
set -euo pipefail
# Both sides get bytecode the same way: written by the first run in an environment.
unset PYTHONDONTWRITEBYTECODE
cd "$(dirname "$0")/.."
runs=${1:-3}
cargo build --release --quiet
bin=$PWD/target/release/qcompat
work=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
log=$work/rounds.tsv
: >"$log"
now() { python3 -c 'import time; print(time.perf_counter())'; }
python3 -m venv "$work/toxvenv"
"$work/toxvenv/bin/python" -m pip install --quiet tox tox-uv
tox=$work/toxvenv/bin/tox

lightnings=(2.3.0.dev20240428 2.3.0.dev20240519 2.3.0.dev20240526 2.3.0 2.4.0.dev20240728 2.4.0)
filters=(--filter bitsandbytes=0.49.2 --probe checkpoint-load)
for v in "${lightnings[@]}"; do filters+=(--filter "lightning=$v"); done

qc() { # NAME CACHE [FLAG]: one timed `qcompat run` of the six cells
  local t0 t1
  t0=$(now)
  "$bin" run --matrix matrices/lightning.toml "${filters[@]}" --jobs 2 --cache-dir "$2" --format json \
    --output "$work/$1.json" ${3:-} 2>>"$work/qcompat.log" || true
  t1=$(now)
  echo -e "$1\t$(python3 -c "print($t1 - $t0)")" >>"$log"
}

write_tox() { # DIR: one tox environment per cell, running the probe script qcompat materialized in cache-warm
  local scripts
  scripts=$(dirname "$(ls "$work"/cache-warm/probes/*/scripts/_qcompat.py | head -1)")
  mkdir -p "$1"
  {
    printf '[tox]\nenvlist = %s\nskipsdist = true\n' "$(seq -s, -f 'c%g' 1 ${#lightnings[@]})"
    local i=0
    for v in "${lightnings[@]}"; do
      i=$((i + 1))
      printf '\n[testenv:c%s]\nskip_install = true\n' "$i"
      printf 'deps = torch==2.3.0\n    bitsandbytes==0.49.2\n    lightning==%s\n    numpy<2\n    setuptools<70\n' "$v"
      printf 'setenv =\n    QCOMPAT_FIXTURES = %s/fixtures\n' "$(dirname "$scripts")"
      printf '    QCOMPAT_ARTIFACTS = {envtmpdir}\n    QCOMPAT_RESULT = {envtmpdir}/results.jsonl\n'
      printf 'commands = python %s/_qcompat.py checkpoint-load\n' "$scripts"
    done
  } >"$1/tox.ini"
}

toxrun() { # NAME DIR
  local t0 t1
  t0=$(now)
  (cd "$2" && "$tox" -p 2 -q >>"$work/tox.log" 2>&1) || true
  t1=$(now)
  echo -e "$1\t$(python3 -c "print($t1 - $t0)")" >>"$log"
}

# Warm-up: environments (and their bytecode) on both sides.
qc setup-1 "$work/cache-warm"
qc setup-2 "$work/cache-warm"
write_tox "$work/tox-warm"
toxrun setup-tox-1 "$work/tox-warm"
toxrun setup-tox-2 "$work/tox-warm"
for i in $(seq "$runs"); do
  qc "warm-qcompat-$i" "$work/cache-warm"
  qc "warm-isolate-$i" "$work/cache-warm" --isolate
  toxrun "warm-tox-$i" "$work/tox-warm"
  rm -rf "$work/cache-cold" "$work/tox-cold"
  qc "cold-qcompat-$i" "$work/cache-cold"
  write_tox "$work/tox-cold"
  toxrun "cold-tox-$i" "$work/tox-cold"
done
cat "$log"
python3 - "$log" "$work" <<'PY'
import json, statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]) if line.strip()]
median = lambda prefix: statistics.median(float(t) for n, t in rows if n.startswith(prefix))
for side, case in (("qcompat", "warm"), ("isolate", "warm"), ("qcompat", "cold")):
    q, t = median("%s-%s-" % (case, side)), median(case + "-tox-")
    print("%s %s: %.1f s, tox-uv %.1f s, ratio %.3f" % (case, side, q, t, q / t))
for side in ("qcompat", "isolate"):
    runs = [(n, float(t)) for n, t in rows if n.startswith("warm-%s-" % side)]
    imports, overheads = [], []
    for name, wall in runs:
        cells = json.load(open("%s/%s.json" % (sys.argv[2], name)))["cells"]
        imports += [c["import_s"] for c in cells]
        overheads.append(wall / (sum(c["process_s"] for c in cells) / 2))
    print("warm %s: import per cell median %.2f s; overhead wall / (process time / jobs) median %.3f"
          % (side, statistics.median(imports), statistics.median(overheads)))
PY
