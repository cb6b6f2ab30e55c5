//! Lookup-table activations: each stays within its documented error bound over its whole
//! input domain, each circuit accepts exactly the integer pass, and forged lookups fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use ndarray::{Array1, Array2};
use zkinfer::graph::activation::Table;
use zkinfer::graph::ir::Activation;
use zkinfer::graph::ir::{FloatDense, FloatGraph, FloatNode, FloatOp};
use zkinfer::graph::witness::{NodeWitness, Witness};
use zkinfer::graph::TensorId;
use zkinfer::{CompileOptions, CompiledModel};

const ALL: [Activation; 11] = [
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Exp,
    Activation::Erf,
    Activation::Gelu,
    Activation::GeluTanh,
    Activation::Softplus,
    Activation::LeakyRelu { alpha: 0.1 },
    Activation::Clip { min: 0.0, max: 6.0 },
    Activation::HardSigmoid {
        alpha: 0.2,
        beta: 0.5,
    },
    Activation::HardSwish,
];

/// The float functions, written here from their definitions (not the library's `eval`).
fn reference(f: &Activation, x: f64) -> f64 {
    let erf = |v: f64| libm::erf(v);
    match *f {
        Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Activation::Tanh => (x.exp() - (-x).exp()) / (x.exp() + (-x).exp()),
        Activation::Exp => x.exp(),
        Activation::Erf => erf(x),
        Activation::Gelu => x * 0.5 * (1.0 + erf(x / 2f64.sqrt())),
        // `gelu_new`: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
        Activation::GeluTanh => {
            let u = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3));
            // tanh u = 1 − 2 / (e^(2u) + 1), finite for every u.
            0.5 * x * (2.0 - 2.0 / ((2.0 * u).exp() + 1.0))
        }
        Activation::Softplus => (1.0 + x.exp()).ln(),
        Activation::LeakyRelu { alpha } => {
            if x < 0.0 {
                f64::from(alpha) * x
            } else {
                x
            }
        }
        Activation::Clip { min, max } => x.clamp(f64::from(min), f64::from(max)),
        Activation::HardSigmoid { alpha, beta } => {
            (f64::from(alpha) * x + f64::from(beta)).clamp(0.0, 1.0)
        }
        // ONNX: y = x · max(0, min(1, alpha · x + beta)), alpha = 1/6, beta = 0.5.
        Activation::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
        Activation::Elu { .. }
        | Activation::Ln { .. }
        | Activation::Sqrt
        | Activation::Rsqrt { .. }
        | Activation::Composite(_) => panic!("{f:?} is not in ALL"),
    }
}

/// The largest slope of `f` on `[lo, hi]`: a global Lipschitz constant, or for Exp its
/// slope at the bucket's top.
fn slope(f: &Activation, hi: f64) -> f64 {
    match *f {
        Activation::Sigmoid => 0.25,
        Activation::Erf => std::f64::consts::FRAC_2_SQRT_PI,
        Activation::Gelu => 1.13,
        Activation::GeluTanh => 1.14,
        Activation::HardSigmoid { alpha, .. } => f64::from(alpha),
        // x/3 + 1/2 on [−3, 3], at most 1.5; 1 above, 0 below.
        Activation::HardSwish => 1.5,
        Activation::Exp => hi.exp(),
        Activation::Tanh
        | Activation::Softplus
        | Activation::LeakyRelu { .. }
        | Activation::Clip { .. } => 1.0,
        Activation::Elu { .. }
        | Activation::Ln { .. }
        | Activation::Sqrt
        | Activation::Rsqrt { .. }
        | Activation::Composite(_) => panic!("{f:?} is not in ALL"),
    }
}

