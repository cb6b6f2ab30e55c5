//! ONNX seen in the wild and refused or misread before (issue 11): each model is imported,
//! run by zkinfer's float graph and by tract (an independent executor) and compared; the
//! ones marked `prove` are also compiled, checked against tract as `compile` does, and run
//! through the circuit under MockProver.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use common::onnx_build::{
    agrees_with_tract_on, float_attr, int_attr, int_tensor, ints_attr, model_io, node, proves_on,
    sample, string_attr, tensor,
};
use prost::Message;
use zkinfer::api::check_against_reference;
use zkinfer::error::IrError;
use zkinfer::onnx::{import_bytes, reference_forward, ReferenceCheck};
use zkinfer::{CompileOptions, CompiledModel};

/// zkinfer's float graph agrees with tract on three inputs; returns the graph's input length.
fn agrees_with_tract(bytes: &[u8]) -> usize {
    let n = import_bytes(bytes, "test").unwrap().input_len();
    agrees_with_tract_on(bytes, &(0..3).map(|s| sample(n, s)).collect::<Vec<_>>());
    n
}

/// Compiles on four inputs and proves one under MockProver (see [`proves_on`]).
fn proves(bytes: &[u8]) {
    let n = import_bytes(bytes, "test").unwrap().input_len();
    let samples: Vec<Vec<f32>> = (0..4).map(|s| sample(n, s)).collect();
    // The second sample is the one proven, as before.
    let order = [1, 0, 2, 3].map(|i| samples[i].clone());
    proves_on(bytes, &order);
}

#[test]
fn batch_normalization_with_a_leading_dimension_above_one() {
    let bn = |shape: &[i64], c: usize| {
        let p = |v: f32| (0..c).map(|i| v + i as f32 * 0.25).collect::<Vec<f32>>();
        model_io(
            vec![node(
                "BatchNormalization",
                &["x", "g", "b", "m", "v"],
                "y",
                vec![float_attr("epsilon", 1e-5)],
            )],
            vec![
                tensor("g", &[c as i64], &p(0.5)),
                tensor("b", &[c as i64], &p(-0.3)),
                tensor("m", &[c as i64], &p(0.1)),
                tensor("v", &[c as i64], &p(0.7)),
            ],
            &[("x", shape)],
            "y",
            13,
        )
    };
    for (shape, c) in [(&[2i64, 3, 2, 2][..], 3), (&[4, 5, 3][..], 5)] {
        let bytes = bn(shape, c);
        agrees_with_tract(&bytes);
        proves(&bytes);
    }
}

#[test]
fn an_output_produced_by_a_dropped_wiring_node_imports() {
    for op in ["Flatten", "Identity"] {
        let bytes = model_io(
            vec![node(op, &["x"], "y", vec![])],
            vec![],
            &[("x", &[1, 2, 3])],
            "y",
            13,
        );
        assert_eq!(agrees_with_tract(&bytes), 6);
        proves(&bytes);
    }
}

#[test]
fn elu_and_prelu() {
    let elu = model_io(
        vec![node("Elu", &["x"], "y", vec![float_attr("alpha", 0.7)])],
        vec![],
        &[("x", &[1, 8])],
        "y",
        13,
    );
    agrees_with_tract(&elu);
    proves(&elu);
    for slope in [&[0.2f32][..], &[0.1, -0.5, 0.3][..]] {
        let prelu = model_io(
            vec![node("PRelu", &["x", "s"], "y", vec![])],
            vec![tensor("s", &[slope.len() as i64, 1, 1], slope)],
            &[("x", &[1, 3, 2, 2])],
            "y",
            13,
        );
        agrees_with_tract(&prelu);
        proves(&prelu);
    }
}

#[test]
fn log_softmax_along_any_axis() {
    for axis in [-1, 1] {
        let bytes = model_io(
            vec![node(
                "LogSoftmax",
                &["x"],
                "y",
                vec![int_attr("axis", axis)],
            )],
            vec![],
            &[("x", &[1, 3, 4])],
            "y",
            13,
        );
        agrees_with_tract(&bytes);
        proves(&bytes);
    }
}

