//! Tiny ONNX models built in memory, for importer tests.

use prost::Message;
use tract_onnx::pb::{
    tensor_shape_proto::{dimension, Dimension},
    type_proto, AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, TensorShapeProto,
    TypeProto, ValueInfoProto,
};
use zkinfer::onnx::import_bytes;

pub fn tensor(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        float_data: data.to_vec(),
        ..Default::default()
    }
}

pub fn node(op: &str, inputs: &[&str], output: &str, attributes: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: format!("{op}_node"),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute: attributes,
        ..Default::default()
    }
}

/// [`node`], named after its output as exporters name nodes (so several nodes of one op type
/// have distinct names).
pub fn output_node(
    op: &str,
    inputs: &[&str],
    output: &str,
    attributes: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        name: output.into(),
        ..node(op, inputs, output, attributes)
    }
}

pub fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i,
        r#type: 2,
        ..Default::default()
    }
}

pub fn float_attr(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        f,
        r#type: 1,
        ..Default::default()
    }
}

pub fn value_info(name: &str, dims: &[i64]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(dimension::Value::DimValue(*d)),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: 1,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn model(
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    input_len: i64,
    output: &str,
) -> Vec<u8> {
    let graph = GraphProto {
        node: nodes,
        initializer: initializers,
        input: vec![value_info("x", &[1, input_len])],
        output: vec![value_info(output, &[1])],
        ..Default::default()
    };
    ModelProto {
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

pub fn run(bytes: &[u8], x: &[f32]) -> Vec<f64> {
    import_bytes(bytes, "test")
        .unwrap()
        .forward(x)
        .pop()
        .unwrap()
}

pub fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (a, b) in a.iter().zip(b) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
}

pub fn int_tensor(name: &str, dims: &[i64], data: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 7,
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

pub fn ints_attr(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: ints.to_vec(),
        r#type: 7,
        ..Default::default()
    }
}

pub fn string_attr(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        s: s.as_bytes().to_vec(),
        r#type: 3,
        ..Default::default()
    }
}

/// A model with the given inputs (name, shape), at opset 13 unless `opset` says otherwise.
pub fn model_io(
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    inputs: &[(&str, &[i64])],
    output: &str,
    opset: i64,
) -> Vec<u8> {
    let graph = GraphProto {
        node: nodes,
        initializer: initializers,
        input: inputs.iter().map(|(n, d)| value_info(n, d)).collect(),
        output: vec![ValueInfoProto {
            name: output.into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    ModelProto {
        ir_version: 8,
        opset_import: vec![tract_onnx::pb::OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

/// Deterministic inputs in [-2, 2).
pub fn sample(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 37 + seed * 11) % 64) as f32) / 16.0 - 2.0)
        .collect()
}

/// zkinfer's float graph agrees with tract (an independent executor) on `inputs`.
pub fn agrees_with_tract_on(bytes: &[u8], inputs: &[Vec<f32>]) {
    let graph = import_bytes(bytes, "test").unwrap();
    for x in inputs {
        let ours = graph.eval(x);
        let theirs = zkinfer::onnx::reference_forward(bytes, &graph, x).unwrap();
        assert_eq!(ours.len(), theirs.len());
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            let b = f64::from(*b);
            assert!(
                (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                "output {i}: zkinfer {a}, tract {b}"
            );
        }
    }
}

/// Compiles on `inputs`, checks the integer outputs against tract as `compile` does, proves
/// the first input under MockProver, and shows that forging the first or the last public
/// output breaks the copy to the instance.
pub fn proves_on(
    bytes: &[u8],
    inputs: &[Vec<f32>],
) -> (zkinfer::CompiledModel, zkinfer::graph::witness::Witness) {
    use zkinfer::api::check_against_reference;
    use zkinfer::onnx::ReferenceCheck;
    let graph = import_bytes(bytes, "test").unwrap();
    let model =
        zkinfer::CompiledModel::compile(&graph, inputs, &zkinfer::CompileOptions::default())
            .unwrap();
    let check = check_against_reference(bytes, &graph, &model, inputs).unwrap();
    assert!(matches!(check, ReferenceCheck::Agrees { .. }), "{check}");
    let x = model.quantise_input(&inputs[0], false).unwrap();
    let w = model.witness(&x).unwrap();
    assert_eq!(model.mock(&w, &w.outputs()).unwrap(), vec![]);
    for index in [0, w.outputs().len() - 1] {
        let mut forged = w.outputs();
        forged[index] += 1;
        let failures = zkinfer_circuits::dev::describe(
            &model.mock(&w, &forged).unwrap(),
            zkinfer::circuit::LOOKUP_NAMES,
        );
        assert!(
            failures
                .iter()
                .any(|f| f.contains("Equality constraint not satisfied") || f.contains("equality")),
            "a forged public output {index} must break the copy to the instance: {failures:?}"
        );
    }
    (model, w)
}
