"""The Python package on the bundled digits MLP: compile, prove, verify, batch, accuracy,
every exception type, a tampered proof rejected, the GIL released while proving, and a
proof made in Python verified by the Rust CLI."""

import json
import os
import pathlib
import shutil
import subprocess
import threading
import time

import numpy as np
import pytest

import zkinfer

DATA = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data"
ONNX = DATA / "digits_mlp.onnx"
EVAL = DATA / "digits_mlp.eval.json"


def sample():
    return np.asarray(json.loads((DATA / "digits_mlp.input.json").read_text())["input_data"][0])


def expected_logits():
    return np.asarray(json.loads((DATA / "digits_mlp.expected.json").read_text())["output"][0])


@pytest.fixture(scope="session")
def params_dir(tmp_path_factory):
    return os.environ.get("ZKINFER_PARAMS_DIR") or str(tmp_path_factory.mktemp("params"))


@pytest.fixture(scope="session")
def model(params_dir):
    return zkinfer.compile(ONNX, EVAL, params_dir=params_dir)


@pytest.fixture(scope="session")
def proof(model):
    return model.prove(sample())


def test_prove_and_verify_match_onnx_runtime(model, proof):
    outputs = model.verify(proof)
    assert isinstance(outputs, np.ndarray) and outputs.shape == (10,)
    assert np.max(np.abs(outputs - expected_logits())) < 0.1
    assert int(np.argmax(outputs)) == 2
    assert proof.outputs == pytest.approx(list(outputs))
    assert proof.model_digest == model.digest
    assert proof.size > 1000


def test_compile_from_samples_equals_compile_from_file(model, params_dir, tmp_path):
    samples = np.asarray(json.loads(EVAL.read_text())["inputs"], dtype=np.float32)
    again = zkinfer.compile(str(ONNX), samples, params_dir=params_dir)
    assert again.inspect() == model.inspect()
    model.save(tmp_path / "m.zkm")
    loaded = zkinfer.load(tmp_path / "m.zkm", params_dir=params_dir)
    assert loaded.digest == model.digest
    assert (loaded.input_len, loaded.output_len, loaded.k) == (64, 10, model.k)


def test_inspect_and_accuracy_are_dicts(model):
    report = model.inspect()
    assert report["k"] == model.k and len(report["nodes"]) == 4
    accuracy = model.accuracy(EVAL)
    assert accuracy["quantised_accuracy"] == accuracy["float_accuracy"]


def test_high_precision_narrows_the_error_and_proves(params_dir):
    high = zkinfer.compile(ONNX, EVAL, precision="high", params_dir=params_dir)
    assert high.accuracy(EVAL)["max_logit_error"] < 0.0017
    outputs = high.verify(high.prove(sample()))
    assert np.max(np.abs(outputs - expected_logits())) < 0.0017
    with pytest.raises(zkinfer.InputError, match="precision"):
        zkinfer.compile(ONNX, EVAL, precision="extreme", params_dir=params_dir)


def test_an_error_budget_chooses_the_widths_and_proves(params_dir):
    budgeted = zkinfer.compile(ONNX, EVAL, max_error=0.0017, params_dir=params_dir)
    budget = budgeted.inspect()["quant_report"]["budget"]
    assert budget["max_error"] == 0.0017 and budget["held_out_error"] <= 0.0017
    assert budget["activation_bits"] > 16
    outputs = budgeted.verify(budgeted.prove(sample()))
    assert np.max(np.abs(outputs - expected_logits())) < 0.0017
    with pytest.raises(zkinfer.ZkinferError, match="no quantisation meets --max-error"):
        zkinfer.compile(ONNX, EVAL, max_error=1e-9, params_dir=params_dir)


def test_a_tampered_proof_is_rejected(model, proof):
    bundle = json.loads(proof.to_json())
    # Edit a proven integer and its float in step, so only the proof can catch it.
    i = next(i for i, v in enumerate(bundle["outputs"]) if v != 0)
    scale = bundle["outputs_float"][i] / bundle["outputs"][i]
    bundle["outputs"][i] += 1
    bundle["outputs_float"][i] = bundle["outputs"][i] * scale
    forged = zkinfer.Proof.from_json(json.dumps(bundle))
    with pytest.raises(zkinfer.VerifyError, match="does not check against this model"):
        model.verify(forged)


def test_batch_verification(model, proof):
    second = model.prove(np.asarray(json.loads(EVAL.read_text())["inputs"][1]))
    zkinfer.verify_batch(model, [proof, second])
    bundle = json.loads(second.to_json())
    bundle["proof"] = bundle["proof"][:-2] + ("00" if bundle["proof"][-2:] != "00" else "01")
    with pytest.raises(zkinfer.VerifyError):
        model.verify_batch([proof, zkinfer.Proof.from_json(json.dumps(bundle))])


