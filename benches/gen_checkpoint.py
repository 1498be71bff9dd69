"""Writes a synthetic safetensors checkpoint for benches/stream.sh (not committed; put it under /tmp).

    python gen_checkpoint.py OUT.safetensors GIB

Layers of a 4096-wide transformer-like MLP: `h.N.fc.weight` (4096x4096 f32, standard normal, seed N) and
`h.N.fc.bias` (4096 f32), until the file holds GIB gibibytes. Written tensor by tensor, so memory stays at one
tensor. Needs torch.
"""
import json
import struct
import sys

import torch

SIDE = 4096


def main(path, gib):
    layers = max(1, int(float(gib) * 2**30 // (SIDE * SIDE * 4)))
    header, offset = {}, 0
    for n in range(layers):
        for name, shape in ((f"h.{n}.fc.weight", [SIDE, SIDE]), (f"h.{n}.fc.bias", [SIDE])):
            size = 4 * (shape[0] * (shape[1] if len(shape) > 1 else 1))
            header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
            offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as fp:
        fp.write(struct.pack("<Q", len(text)))
        fp.write(text)
        for n in range(layers):
            gen = torch.Generator().manual_seed(n)
            fp.write(torch.randn(SIDE, SIDE, generator=gen).numpy().tobytes())
            fp.write(torch.randn(SIDE, generator=gen).numpy().tobytes())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
