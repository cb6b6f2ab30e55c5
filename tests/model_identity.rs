//! A model's identity (the digest users publish, bundles name and the service keys by) binds
//! everything that gives a proof its meaning (issue 27, item 1). Before, it was the
//! verifying key's digest alone: with fixed params the circuit never reads an output's
//! `scale_exp`, so a model file edited only there kept the published digest, and an honest
//! proof relabelled at the doctored scale verified with other floats and another argmax.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use common::onnx_build::{node, tensor, value_info};
use prost::Message;
use serde_json::Value;
use tract_onnx::pb::{GraphProto, ModelProto, OperatorSetIdProto};
use zkinfer::error::VerifyError;
use zkinfer::{onnx, CompileOptions, CompiledModel, Prover, Verifier, Visibilities, Visibility};

/// The attack of the issue, with a real proof: the model file's output scale doubled (every
/// float doubles, and a doctored scale on one output of several moves the argmax) after an
/// honest proof was made. The doctored file has another identity, so the honest bundle is
/// refused by it, and a bundle relabelled to the doctored file's identity is told apart
/// from the published one.
#[test]
fn a_doctored_output_scale_changes_the_identity() {
    let cache = common::cache();
    let model = common::model();
    let prover = Prover::setup(model.clone(), &cache).unwrap();
    let bundle = prover.prove(&common::sample(), false).unwrap();
    let published = Verifier::setup(model.clone(), &cache).unwrap();
    assert_eq!(published.model_digest(), prover.model_digest());
    published.verify(&bundle).unwrap();

    let mut doctored = (*model).clone();
    let output = doctored.graph.outputs[0];
    let node = output.node().expect("the MLP's output is a node's");
    doctored.graph.nodes[node].output.scale_exp -= 6;
    let doctored = Verifier::setup(doctored, &cache).unwrap();
    // The same circuit: only the identity tells the two files apart.
    assert_eq!(doctored.key_digest(), published.key_digest());
    assert_ne!(doctored.model_digest(), published.model_digest());
    let mut relabelled = bundle.clone();
    relabelled.outputs_float = doctored.model().graph.outputs_to_float(&bundle.outputs);
    assert!(matches!(
        doctored.verify(&relabelled),
        Err(VerifyError::ModelMismatch { .. })
    ));
    // Renamed to the doctored identity it verifies against the doctored file, but that is
    // not the identity the owner published: the published verifier refuses it.
    relabelled.model_digest = doctored.model_digest().to_owned();
    doctored.verify(&relabelled).unwrap();
    assert!(matches!(
        published.verify(&relabelled),
        Err(VerifyError::ModelMismatch { .. })
    ));
}

/// A small model with two outputs (a dense layer's Relu and the logits after a second dense
/// layer), so that output order and names are leaves of its file.
fn two_output_model() -> Vec<u8> {
    let w1: Vec<f32> = (0..12).map(|i| ((i * 7 % 11) as f32 - 5.0) / 8.0).collect();
    let w2: Vec<f32> = (0..6).map(|i| ((i * 5 % 7) as f32 - 3.0) / 4.0).collect();
    let graph = GraphProto {
        node: vec![
            node("MatMul", &["x", "w1"], "h", vec![]),
            node("Add", &["h", "b1"], "hb", vec![]),
            node("Relu", &["hb"], "r", vec![]),
            node("MatMul", &["r", "w2"], "z", vec![]),
            node("Add", &["z", "b2"], "y", vec![]),
        ],
        initializer: vec![
            tensor("w1", &[4, 3], &w1),
            tensor("b1", &[3], &[0.25, -0.5, 0.125]),
            tensor("w2", &[3, 2], &w2),
            tensor("b2", &[2], &[0.5, -0.25]),
        ],
        input: vec![value_info("x", &[1, 4])],
        output: vec![value_info("y", &[1, 2]), value_info("r", &[1, 3])],
        ..Default::default()
    };
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

fn compiled(visibility: Visibilities) -> CompiledModel {
    let graph = onnx::import_bytes(&two_output_model(), "two outputs").unwrap();
    assert_eq!(graph.outputs.len(), 2, "the test model has two outputs");
    let calibration: Vec<Vec<f32>> = (0..8).map(|s| common::onnx_build::sample(4, s)).collect();
    let options = CompileOptions {
        visibility,
        ..CompileOptions::default()
    };
    CompiledModel::compile(&graph, &calibration, &options).unwrap()
}

/// Every leaf of a JSON document, as a JSON pointer: of long arrays only the first, middle
/// and last element (each element of a list of numbers is read alike).
fn leaves(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                leaves(v, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            let n = items.len();
            let mut picked: Vec<usize> = if n > 4 {
                vec![0, n / 2, n - 1]
            } else {
                (0..n).collect()
            };
            picked.dedup();
            for i in picked {
                leaves(&items[i], format!("{at}/{i}"), out);
            }
        }
        Value::Null => {}
        _ => out.push(at),
    }
}

