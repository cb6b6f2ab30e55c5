#!/usr/bin/env python3
"""Transformers as PyTorch users export them: Hugging Face `transformers` models built from small
configs with fixed seeds, trained briefly (so their outputs have real margins), and exported by
PyTorch's default exporter, `torch.onnx.export(..., dynamo=True, opset_version=18)`, with the
weights in an external `NAME.onnx.data` file, exactly as it writes them. Nothing is downloaded.

    python3 -m venv .venv-torch
    .venv-torch/bin/pip install torch transformers onnx onnxruntime onnxscript numpy
    .venv-torch/bin/python models/make_transformers.py [OUT_DIR] [NAME ...]
    .venv-torch/bin/python models/make_transformers.py --variants OUT_DIR [NAME ...]

The pattern is `../shared/models/make_models_v3.py`'s (which builds `gpt2_l2` and `gpt2_l8`):
per model NAME, NAME.onnx + NAME.onnx.data, NAME.input.json (EZKL format), NAME.expected.json
(onnxruntime's output for that input), NAME.eval.json (10 more inputs with the float model's
argmax as labels: per position for the decoders); manifest.json has shapes, ops and margins.

  gpt2_eager  GPT2LMHeadModel, 2 layers, d_model 64, 4 heads, vocab 128, context 32,
              gelu_new, the eager attention implementation (not SDPA)
  bert_cls    BertForSequenceClassification: 2 layers, hidden 64, 4 heads, vocab 128,
              16 tokens, erf GELU, token-type and position embeddings, pooler, 4 classes
  vit_cls     ViTForImageClassification: 16x16 single-channel images, 4x4 patches, hidden 64,
              2 layers, 4 heads, class token, 4 classes

The committed copies in tests/data are what the tests read; torch is needed only to run this.
"""
import hashlib, json, os, sys
import numpy as np
import torch
import onnx
import onnxruntime as ort
import transformers
from transformers import (BertConfig, BertForSequenceClassification, GPT2Config,
                          GPT2LMHeadModel, ViTConfig, ViTForImageClassification)

OUT = os.path.dirname(os.path.abspath(__file__))


def corpus():
    for p in ["/usr/share/common-licenses/GPL-3", "/usr/share/common-licenses/GPL-2"]:
        if os.path.exists(p):
            return np.frombuffer(open(p, "rb").read(), dtype=np.uint8)
    return np.tile(np.arange(256, dtype=np.uint8), 200)


TEXT = corpus()
# Encoders' evaluation sets: half calibrates, half is held out for scoring.
EVAL_SAMPLES = 30


def windows(vocab, ctx, n, rng):
    ids = TEXT % vocab
    s = rng.integers(0, len(ids) - ctx - 1, size=n)
    return np.stack([ids[i:i + ctx] for i in s]).astype(np.int64)


def scrub(path):
    """Drops the exporter's per-node stack traces (they hold this machine's file paths) and
    re-saves the weights to NAME.onnx.data, as the exporter writes them."""
    m = onnx.load(path)
    for n in m.graph.node:
        keep = [p for p in n.metadata_props if p.key != "pkg.torch.onnx.stack_trace"]
        del n.metadata_props[:]
        n.metadata_props.extend(keep)
        n.doc_string = ""
    if os.path.exists(path + ".data"):
        os.remove(path + ".data")
    onnx.save(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
              location=os.path.basename(path) + ".data", size_threshold=1024)


class Out(torch.nn.Module):
    """The model's logits from one input tensor (what zkinfer proves)."""

    def __init__(self, m, key):
        super().__init__()
        self.m, self.key = m, key

    def forward(self, x):
        return self.m(**{self.key: x}).logits


def train(m, batch, steps, lr=3e-3):
    opt = torch.optim.AdamW(m.parameters(), lr=lr)
    m.train()
    for _ in range(steps):
        loss = batch(m)
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    return float(loss.detach())