def test_every_exception_type(model, tmp_path):
    with pytest.raises(zkinfer.InputError, match="takes 64"):
        model.prove([1.0, 2.0])
    with pytest.raises(zkinfer.InputError, match="not a finite number"):
        model.prove(np.full(64, np.nan))
    with pytest.raises(zkinfer.InputError, match="outside the calibrated range"):
        model.prove(np.full(64, 1e6))
    with pytest.raises(zkinfer.ModelError, match="missing.onnx"):
        zkinfer.compile(tmp_path / "missing.onnx", EVAL)
    with pytest.raises(zkinfer.ModelError):
        zkinfer.load(EVAL)
    with pytest.raises(zkinfer.FileError, match="missing.json"):
        zkinfer.Proof.load(tmp_path / "missing.json")
    with pytest.raises(zkinfer.VerifyError, match="not a proof bundle"):
        zkinfer.Proof.from_json('{"proof": 1}')
    with pytest.raises(zkinfer.InputError, match="input_visibility"):
        zkinfer.compile(ONNX, EVAL, input_visibility="secret")
    for error in (zkinfer.InputError, zkinfer.ModelError, zkinfer.ProveError,
                  zkinfer.VerifyError, zkinfer.FileError):
        assert issubclass(error, zkinfer.ZkinferError)


def test_proving_releases_the_gil(model):
    model.prove(sample())  # keys already built; time only proving
    ticks = 0
    done = threading.Event()

    def tick():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.0005)

    ticker = threading.Thread(target=tick)
    ticker.start()
    started = time.perf_counter()
    model.prove(sample())
    elapsed = time.perf_counter() - started
    done.set()
    ticker.join()
    # With the GIL held for the whole proof, the ticker could not run at all meanwhile.
    assert ticks > 10, f"{ticks} ticks in {elapsed:.2f} s of proving"


def test_the_cli_verifies_a_proof_made_in_python(model, proof, params_dir, tmp_path):
    cli = os.environ.get("ZKINFER_CLI") or shutil.which("zkinfer")
    if cli is None:
        pytest.skip("set ZKINFER_CLI to the zkinfer binary to run this test")
    model.save(tmp_path / "m.zkm")
    proof.save(tmp_path / "p.json")
    out = subprocess.run(
        [cli, "--params-dir", params_dir, "verify", tmp_path / "m.zkm", tmp_path / "p.json",
         "--json"],
        capture_output=True, text=True, check=True,
    )
    report = json.loads(out.stdout)
    assert report["valid"] is True and report["argmax"] == 2


def test_hashed_input_and_outputs_commit_and_open(params_dir):
    model = zkinfer.compile(
        ONNX, EVAL, input_visibility="hashed", output_visibility="hashed", params_dir=params_dir
    )
    proof = model.prove(sample())
    assert len(model.verify(proof)) == 0, "hashed outputs are not in the bundle"
    assert len(proof.input_commitment) == 64 and len(proof.output_commitment) == 64
    openings = proof.openings_json()
    model.check_openings(openings, proof)
    opened = json.loads(openings)
    assert [o["tensor"] for o in opened["openings"]] == ["input", "output"]
    # The output opening holds the proven integers; a changed value no longer opens.
    opened["openings"][1]["values"][0] += 1
    with pytest.raises(zkinfer.VerifyError, match="opening of the output does not match"):
        model.check_openings(json.dumps(opened))
    # Openings say something only of a valid proof: a proof whose bytes were changed, with its
    # commitments intact, is refused.
    bundle = json.loads(proof.to_json())
    bundle["proof"] = ("1" if bundle["proof"][0] != "1" else "2") + bundle["proof"][1:]
    with pytest.raises(zkinfer.VerifyError):
        model.check_openings(openings, zkinfer.Proof.from_json(json.dumps(bundle)))
    # A reloaded bundle carries no openings (they are never saved with it).
    assert zkinfer.Proof.from_json(proof.to_json()).openings_json() is None
    with pytest.raises(zkinfer.InputError, match="output visibility .private. is not supported"):
        zkinfer.compile(ONNX, EVAL, output_visibility="private", params_dir=params_dir)


def test_hashed_params_verify_from_a_verifier_file_without_weights(params_dir, tmp_path):
    owner = zkinfer.compile(ONNX, EVAL, param_visibility="hashed", params_dir=params_dir)
    commitment = owner.weights_commitment
    assert len(commitment) == 64 and not owner.is_verifier_file
    proof = owner.prove(sample())
    # What the owner publishes: the verifier file (no weights, no salt) and the commitment.
    owner.verifier_file().save(tmp_path / "v.zkm")
    assert '"salt"' not in (tmp_path / "v.zkm").read_text()
    verifier = zkinfer.load(tmp_path / "v.zkm", params_dir=params_dir)
    assert verifier.is_verifier_file and verifier.weights_commitment == commitment
    outputs = verifier.verify(proof)
    assert int(np.argmax(outputs)) == 2
    assert verifier.digest == owner.digest, "the key is the architecture's"
    with pytest.raises(zkinfer.ZkinferError, match="verifier file"):
        verifier.prove(sample())
    # Checked against another announced commitment, the proof is refused.
    other = "01" + commitment[2:] if not commitment.startswith("01") else "02" + commitment[2:]
    with pytest.raises(zkinfer.VerifyError, match="other weights"):
        verifier.expecting_weights(other).verify(proof)
    assert zkinfer.compile(ONNX, EVAL, params_dir=params_dir).weights_commitment is None