/// Every 16-bit input, at two input scales: the dequantised table output is within the
/// analytic bound `L·h/2 + 2^-(e_y+1)` (the slope `L` times half a bucket of width `h`, plus
/// half an output step) of the float function, computed independently here. Where the true
/// value exceeds the output's range, the table must saturate at the range's end.
#[test]
fn every_activation_is_within_its_analytic_bound_over_the_whole_domain() {
    for f in ALL {
        for input_scale in [8, 12] {
            let (t, e_y) = Table::build(&|x| f.eval(x), input_scale, 16, 10, 16, 12);
            assert_eq!(t.outputs.len(), 1024);
            let step = 2f64.powi(t.shift as i32 - input_scale);
            let largest = ((1i64 << 15) - 1) as f64 / 2f64.powi(e_y);
            for x in -(1i64 << 15)..(1i64 << 15) {
                let y = t.get(x.div_euclid(1 << t.shift)).unwrap() as f64 / 2f64.powi(e_y);
                let v = x as f64 / 2f64.powi(input_scale);
                let hi = (x.div_euclid(1 << t.shift) + 1) as f64 * step;
                let exact = reference(&f, v);
                let bound = slope(&f, hi) * step / 2.0 + 2f64.powi(-e_y - 1) + 1e-9;
                if exact > largest + bound {
                    assert!(
                        y >= largest - 1e-9,
                        "{} at {v}: {y} does not saturate",
                        f.name()
                    );
                    continue;
                }
                assert!(
                    (y - exact).abs() <= bound,
                    "{} at 2^{input_scale}, x = {v}: table {y}, exact {exact}, bound {bound}",
                    f.name()
                );
            }
        }
    }
}

/// Dense 4 → 6, then `f`.
fn compiled(f: Activation) -> (CompiledModel, Witness) {
    let weights = Array2::from_shape_fn((6, 4), |(o, i)| ((o * 5 + i * 3) % 7) as f32 / 3.0 - 1.0);
    let graph = FloatGraph {
        integer_input: false,
        input_name: "x".into(),
        input_shape: vec![1, 4],
        outputs: vec![TensorId(2)],
        input_parts: Vec::new(),
        nodes: vec![
            FloatNode {
                name: "fc".into(),
                op: FloatOp::Dense(FloatDense {
                    weights,
                    bias: Array1::from_vec(vec![0.1, -0.2, 0.3, 0.0, 0.5, -0.5]),
                }),
                inputs: vec![TensorId(0)],
            },
            FloatNode {
                name: "act".into(),
                op: FloatOp::Activation(f),
                inputs: vec![TensorId(1)],
            },
        ],
    };
    let samples: Vec<Vec<f32>> = (0..4)
        .map(|s| {
            (0..4)
                .map(|i| ((s * 7 + i * 3) % 9) as f32 / 4.0 - 1.0)
                .collect()
        })
        .collect();
    let model = CompiledModel::compile(&graph, &samples, &CompileOptions::default()).unwrap();
    let q = model.quantise_input(&samples[1], false).unwrap();
    let w = model.witness(&q).unwrap();
    (model, w)
}

#[test]
fn activation_circuits_accept_exactly_the_integer_pass() {
    for f in ALL {
        let (model, w) = compiled(f.clone());
        assert_eq!(
            common::mock_failures(&model, &w, &w.outputs()),
            Vec::<String>::new(),
            "{}",
            f.name()
        );
        let mut wrong = w.outputs();
        wrong[2] += 1;
        common::assert_exactly(
            &common::mock_failures(&model, &w, &wrong),
            &["Equality constraint|Advice", "Equality constraint|Instance"],
        );
    }
}

#[test]
fn lookup_output_from_the_wrong_row_is_rejected() {
    let (model, mut w) = compiled(Activation::Tanh);
    let NodeWitness::Lookup {
        reduced, outputs, ..
    } = &mut w.nodes[1]
    else {
        panic!("second node is the lookup")
    };
    // The output of the neighbouring row: a real table value, for the wrong input.
    let table = match &model.graph.nodes[1].op {
        zkinfer::graph::qgraph::QOp::Lookup(l) => l.table.clone(),
        _ => panic!("lookup node"),
    };
    outputs[0] = table.get(reduced[0] + 1).unwrap();
    assert_ne!(
        outputs[0],
        table.get(reduced[0]).unwrap(),
        "fixture: rows differ"
    );
    let public = w.outputs();
    common::assert_exactly(
        &common::mock_failures(&model, &w, &public),
        &["lookup|('function act')"],
    );
}

