//! The integer graph never wraps: wide values are computed exactly (and so agree with the
//! circuit, which proves exact integers), and graphs whose bounds exceed what the witness or
//! the chips can hold are rejected by validation (issue 11, item 3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use zkinfer::error::{GeometryError, StructureError};
use zkinfer::graph::activation::Table;
use zkinfer::graph::qgraph::Rounding;
use zkinfer::graph::qgraph::{QGraph, QNode, QOp, QTensor, Softmax};
use zkinfer::graph::window::Axis;
use zkinfer::graph::TensorId;
use zkinfer::CompiledModel;

/// The node and fault of a graph's validation error.
fn invalid(graph: &QGraph) -> (String, StructureError) {
    match graph.validate() {
        Err(zkinfer::error::CompileError::Structure { node, source }) => (node, source),
        other => panic!("{other:?}"),
    }
}

fn tensor(name: &str, len: usize, scale_exp: i32, bits: u32) -> QTensor {
    QTensor {
        name: name.into(),
        len,
        scale_exp,
        bits,
    }
}

/// A softmax over 4 values of `x_bits` bits whose exponentials reach `2^(x_bits − 1) − 1`,
/// with the output at scale `2^out_scale`.
fn wide_softmax(x_bits: u32, out_scale: u32, len: usize) -> QGraph {
    let input_bits = 6;
    let shift = x_bits - input_bits;
    let top = (1i64 << (x_bits - 1)) - 1;
    let table = Table {
        shift,
        input_bits,
        first: 0,
        outputs: (0..1i64 << input_bits).map(|v| (top >> v).max(1)).collect(),
        error_bound: 0.0,
    };
    QGraph {
        integer_input: false,
        input: tensor("x", len, 0, x_bits),
        nodes: vec![QNode {
            name: "softmax".into(),
            op: QOp::Softmax(Softmax {
                axis: Axis::of(&[1, len], -1).unwrap(),
                table,
                out_scale,
                keep: Vec::new(),
            }),
            inputs: vec![TensorId(0)],
            output: tensor("y", len, out_scale as i32, out_scale + 2),
        }],
        outputs: vec![TensorId(1)],
        rounding: Rounding::HalfUp,
    }
}

/// `e · 2^30` overflows `i64` when `e` is near `2^39`: the reference pass wrapped, the
/// circuit proves the exact quotient. Now both agree, checked against i128 arithmetic
/// written here and against MockProver.
#[test]
fn softmax_with_wide_exponentials_is_exact_and_proves() {
    let graph = wide_softmax(40, 30, 4);
    let model = CompiledModel::from_graph(graph, zkinfer::Visibilities::default()).unwrap();
    let x = [0i64, -(1 << 34), 5, -(1 << 36)];
    let w = model.witness(&x).unwrap();
    let top = (1i128 << 39) - 1;
    let exps: Vec<i128> = x
        .iter()
        .map(|v| {
            let gap = (5 - i128::from(*v)) >> 34;
            (top >> gap).max(1)
        })
        .collect();
    let sum: i128 = exps.iter().sum();
    let expected: Vec<i64> = exps
        .iter()
        .map(|e| i64::try_from((e << 30) / sum).unwrap())
        .collect();
    assert_eq!(&w.outputs(), expected.as_slice());
    assert!(expected.iter().sum::<i64>() <= 1 << 30);
    assert_eq!(model.mock(&w, &w.outputs()).unwrap(), vec![]);
}

#[test]
fn softmax_sums_beyond_the_range_chip_are_rejected() {
    // 2^20 exponentials of 62 bits: the sum needs 82 bits (and once overflowed u64).
    let graph = wide_softmax(62, 8, 1 << 20);
    let (node, e) = invalid(&graph);
    assert_eq!(node, "softmax");
    assert!(matches!(e, StructureError::Width { needed: 82, .. }), "{e}");
}

#[test]
fn tensors_of_zero_or_too_many_bits_are_rejected_by_the_graph() {
    for bits in [0, 63, 200] {
        let graph = QGraph {
            integer_input: false,
            input: tensor("x", 2, 0, 8),
            nodes: vec![QNode {
                name: "relu".into(),
                op: QOp::Relu,
                inputs: vec![TensorId(0)],
                output: tensor("y", 2, 0, bits),
            }],
            outputs: vec![TensorId(1)],
            rounding: Rounding::HalfUp,
        };
        let (node, e) = invalid(&graph);
        assert_eq!(node, "y");
        assert!(
            matches!(e, StructureError::Bits { bits: b, .. } if b == bits),
            "{e}"
        );
    }
}

#[test]
fn linear_accumulators_with_huge_weights_are_rejected_without_overflow() {
    // 64 taps of weight -2^63 on 62-bit inputs: the bound once overflowed u128.
    let weights = ndarray::Array2::from_elem((1, 64), i64::MIN);
    let graph = QGraph {
        integer_input: false,
        input: tensor("x", 64, 0, 62),
        nodes: vec![QNode {
            name: "fc".into(),
            op: QOp::Dense(zkinfer::graph::qgraph::Dense {
                weights,
                bias: vec![0],
                shift: 0,
            }),
            inputs: vec![TensorId(0)],
            output: tensor("y", 1, 0, 62),
        }],
        outputs: vec![TensorId(1)],
        rounding: Rounding::HalfUp,
    };
    let (node, e) = invalid(&graph);
    assert_eq!(node, "fc");
    assert!(
        matches!(
            e,
            StructureError::Width {
                what: "the accumulator",
                needed: 129,
                ..
            }
        ),
        "{e}"
    );
}

/// A length costs no data in a model file: a hostile one must be refused before any loop
/// runs over it (review of issue 11).
#[test]
fn hostile_lengths_and_windows_are_refused_quickly() {
    let graph = QGraph {
        integer_input: false,
        input: tensor("x", 1 << 60, 0, 8),
        nodes: vec![QNode {
            name: "add".into(),
            op: QOp::Add(zkinfer::graph::qgraph::Add {
                weights: [1, 1],
                shift: 0,
            }),
            inputs: vec![TensorId(0), TensorId(0)],
            output: tensor("y", 1 << 60, 0, 9),
        }],
        outputs: vec![TensorId(1)],
        rounding: Rounding::HalfUp,
    };
    let (node, e) = invalid(&graph);
    assert_eq!(node, "x");
    assert!(matches!(e, StructureError::TooLong { .. }), "{e}");
    let mut window = zkinfer::graph::window::Window::dense(1, vec![4], vec![2]);
    window.pads = vec![usize::MAX, 1];
    assert!(matches!(
        window.validate(),
        Err(GeometryError::TooLarge { .. })
    ));
    let huge = zkinfer::graph::window::Window::dense(1 << 20, vec![1 << 20], vec![1]);
    assert!(matches!(
        huge.validate(),
        Err(GeometryError::TooMany { .. })
    ));
}
