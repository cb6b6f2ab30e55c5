//! Property tests over random small window geometries: for every Conv, AveragePool and
//! MaxPool shape drawn, the circuit accepts exactly the integer forward pass's outputs
//! (MockProver, honest witness) and rejects a changed output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use proptest::prelude::*;
use zkinfer::graph::ir::{AvgPool, FloatConv, FloatGraph, FloatNode, FloatOp, MaxPool};
use zkinfer::graph::window::{ConvShape, Window};
use zkinfer::graph::TensorId;
use zkinfer::{CompileOptions, CompiledModel};

/// A window of rank 1 or 2 that fits its input.
fn window() -> impl Strategy<Value = Window> {
    (1usize..=2, 1usize..=3, any::<u64>()).prop_map(|(rank, channels, seed)| {
        let pick = |i: u64, n: u64| ((seed >> (i * 4)) % n) as usize;
        let input: Vec<usize> = (0..rank).map(|a| 3 + pick(a as u64, 4)).collect();
        let kernel: Vec<usize> = (0..rank).map(|a| 1 + pick(2 + a as u64, 3)).collect();
        let mut w = Window::dense(channels, input, kernel);
        w.strides = (0..rank).map(|a| 1 + pick(4 + a as u64, 2)).collect();
        w.dilations = (0..rank).map(|a| 1 + pick(6 + a as u64, 2)).collect();
        w.pads = (0..2 * rank).map(|a| pick(8 + a as u64, 2)).collect();
        // Shrink dilation until the kernel fits the padded input.
        while w.validate().is_err() && w.dilations.iter().any(|d| *d > 1) {
            w.dilations = vec![1; rank];
        }
        w
    })
}

fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn prove_and_tamper(graph: &FloatGraph, seed: u64) {
    graph.validate().unwrap();
    let samples: Vec<Vec<f32>> = (0..3)
        .map(|i| values(seed + i, graph.input_len()))
        .collect();
    let model = CompiledModel::compile(graph, &samples, &CompileOptions::default()).unwrap();
    let q = model.quantise_input(&samples[0], false).unwrap();
    let witness = model.witness(&q).unwrap();
    let mut outputs = witness.outputs();
    assert_eq!(model.mock(&witness, &outputs).unwrap(), vec![]);
    outputs[0] += 1;
    common::assert_exactly(
        &common::mock_failures(&model, &witness, &outputs),
        &["Equality constraint|Advice", "Equality constraint|Instance"],
    );
}

proptest! {
    // A fixed seed: the same windows on every run (new failures are also saved to
    // conv_props.proptest-regressions, which is checked in and replayed first).
    #![proptest_config(ProptestConfig {
        cases: 12,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x636f_6e76),
        ..ProptestConfig::default()
    })]

    #[test]
    fn conv_circuit_equals_the_integer_pass(
        window in window(),
        out_per_group in 1usize..=2,
        depthwise in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let groups = if depthwise { window.channels } else { 1 };
        let shape = ConvShape { window, out_channels: groups * out_per_group, groups };
        prop_assume!(shape.validate().is_ok());
        let graph = FloatGraph {
            integer_input: false,
            input_name: "x".into(),
            input_shape: vec![1, shape.window.channels * shape.window.input_positions()],
            outputs: vec![TensorId(1)],
            input_parts: Vec::new(),
            nodes: vec![FloatNode {
                name: "conv".into(),
                op: FloatOp::Conv(FloatConv {
                    weights: values(seed ^ 0xc0, shape.weights_len()),
                    bias: values(seed ^ 0xb1, shape.out_channels),
                    shape,
                }),
                inputs: vec![TensorId(0)],
            }],
        };
        prove_and_tamper(&graph, seed);
    }

    #[test]
    fn pool_circuits_equal_the_integer_pass(
        window in window(),
        count_include_pad in any::<bool>(),
        seed in any::<u64>(),
    ) {
        prop_assume!(window.validate().is_ok());
        let n = window.channels * window.input_positions();
        let pooled = window.channels * window.positions();
        let graph = FloatGraph {
            integer_input: false,
            input_name: "x".into(),
            input_shape: vec![1, n],
            outputs: vec![TensorId(3)],
            input_parts: Vec::new(),
            nodes: vec![
                FloatNode {
                    name: "avg".into(),
                    op: FloatOp::AvgPool(AvgPool { window: window.clone(), count_include_pad }),
                    inputs: vec![TensorId(0)],
                },
                FloatNode {
                    name: "max".into(),
                    op: FloatOp::MaxPool(MaxPool(window.clone())),
                    inputs: vec![TensorId(0)],
                },
                FloatNode {
                    name: "sum".into(),
                    op: FloatOp::Add,
                    inputs: vec![TensorId(1), TensorId(2)],
                },
            ],
        };
        prop_assert_eq!(graph.tensor_lens()[3], pooled);
        prove_and_tamper(&graph, seed);
    }
}