#[test]
fn pad_in_reflect_edge_and_wrap_modes() {
    for mode in ["reflect", "edge"] {
        let bytes = model_io(
            vec![node(
                "Pad",
                &["x", "p"],
                "y",
                vec![string_attr("mode", mode)],
            )],
            vec![int_tensor("p", &[6], &[0, 1, 2, 0, 2, 1])],
            &[("x", &[1, 3, 4])],
            "y",
            13,
        );
        agrees_with_tract(&bytes);
        proves(&bytes);
    }
    // tract 0.21 lacks opset 19's wrap mode: checked by hand.
    let wrap = model_io(
        vec![node(
            "Pad",
            &["x", "p"],
            "y",
            vec![string_attr("mode", "wrap")],
        )],
        vec![int_tensor("p", &[4], &[0, 2, 0, 1])],
        &[("x", &[1, 4])],
        "y",
        19,
    );
    let y = import_bytes(&wrap, "t")
        .unwrap()
        .forward(&[1.0, 2.0, 3.0, 4.0])
        .pop()
        .unwrap();
    assert_eq!(y, [3.0, 4.0, 1.0, 2.0, 3.0, 4.0, 1.0]);
    let too_wide = model_io(
        vec![node(
            "Pad",
            &["x", "p"],
            "y",
            vec![string_attr("mode", "reflect")],
        )],
        vec![int_tensor("p", &[4], &[0, 4, 0, 0])],
        &[("x", &[1, 4])],
        "y",
        13,
    );
    assert!(matches!(
        import_bytes(&too_wide, "t"),
        Err(IrError::Shape { .. })
    ));
}

#[test]
fn reductions_over_any_axes() {
    let cases: [(&str, &[i64], i64); 6] = [
        ("ReduceMean", &[-1], 1),
        ("ReduceMean", &[1, 2], 0),
        ("ReduceSum", &[1], 1),
        ("ReduceSum", &[], 0),
        ("ReduceMax", &[0, 2], 1),
        ("ReduceMax", &[1], 0),
    ];
    for (op, axes, keepdims) in cases {
        // Axes as an input (ReduceSum from opset 13, the others from 18).
        let bytes = model_io(
            vec![node(
                op,
                &["x", "axes"],
                "y",
                vec![int_attr("keepdims", keepdims)],
            )],
            vec![int_tensor("axes", &[axes.len() as i64], axes)],
            &[("x", &[1, 3, 4])],
            "y",
            18,
        );
        agrees_with_tract(&bytes);
        proves(&bytes);
        // Axes as an attribute (opset 13).
        if op != "ReduceSum" && !axes.is_empty() {
            let bytes = model_io(
                vec![node(
                    op,
                    &["x"],
                    "y",
                    vec![ints_attr("axes", axes), int_attr("keepdims", keepdims)],
                )],
                vec![],
                &[("x", &[1, 3, 4])],
                "y",
                13,
            );
            agrees_with_tract(&bytes);
        }
    }
}

#[test]
fn ops_on_constants_fold_at_import() {
    // The weight is stored transposed and transposed back before the MatMul.
    let w: Vec<f32> = (0..12).map(|i| i as f32 / 6.0 - 1.0).collect();
    let bytes = model_io(
        vec![
            node("Transpose", &["wt"], "w", vec![ints_attr("perm", &[1, 0])]),
            node("MatMul", &["x", "w"], "y", vec![]),
        ],
        vec![tensor("wt", &[3, 4], &w)],
        &[("x", &[1, 4])],
        "y",
        13,
    );
    agrees_with_tract(&bytes);
    let graph = import_bytes(&bytes, "t").unwrap();
    assert_eq!(graph.nodes.len(), 1, "the transpose folded into the weight");
    proves(&bytes);
}

