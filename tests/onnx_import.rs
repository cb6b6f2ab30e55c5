//! ONNX import and quantisation against independent truth: ONNX Runtime's outputs (stored in
//! the reference data) and tract's own float execution of the same file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use tract_onnx::prelude::*;
use zkinfer::error::{Error, IrError, QuantError};
use zkinfer::{onnx, CompileOptions, CompiledModel};

#[test]
fn onnx_float_forward_matches_onnx_runtime() {
    let graph = onnx::import(&common::data("digits_mlp.onnx")).unwrap();
    assert_eq!(graph.input_shape, vec![1, 64]);
    let out = graph.eval(&common::sample());
    for (a, b) in out.iter().zip(common::expected_logits()) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
}

#[test]
fn onnx_float_forward_matches_tract_execution() {
    let path = common::data("digits_mlp.onnx");
    let plan = tract_onnx::onnx()
        .model_for_path(&path)
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let graph = onnx::import(&path).unwrap();
    for x in common::eval_set().inputs.iter().take(10) {
        let t: Tensor = tract_ndarray::Array2::from_shape_vec((1, 64), x.clone())
            .unwrap()
            .into();
        let out = plan.run(tvec!(t.into())).unwrap();
        let tract_out: Vec<f32> = out[0].as_slice::<f32>().unwrap().to_vec();
        let ours = graph.eval(x);
        for (a, b) in ours.iter().zip(tract_out) {
            assert!((a - f64::from(b)).abs() < 1e-4, "{a} vs {b}");
        }
    }
}

#[test]
fn quantised_accuracy_equals_float_accuracy_on_the_eval_set() {
    let model = common::model();
    let set = common::eval_set();
    let logits = set.float_logits.as_ref().unwrap();
    let (mut quantised, mut float) = (0, 0);
    for ((x, label), float_logits) in set.inputs.iter().zip(&set.labels).zip(logits) {
        let q = model
            .graph
            .eval(&model.quantise_input(x, false).unwrap())
            .unwrap();
        let q = model.graph.outputs_to_float(&q);
        let label = label.classes()[0];
        quantised += usize::from(zkinfer::input::argmax(&q) == Some(label));
        float += usize::from(zkinfer::input::argmax(float_logits) == Some(label));
    }
    assert_eq!(quantised, float);
}

#[test]
fn malformed_onnx_is_a_read_error() {
    let err = onnx::import_bytes(b"\x0a\xff\xff\xff\xff garbage", "mem").unwrap_err();
    assert!(matches!(err, IrError::Read { .. }), "{err}");
    let bytes = std::fs::read(common::data("digits_mlp.onnx")).unwrap();
    let err = onnx::import_bytes(&bytes[..bytes.len() / 3], "truncated").unwrap_err();
    assert!(
        matches!(
            err,
            IrError::Read { .. }
                | IrError::BadConstant { .. }
                | IrError::Empty(_)
                | IrError::UnknownTensor { .. }
        ),
        "{err}"
    );
}

#[test]
fn unsupported_ops_are_named_with_their_node() {
    let bytes = common::with_unsupported_op();
    let err = onnx::import_bytes(&bytes, "patched").unwrap_err();
    assert!(
        matches!(&err, IrError::Unsupported { op, node, .. } if op == "Selu" && !node.is_empty()),
        "{err}"
    );
}

#[test]
fn wrong_shape_and_nan_inputs_are_typed_errors() {
    let model = common::model();
    let err = model.quantise_input(&[0.5; 10], false).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Quant(QuantError::InputLength {
                expected: 64,
                got: 10,
                ..
            })
        ),
        "{err}"
    );
    let mut x = common::sample();
    x[3] = f32::NAN;
    let err = model.quantise_input(&x, false).unwrap_err();
    assert!(
        matches!(err, Error::Quant(QuantError::NotFinite { index: 3, .. })),
        "{err}"
    );
}

#[test]
fn compiled_model_round_trips_through_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.zkm");
    common::model().save(&path).unwrap();
    assert_eq!(CompiledModel::load(&path).unwrap(), *common::model());
}

#[test]
fn calibration_is_required() {
    let graph = onnx::import(&common::data("digits_mlp.onnx")).unwrap();
    let err = CompiledModel::compile(&graph, &[], &CompileOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::Quant(QuantError::NoCalibration)),
        "{err}"
    );
}

/// Model files of format 3 (a `public_input` flag) still load, as visibilities; a model
/// with a visibility this version cannot prove is refused by name.
#[test]
fn format_3_models_load_and_unsupported_visibilities_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.zkm");
    let mut old = serde_json::to_value(&*common::model()).unwrap();
    let object = old.as_object_mut().unwrap();
    object.remove("visibility");
    object.insert("public_input".into(), true.into());
    object.insert("format_version".into(), 3.into());
    std::fs::write(&path, old.to_string()).unwrap();
    let loaded = CompiledModel::load(&path).unwrap();
    assert_eq!(loaded.visibility.input, zkinfer::Visibility::Public);
    assert_eq!(loaded.format_version, zkinfer::api::MODEL_FORMAT_VERSION);
    let mut hashed = serde_json::to_value(&*common::model()).unwrap();
    hashed["visibility"]["params"] = "private".into();
    std::fs::write(&path, hashed.to_string()).unwrap();
    let err = CompiledModel::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("params visibility 'private' is not supported"),
        "{err}"
    );
}
