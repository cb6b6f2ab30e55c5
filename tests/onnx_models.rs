//! Convolutional ops and activations on small ONNX graphs built in memory. For each graph:
//! the imported float forward pass equals tract's execution of the same bytes; the quantised
//! graph stays within a stated tolerance of float; and the circuit, under MockProver,
//! accepts exactly the integer forward pass's outputs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use tract_onnx::pb::{AttributeProto, NodeProto, TensorProto};
use tract_onnx::prelude::*;

mod common;

use common::onnx_build::{
    float_attr, int_attr, int_tensor, ints_attr, model_io, output_node as node, string_attr, tensor,
};
use zkinfer::onnx::import_bytes;
use zkinfer::{CompileOptions, CompiledModel};

/// Quantised outputs lie within this fraction of the largest float output magnitude.
const RELATIVE_TOLERANCE: f64 = 0.02;

/// A deterministic stream of values in `[-1, 1)`.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

fn weights(name: &str, dims: &[i64], seed: u64) -> TensorProto {
    let n = dims.iter().product::<i64>() as usize;
    tensor(name, dims, &Lcg(seed).vec(n))
}

/// A model of input `x` (of shape `input`) at opset 13, its output the last node's.
fn model(nodes: Vec<NodeProto>, initializer: Vec<TensorProto>, input: &[i64]) -> Vec<u8> {
    let output = nodes.last().unwrap().output[0].clone();
    model_io(nodes, initializer, &[("x", input)], &output, 13)
}

fn tract_run(bytes: &[u8], dims: &[i64], x: &[f32]) -> Vec<f32> {
    let dims: Vec<usize> = dims.iter().map(|d| *d as usize).collect();
    let plan = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .unwrap()
        .with_input_fact(0, f32::fact(&dims).into())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let t = Tensor::from_shape(&dims, x).unwrap();
    let out = plan.run(tvec!(t.into())).unwrap();
    // ArgMax yields int64 indices.
    let out = out[0].cast_to::<f32>().unwrap();
    out.as_slice::<f32>().unwrap().to_vec()
}

/// Import, compare with tract, quantise, compare with float, and MockProve two samples.
fn check(bytes: &[u8], dims: &[i64]) {
    let graph = import_bytes(bytes, "test").unwrap();
    let n = graph.input_len();
    let mut rng = Lcg(7);
    let samples: Vec<Vec<f32>> = (0..6).map(|_| rng.vec(n)).collect();
    for x in &samples {
        let ours = graph.eval(x);
        let theirs = tract_run(bytes, dims, x);
        assert_eq!(ours.len(), theirs.len());
        for (a, b) in ours.iter().zip(&theirs) {
            assert!((a - f64::from(*b)).abs() < 1e-4, "{a} vs tract {b}");
        }
    }
    let model = CompiledModel::compile(&graph, &samples, &CompileOptions::default()).unwrap();
    for x in samples.iter().take(2) {
        let float = graph.eval(x);
        let scale = float.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
        let q = model.quantise_input(x, false).unwrap();
        let witness = model.witness(&q).unwrap();
        let out = model.graph.outputs_to_float(&witness.outputs());
        for (a, b) in out.iter().zip(&float) {
            assert!(
                (a - b).abs() <= RELATIVE_TOLERANCE * scale,
                "quantised {a} vs float {b} (scale {scale})"
            );
        }
        assert_eq!(model.mock(&witness, &witness.outputs()).unwrap(), vec![]);
    }
}

#[test]
fn conv_with_padding_stride_and_bias() {
    let bytes = model(
        vec![
            node(
                "Conv",
                &["x", "W", "B"],
                "c",
                vec![
                    ints_attr("pads", &[1, 1, 1, 1]),
                    ints_attr("strides", &[2, 2]),
                ],
            ),
            node("Relu", &["c"], "y", vec![]),
        ],
        vec![weights("W", &[3, 2, 3, 3], 1), weights("B", &[3], 2)],
        &[1, 2, 5, 5],
    );
    check(&bytes, &[1, 2, 5, 5]);
}

#[test]
fn grouped_dilated_conv_then_average_pool_over_padding() {
    let bytes = model(
        vec![
            node(
                "Conv",
                &["x", "W"],
                "c",
                vec![int_attr("group", 2), ints_attr("dilations", &[2, 2])],
            ),
            node(
                "AveragePool",
                &["c"],
                "y",
                vec![
                    ints_attr("kernel_shape", &[3, 3]),
                    ints_attr("strides", &[2, 2]),
                    ints_attr("pads", &[1, 1, 1, 1]),
                ],
            ),
        ],
        vec![weights("W", &[4, 2, 2, 2], 3)],
        &[1, 4, 7, 7],
    );
    check(&bytes, &[1, 4, 7, 7]);
}

