//! ONNX import through tract-onnx's protobuf decoder (feature `onnx`, on by default).
//!
//! Supported, batch size 1:
//! - linear: `Gemm`, `MatMul` with constant weights, `Conv` (1-D/2-D/…, strides, pads,
//!   dilations, groups incl. depthwise, `auto_pad`);
//! - pooling: `AveragePool`, `MaxPool`, `GlobalAveragePool`, `GlobalMaxPool`;
//! - `Relu`; `Add` and `Mul` of two activations (residual connections, gating, the erf
//!   form of GELU); `Softmax` (one axis; the
//!   opset-13 default, the last axis, when none is given) and `ArgMax` (first index);
//! - by table lookup ([`crate::graph::activation`]): `Sigmoid`, `Tanh`, `Exp`, `Erf`, `Softplus`,
//!   `Gelu` (exact form), `LeakyRelu`, `Elu`, `HardSigmoid`, `Clip` (Relu6), `PRelu` with
//!   one slope;
//! - composed of the above (module `reduce`): `ReduceMean`, `ReduceSum`, `ReduceMax` over
//!   any axes, `LogSoftmax`, `PRelu` with per-channel slopes;
//! - constants folded into the preceding linear layer when nothing else reads its output,
//!   else an elementwise affine node: `Add`/`Sub`/`Mul`/`Div` by a constant and
//!   `BatchNormalization`;
//! - shape only, no cost: `Flatten`, `Reshape`, `Squeeze`, `Unsqueeze`, `Identity`,
//!   `Dropout` (inference); pure wiring: `Transpose`, `Concat`, `Pad` (constant mode);
//! - `Constant`.
//!
//! Anything else is an [`IrError::Unsupported`] naming the op and the node; nothing is
//! skipped silently. Float constants are decoded here (not by tract's loader, which panics
//! on unknown data types), so a damaged file is a typed error.

use std::collections::HashMap;
use std::path::Path;

use ndarray::{Array1, Array2, ArrayD, IxDyn};
use tract_onnx::pb;
use tract_onnx::prelude::Framework;

use crate::error::IrError;
use crate::graph::ir::{FloatGraph, FloatNode, FloatOp, InputPart, Source};
use crate::graph::window::Axis;

mod attributes;
mod compile;
mod conv;
mod elementwise;
mod fold;
mod matmul;
mod proto;
mod reduce;
mod reference;
mod wiring;

pub use compile::{compile_file, Compiled};
pub use reference::{
    check_against_reference, reference_forward, ReferenceCheck, REFERENCE_SAMPLES,
};

use proto::{attr, attr_f, attr_i, decode_float, decode_ints, input_shape, INT64};
use wiring::{len, reshape, squeeze};

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
    Importer::new(&graph, proto.opset_import.clone())?.run(&graph)
}

/// An activation: a tensor id of the float graph and its ONNX shape (batch included).
#[derive(Clone, Debug)]
struct Act {
    id: usize,
    shape: Vec<usize>,
}

struct Importer {
    floats: HashMap<String, ArrayD<f32>>,
    ints: HashMap<String, Vec<i64>>,
    /// Every constant as a tensor proto, for constant folding.
    protos: HashMap<String, pb::TensorProto>,
    /// The model's opsets, for constant folding.
    opsets: Vec<pb::OperatorSetIdProto>,
    acts: HashMap<String, Act>,
    /// How many nodes read each tensor name (folding must not change what others read).
    readers: HashMap<String, usize>,
    input_name: String,
    input_shape: Vec<usize>,
    input_parts: Vec<InputPart>,
    nodes: Vec<FloatNode>,
}

/// What one ONNX node is about, for errors.
struct Ctx<'a> {
    node: &'a pb::NodeProto,
    name: String,
}