#[test]
fn lookup_reduced_input_off_by_one_is_rejected() {
    let (model, mut w) = compiled(Activation::Sigmoid);
    let NodeWitness::Lookup { reduced, .. } = &mut w.nodes[1] else {
        panic!("second node is the lookup")
    };
    reduced[3] += 1;
    let public = w.outputs();
    common::assert_exactly(
        &common::mock_failures(&model, &w, &public),
        &[
            "('division')|('divide act reduce')",
            "lookup|('function act')",
        ],
    );
}

#[test]
fn product_off_by_one_is_rejected() {
    let (model, _) = compiled(Activation::Tanh);
    // Reuse the Dense layer of the fixture, squared: Mul of a tensor with itself.
    let mut graph = model.graph.clone();
    graph.nodes.truncate(1);
    let fc = graph.nodes[0].output.clone();
    graph.nodes.push(zkinfer::graph::qgraph::QNode {
        name: "square".into(),
        op: zkinfer::graph::qgraph::QOp::Mul(zkinfer::graph::qgraph::Mul { shift: 12 }),
        inputs: vec![TensorId(1), TensorId(1)],
        output: zkinfer::graph::qgraph::QTensor {
            name: "square".into(),
            scale_exp: 2 * fc.scale_exp - 12,
            ..fc
        },
    });
    let model = CompiledModel::from_graph(graph, zkinfer::Visibilities::default()).unwrap();
    let q: Vec<i64> = vec![1000, -2000, 300, 4000];
    let mut w = model.witness(&q).unwrap();
    assert_eq!(
        common::mock_failures(&model, &w, &w.outputs()),
        Vec::<String>::new()
    );
    let public = w.outputs();
    let NodeWitness::Product { products, .. } = &mut w.nodes[1] else {
        panic!("second node is the product")
    };
    products[0] += 1;
    common::assert_exactly(
        &common::mock_failures(&model, &w, &public),
        &[
            "('product')|('product square')",
            "('division')|('divide square')",
        ],
    );
}

/// ONNX `HardSwish` (opset 14, MobileNetV3) after a Gemm: imported as one table, its float
/// graph agrees with tract, and its compiled model with tract's outputs, under MockProver
/// honest and forged. The op touched only the importer's arm and the lookup op's function
/// list (`graph/ops/lookup.rs`): no new integer op, circuit op or gate.
#[test]
fn hardswish_imports_agrees_with_tract_and_proves() {
    use common::onnx_build::{
        agrees_with_tract_on, int_attr, model_io, node, proves_on, sample, tensor,
    };
    let w: Vec<f32> = (0..30).map(|i| ((i * 7) % 11) as f32 / 4.0 - 1.2).collect();
    let b: Vec<f32> = (0..5).map(|i| i as f32 / 5.0 - 0.4).collect();
    let bytes = model_io(
        vec![
            node("Gemm", &["x", "W", "B"], "h", vec![int_attr("transB", 1)]),
            node("HardSwish", &["h"], "y", vec![]),
        ],
        vec![tensor("W", &[5, 6], &w), tensor("B", &[5], &b)],
        &[("x", &[1, 6])],
        "y",
        14,
    );
    let graph = zkinfer::onnx::import_bytes(&bytes, "test").unwrap();
    assert_eq!(
        graph.nodes[1].op,
        FloatOp::Activation(Activation::HardSwish)
    );
    let inputs: Vec<Vec<f32>> = (0..6).map(|s| sample(6, s)).collect();
    agrees_with_tract_on(&bytes, &inputs);
    let (model, w) = proves_on(&bytes, &inputs);
    // A forged table output for the right input is caught in the function's region.
    let mut forged = w.clone();
    let NodeWitness::Lookup { outputs, .. } = &mut forged.nodes[1] else {
        panic!("second node is the lookup")
    };
    outputs[0] += 1;
    let failures = common::mock_failures(&model, &forged, &w.outputs());
    assert!(
        failures
            .iter()
            .any(|f| f.starts_with("lookup") && f.contains("('function HardSwish_node')")),
        "{failures:?}"
    );
}
