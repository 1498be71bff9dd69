#!/usr/bin/env bash
# A command probe run by qcompat against the same command typed by hand in the same activated environment (issue 19):
# per cell, the wall time of the command run by hand, then the probe's process time under qcompat fresh (--isolate)
# and forked from the preloaded base, each as a ratio of the hand run (one run each; the issue asks for fresh at most
# 1.1x and forked below 0.7x). Forks need company: give a matrix whose cells share the preloaded packages.
# Usage: benches/user_probe.sh MATRIX PROBE [--cache-dir DIR]   e.g. a matrix of three lightning nightlies on torch
#   2.3.0 with `[probe.tests] command = ["pytest", "-q", "tests/"]`.
set -euo pipefail
cd "$(dirname "$0")/.."
matrix="${1:?usage: benches/user_probe.sh MATRIX PROBE [--cache-dir DIR]}"
probe="${2:?usage: benches/user_probe.sh MATRIX PROBE [--cache-dir DIR]}"
cache="${QCOMPAT_CACHE_DIR:-$HOME/.cache/qcompat}"
if [ "${3:-}" = "--cache-dir" ]; then cache=$4; fi
# QCOMPAT_BIN: a qcompat already built (the probe's own times do not depend on how qcompat was compiled).
bin="${QCOMPAT_BIN:-}"
if [ -z "$bin" ]; then cargo build --release --quiet; bin=$PWD/target/release/qcompat; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() { "$bin" run --matrix "$matrix" --probe "$probe" --cache-dir "$cache" --jobs 1 --format json "$@" 2>/dev/null || true; }
run --isolate >"$work/fresh.json"
run >"$work/forked.json"
python3 - "$matrix" "$probe" "$cache" "$work" <<'PY'
import json, os, shutil, subprocess, sys, time, tomllib
matrix, probe, cache, work = sys.argv[1:]
spec = tomllib.load(open(matrix, "rb"))["probe"][probe]
folder = os.path.join(os.path.dirname(os.path.abspath(matrix)), spec["dir"])
fresh, forked = (json.load(open(os.path.join(work, f))) for f in ("fresh.json", "forked.json"))
def probe_of(cell):
    return next(p for p in cell["probes"] if p["name"] == probe)
for cell, other in zip(fresh["cells"], forked["cells"]):
    venv = os.path.join(cache, "envs", cell["env"]["hash"])
    argv = list(spec["command"])
    # The same command qcompat starts: pytest gets the same arguments.
    pytest = argv[0] in ("pytest", "py.test") or argv[:3] == ["python", "-m", "pytest"]
    if pytest:
        at = 3 if argv[0] == "python" else 1
        argv[at:at] = ["--junitxml=" + os.path.join(work, "hand.xml"), "-p", "no:cacheprovider", "-rX"]
    copy = os.path.join(work, "copy")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(folder, copy, symlinks=True)
    env = dict(os.environ, VIRTUAL_ENV=venv, PATH=os.path.join(venv, "bin") + ":" + os.environ["PATH"],
               PWD=copy, PYTHONUNBUFFERED="1", QCOMPAT_ARTIFACTS=work, **spec.get("env", {}))
    if spec.get("cpu-swaps"):
        # The same swaps qcompat sets up (this machine has no CUDA): the hand run takes the same load path.
        env.update(PYTHONPATH=os.path.abspath("fixtures/probes/usercustomize"), QCOMPAT_CPU_SWAPS="1",
                   QCOMPAT_SWAPS_FILE=os.path.join(work, "hand-swaps.jsonl"))
    start = time.perf_counter()
    subprocess.run(argv, cwd=copy, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hand = time.perf_counter() - start
    a, b = probe_of(cell), probe_of(other)
    key = ",".join(f"{k}={v}" for k, v in cell["key"].items())
    print(f"{key} {probe}: hand {hand:.2f}s  fresh {a['duration_s']:.2f}s ({a['duration_s'] / hand:.2f}x)  "
          f"{b.get('interpreter', '?')} {b['duration_s']:.2f}s ({b['duration_s'] / hand:.2f}x)  "
          f"outcomes {a['outcome']}/{b['outcome']}")
PY
