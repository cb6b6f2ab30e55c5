//! ONNX import through tract-onnx's protobuf decoder (feature `onnx`, on by default).
//!
//! Supported in this version, on a single chain with batch size 1: `Gemm`, `MatMul` with
//! constant weights, `Add` of a constant (folded into the preceding linear layer's bias),
//! `Relu`, `Flatten`, `Reshape`, `Identity`, `Dropout` (inference: identity), `Constant`,
//! and `BatchNormalization` folded into the preceding linear layer. Anything else is an
//! [`IrError::Unsupported`] naming the op and the node; nothing is skipped silently.
//!
//! Float constants are decoded here (not by tract's loader, which panics on unknown data
//! types), so a damaged file is a typed error.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use ndarray::{Array1, Array2, ArrayD, IxDyn};
use tract_onnx::pb::{self, tensor_shape_proto::dimension, type_proto};
use tract_onnx::prelude::Framework;

use crate::error::IrError;
use crate::ir::{FloatGraph, FloatLayer};

const FLOAT: i32 = 1;
const INT64: i32 = 7;

/// Imports an ONNX file.
pub fn import(path: &Path) -> Result<FloatGraph, IrError> {
    let bytes = std::fs::read(path).map_err(|e| IrError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    import_bytes(&bytes, &path.display().to_string())
}

/// Imports an ONNX model from memory; `origin` names it in errors.
pub fn import_bytes(bytes: &[u8], origin: &str) -> Result<FloatGraph, IrError> {
    let read_err = |reason: String| IrError::Read {
        path: origin.to_string(),
        reason,
    };
    let proto = tract_onnx::onnx()
        .proto_model_for_read(&mut &bytes[..])
        .map_err(|e| read_err(format!("not an ONNX protobuf: {e}")))?;
    let graph = proto
        .graph
        .ok_or_else(|| read_err("the file has no graph".into()))?;
    Importer::new(&graph)?.run(&graph)
}

struct Importer {
    floats: HashMap<String, ArrayD<f32>>,
    ints: HashSet<String>,
    current: String,
    len: usize,
    input_name: String,
    input_shape: Vec<usize>,
    layers: Vec<FloatLayer>,
}

impl Importer {
    fn new(graph: &pb::GraphProto) -> Result<Self, IrError> {
        let mut floats = HashMap::new();
        let mut ints = HashSet::new();
        for t in &graph.initializer {
            match t.data_type {
                INT64 => {
                    ints.insert(t.name.clone());
                }
                _ => {
                    floats.insert(t.name.clone(), decode_float(t, &t.name)?);
                }
            }
        }
        let inputs: Vec<_> = graph
            .input
            .iter()
            .filter(|i| !floats.contains_key(&i.name) && !ints.contains(&i.name))
            .collect();
        let input = match inputs.as_slice() {
            [one] => *one,
            [] => return Err(IrError::Empty("no graph input".into())),
            many => {
                return Err(IrError::Unsupported {
                    op: "graph".into(),
                    node: many
                        .iter()
                        .map(|i| i.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    detail: ": only models with one input are supported".into(),
                })
            }
        };
        let input_shape = input_shape(input)?;
        Ok(Self {
            floats,
            ints,
            current: input.name.clone(),
            len: input_shape.iter().product(),
            input_name: input.name.clone(),
            input_shape,
            layers: Vec::new(),
        })
    }

    fn run(mut self, graph: &pb::GraphProto) -> Result<FloatGraph, IrError> {
        for (i, node) in graph.node.iter().enumerate() {
            let name = if node.name.is_empty() {
                format!("{}_{i}", node.op_type)
            } else {
                node.name.clone()
            };
            self.node(node, &name)?;
        }
        let output = graph
            .output
            .first()
            .ok_or_else(|| IrError::Empty("no graph output".into()))?;
        if output.name != self.current {
            return Err(IrError::UnknownTensor {
                node: "graph output".into(),
                tensor: output.name.clone(),
            });
        }
        let graph = FloatGraph {
            input_name: self.input_name,
            input_shape: self.input_shape,
            layers: self.layers,
        };
        graph.validate()?;
        Ok(graph)
    }

    fn node(&mut self, node: &pb::NodeProto, name: &str) -> Result<(), IrError> {
        let op = node.op_type.as_str();
        let unsupported = |detail: &str| IrError::Unsupported {
            op: op.to_string(),
            node: name.to_string(),
            detail: detail.to_string(),
        };
        let output = node
            .output
            .first()
            .cloned()
            .ok_or_else(|| unsupported(": the node has no output"))?;
        match op {
            "Constant" => {
                let t = attr(node, "value")
                    .and_then(|a| a.t.as_ref())
                    .ok_or_else(|| unsupported(": only tensor constants"))?;
                if t.data_type == INT64 {
                    self.ints.insert(output);
                } else {
                    self.floats
                        .insert(output.clone(), decode_float(t, &output)?);
                }
                return Ok(());
            }
            "Gemm" => {
                self.expect_current(node, name, 0)?;
                if attr_i(node, "transA", 0) != 0 {
                    return Err(unsupported(": transA = 1"));
                }
                let b = self.matrix(node, name, 1)?;
                let alpha = attr_f(node, "alpha", 1.0);
                let beta = attr_f(node, "beta", 1.0);
                let w = if attr_i(node, "transB", 0) != 0 {
                    b
                } else {
                    b.reversed_axes()
                };
                let w = w.mapv(|v| v * alpha);
                let (out, _) = w.dim();
                let bias = match node.input.get(2).filter(|s| !s.is_empty()) {
                    Some(c) => self.vector(c, name, out)?.mapv(|v| v * beta),
                    None => Array1::zeros(out),
                };
                self.dense(name, w, bias)?;
            }
            "MatMul" => {
                self.expect_current(node, name, 0)?;
                let w = self.matrix(node, name, 1)?.reversed_axes();
                let out = w.dim().0;
                self.dense(name, w, Array1::zeros(out))?;
            }
            "Add" => {
                let (other, _) = self.split_current(node, name)?;
                let bias = self.vector(&other, name, self.len)?;
                match self.layers.last_mut() {
                    Some(FloatLayer::Dense { bias: b, .. }) => *b = &*b + &bias,
                    _ => return Err(unsupported(": Add of a constant is supported after Gemm/MatMul; residual Add comes with convolutional networks")),
                }
            }
            "BatchNormalization" => {
                self.expect_current(node, name, 0)?;
                let eps = attr_f(node, "epsilon", 1e-5);
                let p: Vec<Array1<f32>> = (1..5)
                    .map(|i| {
                        node.input
                            .get(i)
                            .ok_or_else(|| unsupported(": missing parameters"))
                            .and_then(|t| self.vector(t, name, self.len))
                    })
                    .collect::<Result<_, _>>()?;
                let scale: Array1<f32> = p[0]
                    .iter()
                    .zip(&p[3])
                    .map(|(g, var)| g / (var + eps).sqrt())
                    .collect();
                match self.layers.last_mut() {
                    Some(FloatLayer::Dense { weights, bias, .. }) => {
                        for (mut row, s) in weights.outer_iter_mut().zip(&scale) {
                            row.mapv_inplace(|w| w * s);
                        }
                        *bias = (&*bias - &p[2]) * &scale + &p[1];
                    }
                    _ => {
                        return Err(unsupported(
                            ": BatchNormalization must follow a linear layer to be folded",
                        ))
                    }
                }
            }
            "Relu" => {
                self.expect_current(node, name, 0)?;
                self.layers.push(FloatLayer::Relu {
                    name: name.to_string(),
                });
            }
            "Flatten" | "Reshape" | "Identity" | "Dropout" => {
                // Batch size 1 and flat layers: these change no value, only the shape.
                self.expect_current(node, name, 0)?;
            }
            _ => return Err(unsupported("")),
        }
        self.current = output;
        Ok(())
    }

    fn dense(
        &mut self,
        name: &str,
        weights: Array2<f32>,
        bias: Array1<f32>,
    ) -> Result<(), IrError> {
        let (out, inp) = weights.dim();
        if inp != self.len {
            return Err(IrError::Shape {
                node: name.to_string(),
                expected: format!("{} inputs", self.len),
                got: format!("weights for {inp}"),
            });
        }
        self.len = out;
        self.layers.push(FloatLayer::Dense {
            name: name.to_string(),
            weights,
            bias,
        });
        Ok(())
    }

    fn expect_current(
        &self,
        node: &pb::NodeProto,
        name: &str,
        index: usize,
    ) -> Result<(), IrError> {
        match node.input.get(index) {
            Some(t) if *t == self.current => Ok(()),
            Some(t) if self.floats.contains_key(t) || self.ints.contains(t) => {
                Err(IrError::Unsupported {
                    op: node.op_type.clone(),
                    node: name.to_string(),
                    detail: format!(
                        ": input {index} ('{t}') must be the activation, not a constant"
                    ),
                })
            }
            Some(t) => Err(IrError::UnknownTensor {
                node: name.to_string(),
                tensor: t.clone(),
            }),
            None => Err(IrError::Shape {
                node: name.to_string(),
                expected: format!("input #{index}"),
                got: "none".into(),
            }),
        }
    }

    /// For a binary op: the constant operand's name and the activation's position.
    fn split_current(&self, node: &pb::NodeProto, name: &str) -> Result<(String, usize), IrError> {
        match node.input.as_slice() {
            [a, b] if *a == self.current && self.floats.contains_key(b) => Ok((b.clone(), 0)),
            [a, b] if *b == self.current && self.floats.contains_key(a) => Ok((a.clone(), 1)),
            _ => Err(IrError::Unsupported {
                op: node.op_type.clone(),
                node: name.to_string(),
                detail: ": needs the activation and one constant; Add of two activations comes with residual networks".into(),
            }),
        }
    }

    fn constant(&self, tensor: &str, node: &str) -> Result<&ArrayD<f32>, IrError> {
        self.floats
            .get(tensor)
            .ok_or_else(|| IrError::UnknownTensor {
                node: node.to_string(),
                tensor: tensor.to_string(),
            })
    }

    fn matrix(
        &self,
        node: &pb::NodeProto,
        name: &str,
        index: usize,
    ) -> Result<Array2<f32>, IrError> {
        let tensor = node.input.get(index).ok_or_else(|| IrError::Shape {
            node: name.to_string(),
            expected: format!("input #{index}"),
            got: "none".into(),
        })?;
        let t = self.constant(tensor, name)?;
        t.clone().into_dimensionality().map_err(|_| IrError::Shape {
            node: name.to_string(),
            expected: format!("'{tensor}' of rank 2"),
            got: format!("{:?}", t.shape()),
        })
    }

    /// A constant of `len` values (any shape with that many; one value broadcasts).
    fn vector(&self, tensor: &str, node: &str, len: usize) -> Result<Array1<f32>, IrError> {
        let t = self.constant(tensor, node)?;
        match t.len() {
            n if n == len => Ok(t.iter().copied().collect()),
            1 => Ok(Array1::from_elem(
                len,
                t.iter().copied().next().unwrap_or(0.0),
            )),
            n => Err(IrError::Shape {
                node: node.to_string(),
                expected: format!("'{tensor}' with {len} values"),
                got: format!("{n}"),
            }),
        }
    }
}

fn attr<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn attr_i(node: &pb::NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).map_or(default, |a| a.i)
}

fn attr_f(node: &pb::NodeProto, name: &str, default: f32) -> f32 {
    attr(node, name).map_or(default, |a| a.f)
}

fn input_shape(input: &pb::ValueInfoProto) -> Result<Vec<usize>, IrError> {
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
    shape
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
        .collect()
}

fn decode_float(t: &pb::TensorProto, name: &str) -> Result<ArrayD<f32>, IrError> {
    let bad = |reason: String| IrError::BadConstant {
        tensor: name.to_string(),
        reason,
    };
    if t.data_type != FLOAT {
        return Err(bad(format!(
            "data type {} (only float32 weights are supported)",
            t.data_type
        )));
    }
    if t.data_location == Some(pb::tensor_proto::DataLocation::External as i32) {
        return Err(bad("external data files are not supported".into()));
    }
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|d| usize::try_from(*d).map_err(|_| bad(format!("negative dimension {d}"))))
        .collect::<Result<_, _>>()?;
    let expected: usize = dims.iter().product();
    let values: Vec<f32> = if t.raw_data.is_empty() {
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
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(bad(format!("contains {v}")));
    }
    ArrayD::from_shape_vec(IxDyn(&dims), values).map_err(|e| bad(e.to_string()))
}
