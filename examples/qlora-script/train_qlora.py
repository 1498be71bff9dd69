"""A team's QLoRA training script: Lightning Fabric with BitsandbytesPrecision("nf4"), a small language model whose
linear layers are 4-bit, LoRA adapters on its MLP, a pretrained checkpoint loaded lazily, a few optimizer steps.

    python train_qlora.py [--steps 3] [--workdir DIR]

Device-agnostic: Fabric picks CUDA when there is one. It loads the checkpoint the way LitGPT does (Lightning's
`_lazy_load`, a state dict of tensors that materialize on use, into the NF4 model): the path Lightning broke in its
2.3 nightlies (`'_NotYetLoadedTensor' object has no attribute 'data'`, Lightning issue 20119). Any failure ends the
script with its traceback and a non-zero exit; a run that trained prints `ok` and exits 0.
"""
import argparse
import math
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
import lightning as L
from lightning.fabric.plugins import BitsandbytesPrecision
from lightning.fabric.utilities.load import _lazy_load

VOCAB, WIDTH, LAYERS, RANK, ALPHA = 128, 64, 2, 8, 16


class LoRALinear(torch.nn.Module):
    """A frozen base `torch.nn.Linear` (the plugin makes it 4-bit) plus a trainable low-rank update."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.linear = torch.nn.Linear(n_in, n_out)
        self.lora_A = torch.nn.Parameter(torch.empty(RANK, n_in))
        self.lora_B = torch.nn.Parameter(torch.zeros(n_out, RANK))
        torch.nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def forward(self, x):
        return self.linear(x) + (x @ self.lora_A.t() @ self.lora_B.t()) * (ALPHA / RANK)


class Block(torch.nn.Module):
    def __init__(self, lora):
        super().__init__()
        make = LoRALinear if lora else torch.nn.Linear
        self.norm = torch.nn.LayerNorm(WIDTH)
        self.fc = make(WIDTH, 4 * WIDTH)
        self.proj = make(4 * WIDTH, WIDTH)

    def forward(self, x):
        return x + self.proj(F.gelu(self.fc(self.norm(x))))


class TinyLM(torch.nn.Module):
    def __init__(self, lora=False):
        super().__init__()
        self.wte = torch.nn.Embedding(VOCAB, WIDTH)
        self.blocks = torch.nn.ModuleList(Block(lora) for _ in range(LAYERS))
        self.ln_f = torch.nn.LayerNorm(WIDTH)
        self.lm_head = torch.nn.Linear(WIDTH, VOCAB)

    def forward(self, idx):
        x = self.wte(idx)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def pretrained_checkpoint(workdir):
    """Stands in for the team's base model: a plain model's weights, saved with the keys the LoRA model's base has."""
    torch.manual_seed(0)
    state = TinyLM(lora=False).state_dict()
    renamed = {}
    for key, value in state.items():
        for part in (".fc.", ".proj."):
            key = key.replace(part + "weight", part + "linear.weight").replace(part + "bias", part + "linear.bias")
        renamed[key] = value
    path = Path(workdir) / "base.pth"
    torch.save(renamed, path)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--workdir", default=None, help="where the base checkpoint is written (a temporary folder)")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="qlora-"))
    workdir.mkdir(parents=True, exist_ok=True)
    checkpoint = pretrained_checkpoint(workdir)

    fabric = L.Fabric(accelerator="auto", devices=1, plugins=BitsandbytesPrecision("nf4", torch.bfloat16))
    with fabric.init_module():
        model = TinyLM(lora=True)
    # The way LitGPT's `load_checkpoint` loads: lazily, so each layer's load hook quantizes one weight at a time.
    model.load_state_dict(_lazy_load(checkpoint), strict=False)
    for name, param in model.named_parameters():
        param.requires_grad = "lora_" in name
    # Built on its device by init_module: no move (a move re-quantizes 4-bit weights with bitsandbytes >= 0.43).
    model = fabric.setup_module(model, move_to_device=False)
    optimizer = fabric.setup_optimizers(
        torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2))

    torch.manual_seed(1)
    tokens = torch.randint(0, VOCAB, (4, 33), device=fabric.device)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    losses = []
    for _ in range(args.steps):
        logits = model(inputs)
        loss = F.cross_entropy(logits.float().reshape(-1, VOCAB), targets.reshape(-1))
        optimizer.zero_grad()
        fabric.backward(loss)
        optimizer.step()
        losses.append(loss.item())
        fabric.print("loss %.4f" % losses[-1])

    frozen = [n for n, m in model.named_modules() if hasattr(m, "weight") and getattr(m.weight, "quant_state", None)]
    if len(frozen) != 2 * LAYERS + 1:
        raise AssertionError("expected %d 4-bit layers, found %d" % (2 * LAYERS + 1, len(frozen)))
    if not losses[-1] < losses[0]:
        raise AssertionError("loss did not decrease: %r" % losses)
    fabric.print("ok: %d steps on %s, loss %.4f -> %.4f" % (args.steps, fabric.device, losses[0], losses[-1]))


if __name__ == "__main__":
    main()
