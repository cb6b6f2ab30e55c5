//! Real proofs of the bundled digits MLP: honest proofs verify, every tampering is rejected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use std::sync::OnceLock;

use zkinfer::api::{BUNDLE_FORMAT_VERSION, CIRCUIT_VERSION};
use zkinfer::error::VerifyError;
use zkinfer::graph::qgraph::{QGraph, QOp};
use zkinfer::{CompiledModel, ProofBundle, Prover, Verifier};

/// Largest |proven logit − ONNX Runtime logit| we accept on the bundled input.
const FLOAT_TOLERANCE: f64 = 0.1;

fn bundle() -> &'static ProofBundle {
    static BUNDLE: OnceLock<ProofBundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        Prover::setup(common::model(), &common::cache())
            .unwrap()
            .prove(&common::sample(), false)
            .unwrap()
    })
}

fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| Verifier::setup(common::model(), &common::cache()).unwrap())
}

/// The integer MLP written out by hand (dense: `floor((Σ w·x + b + offset) / 2^shift)`,
/// ReLU: `max(0, x)`), independent of the witness generator the prover runs: the proof's
/// outputs must be what this slow reference computes from the model's integers.
fn reference_mlp(graph: &QGraph, x: &[i64]) -> Vec<i64> {
    let mut values = x.to_vec();
    for node in &graph.nodes {
        values = match &node.op {
            QOp::Dense(d) => {
                let divisor = 1i128 << d.shift;
                let offset = i128::from(graph.rounding.offset(1u64 << d.shift));
                (0..d.weights.nrows())
                    .map(|o| {
                        let dot: i128 = (0..d.weights.ncols())
                            .map(|i| i128::from(d.weights[(o, i)]) * i128::from(values[i]))
                            .sum();
                        let acc = dot + i128::from(d.bias[o]) + offset;
                        i64::try_from(acc.div_euclid(divisor)).unwrap()
                    })
                    .collect()
            }
            QOp::Relu => values.iter().map(|v| (*v).max(0)).collect(),
            other => panic!("the MLP has no {other:?}"),
        };
    }
    values
}

#[test]
fn proof_verifies_and_outputs_equal_a_separate_integer_reference() {
    let model = common::model();
    let outputs = verifier().verify(bundle()).unwrap();
    let x = model.quantise_input(&common::sample(), false).unwrap();
    assert_eq!(bundle().outputs, reference_mlp(&model.graph, &x));
    for (i, sample) in common::eval_set().inputs.iter().enumerate().take(20) {
        let x = model.quantise_input(sample, false).unwrap();
        let w = model.witness(&x).unwrap();
        assert_eq!(w.outputs(), reference_mlp(&model.graph, &x), "sample {i}");
    }
    assert_eq!(outputs, model.graph.outputs_to_float(&bundle().outputs));
}

#[test]
fn proven_outputs_match_onnx_runtime_within_tolerance() {
    let outputs = verifier().verify(bundle()).unwrap();
    let expected = common::expected_logits();
    for (i, (got, want)) in outputs.iter().zip(&expected).enumerate() {
        assert!(
            (got - want).abs() <= FLOAT_TOLERANCE,
            "logit {i}: proven {got}, onnxruntime {want}"
        );
    }
    assert_eq!(
        zkinfer::input::argmax(&outputs),
        zkinfer::input::argmax(&expected)
    );
}

#[test]
fn flipped_proof_byte_is_rejected() {
    let mut forged = bundle().clone();
    let mut bytes = hex::decode(&forged.proof).unwrap();
    for position in [0, bytes.len() / 2, bytes.len() - 1] {
        bytes[position] ^= 1;
        forged.proof = hex::encode(&bytes);
        let err = verifier().verify(&forged).unwrap_err();
        assert!(
            matches!(err, VerifyError::InvalidProof(_)),
            "byte {position}: {err}"
        );
        bytes[position] ^= 1;
    }
}

#[test]
fn truncated_proof_is_rejected() {
    let mut forged = bundle().clone();
    let full = forged.proof.len() / 2;
    forged.proof.truncate(forged.proof.len() / 2);
    match verifier().verify(&forged) {
        Err(VerifyError::ProofLength { expected, got }) => {
            assert_eq!((expected, got), (full, full / 2));
        }
        other => panic!("a truncated proof: {other:?}"),
    }
}

#[test]
fn changed_public_output_is_rejected() {
    let mut forged = bundle().clone();
    forged.outputs[3] += 1;
    forged.outputs_float = common::model().graph.outputs_to_float(&forged.outputs);
    assert!(matches!(
        verifier().verify(&forged),
        Err(VerifyError::InvalidProof(_))
    ));
}

#[test]
fn float_output_not_matching_the_integers_is_rejected() {
    let mut forged = bundle().clone();
    forged.outputs_float[0] += 1.0;
    assert!(matches!(
        verifier().verify(&forged),
        Err(VerifyError::FloatMismatch { index: 0, .. })
    ));
}

