//! Every witness value of every node, forged by one, is rejected by the model circuit, even
//! when the public output claims what the forged pass computes: no field of the witness is
//! left unconstrained. The sweep covers every kind of node witness (linear, product, lookup,
//! argmax, softmax, plain values) through models that use every op: the bundled MLP, CNN and
//! tanh/sigmoid MLP, and two small graphs built here (dense, ReLU, Mul, Add, wiring, tanh,
//! affine, then a softmax or an argmax head).
//!
//! For the first value of each field, the exact set of failing constraints is pinned, so a
//! weakened constraint that leaves the forgery to another check still fails this test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use std::collections::BTreeMap;
use zkinfer::graph::TensorId;

use ndarray::{Array1, Array2};
use zkinfer::graph::ir::Activation;
use zkinfer::graph::ir::{
    ArgMax, FloatAffine, FloatDense, FloatGraph, FloatNode, FloatOp, FloatSoftmax, Source, Wiring,
};
use zkinfer::graph::window::Axis;
use zkinfer::graph::witness::{NodeWitness, Witness};
use zkinfer::{input, onnx, CompileOptions, CompiledModel};

/// Every value vector of a node's witness, by name. Exhaustive: a new kind of witness is a
/// compile error here until the sweep covers it.
fn fields(node: &mut NodeWitness) -> Vec<(&'static str, &mut Vec<i64>)> {
    match node {
        NodeWitness::Linear {
            quotients,
            remainders,
        } => vec![("quotients", quotients), ("remainders", remainders)],
        NodeWitness::Product {
            products,
            quotients,
            remainders,
        } => vec![
            ("products", products),
            ("quotients", quotients),
            ("remainders", remainders),
        ],
        NodeWitness::Lookup {
            reduced,
            remainders,
            outputs,
        } => vec![
            ("reduced", reduced),
            ("remainders", remainders),
            ("outputs", outputs),
        ],
        NodeWitness::ArgMax { maxima, indices } => {
            vec![("maxima", maxima), ("indices", indices)]
        }
        NodeWitness::Softmax {
            maxima,
            reduced,
            remainders,
            exps,
            outputs,
        } => vec![
            ("maxima", maxima),
            ("reduced", reduced),
            ("remainders", remainders),
            ("exps", exps),
            ("outputs", outputs),
        ],
        NodeWitness::Values { outputs } => vec![("outputs", outputs)],
    }
}

/// What a sweep saw: the failure names of each field's first value (keyed `node.field`),
/// and the forgeries the circuit accepted, each checked to be a witness of the same claim.
#[derive(Debug, Default)]
struct Seen {
    failures: BTreeMap<String, Vec<String>>,
    accepted: Vec<String>,
}

/// Forges every field of every node (first, middle and last value, each + 1) and the input.
///
/// A forgery the circuit accepts is sound only if the claimed output is what the model
/// computes from the witness's input: a value the circuit never reads (a wiring node's
/// outputs: the next node copies the source cells), or an input the output does not depend
/// on (a pixel whose weights quantise to zero). Anything else fails the test.
fn sweep(model: &CompiledModel, x: &[f32]) -> Seen {
    let q = model.quantise_input(x, false).unwrap();
    let honest = model.witness(&q).unwrap();
    assert_eq!(
        common::mock_failures(model, &honest, &honest.outputs()),
        Vec::<String>::new(),
        "honest"
    );
    let mut seen = Seen::default();
    let mut forge = |key: String, at: usize, w: Witness| {
        let f = common::mock_failures(model, &w, &w.outputs());
        if f.is_empty() {
            let recomputed = model.witness(&w.input).unwrap_or_else(|e| {
                panic!("{key}[{at}] + 1 passes, with an input the model refuses: {e}")
            });
            assert_eq!(
                &recomputed.outputs(),
                &w.outputs(),
                "{key}[{at}] + 1 passes the circuit with an output the model does not compute"
            );
            seen.accepted.push(format!("{key}[{at}]"));
        } else if at == 0 {
            seen.failures.insert(key, f);
        }
    };
    for i in spread(honest.input.len()) {
        let mut w = honest.clone();
        w.input[i] += 1;
        forge("input".into(), i, w);
    }
    for n in 0..honest.nodes.len() {
        let node = &model.graph.nodes[n].name;
        let mut probe = honest.clone();
        let shapes: Vec<(&str, usize)> = fields(&mut probe.nodes[n])
            .into_iter()
            .map(|(name, v)| (name, v.len()))
            .collect();
        for (f, (field, len)) in shapes.into_iter().enumerate() {
            for i in spread(len) {
                let mut w = honest.clone();
                fields(&mut w.nodes[n])[f].1[i] += 1;
                forge(format!("{node}.{field}"), i, w);
            }
        }
    }
    seen
}

