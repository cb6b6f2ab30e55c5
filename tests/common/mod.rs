//! Fixtures shared by the integration tests: the bundled digits MLP, compiled once, and
//! MockProver's verdicts described by name; `onnx_build` (tiny ONNX models built in memory),
//! `parts` (the residual model proven in parts), `cli` (running the `zkinfer` binary).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly
#![allow(dead_code, reason = "each test binary uses a different subset")]

pub mod cli;
pub mod onnx_build;
pub mod parts;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use halo2_proofs::dev::MockProver;
use pasta_curves::Fp;
use zkinfer::circuit::{ModelCircuit, Salts, LOOKUP_NAMES};
use zkinfer::graph::witness::Witness;
use zkinfer::{input, onnx, CompileOptions, CompiledModel, ParamsCache};

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Parameters cached under the target folder, shared by all test binaries.
pub fn cache() -> ParamsCache {
    ParamsCache::new(Path::new(env!("CARGO_TARGET_TMPDIR")).join("params"))
}

pub fn sample() -> Vec<f32> {
    input::read_samples(&data("digits_mlp.input.json"))
        .unwrap()
        .remove(0)
}

pub fn eval_set() -> input::EvalSet {
    input::EvalSet::read(&data("digits_mlp.eval.json")).unwrap()
}

pub fn compile(public_input: bool) -> CompiledModel {
    compile_with(zkinfer::Visibilities::with_input(if public_input {
        zkinfer::Visibility::Public
    } else {
        zkinfer::Visibility::Private
    }))
}

/// The digits MLP compiled with `visibility`.
pub fn compile_with(visibility: zkinfer::Visibilities) -> CompiledModel {
    let graph = onnx::import(&data("digits_mlp.onnx")).unwrap();
    let options = CompileOptions {
        visibility,
        ..CompileOptions::default()
    };
    CompiledModel::compile(&graph, &eval_set().inputs, &options).unwrap()
}

/// The digits MLP with a private input, compiled once per test binary.
pub fn model() -> Arc<CompiledModel> {
    static MODEL: OnceLock<Arc<CompiledModel>> = OnceLock::new();
    MODEL.get_or_init(|| Arc::new(compile(false))).clone()
}

/// Expected float logits from ONNX Runtime.
pub fn expected_logits() -> Vec<f64> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("digits_mlp.expected.json")).unwrap())
            .unwrap();
    v["output"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// The digits MLP with its `Relu` op renamed `Selu` (same length, so the protobuf stays
/// valid): a model with an operator zkinfer does not support.
pub fn with_unsupported_op() -> Vec<u8> {
    let bytes = std::fs::read(data("digits_mlp.onnx")).unwrap();
    let at = bytes
        .windows(4)
        .position(|w| w == b"Relu")
        .expect("the MLP has a Relu");
    let mut patched = bytes;
    patched[at..at + 4].copy_from_slice(b"Selu");
    patched
}

/// MockProver failures of witness `w` claiming public outputs `claim`: one line per distinct
/// failure, naming the constraint, lookup or copy and its region (row and cell values dropped).
pub fn mock_failures(model: &CompiledModel, w: &Witness, claim: &[i64]) -> Vec<String> {
    let mut names: Vec<String> = mock_described(model, w, claim)
        .into_iter()
        .map(|line| line.split(" at ").next().unwrap_or(&line).to_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Every MockProver failure of witness `w` claiming public outputs `claim`, described in
/// full (location included), in MockProver's order; empty when the circuit accepts.
pub fn mock_described(model: &CompiledModel, w: &Witness, claim: &[i64]) -> Vec<String> {
    zkinfer_circuits::dev::describe(&model.mock(w, claim).unwrap(), LOOKUP_NAMES)
}

/// [`mock_described`] for a forged witness: fails the test unless something rejects it.
pub fn mock_rejected(model: &CompiledModel, w: &Witness, claim: &[i64]) -> Vec<String> {
    let failures = mock_described(model, w, claim);
    assert!(!failures.is_empty(), "forged witness accepted");
    failures
}

/// MockProver's failures, described in full, of `model`'s circuit (with the commitment chip:
/// the model hashes something) over witness `w` committing under `salts`, while the instance column holds `public` (which a test builds
/// itself: other commitments, another link); empty when the circuit accepts.
pub fn mock_instance(
    model: &CompiledModel,
    w: &Witness,
    salts: Salts,
    public: Vec<Fp>,
) -> Vec<String> {
    fn run<const W: usize>(
        model: &CompiledModel,
        w: &Witness,
        salts: Salts,
        public: Vec<Fp>,
    ) -> Vec<String> {
        let circuit =
            ModelCircuit::<W, true>::for_proving(&model.graph, &model.visibility, w, salts);
        let k = model.layout().unwrap().k;
        let verdict = MockProver::run(k, &circuit, vec![public]).unwrap().verify();
        zkinfer_circuits::dev::describe(&verdict.err().unwrap_or_default(), LOOKUP_NAMES)
    }
    match model.dot_width {
        8 => run::<8>(model, w, salts, public),
        16 => run::<16>(model, w, salts, public),
        32 => run::<32>(model, w, salts, public),
        64 => run::<64>(model, w, salts, public),
        width => panic!("width {width}"),
    }
}

/// MockProver's described failures break only a copy to the instance column (it names both
/// ends of the broken copy): what a public commitment that the circuit's does not match
/// gives, and nothing else.
pub fn assert_only_an_instance_copy_fails(failures: &[String]) {
    assert!(!failures.is_empty(), "the circuit was accepted");
    assert!(
        failures
            .iter()
            .all(|f| f.contains("Equality constraint not satisfied")),
        "{failures:?}"
    );
    assert!(
        failures.iter().any(|f| f.contains("Instance")),
        "{failures:?}"
    );
}

/// The failures are exactly `expected`: every failure matches one expected entry and every
/// entry matches some failure. An entry matches a failure that contains each of its
/// `|`-separated parts (e.g. `"('division')|('divide fc1')"`: that gate, in that region).
pub fn assert_exactly(got: &[String], expected: &[&str]) {
    let matches = |g: &String, e: &&str| e.split('|').all(|part| g.contains(part));
    let matched = !got.is_empty()
        && got.iter().all(|g| expected.iter().any(|e| matches(g, e)))
        && expected.iter().all(|e| got.iter().any(|g| matches(g, e)));
    assert!(matched, "expected exactly {expected:?}, got {got:#?}");
}