#[test]
fn output_outside_declared_range_is_rejected_before_cryptography() {
    let mut forged = bundle().clone();
    forged.outputs[0] = 1 << 40;
    forged.outputs_float = common::model().graph.outputs_to_float(&forged.outputs);
    assert!(matches!(
        verifier().verify(&forged),
        Err(VerifyError::OutOfRange {
            field: "outputs",
            index: 0,
            ..
        })
    ));
}

#[test]
fn wrong_number_of_outputs_is_rejected() {
    let mut forged = bundle().clone();
    forged.outputs.push(0);
    forged.outputs_float.push(0.0);
    assert!(matches!(
        verifier().verify(&forged),
        Err(VerifyError::Shape {
            field: "outputs",
            ..
        })
    ));
}

#[test]
fn another_models_key_is_rejected() {
    // The same network with one weight changed: a different model.
    let mut other: CompiledModel = (*common::model()).clone();
    if let zkinfer::graph::qgraph::QOp::Dense(d) = &mut other.graph.nodes[0].op {
        d.weights[[0, 0]] += 1;
    }
    let other_verifier = Verifier::setup(other.clone(), &common::cache()).unwrap();
    assert_ne!(other_verifier.model_digest(), verifier().model_digest());
    let err = other_verifier.verify(bundle()).unwrap_err();
    assert!(matches!(err, VerifyError::ModelMismatch { .. }), "{err}");
    // Relabelling the bundle with the other model's digest does not help.
    let mut relabelled = bundle().clone();
    relabelled.model_digest = other_verifier.model_digest().to_string();
    assert!(matches!(
        other_verifier.verify(&relabelled),
        Err(VerifyError::InvalidProof(_))
    ));
}

#[test]
fn wrong_format_version_is_rejected() {
    let mut forged = bundle().clone();
    forged.format_version = BUNDLE_FORMAT_VERSION + 1;
    assert!(matches!(
        verifier().verify(&forged),
        Err(VerifyError::FormatVersion { .. })
    ));
}

#[test]
fn mismatched_circuit_version_is_rejected() {
    let mut forged = bundle().clone();
    forged.circuit_version = CIRCUIT_VERSION + 1;
    assert!(matches!(
        verifier().verify(&forged),
        Err(VerifyError::CircuitVersion { .. })
    ));
}

#[test]
fn bundle_round_trips_through_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proof.json");
    bundle().save(&path).unwrap();
    let loaded = ProofBundle::load(&path).unwrap();
    assert_eq!(&loaded, bundle());
    verifier().verify(&loaded).unwrap();
}

#[test]
fn batch_verification_accepts_valid_and_rejects_a_tampered_member() {
    let prover = Prover::setup(common::model(), &common::cache()).unwrap();
    let second = prover.prove(&common::eval_set().inputs[1], false).unwrap();
    verifier()
        .verify_batch(&[bundle().clone(), second.clone()])
        .unwrap();
    let mut forged = second;
    forged.outputs[0] += 1;
    forged.outputs_float = common::model().graph.outputs_to_float(&forged.outputs);
    assert!(matches!(
        verifier().verify_batch(&[bundle().clone(), forged]),
        Err(VerifyError::InvalidProof(_))
    ));
}

#[test]
fn public_input_is_bound_by_the_proof() {
    let model = common::compile(true);
    let cache = common::cache();
    let bundle = Prover::setup(model.clone(), &cache)
        .unwrap()
        .prove(&common::sample(), false)
        .unwrap();
    let verifier = Verifier::setup(model.clone(), &cache).unwrap();
    verifier.verify(&bundle).unwrap();
    let mut forged = bundle.clone();
    let input = forged.public_input.as_mut().unwrap();
    input[10] += 1;
    assert!(matches!(
        verifier.verify(&forged),
        Err(VerifyError::InvalidProof(_))
    ));
    let mut missing = bundle;
    missing.public_input = None;
    assert!(matches!(
        verifier.verify(&missing),
        Err(VerifyError::Shape {
            field: "public_input",
            ..
        })
    ));
}

#[test]
fn verifying_key_digest_is_pinned() {
    // Regenerate with ZKINFER_REGENERATE_GOLDEN=1 only when a change is meant to alter keys
    // (and say so in the CHANGELOG).
    let path = common::data("digits_mlp.vk-digest");
    let digest = verifier().key_digest();
    if std::env::var_os("ZKINFER_REGENERATE_GOLDEN").is_some() {
        std::fs::write(&path, &digest).unwrap();
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), digest);
}

#[test]
fn model_identity_is_pinned() {
    // The identity binds the key and the model file's meaning (scales, names, visibilities):
    // regenerate with ZKINFER_REGENERATE_GOLDEN=1 only when a change is meant to alter it.
    let path = common::data("digits_mlp.model-id");
    let verifier = verifier();
    let identity = verifier.model_digest();
    if std::env::var_os("ZKINFER_REGENERATE_GOLDEN").is_some() {
        std::fs::write(&path, identity).unwrap();
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), identity);
    assert_ne!(identity, verifier.key_digest(), "more than the key");
}
