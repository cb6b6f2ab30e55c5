//! The importer on tiny ONNX graphs built in memory: each supported op against a naive
//! reference, and each unsupported construct as a typed error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use common::onnx_build::{
    agrees_with_tract_on, close, float_attr, int_attr, model, model_io, node, run, sample, tensor,
};
use tract_onnx::pb::{AttributeProto, NodeProto};
use zkinfer::error::IrError;
use zkinfer::onnx::import_bytes;

#[test]
fn matmul_add_relu_and_wiring_ops_import() {
    // W is (in = 2, out = 3) for MatMul.
    let bytes = model(
        vec![
            node("Flatten", &["x"], "f", vec![]),
            node("MatMul", &["f", "W"], "m", vec![]),
            node("Add", &["m", "b"], "a", vec![]),
            node("Dropout", &["a"], "d", vec![]),
            node("Relu", &["d"], "r", vec![]),
            node("Identity", &["r"], "y", vec![]),
        ],
        vec![
            tensor("W", &[2, 3], &[1.0, 2.0, 3.0, -1.0, 0.5, 0.0]),
            tensor("b", &[3], &[0.5, -10.0, 1.0]),
        ],
        2,
        "y",
    );
    // x = [2, 1]: m = [2 - 1, 4 + 0.5, 6 + 0] + b = [1.5, -5.5, 7] → relu [1.5, 0, 7].
    close(&run(&bytes, &[2.0, 1.0]), &[1.5, 0.0, 7.0]);
    let graph = import_bytes(&bytes, "test").unwrap();
    assert_eq!(graph.nodes.len(), 2, "the Add folds into the MatMul's bias");
}

#[test]
fn gemm_attributes_are_applied() {
    // transB = 0: B is (in = 2, out = 2); y = 2 · x B + 0.5 · c.
    let bytes = model(
        vec![node(
            "Gemm",
            &["x", "B", "c"],
            "y",
            vec![
                float_attr("alpha", 2.0),
                float_attr("beta", 0.5),
                int_attr("transB", 0),
            ],
        )],
        vec![
            tensor("B", &[2, 2], &[1.0, 2.0, 3.0, 4.0]),
            tensor("c", &[2], &[2.0, 4.0]),
        ],
        2,
        "y",
    );
    // x = [1, 1]: x B = [4, 6] → [8 + 1, 12 + 2].
    close(&run(&bytes, &[1.0, 1.0]), &[9.0, 14.0]);
}

#[test]
fn batch_normalization_folds_into_the_linear_layer() {
    let bytes = model(
        vec![
            node("Gemm", &["x", "W", "b"], "g", vec![int_attr("transB", 1)]),
            node(
                "BatchNormalization",
                &["g", "gamma", "beta", "mean", "var"],
                "y",
                vec![float_attr("epsilon", 0.0)],
            ),
        ],
        vec![
            tensor("W", &[2, 2], &[1.0, 0.0, 0.0, 1.0]),
            tensor("b", &[2], &[0.0, 1.0]),
            tensor("gamma", &[2], &[2.0, 1.0]),
            tensor("beta", &[2], &[0.5, 0.0]),
            tensor("mean", &[2], &[1.0, 0.0]),
            tensor("var", &[2], &[4.0, 1.0]),
        ],
        2,
        "y",
    );
    // g = [3, 5]; y0 = (3 - 1) / 2 · 2 + 0.5 = 2.5; y1 = (5 - 0) / 1 · 1 + 0 = 5.
    close(&run(&bytes, &[3.0, 4.0]), &[2.5, 5.0]);
    assert_eq!(import_bytes(&bytes, "test").unwrap().nodes.len(), 1);
}

#[test]
fn constant_nodes_supply_weights() {
    let value = AttributeProto {
        name: "value".into(),
        t: Some(tensor("", &[1, 1], &[3.0])),
        r#type: 4,
        ..Default::default()
    };
    let bytes = model(
        vec![
            node("Constant", &[], "W", vec![value]),
            node("MatMul", &["x", "W"], "y", vec![]),
        ],
        vec![],
        1,
        "y",
    );
    close(&run(&bytes, &[2.0]), &[6.0]);
}

#[test]
fn add_of_two_activations_is_a_residual_add() {
    let bytes = model(
        vec![
            node("Relu", &["x"], "r", vec![]),
            node("Add", &["r", "x"], "y", vec![]),
        ],
        vec![],
        2,
        "y",
    );
    close(&run(&bytes, &[2.0, -3.0]), &[4.0, -3.0]);
}

#[test]
fn mul_of_two_activations_is_a_product() {
    let bytes = model(
        vec![
            node("Relu", &["x"], "r", vec![]),
            node("Mul", &["r", "x"], "y", vec![]),
        ],
        vec![],
        2,
        "y",
    );
    close(&run(&bytes, &[2.0, -3.0]), &[4.0, 0.0]);
}

#[test]
fn div_of_two_activations_is_unsupported() {
    let bytes = model(
        vec![
            node("Relu", &["x"], "r", vec![]),
            node("Div", &["x", "r"], "y", vec![]),
        ],
        vec![],
        2,
        "y",
    );
    let err = import_bytes(&bytes, "test").unwrap_err();
    assert!(
        matches!(&err, IrError::Unsupported { op, node, .. } if op == "Div" && node == "Div_node"),
        "{err}"
    );
}

#[test]
fn transposed_activation_is_unsupported() {
    let bytes = model(
        vec![node("Gemm", &["x", "W"], "y", vec![int_attr("transA", 1)])],
        vec![tensor("W", &[2, 2], &[1.0; 4])],
        2,
        "y",
    );
    assert!(matches!(
        import_bytes(&bytes, "t"),
        Err(IrError::Unsupported { .. })
    ));
}