#[test]
fn depthwise_same_padded_conv_then_max_pool() {
    let bytes = model(
        vec![
            node(
                "Conv",
                &["x", "W", "B"],
                "c",
                vec![int_attr("group", 3), string_attr("auto_pad", "SAME_UPPER")],
            ),
            node(
                "MaxPool",
                &["c"],
                "y",
                vec![
                    ints_attr("kernel_shape", &[2, 2]),
                    ints_attr("strides", &[2, 2]),
                    ints_attr("pads", &[0, 0, 1, 1]),
                ],
            ),
        ],
        vec![weights("W", &[3, 1, 3, 3], 4), weights("B", &[3], 5)],
        &[1, 3, 6, 6],
    );
    check(&bytes, &[1, 3, 6, 6]);
}

#[test]
fn one_d_conv_and_average_pool_counting_padding() {
    let bytes = model(
        vec![
            node(
                "Conv",
                &["x", "W"],
                "c",
                vec![ints_attr("strides", &[2]), ints_attr("pads", &[1, 1])],
            ),
            node(
                "AveragePool",
                &["c"],
                "y",
                vec![
                    ints_attr("kernel_shape", &[3]),
                    ints_attr("pads", &[1, 1]),
                    int_attr("count_include_pad", 1),
                ],
            ),
        ],
        vec![weights("W", &[2, 2, 3], 6)],
        &[1, 2, 9],
    );
    check(&bytes, &[1, 2, 9]);
}

#[test]
fn residual_block_with_batch_norm_and_global_pool() {
    let mut scale = weights("gamma", &[2], 11);
    scale.float_data = vec![1.5, 0.5];
    let mut var = weights("var", &[2], 12);
    var.float_data = vec![0.8, 1.7];
    let bytes = model(
        vec![
            node(
                "Conv",
                &["x", "W1", "B1"],
                "c1",
                vec![ints_attr("pads", &[1, 1, 1, 1])],
            ),
            node("Relu", &["c1"], "r1", vec![]),
            node(
                "Conv",
                &["r1", "W2"],
                "c2",
                vec![ints_attr("pads", &[1, 1, 1, 1])],
            ),
            node(
                "BatchNormalization",
                &["c2", "gamma", "beta", "mean", "var"],
                "bn",
                vec![],
            ),
            node("Add", &["r1", "bn"], "sum", vec![]),
            node("Relu", &["sum"], "r2", vec![]),
            node("GlobalAveragePool", &["r2"], "g", vec![]),
            node("Flatten", &["g"], "f", vec![]),
            node("Gemm", &["f", "Wf", "Bf"], "y", vec![int_attr("transB", 1)]),
        ],
        vec![
            weights("W1", &[2, 2, 3, 3], 7),
            weights("B1", &[2], 8),
            weights("W2", &[2, 2, 3, 3], 9),
            scale,
            weights("beta", &[2], 10),
            weights("mean", &[2], 13),
            var,
            weights("Wf", &[3, 2], 14),
            weights("Bf", &[3], 15),
        ],
        &[1, 2, 6, 6],
    );
    let graph = import_bytes(&bytes, "test").unwrap();
    let kinds: Vec<_> = graph.nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(
        kinds,
        ["Conv", "Relu", "Conv", "Add", "Relu", "AvgPool", "Dense"],
        "BatchNormalization folds into the second Conv; Flatten costs nothing"
    );
    check(&bytes, &[1, 2, 6, 6]);
}

#[test]
fn transpose_mul_concat_and_pad_are_wiring() {
    let mut half = weights("half", &[1, 2, 1, 1], 0);
    half.float_data = vec![0.5, -2.0];
    let mut pad_value = weights("v", &[], 0);
    pad_value.float_data = vec![-0.25];
    let bytes = model(
        vec![
            node(
                "Transpose",
                &["x"],
                "t",
                vec![ints_attr("perm", &[0, 1, 3, 2])],
            ),
            node("Relu", &["t"], "r", vec![]),
            node("Mul", &["t", "half"], "m", vec![]),
            {
                let mut n = node("Concat", &["r", "m"], "c", vec![int_attr("axis", 1)]);
                n.name = "concat".into();
                n
            },
            node("Pad", &["c", "pads", "v"], "p", vec![]),
            node("GlobalMaxPool", &["p"], "g", vec![]),
            node("Flatten", &["g"], "y", vec![]),
        ],
        vec![
            half,
            int_tensor("pads", &[8], &[0, 0, 1, 0, 0, 0, 0, 1]),
            pad_value,
        ],
        &[1, 2, 3, 4],
    );
    let graph = import_bytes(&bytes, "test").unwrap();
    let kinds: Vec<_> = graph.nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(
        kinds,
        ["Wiring", "Relu", "Affine", "Wiring", "Wiring", "MaxPool"]
    );
    check(&bytes, &[1, 2, 3, 4]);
}

fn scalar(name: &str, v: f32) -> TensorProto {
    TensorProto {
        name: name.into(),
        data_type: 1,
        float_data: vec![v],
        ..Default::default()
    }
}

