"""The baselines for benches/engine.sh: bitsandbytes NF4 on CPU and a LitGPT LoRA step in torch, same shapes.

Prints `key value` lines. Needs torch, bitsandbytes (0.49.2 measured) and litgpt (0.4.0) on a CPU machine.
Usage: engine_torch.py CHECKPOINT [RUNS]: every measurement is the best of RUNS (default 5) after one warm-up, on
standard normal inputs, as benches/engine.rs does with the same RUNS.
"""

import json
import pathlib
import sys
import time

import bitsandbytes.functional as BF
import litgpt
import litgpt.lora
import torch
import torch.nn.functional as F

SIDE = 4096


def best_of(runs, work):
    work()
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    torch.manual_seed(0)
    values = torch.randn(SIDE, SIDE, dtype=torch.float32)
    millions = values.numel() / 1e6
    quantize = best_of(runs, lambda: BF.quantize_4bit(values, blocksize=64, quant_type="nf4"))
    packed, state = BF.quantize_4bit(values, blocksize=64, quant_type="nf4")
    dequantize = best_of(runs, lambda: BF.dequantize_4bit(packed, state, quant_type="nf4"))
    out = torch.empty_like(values)
    copy = best_of(runs, lambda: out.copy_(values))
    print(f"bnb_quantize_melem_s {millions / quantize:.1f}")
    print(f"bnb_dequantize_melem_s {millions / dequantize:.1f}")
    print(f"torch_copy_melem_s {millions / copy:.1f}")

    checkpoint = pathlib.Path(sys.argv[1])
    config = json.loads((checkpoint / "config.json").read_text())
    config.update(lora_r=8, lora_alpha=16, lora_query=True, lora_value=True)
    model = litgpt.lora.GPT(litgpt.lora.Config(**config))
    model.load_state_dict(torch.load(str(checkpoint / "lit_model.pth"), map_location="cpu"), strict=False)
    litgpt.lora.mark_only_lora_as_trainable(model)
    tokens = torch.tensor(json.loads((checkpoint / "train_tokens.json").read_text())["tokens"])
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)

    def step():
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    print(f"torch_lora_step_ms {best_of(runs, step) * 1e3:.3f}")
    print(f"torch_threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