impl Ctx<'_> {
    fn op(&self) -> &str {
        &self.node.op_type
    }
    fn unsupported(&self, detail: impl Into<String>) -> IrError {
        IrError::Unsupported {
            op: self.op().to_string(),
            node: self.name.clone(),
            detail: detail.into(),
        }
    }
    fn shape(&self, expected: impl Into<String>, got: impl Into<String>) -> IrError {
        IrError::Shape {
            node: self.name.clone(),
            expected: expected.into(),
            got: got.into(),
        }
    }
    /// Ops that read `[N, …]` as one sample need `N = 1`.
    fn single_batch(&self, shape: &[usize]) -> Result<(), IrError> {
        match shape.first() {
            Some(&size) if size != 1 && shape.len() > 1 => Err(IrError::Batch {
                node: self.name.clone(),
                size,
            }),
            _ => Ok(()),
        }
    }
    fn input(&self, index: usize) -> Result<&str, IrError> {
        self.node
            .input
            .get(index)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.shape(format!("input #{index}"), "none"))
    }
    fn ints(&self, name: &str) -> Option<Vec<usize>> {
        attr(self.node, name).map(|a| a.ints.iter().map(|v| (*v).max(0) as usize).collect())
    }
}

impl Importer {
    fn new(graph: &pb::GraphProto, opsets: Vec<pb::OperatorSetIdProto>) -> Result<Self, IrError> {
        let mut floats = HashMap::new();
        let mut ints = HashMap::new();
        let mut protos = HashMap::new();
        for t in &graph.initializer {
            match t.data_type {
                INT64 => {
                    ints.insert(t.name.clone(), decode_ints(t, &t.name)?);
                }
                _ => {
                    floats.insert(t.name.clone(), decode_float(t, &t.name)?);
                }
            }
            protos.insert(t.name.clone(), t.clone());
        }
        let inputs: Vec<_> = graph
            .input
            .iter()
            .filter(|i| !floats.contains_key(&i.name) && !ints.contains_key(&i.name))
            .collect();
        if inputs.is_empty() {
            return Err(IrError::Empty("no graph input".into()));
        }
        let mut readers: HashMap<String, usize> = HashMap::new();
        for node in &graph.node {
            for i in &node.input {
                *readers.entry(i.clone()).or_default() += 1;
            }
        }
        let shapes = inputs
            .iter()
            .map(|i| input_shape(i))
            .collect::<Result<Vec<_>, _>>()?;
        let mut nodes = Vec::new();
        let mut acts = HashMap::new();
        let mut input_parts = Vec::new();
        let (input_name, input_shape) = if let ([input], [shape]) = (&inputs[..], &shapes[..]) {
            acts.insert(
                input.name.clone(),
                Act {
                    id: 0,
                    shape: shape.clone(),
                },
            );
            (input.name.clone(), shape.clone())
        } else {
            // Several inputs: the graph's input is their concatenation, and a wiring node
            // (no rows) slices each one out.
            let mut offset = 0;
            for (input, shape) in inputs.iter().zip(&shapes) {
                let n = len(shape);
                let sources = (offset..offset + n)
                    .map(|index| Source::Element { input: 0, index })
                    .collect();
                nodes.push(FloatNode {
                    name: input.name.clone(),
                    op: FloatOp::Wiring { sources },
                    inputs: vec![0],
                });
                let id = nodes.len();
                acts.insert(
                    input.name.clone(),
                    Act {
                        id,
                        shape: shape.clone(),
                    },
                );
                input_parts.push(InputPart {
                    name: input.name.clone(),
                    shape: shape.clone(),
                });
                offset += n;
            }
            let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
            (names.join("+"), vec![offset])
        };
        Ok(Self {
            floats,
            ints,
            protos,
            opsets,
            acts,
            readers,
            input_name,
            input_shape,
            input_parts,
            nodes,
        })
    }

