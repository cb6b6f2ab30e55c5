//! ONNX external data (what `torch.onnx.export` writes by default: weights in
//! `NAME.onnx.data` beside the model) and `Reshape` with `allowzero = 1` (which the exporter
//! sets on every `Reshape`): read as the exporter meant, and every hostile form of them
//! refused with an error naming the tensor or the node (issue 29, item 1).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use std::path::Path;

use common::onnx_build::{
    agrees_with_tract_on, int_attr, int_tensor, model_io, node, sample, tensor,
};
use prost::Message;
use tract_onnx::pb::{self, tensor_proto::DataLocation, StringStringEntryProto};
use zkinfer::api::compile_file;
use zkinfer::error::{Error, IrError};
use zkinfer::onnx::{import, import_bytes, read_model};
use zkinfer::CompileOptions;

/// x [1, 4] · w [4, 3] + b, then Relu: two initializers to move out.
fn inline_model() -> Vec<u8> {
    let w: Vec<f32> = (0..12).map(|i| (i as f32 - 6.0) / 8.0).collect();
    model_io(
        vec![
            node("MatMul", &["x", "w"], "m", vec![]),
            node("Add", &["m", "b"], "a", vec![]),
            node("Relu", &["a"], "y", vec![]),
        ],
        vec![
            tensor("w", &[4, 3], &w),
            tensor("b", &[3], &[0.5, -0.25, 0.125]),
        ],
        &[("x", &[1, 4])],
        "y",
        13,
    )
}

fn entry(key: &str, value: &str) -> StringStringEntryProto {
    StringStringEntryProto {
        key: key.into(),
        value: value.into(),
    }
}

/// The model with its initializers' data moved to `data` (one after another), each tensor
/// described by `describe(name, offset, length)`; writes `model.onnx` and the data file
/// into `dir` and returns the model's path.
fn exported(
    dir: &Path,
    describe: impl Fn(&str, usize, usize) -> Vec<StringStringEntryProto>,
) -> std::path::PathBuf {
    let mut model = pb::ModelProto::decode(&inline_model()[..]).unwrap();
    let graph = model.graph.as_mut().unwrap();
    let mut data = Vec::new();
    for t in &mut graph.initializer {
        let raw: Vec<u8> = t.float_data.iter().flat_map(|v| v.to_le_bytes()).collect();
        t.float_data.clear();
        t.external_data = describe(&t.name, data.len(), raw.len());
        t.data_location = Some(DataLocation::External as i32);
        data.extend(raw);
    }
    std::fs::write(dir.join("model.onnx.data"), &data).unwrap();
    let path = dir.join("model.onnx");
    std::fs::write(&path, model.encode_to_vec()).unwrap();
    path
}

fn honest(_: &str, offset: usize, length: usize) -> Vec<StringStringEntryProto> {
    vec![
        entry("location", "model.onnx.data"),
        entry("offset", &offset.to_string()),
        entry("length", &length.to_string()),
    ]
}

#[test]
fn external_data_beside_the_model_is_read_as_inline_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = exported(dir.path(), honest);
    let inline = import_bytes(&inline_model(), "inline").unwrap();
    let external = import(&path).unwrap();
    for s in 0..4 {
        let x = sample(4, s);
        assert_eq!(inline.eval(&x), external.eval(&x));
    }
    // The bytes handed on are self-contained: tract (the reference) runs them alone.
    let bytes = read_model(&path).unwrap();
    agrees_with_tract_on(&bytes, &[sample(4, 1), sample(4, 2)]);
    // And `compile` (which checks the quantised model against tract) takes the file.
    let calibration: Vec<Vec<f32>> = (0..4).map(|s| sample(4, s)).collect();
    compile_file(&path, calibration, &CompileOptions::default()).unwrap();
    // Without its folder, a model with external data is refused naming the tensor.
    let err = import_bytes(&std::fs::read(&path).unwrap(), "bytes").unwrap_err();
    assert!(
        matches!(&err, IrError::BadConstant { tensor, reason } if tensor == "w" && reason.contains("from its path")),
        "{err}"
    );
}