/// First, middle and last index.
fn spread(len: usize) -> Vec<usize> {
    let mut at = vec![0, len / 2, len.saturating_sub(1)];
    at.retain(|&i| i < len);
    at.dedup();
    at
}

/// Checks the pinned failure sets of the fields' first values.
fn assert_pinned(seen: &Seen, pinned: &[(&str, &[&str])]) {
    for (key, expected) in pinned {
        let got = seen
            .failures
            .get(*key)
            .unwrap_or_else(|| panic!("no failures for {key}; seen: {seen:#?}"));
        common::assert_exactly(got, expected);
    }
}

fn onnx_model(name: &str, calibration: &str) -> (CompiledModel, Vec<f32>) {
    let graph = onnx::import(&common::data(&format!("{name}.onnx"))).unwrap();
    let samples =
        input::read_samples(&common::data(&format!("{name}.{calibration}.json"))).unwrap();
    let model = CompiledModel::compile(&graph, &samples, &CompileOptions::default()).unwrap();
    (model, samples[0].clone())
}

/// x(6) → dense → ReLU → Mul(·, x) → Add(·, dense) → reversed (wiring) → tanh → affine → head.
fn every_op(head: FloatOp) -> (CompiledModel, Vec<f32>) {
    let node = |name: &str, op, inputs: Vec<usize>| FloatNode {
        name: name.into(),
        op,
        inputs: inputs.into_iter().map(TensorId).collect(),
    };
    let graph = FloatGraph {
        integer_input: false,
        input_name: "x".into(),
        input_shape: vec![1, 6],
        nodes: vec![
            node(
                "fc",
                FloatOp::Dense(FloatDense {
                    weights: Array2::from_shape_fn((6, 6), |(o, i)| {
                        ((o * 7 + i * 5) % 11) as f32 / 5.0 - 1.0
                    }),
                    bias: Array1::from_vec(vec![0.1, -0.3, 0.2, 0.0, -0.1, 0.3]),
                }),
                vec![0],
            ),
            node("relu", FloatOp::Relu, vec![1]),
            node("mul", FloatOp::Mul, vec![2, 0]),
            node("add", FloatOp::Add, vec![3, 1]),
            node(
                "reverse",
                FloatOp::Wiring(Wiring(
                    (0..6)
                        .map(|i| Source::Element {
                            input: 0,
                            index: 5 - i,
                        })
                        .collect(),
                )),
                vec![4],
            ),
            node("tanh", FloatOp::Activation(Activation::Tanh), vec![5]),
            node(
                "affine",
                FloatOp::Affine(FloatAffine {
                    scale: vec![1.5, -0.5, 2.0, 1.0, 0.75, -1.25],
                    bias: vec![0.0, 0.5, -0.25, 0.1, 0.0, 0.2],
                }),
                vec![6],
            ),
            node("head", head, vec![7]),
        ],
        outputs: vec![TensorId(8)],
        input_parts: Vec::new(),
    };
    let samples: Vec<Vec<f32>> = (0..6)
        .map(|s| {
            (0..6)
                .map(|i| ((s * 3 + i * 7) % 10) as f32 / 5.0 - 1.0)
                .collect()
        })
        .collect();
    let model = CompiledModel::compile(&graph, &samples, &CompileOptions::default()).unwrap();
    (model, samples[1].clone())
}