def export(name, m, key, example, xs, input_names, per_position):
    path = os.path.join(OUT, f"{name}.onnx")
    torch.onnx.export(Out(m, key).eval(), (example,), path, dynamo=True, opset_version=18,
                      input_names=input_names, output_names=["logits"])
    scrub(path)
    sess = ort.InferenceSession(path)
    feed = sess.get_inputs()[0].name
    outs = [sess.run(None, {feed: xs[i:i + 1]})[0] for i in range(len(xs))]
    label = (lambda o: o[0].argmax(-1).tolist()) if per_position else (lambda o: int(o[0].argmax()))
    json.dump({"input_data": [xs[0].reshape(-1).tolist()]},
              open(os.path.join(OUT, f"{name}.input.json"), "w"))
    json.dump({"model": name, "input_shape": [1, *xs.shape[1:]],
               "output_shape": list(outs[0].shape), "output": outs[0].tolist(),
               "argmax": label(outs[0])},
              open(os.path.join(OUT, f"{name}.expected.json"), "w"))
    json.dump({"model": name, "input_shape": [1, *xs.shape[1:]],
               "inputs": [x.reshape(-1).tolist() for x in xs[1:]],
               "labels": [label(o) for o in outs[1:]],
               "float_logits": [o.reshape(-1).tolist() for o in outs[1:]],
               "float_accuracy": 1.0},
              open(os.path.join(OUT, f"{name}.eval.json"), "w"))
    lg = np.concatenate([o.reshape(-1, o.shape[-1]) for o in outs])
    srt = np.sort(lg, -1)
    mg = srt[:, -1] - srt[:, -2]
    mdl = onnx.load(path, load_external_data=False)
    return {"params": sum(p.numel() for p in m.parameters()),
            "ops": sorted({n.op_type for n in mdl.graph.node}), "num_nodes": len(mdl.graph.node),
            "exporter": "torch.onnx.export(dynamo=True, opset_version=18)",
            "logit_range": [float(lg.min()), float(lg.max())],
            "top1_margin": {"min": float(mg.min()), "median": float(np.median(mg))},
            "onnx_sha256": hashlib.sha256(open(path, "rb").read()).hexdigest()}


def gpt2(name, layers=2, d=64, heads=4, vocab=128, ctx=32, act="gelu_new", attn="eager",
         seed=0):
    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=vocab, n_positions=ctx, n_embd=d, n_layer=layers, n_head=heads,
                     n_inner=4 * d, activation_function=act, resid_pdrop=0.0,
                     embd_pdrop=0.0, attn_pdrop=0.0, use_cache=False,
                     bos_token_id=0, eos_token_id=0, attn_implementation=attn)
    m = GPT2LMHeadModel(cfg)
    assert m.config._attn_implementation == attn, m.config._attn_implementation
    rng = np.random.default_rng(seed + 1)

    def batch(m):
        x = torch.tensor(windows(vocab, ctx + 1, 32, rng))
        return torch.nn.functional.cross_entropy(
            m(input_ids=x[:, :-1]).logits.reshape(-1, vocab), x[:, 1:].reshape(-1))

    loss = train(m, batch, 300)
    example = torch.tensor(windows(vocab, ctx, 1, np.random.default_rng(99)))
    xs = windows(vocab, ctx, 11, np.random.default_rng(seed + 2))
    info = export(name, m, "input_ids", example, xs, ["input_ids"], per_position=True)
    return {"layers": layers, "d_model": d, "heads": heads, "vocab": vocab, "context": ctx,
            "activation": act, "attention": attn, "train_loss": loss, **info}