/// Gemm 6 → 5, then the activation: every lookup-table activation against tract.
#[test]
fn activations_import_and_prove() {
    type Case<'a> = (&'a str, Vec<&'a str>, Vec<AttributeProto>, Vec<TensorProto>);
    let cases: Vec<Case> = vec![
        ("Sigmoid", vec![], vec![], vec![]),
        ("Tanh", vec![], vec![], vec![]),
        ("Exp", vec![], vec![], vec![]),
        ("Erf", vec![], vec![], vec![]),
        ("Softplus", vec![], vec![], vec![]),
        ("LeakyRelu", vec![], vec![float_attr("alpha", 0.2)], vec![]),
        (
            "HardSigmoid",
            vec![],
            vec![float_attr("alpha", 0.3), float_attr("beta", 0.4)],
            vec![],
        ),
        (
            "Clip",
            vec!["lo", "hi"],
            vec![],
            vec![scalar("lo", -0.5), scalar("hi", 0.75)],
        ),
    ];
    for (op, extra, attributes, constants) in cases {
        let mut inputs = vec!["h"];
        inputs.extend(extra);
        let mut init = vec![weights("W", &[5, 6], 21), weights("B", &[5], 22)];
        init.extend(constants);
        let bytes = model(
            vec![
                node("Gemm", &["x", "W", "B"], "h", vec![int_attr("transB", 1)]),
                node(op, &inputs, "y", attributes),
            ],
            init,
            &[1, 6],
        );
        let graph = import_bytes(&bytes, "test").unwrap();
        assert_eq!(graph.nodes[1].op.kind(), op);
        check(&bytes, &[1, 6]);
    }
}

/// Classifier heads: Gemm then Softmax, and Gemm then ArgMax (with a forced tie).
#[test]
fn softmax_and_argmax_heads_import_and_prove() {
    let softmax = model(
        vec![
            node("Gemm", &["x", "W", "B"], "h", vec![int_attr("transB", 1)]),
            node("Softmax", &["h"], "y", vec![int_attr("axis", -1)]),
        ],
        vec![weights("W", &[7, 6], 31), weights("B", &[7], 32)],
        &[1, 6],
    );
    check(&softmax, &[1, 6]);
    let argmax = model(
        vec![
            node("Gemm", &["x", "W", "B"], "h", vec![int_attr("transB", 1)]),
            node(
                "ArgMax",
                &["h"],
                "y",
                vec![int_attr("axis", 1), int_attr("keepdims", 1)],
            ),
        ],
        vec![weights("W", &[7, 6], 33), weights("B", &[7], 34)],
        &[1, 6],
    );
    let graph = import_bytes(&argmax, "test").unwrap();
    assert_eq!(graph.nodes[1].op.kind(), "ArgMax");
    check(&argmax, &[1, 6]);
}

/// The GELU PyTorch exports, `x · (1 + erf(x / √2)) · 0.5`, and SiLU, `x · sigmoid(x)`:
/// Mul of two activations.
#[test]
fn erf_gelu_decomposition_and_silu_import_and_prove() {
    let gelu = model(
        vec![
            node("Gemm", &["x", "W", "B"], "h", vec![int_attr("transB", 1)]),
            node("Div", &["h", "sqrt2"], "d", vec![]),
            node("Erf", &["d"], "e", vec![]),
            node("Add", &["e", "one"], "a", vec![]),
            node("Mul", &["h", "a"], "m", vec![]),
            node("Mul", &["m", "half"], "y", vec![]),
        ],
        vec![
            weights("W", &[5, 6], 41),
            weights("B", &[5], 42),
            scalar("sqrt2", std::f32::consts::SQRT_2),
            scalar("one", 1.0),
            scalar("half", 0.5),
        ],
        &[1, 6],
    );
    // Fused at import into one table of the whole function (`graph::fuse`), and op by op
    // without fusion.
    let graph = import_bytes(&gelu, "test").unwrap();
    let kinds: Vec<_> = graph.nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(kinds, ["Dense", "Gelu (fused chain)"]);
    let options = zkinfer::onnx::ImportOptions { fuse: false };
    let graph = zkinfer::onnx::import_bytes_with(&gelu, "test", options).unwrap();
    let kinds: Vec<_> = graph.nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(kinds, ["Dense", "Affine", "Erf", "Affine", "Mul", "Affine"]);
    check(&gelu, &[1, 6]);
    let silu = model(
        vec![
            node("Gemm", &["x", "W", "B"], "h", vec![int_attr("transB", 1)]),
            node("Sigmoid", &["h"], "s", vec![]),
            node("Mul", &["h", "s"], "y", vec![]),
        ],
        vec![weights("W", &[5, 6], 43), weights("B", &[5], 44)],
        &[1, 6],
    );
    check(&silu, &[1, 6]);
}
