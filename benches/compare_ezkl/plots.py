#!/usr/bin/env python3
"""PNG plots of a `compare.py --plots` run (run by it, in the EZKL venv, which has matplotlib
and onnx):

    python benches/compare_ezkl/plots.py RUN.json OUT_DIR

RUN.json holds, per model, its ONNX path and each configuration's measurements (EZKL's
default pipeline; zkinfer at `--precision standard` and `high`, and with `--max-error` at
EZKL's error). It writes:

- `prove_vs_multiplies.png`: prove time (log) against the model's multiplies (log), one
  marker per tool at its default settings: how each scales with the model's work;
- `precision_frontier.png`: max abs output error (log) against prove time (log), one panel
  per model, every configuration a point: the precision each buys per second of proving;

and adds each model's multiplies to RUN.json.

Multiplies are counted from the ONNX file itself, identically for both tools: every
`Conv`, `Gemm` and `MatMul` contributes its output elements times its reduction length
(from ONNX shape inference; a model whose shapes stay symbolic is left out of the first
plot and says so).
"""
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import onnx  # noqa: E402
from onnx import shape_inference  # noqa: E402


def dims(shapes, name):
    """The static shape of tensor `name`, or None where a dimension is symbolic."""
    shape = shapes.get(name)
    if shape is None or any(d is None for d in shape):
        return None
    return shape


def multiplies(path):
    """Multiplies of one inference of the ONNX model at `path`, or None when a shape is not
    static. External data is not loaded: only shapes are read."""
    model = onnx.load(path, load_external_data=False)
    model = shape_inference.infer_shapes(model)
    g = model.graph
    shapes = {}
    for vi in [*g.input, *g.value_info, *g.output]:
        t = vi.type.tensor_type
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
    total = 0
    for node in g.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul"):
            continue
        out, a, b = dims(shapes, node.output[0]), dims(shapes, node.input[0]), dims(shapes, node.input[1])
        if out is None or a is None or b is None:
            return None
        if node.op_type == "Conv":
            reduction = math.prod(b[1:])  # channels per group times the kernel
        elif node.op_type == "Gemm":
            trans_a = next((x.i for x in node.attribute if x.name == "transA"), 0)
            reduction = a[0] if trans_a else a[-1]
        else:
            reduction = a[-1]
        total += math.prod(out) * reduction
    return total


def prove_vs_multiplies(run, out):
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    skipped = []
    for tool, key, marker in [("zkinfer", "zkinfer standard", "o"), ("EZKL", "EZKL", "s")]:
        xs, ys, names = [], [], []
        for name, m in run["models"].items():
            r = m["configs"].get(key, {})
            if m.get("multiplies") is None:
                skipped.append(name)
                continue
            if r.get("prove_s"):
                xs.append(m["multiplies"])
                ys.append(r["prove_s"])
                names.append(name)
        ax.scatter(xs, ys, marker=marker, label=tool, s=40)
        for x, y, n in zip(xs, ys, names):
            ax.annotate(n, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("multiplies per inference (from the ONNX file)")
    ax.set_ylabel("prove time, s (median)")
    ax.set_title("Prove time against multiplies, default settings")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    note = f"machine: {run['machine']}"
    if skipped:
        note += f"; symbolic shapes, left out: {', '.join(sorted(set(skipped)))}"
    fig.text(0.01, 0.005, note, fontsize=6)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(os.path.join(out, "prove_vs_multiplies.png"), dpi=120)
    plt.close(fig)


STYLES = {"EZKL": ("s", "tab:orange"), "zkinfer standard": ("o", "tab:blue"),
          "zkinfer high": ("^", "tab:green"), "zkinfer --max-error": ("D", "tab:purple")}


def precision_frontier(run, out):
    names = list(run["models"])
    cols = min(2, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for key, r in run["models"][name]["configs"].items():
            if not r.get("prove_s") or not r.get("max_abs_err"):
                continue
            marker, color = STYLES.get(key, ("x", "gray"))
            ax.scatter([r["prove_s"]], [r["max_abs_err"]], marker=marker, color=color, s=50, label=key)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("prove time, s (median)")
        ax.set_ylabel("max abs output error")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle("Precision frontier: error against prove time (lower left is better)")
    fig.text(0.01, 0.005, f"machine: {run['machine']}", fontsize=6)
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    fig.savefig(os.path.join(out, "precision_frontier.png"), dpi=120)
    plt.close(fig)


def main():
    run = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for m in run["models"].values():
        m["multiplies"] = multiplies(m["onnx"])
    prove_vs_multiplies(run, out)
    precision_frontier(run, out)
    # The multiplies join the measurements, in the run's own file.
    json.dump(run, open(sys.argv[1], "w"), indent=1)
    print(f"wrote {out}/prove_vs_multiplies.png and {out}/precision_frontier.png")


if __name__ == "__main__":
    main()
