#!/usr/bin/env bash
# Streaming `qcompat engine quantize` of a multi-GB safetensors checkpoint, measured against the anchor of reading
# the same file (`cat FILE > /dev/null` from a warm page cache) and beside bitsandbytes quantizing the same file
# (benches/bnb_quantize_file.py), all in one run: the same file, the same number of runs, interleaved.
# Usage: benches/stream.sh PYTHON [GIB] [RUNS]   (PYTHON has torch, bitsandbytes and safetensors)
# Prints best wall seconds and peak RSS per side, and each side's speed as a fraction of cat's (goal: qcompat >= 0.8).
# Two more sides tell where the time goes: `qcompat_no_output` quantizes into /dev/null (reading + quantizing
# only), `write_floor` is dd writing as many bytes as qcompat's output into a file (the page-cache write alone).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:?usage: benches/stream.sh PYTHON [GIB] [RUNS]}"
gib="${2:-4}"
runs="${3:-3}"
work="${TMPDIR:-/tmp}/qcompat-stream-bench"
mkdir -p "$work"
input="$work/checkpoint-${gib}g.safetensors"
[ -f "$input" ] || "$python" benches/gen_checkpoint.py "$input" "$gib"
cargo build --release --quiet
qcompat="$PWD/target/release/qcompat"

# measure LABEL CMD...: appends "seconds rss_kib" of one run to $work/LABEL.runs; stdout and stderr go to
# $work/LABEL.log (kept: a side that fails shows why). Every side starts alike: no output file of an earlier run to
# delete (writing a new file is the work measured, freeing an old one is not) and no dirty pages of an earlier side
# still being written back by the kernel's threads on the same two cores.
measure() {
  local label=$1
  shift
  rm -f "$work/qcompat-nf4.safetensors" "$work/bnb-nf4.safetensors" "$work/floor.bin"
  sync
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -v -o "$work/$label.time" "$@" >> "$work/$label.log" 2>&1
  end=$(date +%s.%N)
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$label.time")
  echo "$(echo "$end - $start" | bc -l) $rss" >> "$work/$label.runs"
}

rm -f "$work"/*.runs "$work"/*.log
cat "$input" > /dev/null # warm the page cache
"$qcompat" engine quantize --input "$input" --output "$work/qcompat-nf4.safetensors" > /dev/null
out_mib=$(( $(stat -c %s "$work/qcompat-nf4.safetensors") / 1048576 ))
for _ in $(seq "$runs"); do
  measure cat sh -c "cat '$input' > /dev/null"
  measure qcompat "$qcompat" engine quantize --input "$input" --output "$work/qcompat-nf4.safetensors"
  measure qcompat_no_output "$qcompat" engine quantize --input "$input" --output /dev/null
  measure write_floor dd if=/dev/zero of="$work/floor.bin" bs=1M count="$out_mib" status=none
  measure bitsandbytes "$python" benches/bnb_quantize_file.py "$input" "$work/bnb-nf4.safetensors"
done

echo "input $(du -h "$input" | cut -f1), output ${out_mib} MiB ($runs runs each, best wall time, peak RSS)"
for side in cat qcompat qcompat_no_output write_floor bitsandbytes; do
  sort -n "$work/$side.runs" | head -1 | awk -v s="$side" '{ printf "%s_seconds %.3f\n", s, $1 }'
  sort -n -k2 "$work/$side.runs" | tail -1 | awk -v s="$side" '{ printf "%s_peak_rss_mib %.0f\n", s, $2 / 1024 }'
done
cat_best=$(sort -n "$work/cat.runs" | head -1 | cut -d' ' -f1)
for side in qcompat qcompat_no_output bitsandbytes; do
  best=$(sort -n "$work/$side.runs" | head -1 | cut -d' ' -f1)
  echo "${side}_speed_vs_cat $(echo "$cat_best / $best" | bc -l | cut -c1-5)"
done