/// Every hostile description of a tensor's external data is refused naming the tensor.
#[test]
fn hostile_external_data_is_refused_naming_the_tensor() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), vec![7u8; 4096]).unwrap();
    let secret = outside.path().join("secret");
    type Describe<'a> = Box<dyn Fn(&str, usize, usize) -> Vec<StringStringEntryProto> + 'a>;
    let cases: Vec<(&str, Describe)> = vec![
        (
            "absolute",
            Box::new(|_, o, l| {
                vec![
                    entry("location", secret.to_str().unwrap()),
                    entry("offset", &o.to_string()),
                    entry("length", &l.to_string()),
                ]
            }),
        ),
        (
            "parent",
            Box::new(|_, o, l| {
                vec![
                    entry("location", "../secret"),
                    entry("offset", &o.to_string()),
                    entry("length", &l.to_string()),
                ]
            }),
        ),
        (
            "link",
            Box::new(|_, o, l| {
                vec![
                    entry("location", "link"),
                    entry("offset", &o.to_string()),
                    entry("length", &l.to_string()),
                ]
            }),
        ),
        (
            "short",
            Box::new(|_, o, l| {
                vec![
                    entry("location", "model.onnx.data"),
                    entry("offset", &o.to_string()),
                    entry("length", &(l - 4).to_string()),
                ]
            }),
        ),
        (
            "beyond",
            Box::new(|_, o, l| {
                vec![
                    entry("location", "model.onnx.data"),
                    entry("offset", &(o + 1000).to_string()),
                    entry("length", &l.to_string()),
                ]
            }),
        ),
        (
            "huge",
            Box::new(|_, _, l| {
                vec![
                    entry("location", "model.onnx.data"),
                    entry("offset", &u64::MAX.to_string()),
                    entry("length", &l.to_string()),
                ]
            }),
        ),
        (
            "nowhere",
            Box::new(|_, o, _| vec![entry("offset", &o.to_string())]),
        ),
        (
            "unknown",
            Box::new(|n, o, l| {
                let mut e = honest(n, o, l);
                e.push(entry("basepath", "/"));
                e
            }),
        ),
        (
            "missing",
            Box::new(|_, o, l| {
                vec![
                    entry("location", "absent.data"),
                    entry("offset", &o.to_string()),
                    entry("length", &l.to_string()),
                ]
            }),
        ),
        (
            "folder",
            Box::new(|_, o, l| {
                vec![
                    entry("location", "."),
                    entry("offset", &o.to_string()),
                    entry("length", &l.to_string()),
                ]
            }),
        ),
    ];
    for (case, describe) in cases {
        let dir = tempfile::tempdir().unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&secret, dir.path().join("link")).unwrap();
        let path = exported(dir.path(), describe);
        let err = import(&path).unwrap_err();
        assert!(
            matches!(&err, IrError::ExternalData { tensor, .. } if tensor == "w"),
            "{case}: {err}"
        );
        let calibration = vec![sample(4, 0)];
        let err = compile_file(&path, calibration, &CompileOptions::default()).unwrap_err();
        assert!(
            matches!(err, Error::Ir(IrError::ExternalData { .. })),
            "{case}: {err}"
        );
    }
}

/// PyTorch's exporter sets `allowzero = 1` on every `Reshape`: the same meaning when the
/// target shape has no zero; a zero with it (an empty tensor) is refused by name.
#[test]
fn reshape_with_allowzero_and_no_zero_is_a_reshape() {
    let reshape = |target: &[i64]| {
        model_io(
            vec![
                node("Reshape", &["x", "s"], "r", vec![int_attr("allowzero", 1)]),
                node("Relu", &["r"], "y", vec![]),
            ],
            vec![int_tensor("s", &[target.len() as i64], target)],
            &[("x", &[1, 2, 6])],
            "y",
            14,
        )
    };
    agrees_with_tract_on(&reshape(&[1, 3, 4]), &[sample(12, 0), sample(12, 3)]);
    agrees_with_tract_on(&reshape(&[1, -1, 2]), &[sample(12, 1)]);
    let err = import_bytes(&reshape(&[1, 0, 6]), "t").unwrap_err();
    assert!(
        matches!(&err, IrError::Unsupported { op, .. } if op == "Reshape")
            && err.to_string().contains("allowzero = 1"),
        "{err}"
    );
}
