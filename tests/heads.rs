//! Classifier heads: a model ending in Softmax and one ending in ArgMax prove and verify for
//! real, and their forged witnesses fail named constraints (softmax denominator off by one,
//! argmax index moved to a later tie or to a smaller element).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use ndarray::{Array1, Array2};
use zkinfer::graph::TensorId;

use zkinfer::error::VerifyError;
use zkinfer::graph::ir::{ArgMax, FloatDense, FloatGraph, FloatNode, FloatOp, FloatSoftmax};
use zkinfer::graph::window::Axis;
use zkinfer::graph::witness::{NodeWitness, Witness};
use zkinfer::{CompileOptions, CompiledModel, Prover, Verifier};

/// Dense 6 → 5 then `head`; or the head alone on the input when `dense` is false.
fn compiled(head: FloatOp, dense: bool) -> (CompiledModel, Vec<Vec<f32>>) {
    let mut nodes = Vec::new();
    if dense {
        nodes.push(FloatNode {
            name: "fc".into(),
            op: FloatOp::Dense(FloatDense {
                weights: Array2::from_shape_fn((5, 6), |(o, i)| {
                    ((o * 7 + i * 5) % 11) as f32 / 5.0 - 1.0
                }),
                bias: Array1::from_vec(vec![0.1, -0.3, 0.2, 0.0, -0.1]),
            }),
            inputs: vec![TensorId(0)],
        });
    }
    nodes.push(FloatNode {
        name: "head".into(),
        op: head,
        inputs: vec![TensorId(nodes.len())],
    });
    let outputs = vec![TensorId(nodes.len())];
    let width = if dense { 6 } else { 5 };
    let graph = FloatGraph {
        integer_input: false,
        input_name: "x".into(),
        input_shape: vec![1, width],
        nodes,
        outputs,
        input_parts: Vec::new(),
    };
    let samples: Vec<Vec<f32>> = (0..5)
        .map(|s| {
            (0..width)
                .map(|i| ((s * 3 + i * 7) % 10) as f32 / 5.0 - 1.0)
                .collect()
        })
        .collect();
    let model = CompiledModel::compile(&graph, &samples, &CompileOptions::default()).unwrap();
    (model, samples)
}

fn axis() -> Axis {
    Axis::of(&[1, 5], -1).unwrap()
}

fn prove_and_verify(model: &CompiledModel, x: &[f32]) -> Vec<f64> {
    let cache = common::cache();
    let bundle = Prover::setup(model.clone(), &cache)
        .unwrap()
        .prove(x, false)
        .unwrap();
    let verifier = Verifier::setup(model.clone(), &cache).unwrap();
    let outputs = verifier.verify(&bundle).unwrap();
    let mut forged = bundle.clone();
    forged.outputs[0] += 1;
    forged.outputs_float = model.graph.outputs_to_float(&forged.outputs);
    assert!(
        matches!(verifier.verify(&forged), Err(VerifyError::InvalidProof(_))),
        "a changed output verifies"
    );
    outputs
}

#[test]
fn softmax_model_proves_and_verifies() {
    let (model, samples) = compiled(
        FloatOp::Softmax(FloatSoftmax {
            axis: axis(),
            keep: Vec::new(),
        }),
        true,
    );
    let outputs = prove_and_verify(&model, &samples[0]);
    let sum: f64 = outputs.iter().sum();
    assert!((sum - 1.0).abs() < 0.01, "softmax sums to {sum}");
    // Within 0.01 of the float softmax of the proven logits, on every sample.
    for x in &samples {
        let q = model.quantise_input(x, false).unwrap();
        let w = model.witness(&q).unwrap();
        let y = model.graph.outputs_to_float(&w.outputs());
        let fc = &model.graph.nodes[0].output;
        let logits: Vec<f64> = w.nodes[0]
            .output()
            .iter()
            .map(|v| fc.to_float(*v))
            .collect();
        let m = logits.iter().cloned().fold(f64::MIN, f64::max);
        let total: f64 = logits.iter().map(|l| (l - m).exp()).sum();
        for (yi, li) in y.iter().zip(&logits) {
            assert!((yi - (li - m).exp() / total).abs() < 0.01);
        }
    }
}

