"""The engine's NF4 against bitsandbytes' CUDA kernel on the golden inputs (run by benches/gpu.sh on a CUDA machine).

    python gpu_golden.py fixtures/golden

The golden files hold, per case, the input and the codes the engine produces (the CUDA decision tree: the `weight`
entry for ordinary cases, `tree_codes` for the `ties` case; tests/engine_golden.rs checks the engine reproduces
them). Here bitsandbytes quantizes each input on CUDA; its packed codes must equal those, its absmax the golden
absmax, byte for byte. Prints one line per case and exits 1 on any mismatch. The all-zero block is reported, not
judged: its codes are backend-defined (FIELD.md).
"""
import json
import pathlib
import sys

import bitsandbytes.functional as F
import torch
from safetensors.torch import load_file


def unpack(packed, n):
    flat = packed.reshape(-1).to(torch.int16)
    return torch.stack([flat >> 4, flat & 15], dim=1).reshape(-1)[:n]


def main(golden):
    golden = pathlib.Path(golden)
    manifest = json.loads((golden / "manifest.json").read_text())
    tensors = load_file(str(golden / "nf4_golden.safetensors"))
    bad = 0
    for case in manifest["cases"]:
        name, n = case["name"], 1
        for side in case["shape"]:
            n *= side
        x = tensors[name + ".input"].cuda()
        packed, state = F.quantize_4bit(x, blocksize=case["blocksize"], quant_type="nf4",
                                        compress_statistics=case["double_quant"])
        ours = unpack(packed.cpu(), n)
        expected = tensors[name + ".tree_codes"].reshape(-1) if name == "ties" else unpack(tensors[name + ".weight"], n)
        codes_differing = int((ours != expected.to(ours.dtype)).sum())
        absmax_diff = 0.0
        if not case["double_quant"]:
            absmax_diff = float((state.absmax.float().cpu() - tensors[name + ".absmax"].float()).abs().max())
        verdict = "ok" if codes_differing == 0 and absmax_diff == 0.0 else "MISMATCH"
        if name == "zero_block":
            verdict = "reported"
        elif verdict != "ok":
            bad += 1
        print("%-24s codes_differing=%d absmax_max_abs_diff=%g %s" % (name, codes_differing, absmax_diff, verdict))
    print("cases_mismatching %d" % bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