fn axis() -> Axis {
    Axis::of(&[1, 6], -1).unwrap()
}

#[test]
fn every_forged_value_of_the_bundled_models_is_rejected() {
    for (name, calibration) in [
        ("digits_mlp", "eval"),
        ("digits_cnn", "eval"),
        ("digits_mlp_tanh_sigmoid", "eval"),
    ] {
        let (model, x) = onnx_model(name, calibration);
        let seen = sweep(&model, &x);
        // Only inputs may be accepted here (pixels whose weights quantise to zero), and the
        // sweep checked that the output is then the one the model computes.
        assert!(
            seen.accepted.iter().all(|a| a.starts_with("input[")),
            "{name}: {seen:#?}"
        );
        assert!(seen.failures.len() >= 5, "{name}: {seen:#?}");
    }
}

/// The forgeries of the shared trunk (dense, ReLU, Mul, Add, wiring, tanh, affine). A wiring
/// node's outputs are accepted: the circuit never reads them (the next node copies the
/// source cells), so the proof is of the honest pass.
fn trunk_checks(seen: &Seen) {
    assert!(
        seen.accepted
            .iter()
            .all(|a| a.starts_with("reverse.outputs[")),
        "{seen:#?}"
    );
    assert_pinned(
        seen,
        &[
            ("mul.products", &["('product mul')", "('divide mul')"]),
            ("mul.quotients", &["('divide mul')", "('divide add')"]),
            ("mul.remainders", &["('divide mul')"]),
            (
                "add.quotients",
                &["('divide add')", "('divide tanh reduce')"],
            ),
            (
                "add.remainders",
                &["('divide add')", "('range check add remainder')"],
            ),
            ("relu.outputs", &["('relu relu')", "('product mul')"]),
            (
                "tanh.reduced",
                &["('divide tanh reduce')", "('function tanh')"],
            ),
            ("tanh.remainders", &["('divide tanh reduce')"]),
            ("tanh.outputs", &["('function tanh')", "('divide affine')"]),
            ("affine.remainders", &["('divide affine')"]),
        ],
    );
}

#[test]
fn every_forged_value_of_a_softmax_model_is_rejected() {
    let (model, x) = every_op(FloatOp::Softmax(FloatSoftmax {
        axis: axis(),
        keep: Vec::new(),
    }));
    let seen = sweep(&model, &x);
    trunk_checks(&seen);
    assert_pinned(
        &seen,
        &[
            ("head.maxima", &["('max head')", "('divide head reduce')"]),
            (
                "head.reduced",
                &["('divide head reduce')", "('function head exp')"],
            ),
            ("head.remainders", &["('divide head reduce')"]),
            ("head.exps", &["('function head exp')"]),
            ("head.outputs", &["('range check head remainder')"]),
        ],
    );
}

#[test]
fn every_forged_value_of_an_argmax_model_is_rejected() {
    let (model, x) = every_op(FloatOp::ArgMax(ArgMax(axis())));
    let seen = sweep(&model, &x);
    trunk_checks(&seen);
    assert_pinned(
        &seen,
        &[
            ("head.maxima", &["('max head')", "('argmax head')"]),
            (
                "head.indices",
                &["('argmax head')", "('range check head earlier gap')"],
            ),
        ],
    );
}

/// A private input outside its declared range is rejected by the input's range check. Pixel
/// 0 of the digits MLP has zero weights (the sweep above accepts its forgeries by one, with
/// the same output), so nothing but the range check stands between it and any value.
#[test]
fn a_private_input_outside_its_range_is_rejected_by_the_range_check() {
    let model = common::model();
    let q = model.quantise_input(&common::sample(), false).unwrap();
    let mut w = model.witness(&q).unwrap();
    w.input[0] = 1 << model.graph.input.bits;
    assert_eq!(
        common::mock_failures(&model, &w, &w.outputs()),
        ["lookup 'range limb in table, lane 1' in Region 1 ('range check input')"]
    );
}
