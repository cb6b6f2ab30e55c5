//! The model circuit under MockProver: the honest witness passes, and each recorded witness
//! field, perturbed, fails a named constraint. Also thread-count determinism and layout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use halo2_proofs::{
    dev::MockProver,
    plonk::{Circuit, ConstraintSystem},
};
use pasta_curves::Fp;
use zkinfer::circuit::layout::{DOT_WIDTH, UNUSABLE_ROWS};
use zkinfer::circuit::{InstanceLayout, ModelCircuit};
use zkinfer::graph::ir::{AvgPool, FloatConv, MaxPool};
use zkinfer::graph::witness::{generate, NodeWitness, Witness};
use zkinfer::graph::TensorId;

fn honest() -> Witness {
    let model = common::model();
    let x = model.quantise_input(&common::sample(), false).unwrap();
    model.witness(&x).unwrap()
}

/// MockProver failures for `witness`, claiming the honest outputs as public values.
fn failures(witness: &Witness) -> Vec<String> {
    common::mock_failures(&common::model(), witness, &honest().outputs())
}

#[test]
fn model_circuit_accepts_the_honest_witness() {
    assert_eq!(failures(&honest()), Vec::<String>::new());
}

#[test]
fn model_circuit_perturbed_input_breaks_the_first_division() {
    // The dot chip derives its sums from the copied input, so the changed input reaches the
    // accumulator; the recorded quotient no longer divides it.
    let mut w = honest();
    w.input[5] += 1;
    common::assert_exactly(&failures(&w), &["('division')|('divide fc1')"]);
}

#[test]
fn model_circuit_perturbed_quotient_is_rejected() {
    let mut w = honest();
    let NodeWitness::Linear { quotients, .. } = &mut w.nodes[0] else {
        panic!("first node is dense")
    };
    quotients[2] += 1;
    common::assert_exactly(&failures(&w), &["('division')|('divide fc1')"]);
}

#[test]
fn model_circuit_perturbed_remainder_is_rejected() {
    let mut w = honest();
    let NodeWitness::Linear { remainders, .. } = &mut w.nodes[2] else {
        panic!("third node is dense")
    };
    remainders[0] += 1;
    common::assert_exactly(&failures(&w), &["('division')|('divide fc2')"]);
}

#[test]
fn model_circuit_perturbed_relu_output_is_rejected() {
    let mut w = honest();
    let NodeWitness::Values { outputs } = &mut w.nodes[1] else {
        panic!("second node is relu")
    };
    outputs[0] += 1;
    common::assert_exactly(
        &failures(&w),
        &["('division')|('divide fc2')", "('relu')|('relu relu1')"],
    );
}

#[test]
fn model_circuit_wrong_public_output_is_rejected() {
    let model = common::model();
    let w = honest();
    let mut outputs = w.outputs();
    outputs[0] += 1;
    common::assert_exactly(
        &common::mock_failures(&model, &w, &outputs),
        &[
            "Equality constraint|('range check fc2 quotient')",
            "Equality constraint|Instance",
        ],
    );
}

#[test]
fn witness_is_identical_at_one_and_many_threads() {
    let model = common::model();
    let inputs = common::eval_set().inputs;
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                inputs
                    .iter()
                    .map(|x| {
                        generate(&model.graph, &model.quantise_input(x, false).unwrap()).unwrap()
                    })
                    .collect::<Vec<_>>()
            })
    };
    assert_eq!(run(1), run(4));
}

#[test]
fn layout_reserves_enough_blinding_rows() {
    let mut cs = ConstraintSystem::<Fp>::default();
    let _ = ModelCircuit::<64>::configure(&mut cs);
    assert!(
        cs.blinding_factors() < UNUSABLE_ROWS,
        "{} blinding rows",
        cs.blinding_factors() + 1
    );
}

