//! ONNX `Max` of two activations, the op added through its own modules only
//! (`graph/ops/maximum.rs`, `circuit/ops/maximum.rs`; ARCHITECTURE's "How to add an op"):
//! its float graph against tract, its compiled model against tract and through MockProver,
//! and two forged maxima, each rejected by the one check that must reject it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use common::onnx_build::{agrees_with_tract_on, model_io, node, proves_on, sample};
use zkinfer::graph::qgraph::QOp;
use zkinfer::graph::witness::NodeWitness;

fn max_model(a: &[i64], b: &[i64]) -> Vec<u8> {
    model_io(
        vec![node("Max", &["a", "b"], "y", vec![])],
        vec![],
        &[("a", a), ("b", b)],
        "y",
        13,
    )
}

fn samples(bytes: &[u8]) -> Vec<Vec<f32>> {
    let n = zkinfer::onnx::import_bytes(bytes, "test")
        .unwrap()
        .input_len();
    (0..4).map(|s| sample(n, s)).collect()
}

#[test]
fn max_agrees_with_tract_and_proves_with_and_without_broadcasting() {
    for (a, b) in [
        (&[1i64, 6][..], &[1i64, 6][..]),
        (&[1, 2, 3][..], &[1, 1, 3][..]),
    ] {
        let bytes = max_model(a, b);
        let samples = samples(&bytes);
        agrees_with_tract_on(&bytes, &samples);
        let (model, _) = proves_on(&bytes, &samples);
        assert!(model
            .graph
            .nodes
            .iter()
            .any(|n| matches!(n.op, QOp::Max(_))));
    }
}

#[test]
fn max_of_more_than_two_operands_is_refused_by_name() {
    let bytes = model_io(
        vec![node("Max", &["a", "b", "c"], "y", vec![])],
        vec![],
        &[("a", &[1, 2]), ("b", &[1, 2]), ("c", &[1, 2])],
        "y",
        13,
    );
    let err = zkinfer::onnx::import_bytes(&bytes, "test").unwrap_err();
    assert!(err.to_string().contains("Max of 3 operands"), "{err}");
}

/// The failures when the max node's output at an element where its inputs differ is
/// claimed to be `claim(a, b)` (the public output following the forged record).
fn forged(claim: impl Fn(i64, i64) -> i64) -> Vec<String> {
    let bytes = max_model(&[1, 6], &[1, 6]);
    let (model, mut w) = proves_on(&bytes, &samples(&bytes));
    let at = model
        .graph
        .nodes
        .iter()
        .position(|n| matches!(n.op, QOp::Max(_)))
        .expect("the model has a Max node");
    let node = &model.graph.nodes[at];
    let (a, b) = (
        w.tensor(node.inputs[0]).to_vec(),
        w.tensor(node.inputs[1]).to_vec(),
    );
    let i = (0..a.len())
        .find(|&i| a[i] != b[i])
        .expect("fixture: the inputs differ somewhere");
    let NodeWitness::Values { outputs } = &mut w.nodes[at] else {
        panic!("Max records its outputs")
    };
    outputs[i] = claim(a[i], b[i]);
    common::mock_failures(&model, &w, &w.outputs())
}

#[test]
fn max_output_above_both_inputs_is_rejected() {
    common::assert_exactly(&forged(|a, b| a.max(b) + 1), &["max attained"]);
}

#[test]
fn max_output_equal_to_the_smaller_input_is_rejected() {
    common::assert_exactly(&forged(|a, b| a.min(b)), &["lookup|gap"]);
}
