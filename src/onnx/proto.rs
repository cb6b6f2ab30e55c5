//! Reading ONNX protobuf: node attributes, the input's shape, and constant tensors (decoded
//! here rather than by tract's loader, which panics on unknown data types).

use ndarray::{ArrayD, IxDyn};
use tract_onnx::pb::{self, tensor_shape_proto::dimension, type_proto};

use crate::error::IrError;

/// ONNX `TensorProto.DataType` of float32.
const FLOAT: i32 = 1;
/// ONNX `TensorProto.DataType` of int64.
pub(super) const INT64: i32 = 7;
const BOOL: i32 = 9;

pub(super) fn attr<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

pub(super) fn attr_i(node: &pb::NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).map_or(default, |a| a.i)
}

pub(super) fn attr_f(node: &pb::NodeProto, name: &str, default: f32) -> f32 {
    attr(node, name).map_or(default, |a| a.f)
}

/// Whether a graph input holds integers (ONNX `int8` … `uint64`: token ids, indices).
pub(super) fn is_integer_input(input: &pb::ValueInfoProto) -> bool {
    match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        // UINT8, INT8, UINT16, INT16, INT32, INT64, UINT32, UINT64.
        Some(type_proto::Value::TensorType(t)) => matches!(t.elem_type, 2..=7 | 12 | 13),
        _ => false,
    }
}

pub(super) fn input_shape(input: &pb::ValueInfoProto) -> Result<Vec<usize>, IrError> {
    let bad = |reason: &str| IrError::Shape {
        node: input.name.clone(),
        expected: "a tensor input of known shape".into(),
        got: reason.to_string(),
    };
    let Some(type_proto::Value::TensorType(t)) =
        input.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(bad("no tensor type"));
    };
    let shape = t.shape.as_ref().ok_or_else(|| bad("no shape"))?;
    let dims: Vec<usize> = shape
        .dim
        .iter()
        .enumerate()
        .map(|(i, d)| match &d.value {
            Some(dimension::Value::DimValue(v)) => {
                usize::try_from(*v).map_err(|_| bad("a negative dimension"))
            }
            // A symbolic batch dimension: we prove one sample.
            Some(dimension::Value::DimParam(_)) | None if i == 0 => Ok(1),
            _ => Err(bad("a symbolic dimension other than the batch")),
        })
        .collect::<Result<_, _>>()?;
    match dims.iter().try_fold(1usize, |n, d| n.checked_mul(*d)) {
        Some(n) if n <= MAX_INPUT_VALUES => Ok(dims),
        _ => Err(bad(&format!(
            "{dims:?}: more than {MAX_INPUT_VALUES} values"
        ))),
    }
}

/// The most values an input may have, so that a hostile shape cannot overflow sizes or
/// exhaust memory.
const MAX_INPUT_VALUES: usize = crate::graph::window::MAX_LEN;

pub(super) fn decode_ints(t: &pb::TensorProto, name: &str) -> Result<Vec<i64>, IrError> {
    if t.raw_data.is_empty() {
        return Ok(t.int64_data.clone());
    }
    if !t.raw_data.len().is_multiple_of(8) {
        return Err(IrError::BadConstant {
            tensor: name.to_string(),
            reason: format!(
                "{} raw bytes is not a whole number of int64s",
                t.raw_data.len()
            ),
        });
    }
    Ok(t.raw_data
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
        .collect())
}

pub(super) fn decode_float(t: &pb::TensorProto, name: &str) -> Result<ArrayD<f32>, IrError> {
    let bad = |reason: String| IrError::BadConstant {
        tensor: name.to_string(),
        reason,
    };
    if t.data_type != FLOAT && t.data_type != BOOL {
        return Err(bad(format!(
            "data type {} (only float32 weights and boolean masks are supported)",
            t.data_type
        )));
    }
    if t.data_location == Some(pb::tensor_proto::DataLocation::External as i32) {
        return Err(bad(
            "its data lie in an external file: import the model from its path (`onnx::import`, \
             `onnx::read_model`), beside its data file"
                .into(),
        ));
    }
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|d| usize::try_from(*d).map_err(|_| bad(format!("negative dimension {d}"))))
        .collect::<Result<_, _>>()?;
    let expected = dims
        .iter()
        .try_fold(1usize, |n, d| n.checked_mul(*d))
        .ok_or_else(|| bad(format!("shape {dims:?} has more values than memory")))?;
    let values: Vec<f32> = if t.data_type == BOOL {
        // Booleans as 0 and 1: one byte each in raw data, else int32_data.
        if t.raw_data.is_empty() {
            t.int32_data
                .iter()
                .map(|b| f32::from(u8::from(*b != 0)))
                .collect()
        } else {
            t.raw_data
                .iter()
                .map(|b| f32::from(u8::from(*b != 0)))
                .collect()
        }
    } else if t.raw_data.is_empty() {
        t.float_data.clone()
    } else {
        if !t.raw_data.len().is_multiple_of(4) {
            return Err(bad(format!(
                "{} raw bytes is not a whole number of float32s",
                t.raw_data.len()
            )));
        }
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    if values.len() != expected {
        return Err(bad(format!("{} values for shape {dims:?}", values.len())));
    }
    // Infinities are kept: a causal mask's fill is often −∞ (and leaves the graph, see
    // `Importer::where_`). Any that reach a node are refused by the graph's validation,
    // which names the node.
    if let Some(v) = values.iter().find(|v| v.is_nan()) {
        return Err(bad(format!("contains {v}")));
    }
    ArrayD::from_shape_vec(IxDyn(&dims), values).map_err(|e| bad(e.to_string()))
}

/// The number of values of `shape`.
pub(super) fn len(shape: &[usize]) -> usize {
    shape.iter().product()
}
