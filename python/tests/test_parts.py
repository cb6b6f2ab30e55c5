"""Models proven in parts from Python: compile with cuts, prove (all parts, or one part at a
time under a shared link seed), assemble, verify; and the parts proven in Ray tasks on a
local Ray with 2 CPUs, the proof verified by the Rust CLI."""

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

import zkinfer

DATA = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data"
ONNX = DATA / "digits_cnn.onnx"
EVAL = DATA / "digits_cnn.eval.json"


def sample():
    return np.asarray(json.loads((DATA / "digits_cnn.input.json").read_text())["input_data"][0])


@pytest.fixture(scope="module")
def params_dir(tmp_path_factory):
    return os.environ.get("ZKINFER_PARAMS_DIR") or str(tmp_path_factory.mktemp("params"))


@pytest.fixture(scope="module")
def parted(params_dir):
    return zkinfer.compile(ONNX, EVAL, cut_before=[1, 3], params_dir=params_dir)


@pytest.fixture(scope="module")
def whole(params_dir):
    return zkinfer.compile(ONNX, EVAL, params_dir=params_dir)


@pytest.fixture(scope="module")
def whole_outputs(whole):
    return whole.verify(whole.prove(sample()))


def test_a_model_in_parts_proves_and_verifies_its_outputs(parted, whole_outputs):
    assert parted.parts == 3
    report = parted.inspect()
    assert [p["nodes"] for p in report["parts"]] == [[0, 1], [1, 3], [3, 4]]
    proof = parted.prove(sample())
    assert isinstance(proof, zkinfer.PartedProof) and len(proof.parts) == 3
    np.testing.assert_array_equal(parted.verify(proof), whole_outputs)
    # Through JSON and back, as the CLI writes it.
    again = zkinfer.PartedProof.from_json(proof.to_json())
    np.testing.assert_array_equal(parted.verify(again), whole_outputs)


def test_hashed_params_in_parts_verify_from_the_verifier_file(params_dir, whole_outputs):
    owner = zkinfer.compile(ONNX, EVAL, param_visibility="hashed", cut_before=[1, 3],
                            params_dir=params_dir)
    commitment = owner.weights_commitment
    assert len(commitment) == 64
    verifier = owner.verifier_file()
    assert verifier.is_verifier_file and verifier.weights_commitment == commitment
    proof = owner.prove(sample())
    # Hashed params change where the weights live, not the integer semantics.
    np.testing.assert_array_equal(verifier.expecting_weights(commitment).verify(proof),
                                  whole_outputs)
    with pytest.raises(Exception, match="not the published model"):
        verifier.expecting_weights("00" * 32)
    with pytest.raises(Exception, match="verifier file"):
        verifier.prove(sample())


def samples(n):
    return json.loads(EVAL.read_text())["inputs"][:n]


def test_many_inputs_are_proven_part_by_part_each_with_its_own_links(parted, whole):
    xs = samples(2)  # the first is `sample()`
    proofs = parted.prove_many(xs)
    # A model proven whole proves many with its kept keys; both give each input's outputs.
    singles = whole.prove_many(xs)
    assert all(isinstance(p, zkinfer.Proof) for p in singles)
    for proof, single in zip(proofs, singles):
        assert isinstance(proof, zkinfer.PartedProof)
        np.testing.assert_array_equal(parted.verify(proof), whole.verify(single))
    assert proofs[0].outputs != proofs[1].outputs
    a, b = proofs[0].parts, proofs[1].parts
    with pytest.raises(zkinfer.VerifyError, match="link from part 0 to part 1"):
        parted.verify(zkinfer.PartedProof.assemble([a[0], b[1], a[2]]))
    with pytest.raises(zkinfer.InputError):
        parted.prove_many([xs[0], [0.0, 1.0]])


