#!/usr/bin/env python3
"""A MobileNet-v1-style network as ONNX, written with `onnx` and `numpy` only (no torch):
a strided stem, depthwise-separable blocks (a depthwise 3x3 convolution, `group` = its
channels, then a pointwise 1x1 one), each convolution followed by BatchNormalization and
Relu6 exported as `Clip(0, 6)`, as `torch.onnx.export` writes them; then a global average
pool and a dense classifier. Random weights from a fixed seed, BatchNorm statistics that
keep activations in range: the model is for measuring, not for accuracy.

    python models/make_mobilenet.py OUT_DIR [--size 152] [--width 1.0]

writes OUT_DIR/mobilenet.onnx, mobilenet.input.json (one sample) and mobilenet.eval.json
(eight samples, labels from onnxruntime when it is installed, else 0), and prints its
multiplies. At the default `--size 152 --width 1.0` it has about 14M multiplies: whole it needs a circuit
far above one machine, so `compile --memory-budget` must cut it (and split its layers).
"""
import argparse
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# (output channels, stride) of each depthwise-separable block, MobileNet v1 at width 0.25.
BLOCKS = [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1), (256, 2), (256, 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=152)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--classes", type=int, default=10)
    a = ap.parse_args()
    rng = np.random.default_rng(7)
    nodes, inits = [], []
    macs = 0

    def const(name, array):
        inits.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def conv_bn_clip(x, cin, cout, kernel, stride, group, hw, tag):
        nonlocal macs
        fan_in = cin // group * kernel * kernel
        w = const(f"{tag}.w", rng.normal(0, np.sqrt(2.0 / fan_in), (cout, cin // group, kernel, kernel)))
        pad = kernel // 2
        nodes.append(helper.make_node("Conv", [x, w], [f"{tag}.conv"], kernel_shape=[kernel, kernel],
                                      strides=[stride, stride], pads=[pad] * 4, group=group))
        out_hw = (hw + 2 * pad - kernel) // stride + 1
        macs += cout * out_hw * out_hw * fan_in
        bn = [const(f"{tag}.bn.{n}", v) for n, v in [
            ("scale", rng.uniform(0.5, 1.0, cout)), ("bias", rng.uniform(-0.1, 0.3, cout)),
            ("mean", rng.normal(0, 0.1, cout)), ("var", rng.uniform(0.8, 1.5, cout))]]
        nodes.append(helper.make_node("BatchNormalization", [f"{tag}.conv", *bn], [f"{tag}.bn"], epsilon=1e-5))
        lo, hi = const(f"{tag}.min", np.array(0.0)), const(f"{tag}.max", np.array(6.0))
        nodes.append(helper.make_node("Clip", [f"{tag}.bn", lo, hi], [f"{tag}.relu6"]))
        return f"{tag}.relu6", out_hw

    channels = max(4, int(8 * a.width))
    x, hw = conv_bn_clip("input", 3, channels, 3, 2, 1, a.size, "stem")
    for i, (cout, stride) in enumerate(BLOCKS):
        cout = max(4, int(cout * a.width))
        x, hw = conv_bn_clip(x, channels, channels, 3, stride, channels, hw, f"b{i}.dw")
        x, hw = conv_bn_clip(x, channels, cout, 1, 1, 1, hw, f"b{i}.pw")
        channels = cout
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool"]))
    nodes.append(helper.make_node("Flatten", ["pool"], ["flat"], axis=1))
    w = const("fc.w", rng.normal(0, np.sqrt(1.0 / channels), (a.classes, channels)))
    b = const("fc.b", np.zeros(a.classes))
    nodes.append(helper.make_node("Gemm", ["flat", w, b], ["logits"], transB=1))
    macs += channels * a.classes
    graph = helper.make_graph(
        nodes, "mobilenet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, a.size, a.size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, a.classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    os.makedirs(a.out, exist_ok=True)
    onnx.save(model, os.path.join(a.out, "mobilenet.onnx"))
    samples = [rng.uniform(-1, 1, 3 * a.size * a.size).round(4).tolist() for _ in range(8)]
    labels = [0] * len(samples)
    try:
        import onnxruntime as ort
        session = ort.InferenceSession(os.path.join(a.out, "mobilenet.onnx"))
        labels = [int(np.argmax(session.run(None, {"input": np.array(s, np.float32).reshape(1, 3, a.size, a.size)})[0]))
                  for s in samples]
    except ImportError:
        pass
    json.dump({"input_data": [samples[0]]}, open(os.path.join(a.out, "mobilenet.input.json"), "w"))
    json.dump({"inputs": samples, "labels": labels}, open(os.path.join(a.out, "mobilenet.eval.json"), "w"))
    print(f"wrote {a.out}/mobilenet.onnx: {len(nodes)} nodes, {macs / 1e6:.1f}M multiplies")


if __name__ == "__main__":
    main()
