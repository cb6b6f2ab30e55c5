//! The residual model proven in parts (`tests/parts.rs` and the `adversarial_parts_*`
//! suites): `h = relu(W1·x + b1)`, `g = sigmoid(W2·h)`, `r = h + g` (a skip connection),
//! `y = W3·r`, and a variant whose input is read again by the last nodes, so it passes
//! through every intermediate part.

use std::sync::{Arc, OnceLock};

use super::onnx_build::{int_attr, model_io, node, sample, tensor};
use zkinfer::graph::qgraph::QOp;
use zkinfer::onnx::import_bytes;
use zkinfer::{
    CompileOptions, CompiledModel, PartedProof, PartedProver, PartedVerifier, Visibilities,
};

/// Deterministic weights in `[-0.5, 0.5]`.
pub fn weights(n: usize, s: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 7 + s * 13 + seed * 5) % 11) as f32) / 10.0 - 0.5)
        .collect()
}

/// `h = relu(W1·x + b1)`, `g = sigmoid(W2·h)`, `r = h + g`, `y = W3·r`; with `skip_input`
/// also `z = y + W4·x`, the input read again at the very end.
pub fn residual_onnx(seed: usize, skip_input: bool) -> Vec<u8> {
    let w = |n, s| weights(n, s, seed);
    let mut nodes = vec![
        node("Gemm", &["x", "w1", "b1"], "a", vec![int_attr("transB", 1)]),
        node("Relu", &["a"], "h", vec![]),
        node("Gemm", &["h", "w2"], "c", vec![int_attr("transB", 1)]),
        node("Sigmoid", &["c"], "g", vec![]),
        node("Add", &["h", "g"], "r", vec![]),
        node("Gemm", &["r", "w3"], "y", vec![int_attr("transB", 1)]),
    ];
    let mut inits = vec![
        tensor("w1", &[12, 8], &w(96, 1)),
        tensor("b1", &[12], &w(12, 2)),
        tensor("w2", &[12, 12], &w(144, 3)),
        tensor("w3", &[4, 12], &w(48, 4)),
    ];
    let out = if skip_input {
        nodes.push(node("Gemm", &["x", "w4"], "s", vec![int_attr("transB", 1)]));
        nodes.push(node("Add", &["y", "s"], "z", vec![]));
        inits.push(tensor("w4", &[4, 8], &w(32, 5)));
        "z"
    } else {
        "y"
    };
    model_io(nodes, inits, &[("x", &[1, 8])], out, 13)
}

/// The six calibration samples (also the inputs the tests prove).
pub fn samples() -> Vec<Vec<f32>> {
    (0..6).map(|s| sample(8, s)).collect()
}

/// The model, its sigmoid's output declared as narrow as its table allows (a cut then
/// carries tensors of different widths), with `visibility`. At most 12 fractional bits, so
/// the sigmoid's output (at `2^12`) is 14 bits beside the 16-bit `h`.
pub fn compile_with(seed: usize, skip_input: bool, visibility: Visibilities) -> CompiledModel {
    let graph = import_bytes(&residual_onnx(seed, skip_input), "residual").unwrap();
    let mut options = CompileOptions {
        visibility,
        ..CompileOptions::default()
    };
    options.quant.max_frac_bits = 12;
    let model = CompiledModel::compile(&graph, &samples(), &options).unwrap();
    let mut graph = model.graph.clone();
    let sigmoid = graph
        .nodes
        .iter_mut()
        .find(|n| matches!(n.op, QOp::Lookup(_)))
        .unwrap();
    sigmoid.output.bits = u32::try_from(sigmoid.output.scale_exp).unwrap() + 2;
    CompiledModel::from_graph(graph, model.visibility).unwrap()
}

/// The residual model (no input skip, default visibility) with weights of `seed`.
pub fn compile(seed: usize) -> CompiledModel {
    compile_with(seed, false, Visibilities::default())
}

/// Sample `s`, quantised for `model`.
pub fn integer_input(model: &CompiledModel, s: usize) -> Vec<i64> {
    model.quantise_input(&samples()[s], false).unwrap()
}

/// The residual model cut in three parts, the middle cut across the skip connection.
pub fn three_parts() -> Arc<CompiledModel> {
    static MODEL: OnceLock<Arc<CompiledModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let model = compile(0);
            let n = model.graph.nodes.len();
            Arc::new(model.split_at(&[1, n - 2]).unwrap())
        })
        .clone()
}

/// The verifier of [`three_parts`], set up once per test binary.
pub fn verifier() -> &'static PartedVerifier {
    static VERIFIER: OnceLock<PartedVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| PartedVerifier::setup(&three_parts(), &super::cache()).unwrap())
}

/// One honest proof of the three-part model (three real proofs, made once per test binary)
/// and the outputs its verification gives.
pub fn proof() -> &'static (PartedProof, Vec<f64>) {
    static PROOF: OnceLock<(PartedProof, Vec<f64>)> = OnceLock::new();
    PROOF.get_or_init(|| {
        let model = three_parts();
        let prover = PartedProver::new(&model, super::cache()).unwrap();
        let (proof, _) = prover.prove(&integer_input(&model, 0)).unwrap();
        let outputs = verifier().verify(&proof).unwrap();
        (proof, outputs)
    })
}