#[test]
fn graphs_with_several_inputs_and_products_of_activations() {
    let add = model_io(
        vec![
            node("Add", &["a", "b"], "s", vec![]),
            node("Relu", &["s"], "y", vec![]),
        ],
        vec![],
        &[("a", &[1, 5]), ("b", &[1, 5])],
        "y",
        13,
    );
    assert_eq!(agrees_with_tract(&add), 10);
    proves(&add);
    let graph = import_bytes(&add, "t").unwrap();
    assert_eq!(graph.input_lens(), vec![5, 5]);
    // EZKL's input_data lists each input separately: joined into one sample.
    let joined = zkinfer::input::join_parts(vec![vec![1.0; 5], vec![2.0; 5]], &graph.input_lens());
    assert_eq!(joined, vec![[vec![1.0; 5], vec![2.0; 5]].concat()]);
    for (a, b) in [
        (&[1i64, 2][..], &[2i64, 3][..]),
        (&[1, 2, 3, 4][..], &[1, 2, 4, 2][..]),
    ] {
        let matmul = model_io(
            vec![node("MatMul", &["a", "b"], "y", vec![])],
            vec![],
            &[("a", a), ("b", b)],
            "y",
            13,
        );
        agrees_with_tract(&matmul);
        proves(&matmul);
    }
}

