#!/usr/bin/env bash
# The whole lightning matrix, warm, side by side in one run (interleaved rounds, medians): this checkout's qcompat
# (probes forked from a shared preloaded interpreter where cells allow), the same with --isolate, and the qcompat of
# BASE_REV (default: the last commit before issue 9's start-up work), all `run --check` on one cache.
# Issue 9's goal: this checkout at most a third of BASE_REV's wall.
# BASE_REV's binary reads the bytecode this checkout's probes leave in the shared environments (it never wrote any
# itself), so its figure is, if anything, flattered.
# Usage: benches/full_matrix.sh [RUNS]   (BENCH_CACHE: the cache dir, default a new one: the first round builds it)
set -euo pipefail
unset PYTHONDONTWRITEBYTECODE
cd "$(dirname "$0")/.."
runs=${1:-3}
base_rev=${BASE_REV:-52e7ba0}
work=$(mktemp -d)
cache=${BENCH_CACHE:-$work/cache}
cargo build --release --quiet
bin=$work/qcompat
cp target/release/qcompat "$bin"
git worktree add --quiet --detach "$work/base" "$base_rev"
trap 'git worktree remove --force "$work/base"' EXIT
# One target folder, so the dependencies build once. Cargo does not link target/release/qcompat again for a checkout
# it already built: both binaries are copied out, and this checkout's put back.
(cd "$work/base" && CARGO_TARGET_DIR="$OLDPWD/target" cargo build --release --quiet)
base_bin=$work/base-qcompat
cp target/release/qcompat "$base_bin"
cp "$bin" target/release/qcompat
log=$work/rounds.tsv

timed() { # NAME BINARY [FLAG]: one `run --check` of the lightning matrix
  local t0 t1
  t0=$(date +%s.%N)
  "$2" run --matrix matrices/lightning.toml --check --cache-dir "$cache" -q ${3:-} >>"$work/qcompat.log" 2>&1 || true
  t1=$(date +%s.%N)
  echo -e "$1\t$(python3 -c "print($t1 - $t0)")" >>"$log"
}

timed setup "$bin"
for i in $(seq "$runs"); do
  timed "base-$i" "$base_bin"
  timed "preload-$i" "$bin"
  timed "isolate-$i" "$bin" --isolate
done
cat "$log"
python3 - "$log" <<'PY'
import statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]) if line.strip()]
median = lambda side: statistics.median(float(t) for n, t in rows if n.startswith(side + "-"))
base = median("base")
for side in ("preload", "isolate"):
    print("%s: %.1f s, %s: %.1f s, ratio %.3f" % (side, median(side), "base", base, median(side) / base))
PY