#[test]
fn argmax_model_proves_and_verifies() {
    let (model, samples) = compiled(FloatOp::ArgMax(ArgMax(axis())), true);
    for x in samples.iter().take(2) {
        let q = model.quantise_input(x, false).unwrap();
        let w = model.witness(&q).unwrap();
        let logits = w.nodes[0].output();
        let m = logits.iter().max().unwrap();
        let first = logits.iter().position(|v| v == m).unwrap();
        assert_eq!(&w.outputs(), &[first as i64]);
    }
    let outputs = prove_and_verify(&model, &samples[0]);
    assert_eq!(outputs.len(), 1);
}

/// A forged exponential (the sum and the division follow it honestly) leaves the table.
#[test]
fn softmax_exponential_off_by_one_is_rejected() {
    let (model, samples) = compiled(
        FloatOp::Softmax(FloatSoftmax {
            axis: axis(),
            keep: Vec::new(),
        }),
        true,
    );
    let q = model.quantise_input(&samples[1], false).unwrap();
    let mut w = model.witness(&q).unwrap();
    let NodeWitness::Softmax { exps, .. } = &mut w.nodes[1] else {
        panic!("second node is the softmax")
    };
    exps[0] += 1;
    let public = w.outputs();
    // The exponential's lookup fails; the sum it feeds may also push the normalising
    // division's remainder out of its range (it does at this model's scales).
    common::assert_exactly(
        &common::mock_failures(&model, &w, &public),
        &[
            "lookup|('function head exp')",
            "lookup|('range check head remainder')",
        ],
    );
}

#[test]
fn softmax_output_off_by_one_is_rejected() {
    let (model, samples) = compiled(
        FloatOp::Softmax(FloatSoftmax {
            axis: axis(),
            keep: Vec::new(),
        }),
        true,
    );
    let q = model.quantise_input(&samples[1], false).unwrap();
    let mut w = model.witness(&q).unwrap();
    let NodeWitness::Softmax { outputs, .. } = &mut w.nodes[1] else {
        panic!("second node is the softmax")
    };
    outputs[2] += 1;
    let public = w.outputs();
    common::assert_exactly(
        &common::mock_failures(&model, &w, &public),
        &["lookup|('range check head remainder')"],
    );
}

/// ArgMax straight on the input, where ties are exact: x = [0.5, 0.25, 0.5, 0.1, -1].
fn tied() -> (CompiledModel, Witness) {
    let (model, _) = compiled(FloatOp::ArgMax(ArgMax(axis())), false);
    let q = model
        .quantise_input(&[0.5, 0.25, 0.5, 0.1, -1.0], false)
        .unwrap();
    let w = model.witness(&q).unwrap();
    assert_eq!(&w.outputs(), &[0], "ONNX picks the first of tied maxima");
    (model, w)
}

#[test]
fn argmax_later_index_at_a_tie_is_rejected() {
    let (model, mut w) = tied();
    let NodeWitness::ArgMax { indices, .. } = &mut w.nodes[0] else {
        panic!("the node is the argmax")
    };
    indices[0] = 2;
    common::assert_exactly(
        &common::mock_failures(&model, &w, &[2]),
        &["lookup|('range check head earlier gap')"],
    );
}

#[test]
fn argmax_index_of_a_smaller_element_is_rejected() {
    let (model, mut w) = tied();
    let NodeWitness::ArgMax { indices, .. } = &mut w.nodes[0] else {
        panic!("the node is the argmax")
    };
    indices[0] = 1;
    common::assert_exactly(
        &common::mock_failures(&model, &w, &[1]),
        &[
            "('the chosen element attains the max')|('argmax head')",
            "lookup|('range check head earlier gap')",
        ],
    );
}