def test_parts_proven_apart_assemble_and_strays_are_named(parted, whole_outputs):
    seed = zkinfer.link_seed()
    parts = [parted.prove_part(sample(), i, seed) for i in range(3)]
    proof = zkinfer.PartedProof.assemble(parts)
    np.testing.assert_array_equal(parted.verify(proof), whole_outputs)
    swapped = zkinfer.PartedProof.assemble([parts[1], parts[0], parts[2]])
    with pytest.raises(zkinfer.VerifyError, match="part 0: .*is part 1's"):
        parted.verify(swapped)
    stray = parted.prove_part(sample(), 1, zkinfer.link_seed())
    with pytest.raises(zkinfer.VerifyError, match="link from part 0 to part 1"):
        parted.verify(zkinfer.PartedProof.assemble([parts[0], stray, parts[2]]))
    with pytest.raises(zkinfer.InputError, match="link seed"):
        parted.prove_part(sample(), 0, "not hex")
    with pytest.raises(zkinfer.ModelError, match="no part 3"):
        parted.prove_part(sample(), 3, seed)


ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_proves_the_parts_and_the_cli_verifies(local_ray, parted, whole_outputs, params_dir,
                                                   tmp_path):
    import zkinfer.ray

    proof = zkinfer.ray.prove(parted, sample(), params_dir=params_dir)
    np.testing.assert_array_equal(np.asarray(proof.outputs), whole_outputs)
    cli = os.environ.get("ZKINFER_CLI")
    if cli is None:
        pytest.skip("set ZKINFER_CLI to the zkinfer binary to check the proof with the CLI")
    parted.save(tmp_path / "m.zkm")
    proof.save(tmp_path / "p.json")
    out = subprocess.run(
        [cli, "--params-dir", params_dir, "verify", tmp_path / "m.zkm", tmp_path / "p.json",
         "--json"],
        capture_output=True, text=True, check=True,
    )
    assert json.loads(out.stdout)["valid"] is True


def tower(params_dir):
    """A stem, four residual blocks of one width, a head (tests/data/residual_tower.onnx,
    written by tests/shared_keys.rs), with hashed params, cut before every dense layer: the
    blocks quantised and cut alike are parts of one shape."""
    onnx = DATA / "residual_tower.onnx"
    calibration = np.random.default_rng(3).uniform(-1, 1, size=(6, 8))
    plain = zkinfer.compile(onnx, calibration, params_dir=params_dir)
    dense = [i for i, n in enumerate(plain.inspect()["nodes"][1:]) if n["op"] == "Dense"]
    return zkinfer.compile(onnx, calibration, param_visibility="hashed", cut_before=dense[1:],
                           params_dir=params_dir)


def test_ray_proves_a_stream_with_each_shapes_keys_kept_in_its_actors(local_ray, params_dir):
    import zkinfer.ray

    model = tower(params_dir)
    inspection = model.inspect()
    # The blocks share shapes: fewer circuits than parts, each part of a listed shape.
    assert len(inspection["shapes"]) < len(inspection["parts"]) == 6
    assert sorted(i for s in inspection["shapes"] for i in s["parts"]) == list(range(6))
    xs = np.random.default_rng(4).uniform(-1, 1, size=(2, 8))
    # Two actors share the blocks' shape, each building its keys once.
    proofs = zkinfer.ray.prove_many(model, xs, params_dir=params_dir, actors_per_shape=2)
    assert len(proofs) == 2
    # Verified by prove_many already; each carries its own input's outputs, in order.
    np.testing.assert_array_equal(model.verify(proofs[1]), np.asarray(proofs[1].outputs))
    assert proofs[0].outputs != proofs[1].outputs


def test_a_part_that_fails_twice_is_named(local_ray, parted, tmp_path):
    import zkinfer.ray

    # Parameters cannot be cached under a file: every attempt of every part fails.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(zkinfer.ProveError, match=r"part [012] of 3 failed after 2 attempts"):
        zkinfer.ray.prove(parted, sample(), params_dir=str(blocker / "params"))
    with pytest.raises(zkinfer.InputError, match="takes 64"):
        zkinfer.ray.prove(parted, [0.0, 1.0])


def test_a_part_larger_than_any_node_asks_for_a_whole_node(local_ray):
    import zkinfer.ray

    largest = zkinfer.ray._largest_node_memory(ray)
    assert largest > 0, "a local Ray offers memory"
    # A part that fits is asked at its prediction; one beyond every node takes a whole node
    # (never a request Ray could not schedule, never no request at all).
    assert zkinfer.ray.memory_request(1 << 20, largest) == 1 << 20
    assert zkinfer.ray.memory_request(4 * largest, largest) == largest
    assert zkinfer.ray.memory_request(1 << 20, 0) == 0