    fn run(mut self, graph: &pb::GraphProto) -> Result<FloatGraph, IrError> {
        for (i, node) in graph.node.iter().enumerate() {
            let name = if node.name.is_empty() {
                format!("{}_{i}", node.op_type)
            } else {
                node.name.clone()
            };
            self.node(&Ctx { node, name })?;
        }
        let output = match graph.output.as_slice() {
            [one] => one,
            [] => return Err(IrError::Empty("no graph output".into())),
            many => {
                return Err(IrError::Unsupported {
                    op: "graph".into(),
                    node: many
                        .iter()
                        .map(|o| o.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    detail: ": only models with one output are supported".into(),
                })
            }
        };
        let act = self
            .acts
            .get(&output.name)
            .cloned()
            .ok_or_else(|| IrError::UnknownTensor {
                node: "graph output".into(),
                tensor: output.name.clone(),
            })?;
        // The output is the last node's, unless it is an earlier tensor or the input itself
        // (a graph of shape-only nodes, whose nodes vanish at import): then copy it out.
        if act.id == 0 || act.id != self.nodes.len() {
            let sources = (0..len(&act.shape))
                .map(|index| Source::Element { input: 0, index })
                .collect();
            self.nodes.push(FloatNode {
                name: output.name.clone(),
                op: FloatOp::Wiring { sources },
                inputs: vec![act.id],
            });
        }
        let graph = FloatGraph {
            input_name: self.input_name,
            input_shape: self.input_shape,
            nodes: self.nodes,
            input_parts: self.input_parts,
        };
        graph.validate()?;
        Ok(graph)
    }

    fn node(&mut self, cx: &Ctx<'_>) -> Result<(), IrError> {
        let output = cx
            .node
            .output
            .first()
            .cloned()
            .ok_or_else(|| cx.unsupported(": the node has no output"))?;
        if cx.op() != "Constant" && self.foldable(cx) {
            return self.fold(cx);
        }
        attributes::check_attributes(cx)?;
        if cx.node.output.iter().skip(1).any(|o| !o.is_empty())
            && !matches!(cx.op(), "Dropout" | "BatchNormalization")
        {
            return Err(cx.unsupported(": only the first output can be used"));
        }
        let act = match cx.op() {
            "Constant" => {
                let t = attr(cx.node, "value")
                    .and_then(|a| a.t.as_ref())
                    .ok_or_else(|| cx.unsupported(": only tensor constants"))?;
                return self.constant_proto(&output, t.clone());
            }
            "Shape" => {
                // Shapes are static: the shape of an activation is a constant.
                let x = self.act(cx, 0)?;
                let rank = x.shape.len() as i64;
                let bound = |name: &str, default: i64| {
                    let v = attr_i(cx.node, name, default);
                    (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize
                };
                let (start, end) = (bound("start", 0), bound("end", rank));
                let dims = x.shape[start..end.max(start)]
                    .iter()
                    .map(|d| *d as i64)
                    .collect();
                self.ints.insert(output, dims);
                return Ok(());
            }
            "Gemm" => {
                if attr_i(cx.node, "transA", 0) != 0 {
                    return Err(cx.unsupported(": transA = 1"));
                }
                let x = self.act(cx, 0)?;
                let b = self.matrix(cx, 1)?;
                let w = if attr_i(cx.node, "transB", 0) != 0 {
                    b
                } else {
                    b.reversed_axes()
                };
                let w = w.mapv(|v| v * attr_f(cx.node, "alpha", 1.0));
                let out = w.dim().0;
                let bias = match cx.node.input.get(2).filter(|s| !s.is_empty()) {
                    Some(c) => self
                        .vector(cx, c, out)?
                        .mapv(|v| v * attr_f(cx.node, "beta", 1.0)),
                    None => Array1::zeros(out),
                };
                self.dense(cx, &x, w, bias)?
            }
            "MatMul" => {
                let x = self.act(cx, 0)?;
                if let Some(y) = self.acts.get(cx.input(1)?).cloned() {
                    return self.matmul_activations(cx, &x, &y).map(|act| {
                        self.acts.insert(output, act);
                    });
                }
                let w = self.matrix(cx, 1)?.reversed_axes();
                let out = w.dim().0;
                self.dense(cx, &x, w, Array1::zeros(out))?
            }
            "Conv" => self.conv(cx)?,
            "AveragePool" | "MaxPool" | "GlobalAveragePool" | "GlobalMaxPool" => self.pool(cx)?,
            "Relu" => {
                let x = self.act(cx, 0)?;
                self.push(cx, FloatOp::Relu, vec![x.id], x.shape)
            }
            "ReduceMean" | "ReduceSum" | "ReduceMax" => self.reduce(cx)?,
            "LogSoftmax" => self.log_softmax(cx)?,
            "PRelu" => self.prelu(cx)?,
            "Sigmoid" | "Tanh" | "Exp" | "Erf" | "Softplus" | "Gelu" | "LeakyRelu"
            | "HardSigmoid" | "Clip" | "Elu" => {
                let x = self.act(cx, 0)?;
                let f = self.activation(cx)?;
                self.push(cx, FloatOp::Activation(f), vec![x.id], x.shape)
            }
            "Add" | "Sub" | "Mul" | "Div" => self.binary(cx)?,
            "ArgMax" | "Softmax" => {
                let x = self.act(cx, 0)?;
                let default = if cx.op() == "Softmax" { -1 } else { 0 };
                let a = attr_i(cx.node, "axis", default);
                let axis = Axis::of(&x.shape, a)
                    .ok_or_else(|| cx.shape(format!("an axis of {:?}", x.shape), format!("{a}")))?;
                if cx.op() == "Softmax" {
                    self.push(cx, FloatOp::Softmax(axis), vec![x.id], x.shape)
                } else {
                    if attr_i(cx.node, "select_last_index", 0) != 0 {
                        return Err(cx.unsupported(": select_last_index = 1"));
                    }
                    let rank = x.shape.len() as i64;
                    let a = usize::try_from(if a < 0 { a + rank } else { a }).unwrap_or(0);
                    let mut shape = x.shape.clone();
                    if attr_i(cx.node, "keepdims", 1) != 0 {
                        shape[a] = 1;
                    } else {
                        shape.remove(a);
                    }
                    self.push(cx, FloatOp::ArgMax(axis), vec![x.id], shape)
                }
            }
            "BatchNormalization" => {
                let x = self.act(cx, 0)?;
                let channels = x.shape.get(1).copied().unwrap_or(1);
                let eps = attr_f(cx.node, "epsilon", 1e-5);
                let p: Vec<Array1<f32>> = (1..5)
                    .map(|i| cx.input(i).and_then(|t| self.vector(cx, t, channels)))
                    .collect::<Result<_, _>>()?;
                // Layout [N, C, D1, …]: element i belongs to channel (i / inner) % C, for
                // any N (not only a leading 1).
                let inner = len(x.shape.get(2..).unwrap_or_default());
                let [gamma, beta, mean, var] = [&p[0], &p[1], &p[2], &p[3]];
                let per_channel: Vec<(f32, f32)> = (0..channels)
                    .map(|c| {
                        let s = gamma[c] / (var[c] + eps).sqrt();
                        (s, beta[c] - mean[c] * s)
                    })
                    .collect();
                let (scale, bias): (Vec<f32>, Vec<f32>) = (0..len(&x.shape))
                    .map(|i| per_channel[(i / inner.max(1)) % channels.max(1)])
                    .unzip();
                self.affine(cx, &x, scale, bias)
            }
            "Flatten" => {
                let x = self.act(cx, 0)?;
                let rank = x.shape.len() as i64;
                let axis = attr_i(cx.node, "axis", 1);
                let axis = usize::try_from(if axis < 0 { axis + rank } else { axis })
                    .ok()
                    .filter(|a| *a as i64 <= rank)
                    .ok_or_else(|| cx.shape("an axis within the rank", format!("{axis}")))?;
                Act {
                    id: x.id,
                    shape: vec![len(&x.shape[..axis]), len(&x.shape[axis..])],
                }
            }
            "Reshape" => {
                let x = self.act(cx, 0)?;
                let target = self
                    .ints
                    .get(cx.input(1)?)
                    .ok_or_else(|| cx.unsupported(": the target shape must be a constant"))?;
                Act {
                    id: x.id,
                    shape: reshape(cx, &x.shape, target)?,
                }
            }
            "Squeeze" | "Unsqueeze" => {
                let x = self.act(cx, 0)?;
                let axes: Vec<i64> = match cx.node.input.get(1).filter(|s| !s.is_empty()) {
                    Some(t) => self.ints.get(t).cloned().unwrap_or_default(),
                    None => attr(cx.node, "axes")
                        .map(|a| a.ints.clone())
                        .unwrap_or_default(),
                };
                Act {
                    id: x.id,
                    shape: squeeze(cx, &x.shape, &axes)?,
                }
            }
            "Identity" | "Dropout" => self.act(cx, 0)?,
            "Transpose" => self.transpose(cx)?,
            "Concat" => self.concat(cx)?,
            "Pad" => self.pad(cx)?,
            _ => return Err(cx.unsupported("")),
        };
        self.acts.insert(output, act);
        Ok(())
    }

    fn push(&mut self, cx: &Ctx<'_>, op: FloatOp, inputs: Vec<usize>, shape: Vec<usize>) -> Act {
        self.push_named(cx, "", op, inputs, shape)
    }

    /// [`Importer::push`] for one of several nodes an ONNX node becomes: named after it with
    /// `suffix`.
    fn push_named(
        &mut self,
        cx: &Ctx<'_>,
        suffix: &str,
        op: FloatOp,
        inputs: Vec<usize>,
        shape: Vec<usize>,
    ) -> Act {
        self.nodes.push(FloatNode {
            name: format!("{}{suffix}", cx.name),
            op,
            inputs,
        });
        Act {
            id: self.nodes.len(),
            shape,
        }
    }

    /// The activation read as input `index`.
    fn act(&self, cx: &Ctx<'_>, index: usize) -> Result<Act, IrError> {
        let t = cx.input(index)?;
        if let Some(act) = self.acts.get(t) {
            return Ok(act.clone());
        }
        if self.floats.contains_key(t) || self.ints.contains_key(t) {
            return Err(cx.unsupported(format!(
                ": input {index} ('{t}') must be the activation, not a constant"
            )));
        }
        Err(IrError::UnknownTensor {
            node: cx.name.clone(),
            tensor: t.to_string(),
        })
    }

    fn constant(&self, cx: &Ctx<'_>, tensor: &str) -> Result<&ArrayD<f32>, IrError> {
        self.floats
            .get(tensor)
            .ok_or_else(|| IrError::UnknownTensor {
                node: cx.name.clone(),
                tensor: tensor.to_string(),
            })
    }

    /// A constant broadcast (numpy rules) to an activation's shape, flat.
    fn broadcast(&self, cx: &Ctx<'_>, tensor: &str, shape: &[usize]) -> Result<Vec<f32>, IrError> {
        let c = self.constant(cx, tensor)?;
        c.broadcast(IxDyn(shape))
            .map(|v| v.iter().copied().collect())
            .ok_or_else(|| {
                cx.shape(
                    format!("'{tensor}' broadcastable to {shape:?}"),
                    format!("{:?}", c.shape()),
                )
            })
    }

    fn matrix(&self, cx: &Ctx<'_>, index: usize) -> Result<Array2<f32>, IrError> {
        let tensor = cx.input(index)?;
        let t = self.constant(cx, tensor)?;
        t.clone()
            .into_dimensionality()
            .map_err(|_| cx.shape(format!("'{tensor}' of rank 2"), format!("{:?}", t.shape())))
    }

    /// A constant of `len` values (any shape with that many; one value broadcasts).
    fn vector(&self, cx: &Ctx<'_>, tensor: &str, len: usize) -> Result<Array1<f32>, IrError> {
        let t = self.constant(cx, tensor)?;
        match t.len() {
            n if n == len => Ok(t.iter().copied().collect()),
            1 => Ok(Array1::from_elem(
                len,
                t.iter().copied().next().unwrap_or(0.0),
            )),
            n => Err(cx.shape(format!("'{tensor}' with {len} values"), format!("{n}"))),
        }
    }
}