#[test]
fn non_finite_or_misshapen_weights_are_rejected() {
    let nan = model(
        vec![node("MatMul", &["x", "W"], "y", vec![])],
        vec![tensor("W", &[1, 1], &[f32::NAN])],
        1,
        "y",
    );
    assert!(matches!(
        import_bytes(&nan, "t"),
        Err(IrError::BadConstant { .. })
    ));
    let short = model(
        vec![node("MatMul", &["x", "W"], "y", vec![])],
        vec![tensor("W", &[2, 2], &[1.0])],
        2,
        "y",
    );
    assert!(matches!(
        import_bytes(&short, "t"),
        Err(IrError::BadConstant { .. })
    ));
    let wrong = model(
        vec![node("MatMul", &["x", "W"], "y", vec![])],
        vec![tensor("W", &[3, 1], &[1.0; 3])],
        2,
        "y",
    );
    assert!(matches!(
        import_bytes(&wrong, "t"),
        Err(IrError::Shape { .. })
    ));
}

#[test]
fn unknown_tensor_and_missing_output_are_named() {
    let bytes = model(vec![node("Relu", &["nope"], "y", vec![])], vec![], 2, "y");
    assert!(matches!(
        import_bytes(&bytes, "t"),
        Err(IrError::UnknownTensor { .. })
    ));
}

#[test]
fn a_constant_add_after_a_reshape_leaves_a_tensor_others_read_unchanged() {
    // g is read twice: through a Flatten (a new name for the same tensor) by the constant
    // Add, and directly by the last Add. Folding c into the Gemm's bias would change what
    // the last Add reads, so the Add stays a node of its own.
    let bytes = model_io(
        vec![
            node("Gemm", &["x", "W", "b"], "g", vec![int_attr("transB", 1)]),
            node("Flatten", &["g"], "f", vec![]),
            node("Add", &["f", "c"], "y", vec![]),
            NodeProto {
                name: "Add_2".into(),
                ..node("Add", &["g", "y"], "z", vec![])
            },
        ],
        vec![
            tensor("W", &[2, 2], &[1.0, 2.0, -1.0, 0.5]),
            tensor("b", &[2], &[0.25, -0.5]),
            tensor("c", &[2], &[3.0, -7.0]),
        ],
        &[("x", &[1, 2])],
        "z",
        13,
    );
    agrees_with_tract_on(&bytes, &[sample(2, 0), sample(2, 1)]);
    // g = [x0 + 2 x1 + 0.25, -x0 + 0.5 x1 - 0.5]; z = 2 g + c.
    close(&run(&bytes, &[1.0, 1.0]), &[6.5 + 3.0, -2.0 - 7.0]);
    assert_eq!(kinds(&bytes), ["Dense", "Affine", "Add"]);
}

#[test]
fn constant_multiplies_and_adds_in_a_row_compose_into_one_affine_map() {
    // A layer norm's γ then β after a nonlinearity: one affine node, not two.
    let bytes = model_io(
        vec![
            node("Relu", &["x"], "r", vec![]),
            node("Mul", &["r", "gamma"], "m", vec![]),
            node("Add", &["m", "beta"], "a", vec![]),
            node("Sub", &["a", "delta"], "y", vec![]),
        ],
        vec![
            tensor("gamma", &[3], &[2.0, -0.5, 1.5]),
            tensor("beta", &[3], &[1.0, 0.0, -2.0]),
            tensor("delta", &[1], &[0.25]),
        ],
        &[("x", &[1, 3])],
        "y",
        13,
    );
    agrees_with_tract_on(&bytes, &[sample(3, 0), sample(3, 5)]);
    // x = [1, 2, -1]: relu [1, 2, 0]; · γ + β − δ = [2.75, -1.25, -2.25].
    close(&run(&bytes, &[1.0, 2.0, -1.0]), &[2.75, -1.25, -2.25]);
    let graph = import_bytes(&bytes, "test").unwrap();
    assert_eq!(graph.nodes.len(), 2, "Relu and one affine map");
}

#[test]
fn a_bias_after_a_rowwise_projection_folds_through_its_reordering() {
    // [1, 3, 2] × [2, 4] + b: the rows move to a 1×1 convolution and back by wiring; the
    // bias (one per output column) folds into the convolution through that wiring. A
    // constant that differs along the rows cannot (it is not per channel) and stays.
    let weights = tensor("W", &[2, 4], &[1.0, 0.0, -1.0, 2.0, 0.5, 1.0, 0.0, -1.0]);
    let per_column = tensor("b", &[4], &[0.5, -1.0, 2.0, 0.0]);
    let per_row = tensor("b", &[3, 1], &[1.0, 2.0, 3.0]);
    for (bias, folds) in [(per_column, true), (per_row, false)] {
        let bytes = model_io(
            vec![
                node("MatMul", &["x", "W"], "m", vec![]),
                node("Add", &["m", "b"], "y", vec![]),
            ],
            vec![weights.clone(), bias],
            &[("x", &[1, 3, 2])],
            "y",
            13,
        );
        agrees_with_tract_on(&bytes, &[sample(6, 0), sample(6, 3)]);
        let mut expected = vec!["Wiring", "Conv", "Wiring"];
        if !folds {
            expected.push("Affine");
        }
        assert_eq!(kinds(&bytes), expected);
    }
}

/// The kinds of the imported nodes, in order.
fn kinds(bytes: &[u8]) -> Vec<&'static str> {
    import_bytes(bytes, "test")
        .unwrap()
        .nodes
        .iter()
        .map(|n| n.op.kind())
        .collect()
}
