#!/usr/bin/env python3
"""From PyTorch to a verified proof: a Hugging Face GPT-2, exported as PyTorch exports it, proven
with zkinfer and checked.

    python3 -m venv .venv && .venv/bin/pip install ./python torch transformers onnx onnxscript
    .venv/bin/python examples/python/pytorch_gpt2.py [--layers 2] [--context 32] [--memory-budget-gib 8]

With the defaults (2 layers, 32 tokens) the proof takes about 12 minutes on 2 cores, in 7
parts within 8 GiB; `--layers 1 --context 8` proves whole in about a minute (measured: 59.6 s,
verified in 16.3 s, top-1 agreement with PyTorch 8 of 8).

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
    parser.add_argument("--train-steps", type=int, default=200)
    parser.add_argument("--out", default=None, help="folder for the ONNX files (default: a temp dir)")
    args = parser.parse_args()

    torch.manual_seed(0)
    vocab, ctx = 128, args.context
    config = GPT2Config(vocab_size=vocab, n_positions=ctx, n_embd=64, n_layer=args.layers,
                        n_head=4, activation_function="gelu_new", use_cache=False,
                        bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config)
    # A few steps of next-byte prediction on this file's own text, so that the logits have
    # real margins (an untrained model's near-ties make top-1 agreement meaningless); a
    # pretrained model would skip this.
    text = np.frombuffer(open(__file__, "rb").read(), dtype=np.uint8) % vocab
    rng = np.random.default_rng(0)

    def windows(n, length):
        starts = rng.integers(0, len(text) - length, size=n)
        return torch.tensor(np.stack([text[s:s + length] for s in starts]).astype(np.int64))

    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(args.train_steps):
        x = windows(16, ctx + 1)
        loss = torch.nn.functional.cross_entropy(
            model(input_ids=x[:, :-1]).logits.reshape(-1, vocab), x[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()

    out = args.out or tempfile.mkdtemp()
    path = os.path.join(out, "gpt2.onnx")
    example = windows(1, ctx)
    # PyTorch's default exporter, as a user runs it (weights go to gpt2.onnx.data).
    torch.onnx.export(Logits(model).eval(), (example,), path, dynamo=True, opset_version=18,
                      input_names=["input_ids"], output_names=["logits"], external_data=True)

    # Calibration: token windows like those the model will be asked about.
    calibration = windows(8, ctx).numpy().astype(np.float32)
    t = time.time()
    zk = zkinfer.compile(path, calibration,
                         memory_budget=int(args.memory_budget_gib * 2**30))
    print(f"compiled in {time.time() - t:.1f} s: {zk.parts or 1} circuit(s)")

    tokens = windows(1, ctx).numpy()
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