/// A graph whose column groups only fit in `2^k` side by side (the sum of their rows does
/// not): the MockProver at the planned `k` proves that the planner's height is right.
#[test]
fn layout_k_fits_a_graph_taller_than_its_tallest_group() {
    use zkinfer::graph::qgraph::Rounding;
    use zkinfer::graph::qgraph::{Dense, QGraph, QNode, QOp, QTensor};
    let tensor = |name: &str, len| QTensor {
        name: name.into(),
        len,
        scale_exp: 8,
        bits: 16,
    };
    let dense = |out: usize, inp: usize, seed: i64| Dense {
        weights: ndarray::Array2::from_shape_fn((out, inp), |(o, i)| {
            ((o as i64 * 7 + i as i64 * 3 + seed) % 7) - 3
        }),
        bias: (0..out as i64).map(|o| o * 5 - 40).collect(),
        shift: 9,
    };
    let graph = QGraph {
        integer_input: false,
        input: tensor("x", 64),
        nodes: vec![
            QNode {
                name: "fc1".into(),
                op: QOp::Dense(dense(200, 64, 1)),
                inputs: vec![TensorId(0)],
                output: tensor("fc1", 200),
            },
            QNode {
                name: "relu".into(),
                op: QOp::Relu,
                inputs: vec![TensorId(1)],
                output: tensor("relu", 200),
            },
            QNode {
                name: "fc2".into(),
                op: QOp::Dense(dense(10, 200, 2)),
                inputs: vec![TensorId(2)],
                output: tensor("fc2", 10),
            },
        ],
        outputs: vec![TensorId(3)],
        rounding: Rounding::HalfUp,
    };
    let layout =
        zkinfer::circuit::layout::plan(&graph, &zkinfer::Visibilities::default(), DOT_WIDTH)
            .unwrap();
    let sum: usize = layout
        .nodes
        .iter()
        .map(|n| n.dot + n.elementwise + n.range)
        .sum();
    assert!(
        sum + UNUSABLE_ROWS > 1 << layout.k,
        "the test needs a graph taller than 2^k in sum"
    );
    let input: Vec<i64> = (0..64).map(|i| (i * 37 % 512) - 256).collect();
    let w = generate(&graph, &input).unwrap();
    let visibility = zkinfer::Visibilities::default();
    let public =
        InstanceLayout::of(&graph, &visibility).values(&w.outputs(), &input, &Default::default());
    let circuit =
        ModelCircuit::<DOT_WIDTH>::for_proving(&graph, &visibility, &w, Default::default());
    assert_eq!(
        MockProver::run(layout.k, &circuit, vec![public])
            .unwrap()
            .verify(),
        Ok(())
    );
}

/// A small CNN: conv (padded) → ReLU → 2×2 max pool → 1×3 average pool (divisor 3).
fn cnn() -> (zkinfer::CompiledModel, Witness) {
    use zkinfer::graph::ir::{FloatGraph, FloatNode, FloatOp};
    use zkinfer::graph::window::{ConvShape, Window};
    let mut conv = Window::dense(1, vec![6, 6], vec![3, 3]);
    conv.pads = vec![1, 1, 1, 1];
    let mut max = Window::dense(2, vec![6, 6], vec![2, 2]);
    max.strides = vec![2, 2];
    let avg = Window::dense(2, vec![3, 3], vec![1, 3]);
    let node = |name: &str, op, input| FloatNode {
        name: name.into(),
        op,
        inputs: vec![TensorId(input)],
    };
    let graph = FloatGraph {
        integer_input: false,
        input_name: "x".into(),
        input_shape: vec![1, 1, 6, 6],
        outputs: vec![TensorId(4)],
        input_parts: Vec::new(),
        nodes: vec![
            node(
                "conv",
                FloatOp::Conv(FloatConv {
                    shape: ConvShape {
                        window: conv,
                        out_channels: 2,
                        groups: 1,
                    },
                    weights: (0..18).map(|i| ((i * 7 % 11) as f32 - 5.0) / 8.0).collect(),
                    bias: vec![0.25, -0.5],
                }),
                0,
            ),
            node("relu", FloatOp::Relu, 1),
            node("pool", FloatOp::MaxPool(MaxPool(max)), 2),
            node(
                "avg",
                FloatOp::AvgPool(AvgPool {
                    window: avg,
                    count_include_pad: false,
                }),
                3,
            ),
        ],
    };
    let x: Vec<f32> = (0..36)
        .map(|i| ((i * 13 % 17) as f32 - 8.0) / 8.0)
        .collect();
    let model = zkinfer::CompiledModel::compile(
        &graph,
        std::slice::from_ref(&x),
        &zkinfer::CompileOptions::default(),
    )
    .unwrap();
    let q = model.quantise_input(&x, false).unwrap();
    let w = model.witness(&q).unwrap();
    (model, w)
}