/// `Gemm` whose `B` (and `C`) are runtime inputs, as in ONNX's own `mm`/`addmm` operator
/// tests (issue 27: refused as "reads tensor '1', which is neither an input, ..."): the
/// product of two activations, `B` transposed by wiring, `alpha` and `beta · C` after it.
#[test]
fn gemm_of_runtime_matrices() {
    let gemm = |attributes, inputs: &[&str], shapes: &[(&str, &[i64])], inits| {
        model_io(
            vec![node("Gemm", inputs, "y", attributes)],
            inits,
            shapes,
            "y",
            13,
        )
    };
    let cases = [
        // mm: A [2, 3] × B [3, 4].
        gemm(
            vec![],
            &["a", "b"],
            &[("a", &[2, 3]), ("b", &[3, 4])],
            vec![],
        ),
        // transB, alpha, and a constant C scaled by beta.
        gemm(
            vec![
                int_attr("transB", 1),
                float_attr("alpha", 0.5),
                float_attr("beta", 2.0),
            ],
            &["a", "b", "c"],
            &[("a", &[2, 3]), ("b", &[4, 3])],
            vec![tensor("c", &[4], &[0.5, -0.25, 1.0, 0.0])],
        ),
        // addmm: a runtime C broadcast over the rows.
        gemm(
            vec![],
            &["a", "b", "c"],
            &[("a", &[2, 3]), ("b", &[3, 4]), ("c", &[1, 4])],
            vec![],
        ),
    ];
    for bytes in &cases {
        agrees_with_tract(bytes);
        proves(bytes);
    }
    // A runtime C with beta ≠ 1 is refused by name, not misread.
    let scaled = gemm(
        vec![float_attr("beta", 2.0)],
        &["a", "b", "c"],
        &[("a", &[2, 3]), ("b", &[3, 4]), ("c", &[1, 4])],
        vec![],
    );
    let err = import_bytes(&scaled, "t").unwrap_err();
    assert!(matches!(err, IrError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("beta"), "{err}");
}

#[test]
fn matmul_of_rows_by_a_constant_weight() {
    // [1, 4, 3] × [3, 2] + bias, as a transformer's projection.
    let w: Vec<f32> = (0..6).map(|i| i as f32 / 3.0 - 1.0).collect();
    let bytes = model_io(
        vec![
            node("MatMul", &["x", "w"], "m", vec![]),
            node("Add", &["m", "b"], "y", vec![]),
        ],
        vec![tensor("w", &[3, 2], &w), tensor("b", &[2], &[0.5, -0.25])],
        &[("x", &[1, 4, 3])],
        "y",
        13,
    );
    agrees_with_tract(&bytes);
    proves(&bytes);
}

/// A 2-D `Gemm` computes each row alone: `transformers`' `Conv1D` flattens a sequence's
/// tokens into its rows (`[32, 64] × [64, 192]`), which was refused as "batch size 32".
/// The rows are proven as rows; a batch is still refused where an op would mix samples (a
/// convolution over a batch of images).
#[test]
fn gemm_rows_are_rows_and_batches_are_refused_by_name() {
    let gemm = model_io(
        vec![node(
            "Gemm",
            &["x", "w", "b"],
            "y",
            vec![int_attr("transB", 1)],
        )],
        vec![
            tensor("w", &[2, 3], &[0.5, -0.25, 1.0, 0.75, 0.0, -1.0]),
            tensor("b", &[2], &[0.5, -0.5]),
        ],
        &[("x", &[4, 3])],
        "y",
        13,
    );
    agrees_with_tract(&gemm);
    proves(&gemm);
    let conv = model_io(
        vec![node(
            "Conv",
            &["x", "w"],
            "y",
            vec![ints_attr("kernel_shape", &[1, 1])],
        )],
        vec![tensor("w", &[1, 2, 1, 1], &[0.5, -0.25])],
        &[("x", &[4, 2, 3, 3])],
        "y",
        13,
    );
    let err = import_bytes(&conv, "t").unwrap_err().to_string();
    assert!(
        err.contains("batch size 4 is not supported (batch 1 only)"),
        "{err}"
    );
}

/// `bytes` with `names` appended to the graph's outputs.
fn with_outputs(bytes: &[u8], names: &[&str]) -> Vec<u8> {
    let mut model = tract_onnx::pb::ModelProto::decode(bytes).unwrap();
    let graph = model.graph.as_mut().unwrap();
    for name in names {
        graph.output.push(tract_onnx::pb::ValueInfoProto {
            name: (*name).into(),
            ..Default::default()
        });
    }
    model.encode_to_vec()
}

#[test]
fn several_outputs_are_each_proven_in_order() {
    // y = relu(W1 · x · 0.5) · W2, with the hidden pre-activation `h` (read by a node too)
    // and `r` also outputs. `h` being an output keeps the scaling `Mul` from folding into
    // the Gemm that makes `h`, or the proven `h` would be scaled.
    let w1: Vec<f32> = (0..12).map(|i| (i % 5) as f32 / 4.0 - 0.5).collect();
    let w2: Vec<f32> = (0..6).map(|i| (i % 4) as f32 / 3.0 - 0.4).collect();
    let bytes = model_io(
        vec![
            node("Gemm", &["x", "w1"], "h", vec![int_attr("transB", 1)]),
            node("Mul", &["h", "half"], "s", vec![]),
            node("Relu", &["s"], "r", vec![]),
            node("MatMul", &["r", "w2"], "y", vec![]),
        ],
        vec![
            tensor("w1", &[3, 4], &w1),
            tensor("w2", &[3, 2], &w2),
            tensor("half", &[1], &[0.5]),
        ],
        &[("x", &[1, 4])],
        "y",
        13,
    );
    let bytes = with_outputs(&bytes, &["h", "r"]);
    assert_eq!(agrees_with_tract(&bytes), 4);
    let graph = import_bytes(&bytes, "t").unwrap();
    assert_eq!(graph.outputs.len(), 3);
    assert_eq!(graph.eval(&[0.0; 4]).len(), 2 + 3 + 3);
    proves(&bytes);

    let samples: Vec<Vec<f32>> = (0..4).map(|s| sample(4, s)).collect();
    let model = CompiledModel::compile(&graph, &samples, &CompileOptions::default()).unwrap();
    let outputs = model.inspect().unwrap().outputs;
    let lens: Vec<usize> = outputs.iter().map(|o| o.1).collect();
    assert_eq!(lens, vec![2, 3, 3]);
    // Each output is at its own scale.
    let x = model.quantise_input(&samples[2], false).unwrap();
    let floats = model.graph.outputs_to_float(&model.graph.eval(&x).unwrap());
    let reference = reference_forward(&bytes, &graph, &samples[2]).unwrap();
    for (i, (a, b)) in floats.iter().zip(&reference).enumerate() {
        assert!(
            (a - f64::from(*b)).abs() < 0.05,
            "output value {i}: {a} vs {b}"
        );
    }
}

#[test]
fn an_output_list_that_names_no_tensor_is_refused() {
    let relu = model_io(
        vec![node("Relu", &["x"], "y", vec![])],
        vec![],
        &[("x", &[1, 2])],
        "y",
        13,
    );
    let err = import_bytes(&with_outputs(&relu, &["nowhere"]), "t")
        .unwrap_err()
        .to_string();
    assert!(err.contains("nowhere"), "{err}");
}

/// The defence in depth of issue 11: an import that misreads the model (simulated by editing
/// the imported graph's weights) is refused by the comparison with tract.
#[test]
fn a_misread_model_is_refused_by_the_reference_check() {
    let bytes = std::fs::read(common::data("digits_mlp.onnx")).unwrap();
    let mut graph = import_bytes(&bytes, "t").unwrap();
    let samples = common::eval_set().inputs[..4].to_vec();
    let honest = CompiledModel::compile(&graph, &samples, &CompileOptions::default()).unwrap();
    assert!(matches!(
        check_against_reference(&bytes, &graph, &honest, &samples).unwrap(),
        ReferenceCheck::Agrees { .. }
    ));
    match &mut graph.nodes[0].op {
        zkinfer::graph::ir::FloatOp::Dense(zkinfer::graph::ir::FloatDense { bias, .. }) => {
            bias.mapv_inplace(|b| b + 1.0)
        }
        other => panic!("the MLP starts with {}", other.kind()),
    }
    let misread = CompiledModel::compile(&graph, &samples, &CompileOptions::default()).unwrap();
    match check_against_reference(&bytes, &graph, &misread, &samples) {
        Err(zkinfer::Error::Ir(IrError::Reference { reason })) => {
            assert!(reason.contains("tract computes"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// Generators and products whose size the file sets are refused before anything is built.
#[test]
fn hostile_sizes_are_refused_before_allocation() {
    let generator = model_io(
        vec![
            node("ConstantOfShape", &["shape"], "c", vec![]),
            node("Add", &["x", "c"], "y", vec![]),
        ],
        vec![int_tensor("shape", &[1], &[1 << 40])],
        &[("x", &[1, 2])],
        "y",
        13,
    );
    match import_bytes(&generator, "t") {
        Err(IrError::Unsupported { op, detail, .. }) => {
            assert_eq!(op, "ConstantOfShape");
            assert!(detail.contains("not folded"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    let square = model_io(
        vec![node("MatMul", &["x", "x"], "y", vec![])],
        vec![],
        &[("x", &[1, 4096, 4096])],
        "y",
        13,
    );
    assert!(matches!(
        import_bytes(&square, "t"),
        Err(IrError::Shape { .. })
    ));
    let padded = model_io(
        vec![node("Pad", &["x", "p"], "y", vec![])],
        vec![int_tensor("p", &[4], &[0, 1 << 40, 0, 1 << 40])],
        &[("x", &[1, 2])],
        "y",
        13,
    );
    assert!(matches!(
        import_bytes(&padded, "t"),
        Err(IrError::Shape { .. })
    ));
}

/// The importer fails closed: an attribute it does not read, or a value of one whose meaning
/// it does not implement, is refused by name.
#[test]
fn unknown_attributes_are_refused() {
    let relu = model_io(
        vec![node("Relu", &["x"], "y", vec![int_attr("fancy", 1)])],
        vec![],
        &[("x", &[1, 2])],
        "y",
        13,
    );
    let err = import_bytes(&relu, "t").unwrap_err().to_string();
    assert!(err.contains("attribute 'fancy' is not understood"), "{err}");
    let bn = model_io(
        vec![node(
            "BatchNormalization",
            &["x", "g", "b", "m", "v"],
            "y",
            vec![int_attr("training_mode", 1)],
        )],
        ["g", "b", "m", "v"]
            .map(|n| tensor(n, &[2], &[1.0, 1.0]))
            .to_vec(),
        &[("x", &[1, 2, 3])],
        "y",
        15,
    );
    let err = import_bytes(&bn, "t").unwrap_err().to_string();
    assert!(err.contains("training_mode = 1"), "{err}");
}
