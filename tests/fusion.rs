//! Issue 29: a nonlinearity that arrives as a chain of elementwise ops (tanh-GELU as
//! `transformers`' `gelu_new` exports it, erf-GELU as BERT's, `x · sigmoid(x)`) is fused into
//! one table of the whole function (`graph::fuse`), recognised by name where it is a known
//! one, agrees with tract, and proves under MockProver honest and forged; a chain with a
//! changed constant is not taken for GELU (it is tabulated as what it computes), and a chain
//! of exact arithmetic or one whose intermediates are read elsewhere is left as it is.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use common::onnx_build::{
    agrees_with_tract_on, int_attr, model_io, output_node, proves_on, sample, string_attr, tensor,
};
use tract_onnx::pb::{NodeProto, TensorProto};
use zkinfer::graph::ir::{Activation, FloatGraph, FloatOp};
use zkinfer::graph::witness::NodeWitness;
use zkinfer::onnx::{import_bytes, import_bytes_with, ImportOptions};

/// A Gemm `[1, 6] → [1, 8]` (so the chain reads an activation with a calibrated range), then
/// `chain`, whose input is `h` and whose output is `y`.
fn after_gemm(chain: Vec<NodeProto>, constants: Vec<TensorProto>, opset: i64) -> Vec<u8> {
    let w: Vec<f32> = (0..48).map(|i| ((i * 7) % 13) as f32 / 6.0 - 1.0).collect();
    let b: Vec<f32> = (0..8).map(|i| i as f32 / 8.0 - 0.5).collect();
    let mut nodes = vec![output_node(
        "Gemm",
        &["x", "W", "B"],
        "h",
        vec![int_attr("transB", 1)],
    )];
    nodes.extend(chain);
    let mut initializers = vec![tensor("W", &[8, 6], &w), tensor("B", &[8], &b)];
    initializers.extend(constants);
    model_io(nodes, initializers, &[("x", &[1, 6])], "y", opset)
}

fn scalar(name: &str, v: f32) -> TensorProto {
    tensor(name, &[], &[v])
}

/// `0.5·h·(1 + tanh(√(2/π)·(h + c·h³)))` in the order `transformers`' `NewGELUActivation`
/// is exported (`Pow` by 3 included).
fn tanh_gelu(c: f32) -> Vec<u8> {
    let n = |op: &str, i: &[&str], o: &str| output_node(op, i, o, vec![]);
    after_gemm(
        vec![
            n("Mul", &["h", "half"], "a"),
            n("Pow", &["h", "three"], "p"),
            n("Mul", &["p", "c"], "q"),
            n("Add", &["h", "q"], "r"),
            n("Mul", &["r", "root"], "s"),
            n("Tanh", &["s"], "t"),
            n("Add", &["t", "one"], "u"),
            n("Mul", &["a", "u"], "y"),
        ],
        vec![
            scalar("half", 0.5),
            scalar("three", 3.0),
            scalar("c", c),
            scalar("root", (2.0 / std::f32::consts::PI).sqrt()),
            scalar("one", 1.0),
        ],
        13,
    )
}

fn inputs() -> Vec<Vec<f32>> {
    (0..8).map(|s| sample(6, s)).collect()
}

/// The float graph's nodes after the Gemm.
fn tail(graph: &FloatGraph) -> Vec<&FloatOp> {
    graph.nodes.iter().skip(1).map(|n| &n.op).collect()
}

fn composite(graph: &FloatGraph) -> &zkinfer::graph::ir::Composite {
    match tail(graph)[..] {
        [FloatOp::Activation(Activation::Composite(c))] => c,
        ref other => panic!("one fused node expected, got {other:?}"),
    }
}

