#!/usr/bin/env bash
# Engine benchmarks side by side with bitsandbytes and torch, measured in one run on this machine.
# Usage: benches/engine.sh PYTHON [RUNS]   (an interpreter with torch, bitsandbytes and litgpt; see engine_torch.py)
# Both sides take the best of the same RUNS (default 5) per measurement on standard normal inputs; their stderr is
# kept (it goes to the terminal), so a side that warns or fails says so.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:?usage: benches/engine.sh PYTHON [RUNS]}"
runs="${2:-5}"
checkpoint=fixtures/checkpoints/tiny-gpt

rust=$(QCOMPAT_BENCH_RUNS="$runs" cargo bench --quiet --bench engine)
baseline=$("$python" benches/engine_torch.py "$checkpoint" "$runs")

echo "$rust"
echo "$baseline"
printf '%s\n%s\n' "$rust" "$baseline" | awk '
  { v[$1] = $2 }
  END {
    printf "quantize_speedup_vs_bnb %.0fx\n", v["rust_quantize_melem_s"] / v["bnb_quantize_melem_s"]
    printf "dequantize_speedup_vs_bnb %.1fx\n", v["rust_dequantize_melem_s"] / v["bnb_dequantize_melem_s"]
    printf "dequantize_vs_rust_copy %.2f\n", v["rust_dequantize_melem_s"] / v["rust_copy_melem_s"]
    printf "dequantize_vs_torch_copy %.2f\n", v["rust_dequantize_melem_s"] / v["torch_copy_melem_s"]
    if ("rust_lora_step_ms" in v)
      printf "lora_step_torch_over_rust %.2f\n", v["torch_lora_step_ms"] / v["rust_lora_step_ms"]
  }'