def bert_cls(name, layers=2, d=64, heads=4, vocab=128, ctx=16, classes=4, act="gelu", seed=0,
             samples=EVAL_SAMPLES):
    """Classifies random token ids by the id class (`id · classes // vocab`) most common among
    them."""
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=vocab, hidden_size=d, num_hidden_layers=layers,
                     num_attention_heads=heads, intermediate_size=4 * d, hidden_act=act,
                     max_position_embeddings=ctx, type_vocab_size=2, num_labels=classes,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    m = BertForSequenceClassification(cfg)
    rng = np.random.default_rng(seed + 1)

    def labels(x):
        return np.array([np.bincount(r * classes // vocab, minlength=classes).argmax()
                         for r in x])

    def tokens(n, rng):
        return rng.integers(0, vocab, size=(n, ctx)).astype(np.int64)

    def batch(m):
        x = tokens(32, rng)
        return torch.nn.functional.cross_entropy(
            m(input_ids=torch.tensor(x)).logits, torch.tensor(labels(x)))

    loss = train(m, batch, 400)
    example = torch.tensor(tokens(1, np.random.default_rng(99)))
    xs = tokens(1 + samples, np.random.default_rng(seed + 2))
    info = export(name, m, "input_ids", example, xs, ["input_ids"], per_position=False)
    return {"layers": layers, "hidden": d, "heads": heads, "vocab": vocab, "tokens": ctx,
            "classes": classes, "activation": act, "train_loss": loss, **info}


def vit_cls(name, layers=2, d=64, heads=4, size=16, patch=4, classes=4, channels=1, act="gelu",
            seed=0, samples=EVAL_SAMPLES):
    """Classifies a noisy image by its brightest quadrant."""
    torch.manual_seed(seed)
    cfg = ViTConfig(image_size=size, patch_size=patch, num_channels=channels, hidden_size=d,
                    num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=4 * d,
                    hidden_act=act, num_labels=classes, hidden_dropout_prob=0.0,
                    attention_probs_dropout_prob=0.0)
    m = ViTForImageClassification(cfg)
    rng = np.random.default_rng(seed + 1)

    def images(n, rng):
        x = rng.normal(0.0, 0.5, size=(n, channels, size, size)).astype(np.float32)
        y = rng.integers(0, classes, size=n)
        h = size // 2
        for i, q in enumerate(y):
            r, c = divmod(int(q), 2)
            x[i, :, r * h:(r + 1) * h, c * h:(c + 1) * h] += 1.0
        return x, y

    def batch(m):
        x, y = images(32, rng)
        return torch.nn.functional.cross_entropy(
            m(pixel_values=torch.tensor(x)).logits, torch.tensor(y))

    loss = train(m, batch, 300)
    example = torch.tensor(images(1, np.random.default_rng(99))[0])
    xs, _ = images(1 + samples, np.random.default_rng(seed + 2))
    info = export(name, m, "pixel_values", example, xs, ["pixel_values"], per_position=False)
    return {"layers": layers, "hidden": d, "heads": heads, "image": [channels, size, size],
            "patch": patch, "classes": classes, "activation": act, "train_loss": loss, **info}


BUILDERS = {
    "gpt2_eager": lambda name: gpt2(name),
    "bert_cls": bert_cls,
    "vit_cls": vit_cls,
}

# Other sizes, head counts, depths and activations of the same three families, exported the
# same way: not committed (tests/data keeps the three above); `benches/hf_variants.sh` builds
# them into a scratch folder and checks that each compiles and agrees with onnxruntime.
VARIANTS = {
    "gpt2_sdpa_h3_d48_relu": lambda n: gpt2(n, layers=1, d=48, heads=3, ctx=16, act="relu",
                                            attn="sdpa"),
    "gpt2_eager_l3_gelu": lambda n: gpt2(n, layers=3, d=32, heads=2, ctx=16, act="gelu"),
    "gpt2_sdpa_silu_v96": lambda n: gpt2(n, layers=2, d=32, heads=8, vocab=96, ctx=24,
                                         act="silu", attn="sdpa"),
    "gpt2_sdpa_fast": lambda n: gpt2(n, layers=1, d=64, heads=2, ctx=8, act="gelu_fast",
                                     attn="sdpa"),
    "bert_h2_l3_gelu_new": lambda n: bert_cls(n, layers=3, d=32, heads=2, ctx=8, classes=3,
                                              act="gelu_new"),
    "bert_h8_relu": lambda n: bert_cls(n, layers=1, d=64, heads=8, ctx=24, act="relu"),
    "vit_rgb_p8_h3": lambda n: vit_cls(n, d=48, heads=3, size=16, patch=8, channels=3),
    "vit_l1_p2_tanh": lambda n: vit_cls(n, layers=1, d=32, heads=2, size=8, patch=2,
                                        act="gelu_pytorch_tanh"),
}


if __name__ == "__main__":
    args = sys.argv[1:]
    variants = "--variants" in args
    args = [a for a in args if a != "--variants"]
    OUT = args[0] if args else OUT
    ONLY = set(args[1:])
    builders = VARIANTS if variants else BUILDERS
    manifest = os.path.join(OUT, "manifest.json")
    man = json.load(open(manifest)) if os.path.exists(manifest) else {"models": {}}
    man["generator"] = "make_transformers.py"
    man["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__,
                       "onnx": onnx.__version__, "onnxruntime": ort.__version__}
    for name, build in builders.items():
        if not ONLY or name in ONLY:
            man["models"][name] = build(name)
            print(name, man["models"][name]["params"], man["models"][name]["ops"],
                  man["models"][name]["top1_margin"], flush=True)
    json.dump(man, open(manifest, "w"), indent=1)