#[test]
fn cnn_honest_witness_is_accepted() {
    let (model, w) = cnn();
    assert_eq!(
        common::mock_failures(&model, &w, &w.outputs()),
        Vec::<String>::new()
    );
}

#[test]
fn cnn_max_pool_output_not_among_its_inputs_is_rejected() {
    let (model, mut w) = cnn();
    let public = w.outputs();
    let NodeWitness::Values { outputs } = &mut w.nodes[2] else {
        panic!("third node is the max pool")
    };
    outputs[0] += 1;
    common::assert_exactly(
        &common::mock_failures(&model, &w, &public),
        &[
            "('max attained')|('max pool')",
            "('division')|('divide avg')",
        ],
    );
}

#[test]
fn cnn_max_pool_output_below_an_input_is_rejected() {
    let (model, mut w) = cnn();
    let public = w.outputs();
    // Claim the smallest value of the first window that is below its max: it is one of the
    // inputs (the product is zero) but the gap to the true max is negative.
    let relu = w.nodes[1].output().to_vec();
    let window = [relu[0], relu[1], relu[6], relu[7]];
    let (lo, hi) = (*window.iter().min().unwrap(), *window.iter().max().unwrap());
    assert!(lo < hi, "fixture: the first window must not be constant");
    let NodeWitness::Values { outputs } = &mut w.nodes[2] else {
        panic!("third node is the max pool")
    };
    outputs[0] = lo;
    common::assert_exactly(
        &common::mock_failures(&model, &w, &public),
        &[
            "lookup|('range check pool gap')",
            "('division')|('divide avg')",
        ],
    );
}

#[test]
fn cnn_average_pool_quotient_off_by_one_is_rejected() {
    let (model, mut w) = cnn();
    let NodeWitness::Linear { quotients, .. } = &mut w.nodes[3] else {
        panic!("fourth node is the average pool")
    };
    quotients[1] += 1;
    let public = w.outputs();
    common::assert_exactly(
        &common::mock_failures(&model, &w, &public),
        &["('division')|('divide avg')"],
    );
}

#[test]
fn cnn_average_pool_remainder_equal_to_the_window_size_is_rejected() {
    let (model, mut w) = cnn();
    let NodeWitness::Linear {
        quotients,
        remainders,
        ..
    } = &mut w.nodes[3]
    else {
        panic!("fourth node is the average pool")
    };
    // q - 1 and r + 3 satisfy the identity; r >= 3 breaks `r < 3` (the upper check, since
    // 3 is not a power of two) or `r < 4`.
    quotients[1] -= 1;
    remainders[1] += 3;
    let mut expected = vec!["lookup|('range check avg remainder upper')"];
    if remainders[1] >= 4 {
        expected.push("lookup|('range check avg remainder')");
    }
    let public = w.outputs();
    common::assert_exactly(&common::mock_failures(&model, &w, &public), &expected);
}

#[test]
fn cnn_perturbed_conv_input_breaks_its_divisions() {
    let (model, mut w) = cnn();
    let public = w.outputs();
    w.input[7] += 1;
    common::assert_exactly(
        &common::mock_failures(&model, &w, &public),
        &["('division')|('divide conv')"],
    );
}

#[test]
fn cnn_witness_is_identical_at_one_and_many_threads() {
    let (model, w) = cnn();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| generate(&model.graph, &w.input).unwrap())
    };
    assert_eq!(run(1), run(4));
    assert_eq!(run(1), w);
}

/// A record that does not fit its node (a damaged witness) fails synthesis, and the error
/// names the node.
#[test]
fn synthesis_errors_name_the_node() {
    let model = common::model();
    let mut w = honest();
    let name = model.graph.nodes[0].name.clone();
    w.nodes[0] = NodeWitness::Values {
        outputs: w.nodes[0].output().to_vec(),
    };
    let err = model.mock(&w, &honest().outputs()).unwrap_err().to_string();
    assert!(
        err.contains(&format!("mock proving failed at node '{name}'")),
        "{err}"
    );
}
