#!/usr/bin/env python3
"""From PyTorch to a verified proof: a Hugging Face GPT-2, exported as PyTorch exports it, proven
with zkinfer and checked.

    python3 -m venv .venv && .venv/bin/pip install ./python torch transformers onnx onnxscript
    .venv/bin/python examples/python/pytorch_gpt2.py [--layers 2] [--memory-budget-gib 8]

The model is built from a small config (no download): swap in
`GPT2LMHeadModel.from_pretrained(...)`, a `BertForSequenceClassification` or a
`ViTForImageClassification` and the steps are the same. The exporter writes the weights to
`gpt2.onnx.data` beside `gpt2.onnx`; zkinfer reads both as they are.
"""
import argparse
import os
import tempfile
import time

import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel

import zkinfer


class Logits(torch.nn.Module):
    """The logits from the token ids alone: the one input zkinfer proves over."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids=input_ids).logits


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--context", type=int, default=32)
    parser.add_argument("--memory-budget-gib", type=float, default=8.0)
    parser.add_argument("--out", default=None, help="folder for the ONNX files (default: a temp dir)")
    args = parser.parse_args()

    torch.manual_seed(0)
    vocab, ctx = 128, args.context
    config = GPT2Config(vocab_size=vocab, n_positions=ctx, n_embd=64, n_layer=args.layers,
                        n_head=4, activation_function="gelu_new", use_cache=False)
    model = GPT2LMHeadModel(config).eval()

    out = args.out or tempfile.mkdtemp()
    path = os.path.join(out, "gpt2.onnx")
    rng = np.random.default_rng(0)
    example = torch.tensor(rng.integers(0, vocab, size=(1, ctx)))
    # PyTorch's default exporter, as a user runs it (weights go to gpt2.onnx.data).
    torch.onnx.export(Logits(model), (example,), path, dynamo=True, opset_version=18,
                      input_names=["input_ids"], output_names=["logits"], external_data=True)

    # Calibration: token windows like those the model will be asked about.
    calibration = rng.integers(0, vocab, size=(8, ctx)).astype(np.float32)
    t = time.time()
    zk = zkinfer.compile(path, calibration,
                         memory_budget=int(args.memory_budget_gib * 2**30))
    print(f"compiled in {time.time() - t:.1f} s: {zk.parts or 1} circuit(s)")

    tokens = rng.integers(0, vocab, size=(1, ctx))
    t = time.time()
    proof = zk.prove(tokens.astype(np.float32))
    print(f"proved in {time.time() - t:.1f} s")
    t = time.time()
    logits = zk.verify(proof).reshape(ctx, vocab)
    print(f"verified in {time.time() - t:.1f} s")

    with torch.no_grad():
        want = model(input_ids=torch.tensor(tokens)).logits[0].numpy()
    agree = float((logits.argmax(-1) == want.argmax(-1)).mean())
    print(f"top-1 agreement with PyTorch over {ctx} positions: {agree:.3f}; "
          f"max abs logit error {np.abs(logits - want).max():.3f}")


if __name__ == "__main__":
    main()