/// The tanh-GELU chain becomes one table of the whole function, named GeluTanh in reports;
/// it agrees with tract, proves under MockProver, and a forged table output fails the
/// lookup of that one node.
#[test]
fn tanh_gelu_as_exported_is_one_table_and_proves() {
    let bytes = tanh_gelu(0.044_715);
    let graph = import_bytes(&bytes, "test").unwrap();
    assert_eq!(composite(&graph).recognised(), Some(Activation::GeluTanh));
    agrees_with_tract_on(&bytes, &inputs());
    let (model, w) = proves_on(&bytes, &inputs());
    let mut forged = w.clone();
    let NodeWitness::Lookup { outputs, .. } = &mut forged.nodes[1] else {
        panic!("the second node is the fused lookup")
    };
    outputs[3] += 1;
    let failures = common::mock_failures(&model, &forged, &w.outputs());
    assert!(
        failures
            .iter()
            .any(|f| f.starts_with("lookup") && f.contains("function y")),
        "{failures:?}"
    );
}

/// Unfused (`ImportOptions { fuse: false }`), the same file is seven nodes with the same
/// float meaning; fused, it costs fewer rows.
#[test]
fn fusing_keeps_the_float_meaning_and_saves_rows() {
    let bytes = tanh_gelu(0.044_715);
    let fused = import_bytes(&bytes, "test").unwrap();
    let unfused = import_bytes_with(&bytes, "test", ImportOptions { fuse: false }).unwrap();
    assert_eq!(fused.nodes.len(), 2);
    assert!(unfused.nodes.len() >= 8, "{:?}", tail(&unfused));
    for x in inputs() {
        let (a, b) = (fused.eval(&x), unfused.eval(&x));
        for (a, b) in a.iter().zip(&b) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
    }
    let options = zkinfer::CompileOptions::default();
    // The nodes' own rows (gates and range checks; the tables are counted apart).
    let rows = |g: &FloatGraph| -> usize {
        let report = zkinfer::CompiledModel::compile(g, &inputs(), &options)
            .unwrap()
            .inspect()
            .unwrap();
        report
            .nodes
            .iter()
            .map(|n| n.rows.dot + n.rows.elementwise + n.rows.range)
            .sum()
    };
    let (fused_rows, unfused_rows) = (rows(&fused), rows(&unfused));
    assert!(
        fused_rows < unfused_rows,
        "fused {fused_rows} rows, unfused {unfused_rows}"
    );
}

/// A chain like tanh-GELU but with another constant is not taken for GELU: it is tabulated
/// as the function its ops compute (which tract agrees with), and that function is not
/// GELU's.
#[test]
fn a_changed_constant_is_not_taken_for_gelu() {
    let bytes = tanh_gelu(0.0447);
    let graph = import_bytes(&bytes, "test").unwrap();
    let c = composite(&graph);
    assert_eq!(c.recognised(), None);
    assert!((c.eval(2.0) - Activation::GeluTanh.eval(2.0)).abs() > 1e-6);
    agrees_with_tract_on(&bytes, &inputs());
    proves_on(&bytes, &inputs());
}

/// ONNX's own `Gelu` with `approximate = "tanh"` (opset 20) and the exported chain compile
/// to the same integer model outputs: one function, one table.
#[test]
fn the_gelu_op_and_the_chain_compute_the_same_integers() {
    let op = after_gemm(
        vec![output_node(
            "Gelu",
            &["h"],
            "y",
            vec![string_attr("approximate", "tanh")],
        )],
        vec![],
        20,
    );
    let graph = import_bytes(&op, "test").unwrap();
    assert_eq!(tail(&graph), [&FloatOp::Activation(Activation::GeluTanh)]);
    let options = zkinfer::CompileOptions::default();
    let compile = |g: &FloatGraph| zkinfer::CompiledModel::compile(g, &inputs(), &options).unwrap();
    let (a, b) = (
        compile(&graph),
        compile(&import_bytes(&tanh_gelu(0.044_715), "test").unwrap()),
    );
    for x in inputs() {
        let run = |m: &zkinfer::CompiledModel| {
            m.witness(&m.quantise_input(&x, false).unwrap())
                .unwrap()
                .outputs()
        };
        assert_eq!(run(&a), run(&b));
    }
}