/// The leaf at `pointer` changed: a number moved by one (a float doubled and moved), a
/// string lengthened, a boolean flipped.
fn mutated(file: &Value, pointer: &str) -> Value {
    let mut file = file.clone();
    let leaf = file.pointer_mut(pointer).unwrap();
    *leaf = match &*leaf {
        Value::Bool(b) => Value::Bool(!b),
        Value::String(s) => Value::String(format!("{s}x")),
        Value::Number(n) if n.is_u64() => Value::from(n.as_u64().unwrap().wrapping_add(1)),
        Value::Number(n) if n.is_i64() => Value::from(n.as_i64().unwrap() + 1),
        Value::Number(n) => Value::from(n.as_f64().unwrap() * 2.0 + 1.0),
        other => panic!("not a leaf: {other}"),
    };
    file
}

/// Leaves that verification does not read, by design: the calibration report (a
/// measurement) and the owner's salt (a secret; see `a_verifier_file_..._params_only`).
fn unread(pointer: &str) -> bool {
    pointer.starts_with("/quant_report") || pointer == "/weights/salt"
}

/// Mutates every leaf of `model`'s file one at a time. Each mutation is refused on load, or
/// refused by the verifier's set-up, or changes the identity; `same_meaning` names the ones
/// allowed to keep it (leaves verification does not read). Returns how many were tried.
fn every_leaf_changes_the_identity_or_is_refused(
    model: &CompiledModel,
    same_meaning: impl Fn(&str, &CompiledModel) -> bool,
) -> usize {
    let cache = common::cache();
    let original = Verifier::setup(model.clone(), &cache).unwrap();
    let file = serde_json::to_value(model).unwrap();
    let mut pointers = Vec::new();
    leaves(&file, String::new(), &mut pointers);
    let mut kept = Vec::new();
    for pointer in &pointers {
        let text = serde_json::to_vec(&mutated(&file, pointer)).unwrap();
        let Ok(changed) = CompiledModel::from_json(&text, pointer) else {
            continue; // refused on load
        };
        let Ok(verifier) = Verifier::setup(changed.clone(), &cache) else {
            continue; // refused by the verifier
        };
        if verifier.model_digest() == original.model_digest()
            && !unread(pointer)
            && !same_meaning(pointer, &changed)
        {
            kept.push(pointer.clone());
        }
    }
    assert!(
        kept.is_empty(),
        "these leaves changed the model file but kept its identity: {kept:#?}"
    );
    pointers.len()
}

#[test]
fn every_leaf_of_a_model_file_changes_the_identity_or_is_refused() {
    for visibility in [
        Visibilities::default(),
        Visibilities {
            input: Visibility::Public,
            output: Visibility::Hashed,
            ..Visibilities::default()
        },
    ] {
        let model = compiled(visibility);
        let tried = every_leaf_changes_the_identity_or_is_refused(&model, |_, _| false);
        assert!(tried > 40, "only {tried} leaves");
    }
}

/// With hashed params the parameters are advice values the published commitment binds: the
/// owner's file and its verifier file have one identity, and a parameter changed in a
/// verifier file (which verification never reads) keeps it; every other leaf, the
/// commitment included, changes it or is refused. Another owner's weights of the same
/// architecture (two classes' rows swapped, as an adversarial review found) have another
/// identity: before, a verifier file carrying their commitment passed for the published one.
#[test]
fn a_verifier_file_keeps_its_identity_under_changed_params_only() {
    let owner = compiled(Visibilities {
        params: Visibility::Hashed,
        ..Visibilities::default()
    });
    let file = owner.verifier_file().unwrap();
    let cache = common::cache();
    assert_eq!(
        Verifier::setup(owner.clone(), &cache)
            .unwrap()
            .model_digest(),
        Verifier::setup(file.clone(), &cache)
            .unwrap()
            .model_digest(),
        "the owner's file and its verifier file are one model"
    );
    // A changed leaf that only moved a parameter: zeroing the params gives the file back.
    let zeroed = |m: &CompiledModel| {
        let mut m = m.clone();
        for node in &mut m.graph.nodes {
            node.op.zero_params();
        }
        m
    };
    every_leaf_changes_the_identity_or_is_refused(&file, |_, changed| zeroed(changed) == file);
    let mut rival = owner.graph.clone();
    for node in &mut rival.nodes {
        if let zkinfer::graph::qgraph::QOp::Dense(dense) = &mut node.op {
            dense.bias.swap(0, 1);
        }
    }
    let rival = CompiledModel::from_graph(rival, owner.visibility).unwrap();
    assert_eq!(
        rival.visibility, owner.visibility,
        "the same packing widths"
    );
    assert_ne!(rival.weights_commitment(), owner.weights_commitment());
    assert_ne!(
        Verifier::setup(rival.verifier_file().unwrap(), &cache)
            .unwrap()
            .model_digest(),
        Verifier::setup(file, &cache).unwrap().model_digest(),
        "another owner's weights are another model"
    );
}
