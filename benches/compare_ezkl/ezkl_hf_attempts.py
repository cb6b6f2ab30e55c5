#!/usr/bin/env python3
"""What EZKL 23.0.5 makes of a Hugging Face model from `torch.onnx.export`, and of the same
file with each obstacle removed by hand, one after another (issue 29's EZKL outcome).

    .venv-ezkl/bin/python benches/compare_ezkl/ezkl_hf_attempts.py tests/data/gpt2_l2.onnx

1. the file as exported (weights in `NAME.onnx.data`);
2. the weights inlined into one file;
3. and the attention mask's float32-minimum constants (SDPA's causal mask) replaced by -1e4;

each tried with `ezkl.gen_settings` at EZKL's default scales, and (2) at every input and
param scale from 7 down to 0. An attempt that gets settings prints its logrows;
`ezkl_pipeline.py` would carry such a file on through calibration, setup and proving.
"""
import json
import pathlib
import sys
import tempfile

import ezkl
import numpy as np
import onnx
from onnx import numpy_helper


def settings(path, out, scale=None):
    """`gen_settings` on `path`: ("ok", logrows) or ("failed", EZKL's message)."""
    ra = ezkl.PyRunArgs()
    ra.input_visibility, ra.output_visibility, ra.param_visibility = "private", "public", "fixed"
    if scale is not None:
        ra.input_scale = ra.param_scale = scale
    try:
        ezkl.gen_settings(str(path), str(out), py_run_args=ra)
    except Exception as e:  # EZKL raises RuntimeError with its own message
        return "failed", str(e)
    return "ok", json.loads(out.read_text())["run_args"]["logrows"]


def main():
    src = pathlib.Path(sys.argv[1])
    work = pathlib.Path(tempfile.mkdtemp(prefix="ezkl_hf."))
    print(f"1. as exported: {settings(src, work / 's1.json')}")
    model = onnx.load(str(src), load_external_data=True)
    inlined = work / "inlined.onnx"
    onnx.save(model, str(inlined))
    for scale in [None, *range(7, -1, -1)]:
        status = settings(inlined, work / "s2.json", scale)
        print(f"2. weights inlined, scale {scale if scale is not None else 'default'}: {status}")
        if status[0] == "ok":
            break
    for i, t in enumerate(model.graph.initializer):
        a = numpy_helper.to_array(t)
        if a.dtype.kind == "f" and (a < -1e30).any():
            a = np.where(a < -1e30, np.float32(-1e4), a).astype(a.dtype)
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(a, t.name))
            print(f"   mask constant {t.name} {list(a.shape)}: float32 minimum -> -1e4")
    masked = work / "masked.onnx"
    onnx.save(model, str(masked))
    print(f"3. and the mask replaced: {settings(masked, work / 's3.json')}")


if __name__ == "__main__":
    main()
