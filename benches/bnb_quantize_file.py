"""bitsandbytes quantizing a safetensors checkpoint the way `qcompat engine quantize` does, for benches/stream.sh.

    python bnb_quantize_file.py IN.safetensors OUT.safetensors

Every 2-D floating-point `...weight` becomes NF4 (blocksize 64, no double quantization) through
`bitsandbytes.functional.quantize_4bit` on the CPU, stored in the Params4bit state-dict layout
(`QuantState.as_dict(packed=True)`); other tensors pass through. Input read with safetensors' own (mmap) reader.
"""
import sys

import bitsandbytes.functional as F
from safetensors import safe_open
from safetensors.torch import save_file


def main(src, dst):
    out = {}
    with safe_open(src, framework="pt") as fp:
        for name in fp.keys():
            tensor = fp.get_tensor(name)
            if tensor.dim() == 2 and tensor.is_floating_point() and name.endswith("weight"):
                packed, state = F.quantize_4bit(tensor, blocksize=64, quant_type="nf4")
                out[name] = packed
                for key, value in state.as_dict(packed=True).items():
                    out[name + "." + key] = value
            else:
                out[name] = tensor
    save_file(out, dst)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