/// BERT's erf-GELU, `(h · 0.5) · (1 + erf(h / √2))`, and SiLU, `h · sigmoid(h)`.
#[test]
fn erf_gelu_and_silu_fuse() {
    let n = |op: &str, i: &[&str], o: &str| output_node(op, i, o, vec![]);
    let erf = after_gemm(
        vec![
            n("Div", &["h", "sqrt2"], "a"),
            n("Erf", &["a"], "e"),
            n("Add", &["e", "one"], "f"),
            n("Mul", &["h", "f"], "g"),
            n("Mul", &["g", "half"], "y"),
        ],
        vec![
            scalar("sqrt2", std::f32::consts::SQRT_2),
            scalar("one", 1.0),
            scalar("half", 0.5),
        ],
        13,
    );
    let graph = import_bytes(&erf, "test").unwrap();
    assert_eq!(composite(&graph).recognised(), Some(Activation::Gelu));
    agrees_with_tract_on(&erf, &inputs());
    proves_on(&erf, &inputs());
    let silu = after_gemm(
        vec![n("Sigmoid", &["h"], "s"), n("Mul", &["h", "s"], "y")],
        vec![],
        13,
    );
    let graph = import_bytes(&silu, "test").unwrap();
    let c = composite(&graph);
    assert!((c.eval(1.5) - 1.5 / (1.0 + (-1.5f64).exp())).abs() < 1e-12);
    agrees_with_tract_on(&silu, &inputs());
    proves_on(&silu, &inputs());
}

/// What must not fuse: exact arithmetic alone (`h³ · c` stays products and a constant map),
/// and a node whose output is also read from outside the chain (here a graph output). A
/// diamond that reads only `h` (`tanh(h) + tanh(h) · h`) is one function of `h` and fuses.
#[test]
fn exact_arithmetic_and_shared_intermediates_are_left_alone() {
    let n = |op: &str, i: &[&str], o: &str| output_node(op, i, o, vec![]);
    let cube = after_gemm(
        vec![n("Pow", &["h", "three"], "p"), n("Mul", &["p", "c"], "y")],
        vec![scalar("three", 3.0), scalar("c", 0.25)],
        13,
    );
    let graph = import_bytes(&cube, "test").unwrap();
    assert!(
        tail(&graph)
            .iter()
            .all(|op| !matches!(op, FloatOp::Activation(_))),
        "{:?}",
        tail(&graph)
    );
    agrees_with_tract_on(&cube, &inputs());
    let diamond = after_gemm(
        vec![
            n("Tanh", &["h"], "s"),
            n("Mul", &["s", "h"], "m"),
            n("Add", &["s", "m"], "y"),
        ],
        vec![],
        13,
    );
    let graph = import_bytes(&diamond, "test").unwrap();
    assert!((composite(&graph).eval(0.5) - 0.5f64.tanh() * 1.5).abs() < 1e-12);
    agrees_with_tract_on(&diamond, &inputs());
    // The unfused GELU chain with its tanh also a graph output: the tanh's value stays a
    // tensor of its own (a function of `h` alone, so it may fuse with what it reads, but
    // not into the chain that reads it), and both outputs keep their values.
    let unfused =
        import_bytes_with(&tanh_gelu(0.044_715), "test", ImportOptions { fuse: false }).unwrap();
    let mut graph = unfused.clone();
    let tanh = graph
        .nodes
        .iter()
        .position(|n| matches!(n.op, FloatOp::Activation(Activation::Tanh)))
        .unwrap();
    graph
        .outputs
        .insert(0, zkinfer::graph::TensorId::of_node(tanh));
    let exposed = graph.clone();
    assert_eq!(zkinfer::graph::fuse::fuse_elementwise(&mut graph), 1);
    assert!(graph.nodes.len() > 2, "{:?}", tail(&graph));
    for x in inputs() {
        let (a, b) = (graph.eval(&x), exposed.eval(&x));
        assert_eq!(a.len(), 16);
        for (a, b) in a.iter().zip(&b) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
    }
}
