"""A project's quantization tests: bitsandbytes' NF4 kernels and Lightning's BitsandbytesPrecision, device-agnostic.

Each test runs on CUDA when there is one and on the CPU otherwise; only a test whose kernel exists on CUDA alone
skips elsewhere, and says so. The lazy checkpoint load is the path Lightning broke in its 2.3 nightlies
(`'_NotYetLoadedTensor' object has no attribute 'data'`, Lightning issue 20119).
"""
import math

import pytest
import torch
import bitsandbytes as bnb
import bitsandbytes.functional as bnbf
from lightning.fabric.plugins import BitsandbytesPrecision
from lightning.fabric.utilities.load import _lazy_load
from packaging.version import Version

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
BNB = Version(bnb.__version__)


def tiny_model():
    return torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.GELU(), torch.nn.Linear(128, 64))


def test_nf4_round_trip_error_matches_bitsandbytes_reference():
    """bitsandbytes' own expectation: NF4, block 64, on a 1024x1024 standard normal, mean |error| about 0.0728."""
    torch.manual_seed(0)
    x = torch.randn(1024, 1024, device=DEVICE)
    packed, state = bnbf.quantize_4bit(x, blocksize=64, quant_type="nf4")
    error = (bnbf.dequantize_4bit(packed, state) - x).abs().mean().item()
    assert packed.dtype == torch.uint8 and packed.numel() == x.numel() // 2
    assert error == pytest.approx(0.0728, abs=0.002)


def test_nf4_layer_forward_matches_its_dequantized_weight():
    torch.manual_seed(0)
    layer = bnb.nn.Linear4bit(64, 32, bias=False, quant_type="nf4", compute_dtype=torch.float32)
    layer = layer.to(DEVICE)  # quantizes on the way
    x = torch.randn(8, 64, device=DEVICE)
    weight = bnbf.dequantize_4bit(layer.weight.data, layer.weight.quant_state).float()
    assert torch.allclose(layer(x).float(), x @ weight.t(), atol=1e-3, rtol=1e-3)


def test_lazy_checkpoint_loads_into_the_nf4_model(tmp_path):
    """How LitGPT loads a checkpoint: `_lazy_load` into a model built under the plugin; every Linear ends 4-bit and
    dequantizes close to the checkpoint's weight."""
    torch.manual_seed(0)
    original = tiny_model().state_dict()
    torch.save(original, tmp_path / "model.pth")
    plugin = BitsandbytesPrecision("nf4", torch.bfloat16)
    with torch.device(DEVICE), plugin.module_init_context():
        model = tiny_model()
    model.load_state_dict(_lazy_load(tmp_path / "model.pth"), strict=True)
    for index in (0, 2):
        weight = model[index].weight
        assert isinstance(weight, bnb.nn.Params4bit) and weight.dtype == torch.uint8
        restored = bnbf.dequantize_4bit(weight.data, weight.quant_state).float().cpu()
        reference = original["%d.weight" % index].float()
        # NF4's widest gap between codes (-1 to -0.696) is 0.304 of a block's absmax: nothing rounds further than half.
        assert (restored - reference).abs().max() <= reference.abs().max() * 0.16


def test_fabric_trains_lora_adapters_over_an_nf4_base():
    import lightning as L

    fabric = L.Fabric(accelerator="auto", devices=1, plugins=BitsandbytesPrecision("nf4", torch.bfloat16))
    torch.manual_seed(0)
    with fabric.init_module():
        base = tiny_model()
    base.requires_grad_(False)
    adapter_a = torch.nn.Parameter(torch.empty(8, 64, device=fabric.device))
    adapter_b = torch.nn.Parameter(torch.zeros(128, 8, device=fabric.device))
    torch.nn.init.kaiming_uniform_(adapter_a, a=math.sqrt(5))
    base = fabric.setup_module(base, move_to_device=False)
    optimizer = fabric.setup_optimizers(torch.optim.AdamW([adapter_a, adapter_b], lr=1e-2))
    x = torch.randn(16, 64, device=fabric.device)
    target = torch.randn(16, 64, device=fabric.device)
    losses = []
    for _ in range(3):
        hidden = base.module[0](x) + (x @ adapter_a.t() @ adapter_b.t()).to(torch.bfloat16)
        out = base.module[2](base.module[1](hidden))
        loss = torch.nn.functional.mse_loss(out.float(), target)
        optimizer.zero_grad()
        fabric.backward(loss)
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.skipif(DEVICE != "cuda" and BNB < Version("0.50"),
                    reason="PagedAdamW's 32-bit update needs CUDA before bitsandbytes 0.50")
def test_paged_adamw_step_moves_the_weights():
    torch.manual_seed(0)
    param = torch.nn.Parameter(torch.randn(64, 64, device=DEVICE))
    before = param.detach().clone()
    optimizer = bnb.optim.PagedAdamW(params=[param], lr=1e-2)
    param.sum().backward()
    optimizer.step()
    assert not torch.equal(param.detach(), before)
