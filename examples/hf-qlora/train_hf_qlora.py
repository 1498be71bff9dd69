"""The Hugging Face QLoRA recipe: a causal LM loaded 4-bit NF4 by transformers (`BitsAndBytesConfig`), LoRA adapters
from peft, a few optimizer steps.

    python train_hf_qlora.py [--steps 3] [--workdir DIR]

Device-agnostic: it runs on CUDA when there is one, else on the CPU (transformers accepts a bitsandbytes whose
`supported_torch_devices` include the CPU: 0.46 and later). The base model is a tiny Llama made from a config and saved
first, so nothing is downloaded. Any failure ends the script with its traceback and a non-zero exit; a run that trained
prints `ok` and exits 0.
"""
import argparse
import tempfile
from pathlib import Path

import torch
import bitsandbytes as bnb
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, BitsAndBytesConfig, LlamaConfig, LlamaForCausalLM

VOCAB = 128


def base_model(workdir):
    """Stands in for a model from the hub: a tiny Llama with fixed weights, saved as transformers saves one."""
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64)
    path = Path(workdir) / "tiny-llama"
    LlamaForCausalLM(config).save_pretrained(path)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--workdir", default=None, help="where the base model is written (a temporary folder)")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="hf-qlora-"))
    device = "cuda" if torch.cuda.is_available() else "cpu"

    quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                      bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(base_model(workdir), quantization_config=quantization,
                                                 device_map={"": device})
    quantized = [n for n, m in model.named_modules() if isinstance(m, bnb.nn.Linear4bit)]
    if not quantized:
        raise AssertionError("no layer was loaded 4-bit")
    model = prepare_model_for_kbit_training(model)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                                             lora_dropout=0.0, task_type="CAUSAL_LM"))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)

    torch.manual_seed(1)
    tokens = torch.randint(0, VOCAB, (4, 32), device=device)
    losses = []
    model.train()
    for _ in range(args.steps):
        loss = model(input_ids=tokens, labels=tokens).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        print("loss %.4f" % losses[-1])
    if not losses[-1] < losses[0]:
        raise AssertionError("loss did not decrease: %r" % losses)
    print("ok: %d steps on %s, %d 4-bit layers, loss %.4f -> %.4f"
          % (args.steps, device, len(quantized), losses[0], losses[-1]))


if __name__ == "__main__":
    main()
