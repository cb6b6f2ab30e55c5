"""Hugging Face models as `torch.onnx.export(dynamo=True)` writes them (weights in
`NAME.onnx.data`), from Python: compiled from the exporter's files as they are and scored
against onnxruntime's top-1 on held-out samples; the slow proofs (GPT-2 within 8 GiB, BERT and
ViT) run only with ``ZKINFER_SLOW=1`` (`cargo test --release --test python -- --ignored`)."""

import json
import os
import pathlib

import numpy as np
import pytest

import zkinfer

DATA = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data"
SLOW = pytest.mark.skipif(os.environ.get("ZKINFER_SLOW") != "1",
                          reason="a real proof of a transformer: set ZKINFER_SLOW=1")


@pytest.fixture(scope="module")
def params_dir(tmp_path_factory):
    return os.environ.get("ZKINFER_PARAMS_DIR") or str(tmp_path_factory.mktemp("params"))


def halves(name):
    ev = json.loads((DATA / f"{name}.eval.json").read_text())
    half = len(ev["inputs"]) // 2
    return ev, np.asarray(ev["inputs"][:half], dtype=np.float64), half


def top1(logits, want, classes):
    got = np.asarray(logits).reshape(-1, classes).argmax(-1)
    return float((got == np.asarray(want).reshape(-1)).mean())


@pytest.mark.parametrize("name,classes", [("bert_cls", 4), ("vit_cls", 4)])
def test_encoders_compile_from_the_exporters_files_and_agree(name, classes, params_dir, tmp_path):
    ev, calibration, half = halves(name)
    model = zkinfer.compile(DATA / f"{name}.onnx", calibration, params_dir=params_dir)
    held = tmp_path / "held.json"
    held.write_text(json.dumps({k: ev[k][half:2 * half]
                                for k in ("inputs", "labels", "float_logits")}))
    report = model.accuracy(held)
    assert report["float_accuracy"] == 1.0, report
    assert report["quantised_accuracy"] >= 0.95, report


def prove_and_score(name, classes, params_dir, **options):
    _, calibration, _ = halves(name)
    model = zkinfer.compile(DATA / f"{name}.onnx", calibration, params_dir=params_dir, **options)
    x = np.asarray(json.loads((DATA / f"{name}.input.json").read_text())["input_data"][0])
    proof = model.prove(x)
    # The verifier's side: the published model file, loaded afresh, checks the proof.
    verifier = zkinfer.Model.from_json(model.to_json(), params_dir=params_dir)
    logits = verifier.verify(type(proof).from_json(proof.to_json()))
    expected = json.loads((DATA / f"{name}.expected.json").read_text())
    return model, top1(logits, expected["argmax"], classes)


@SLOW
def test_gpt2_l2_proves_and_verifies_within_8_gib(params_dir):
    model, agreement = prove_and_score("gpt2_l2", 128, params_dir, memory_budget=8 << 30)
    assert model.parts == 7
    assert agreement >= 0.95


@SLOW
@pytest.mark.parametrize("name", ["bert_cls", "vit_cls"])
def test_encoders_prove_and_verify(name, params_dir):
    _, agreement = prove_and_score(name, 4, params_dir, memory_budget=8 << 30)
    assert agreement == 1.0
