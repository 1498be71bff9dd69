#!/usr/bin/env bash
# The GPU confirmation run (under 10 minutes on a CUDA machine with the package index reachable):
#  1. unswapped probes on CUDA (QCOMPAT_DEVICE=cuda: no substitution) for three cells: a good Lightning with
#     bitsandbytes 0.49.2, the _NotYetLoadedTensor regression window, and bitsandbytes 0.42.0 (no CPU kernel: on CUDA
#     it must run, not be needs-cuda), plus LitGPT's finetune command on two litgpt cells; every passing probe is
#     checked against the engine as on CPU;
#  2. the engine's NF4 codes against bitsandbytes' CUDA kernel on the golden inputs (benches/gpu_golden.py).
# Usage: benches/gpu.sh [PYTHON]   PYTHON: torch (CUDA build), bitsandbytes 0.49.2, safetensors; made with uv if absent.
# Results: $OUT (default ./gpu-results): run-*.json, golden.txt. Exit 1 if anything disagrees.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-results}"
mkdir -p "$out"
python="${1:-}"
if [ -z "$python" ]; then
  uv venv -q "$out/venv" --python 3.11
  uv pip install -q --python "$out/venv/bin/python" torch==2.3.0 "numpy<2" bitsandbytes==0.49.2 safetensors
  python="$out/venv/bin/python"
fi
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
cargo build --release --quiet
qcompat=target/release/qcompat
status=0

run_cell() { # NAME MATRIX FILTER... : one cell, CUDA only, JSON report
  local name=$1 matrix=$2
  shift 2
  QCOMPAT_DEVICE=cuda timeout 240 "$qcompat" run --matrix "$matrix" "$@" --cache-dir "$out/cache" \
    --format json --output "$out/run-$name.json" || status=1
}
run_cell good matrices/lightning.toml --filter lightning=2.4.0 --filter bitsandbytes=0.49.2 --probe checkpoint-load
run_cell regression matrices/lightning.toml --filter lightning=2.3.0 --filter bitsandbytes=0.49.2 --probe checkpoint-load
run_cell old-bnb matrices/bitsandbytes.toml --filter bitsandbytes=0.42.0 --probe checkpoint-load --probe bnb-kernels
# LitGPT's own command on CUDA: expected xfail litgpt-1325 on 0.4.4 (as on CPU: not an artefact of the CPU swaps) and
# a pass on 0.5.5; lora-train passes on both.
run_cell litgpt-cli matrices/litgpt.toml --filter litgpt=0.4.4 --filter litgpt=0.5.5 --probe litgpt-finetune \
  --probe lora-train
# No cell may list a substitution on CUDA.
"$python" - "$out"/run-*.json <<'PY' || status=1
import json, sys
swapped = [(c["key"], p["name"]) for f in sys.argv[1:] for c in json.load(open(f))["cells"] for p in c["probes"]
           if p.get("substitutions")]
print("substitutions on CUDA:", swapped or "none")
sys.exit(1 if swapped else 0)
PY

"$python" benches/gpu_golden.py fixtures/golden | tee "$out/golden.txt" || status=1
exit "$status"
