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
//!   `Gelu` (exact and tanh forms), `LeakyRelu`, `Elu`, `HardSigmoid`, `HardSwish`, `Clip` (Relu6), `PRelu` with
//!   one slope;
//! - composed of the above (module `reduce`): `ReduceMean`, `ReduceSum`, `ReduceMax` over
//!   any axes, `LogSoftmax`, `PRelu` with per-channel slopes, `LayerNormalization`;
//! - transformers: `Gather` of a constant embedding table by integer ids (a proven lookup)
//!   or of an activation by constant indices (wiring); `Split` (every output usable);
//!   `Where` with a constant condition (wiring), and as a causal mask before a `Softmax`
//!   (masked elements left out exactly); `Sub`/`Mul`/`Add` of two activations with
//!   broadcasting; `Pow` by 2 (a product), `Sqrt`, and `Div` by `Sqrt(v + ε)` (a layer
//!   normalisation: a reciprocal-root table);
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

use std::collections::{HashMap, HashSet};
use std::path::Path;

use ndarray::{Array1, Array2, ArrayD, IxDyn};
use tract_onnx::pb;
use tract_onnx::prelude::Framework;

use crate::error::IrError;
use crate::graph::ir::{FloatGraph, FloatNode, FloatOp, InputPart, Source, Wiring};
use crate::graph::TensorId;

mod attributes;
mod conv;
mod elementwise;
mod external;
mod fold;
mod gather;
mod matmul;
mod proto;
mod reduce;
mod reference;
mod wiring;

pub use external::read_model;
pub use reference::{
    compare_with_reference, reference_forward, Proven, ReferenceCheck, REFERENCE_SAMPLES,
};

use proto::{attr, decode_float, decode_ints, input_shape, is_integer_input, len, INT64};

/// How the importer builds the float graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportOptions {
    /// Fuse chains of elementwise ops of one activation into one table
    /// ([`crate::graph::fuse`]). On by default; off only to compare costs.
    pub fuse: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self { fuse: true }
    }
}

/// Imports an ONNX file (and the external data files beside it, [`read_model`]).
pub fn import(path: &Path) -> Result<FloatGraph, IrError> {
    import_with(path, ImportOptions::default())
}

/// [`import`] with options.
pub fn import_with(path: &Path, options: ImportOptions) -> Result<FloatGraph, IrError> {
    import_bytes_with(&read_model(path)?, &path.display().to_string(), options)
}

/// Imports an ONNX model from memory; `origin` names it in errors.
pub fn import_bytes(bytes: &[u8], origin: &str) -> Result<FloatGraph, IrError> {
    import_bytes_with(bytes, origin, ImportOptions::default())
}

/// [`import_bytes`] with options.
pub fn import_bytes_with(
    bytes: &[u8],
    origin: &str,
    options: ImportOptions,
) -> Result<FloatGraph, IrError> {
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
    Importer::new(&graph, proto.opset_import.clone())?.run(&graph, options)
}

/// An activation: a tensor id of the float graph and its ONNX shape (batch included).
#[derive(Clone, Debug)]
struct Act {
    id: TensorId,
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
    /// Per tensor: how many names it has in `acts` and how many readers those names have
    /// together (see [`Importer::read_once`]).
    aliases: HashMap<TensorId, (usize, usize)>,
    /// Per tensor: how many imported nodes read it.
    node_reads: HashMap<TensorId, usize>,
    input_name: String,
    input_shape: Vec<usize>,
    input_parts: Vec<InputPart>,
    /// Every model input holds integers (token ids).
    integer_input: bool,
    nodes: Vec<FloatNode>,
    /// Tensors a `Softmax` reads (a `Where` into one may be a causal mask).
    softmax_inputs: HashSet<String>,
    /// Causal masks: a `Where`'s output name → which elements it keeps.
    masks: HashMap<String, Vec<bool>>,
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
        // A graph output counts as a reader: folding must not change what it shows.
        let read = graph.node.iter().flat_map(|n| &n.input);
        for name in read.chain(graph.output.iter().map(|o| &o.name)) {
            *readers.entry(name.clone()).or_default() += 1;
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
                    id: TensorId::INPUT,
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
                    op: FloatOp::Wiring(Wiring(sources)),
                    inputs: vec![TensorId::INPUT],
                });
                let id = TensorId::of_node(nodes.len() - 1);
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
        let softmax_inputs = graph
            .node
            .iter()
            .filter(|n| n.op_type == "Softmax")
            .filter_map(|n| n.input.first().cloned())
            .collect();
        let integer_input = inputs.iter().all(|i| is_integer_input(i));
        let mut importer = Self {
            integer_input,
            softmax_inputs,
            masks: HashMap::new(),
            floats,
            ints,
            protos,
            opsets,
            acts: HashMap::new(),
            readers,
            aliases: HashMap::new(),
            node_reads: HashMap::new(),
            input_name,
            input_shape,
            input_parts,
            nodes: Vec::new(),
        };
        for node in nodes {
            importer.push_node(node);
        }
        for (name, act) in acts {
            importer.bind(name, act);
        }
        Ok(importer)
    }

    /// Names `act` `name` (a node's output, or a new name for a tensor: Reshape, Identity).
    fn bind(&mut self, name: String, act: Act) {
        let reads = self.readers.get(&name).copied().unwrap_or(0);
        let entry = self.aliases.entry(act.id).or_default();
        *entry = (entry.0 + 1, entry.1 + reads);
        if let Some(old) = self.acts.insert(name, act) {
            // A name bound twice (a malformed file): the old tensor loses it.
            if let Some(e) = self.aliases.get_mut(&old.id) {
                *e = (e.0.saturating_sub(1), e.1.saturating_sub(reads));
            }
        }
    }

    /// Appends `node`, counting what it reads.
    fn push_node(&mut self, node: FloatNode) {
        for id in &node.inputs {
            *self.node_reads.entry(*id).or_default() += 1;
        }
        self.nodes.push(node);
    }

    fn run(
        mut self,
        graph: &pb::GraphProto,
        options: ImportOptions,
    ) -> Result<FloatGraph, IrError> {
        for (i, node) in graph.node.iter().enumerate() {
            let name = if node.name.is_empty() {
                format!("{}_{i}", node.op_type)
            } else {
                node.name.clone()
            };
            self.node(&Ctx { node, name })?;
        }
        if graph.output.is_empty() {
            return Err(IrError::Empty("no graph output".into()));
        }
        let mut outputs = Vec::with_capacity(graph.output.len());
        for output in &graph.output {
            let act =
                self.acts
                    .get(&output.name)
                    .cloned()
                    .ok_or_else(|| IrError::UnknownTensor {
                        node: "graph output".into(),
                        tensor: output.name.clone(),
                    })?;
            // An output that is the input itself, or one listed already (a graph of
            // shape-only nodes, whose nodes vanish at import), is copied out by a wiring
            // node (no rows), so each output is its own tensor.
            let id = if act.id == TensorId::INPUT || outputs.contains(&act.id) {
                let sources = (0..len(&act.shape))
                    .map(|index| Source::Element { input: 0, index })
                    .collect();
                self.push_node(FloatNode {
                    name: output.name.clone(),
                    op: FloatOp::Wiring(Wiring(sources)),
                    inputs: vec![act.id],
                });
                TensorId::of_node(self.nodes.len() - 1)
            } else {
                act.id
            };
            outputs.push(id);
        }
        let mut graph = FloatGraph {
            integer_input: self.integer_input,
            input_name: self.input_name,
            input_shape: self.input_shape,
            nodes: self.nodes,
            outputs,
            input_parts: self.input_parts,
        };
        if options.fuse {
            crate::graph::fuse::fuse_elementwise(&mut graph);
        }
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
            && !matches!(cx.op(), "Dropout" | "BatchNormalization" | "Split")
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
                let dims = self.shape_of(cx)?;
                self.ints.insert(output, dims);
                return Ok(());
            }
            "Gemm" => self.gemm(cx)?,
            "MatMul" => self.matmul(cx)?,
            "Conv" => self.conv(cx)?,
            "AveragePool" | "MaxPool" | "GlobalAveragePool" | "GlobalMaxPool" => self.pool(cx)?,
            "Relu" => {
                let x = self.act(cx, 0)?;
                self.push(cx, FloatOp::Relu, vec![x.id], x.shape)
            }
            "ReduceMean" | "ReduceSum" | "ReduceMax" => self.reduce(cx)?,
            "LogSoftmax" => self.log_softmax(cx)?,
            "Softmax" => self.softmax(cx)?,
            "ArgMax" => self.argmax(cx)?,
            "PRelu" => self.prelu(cx)?,
            "Sigmoid" | "Tanh" | "Exp" | "Erf" | "Softplus" | "Gelu" | "LeakyRelu"
            | "HardSigmoid" | "HardSwish" | "Clip" | "Elu" | "Sqrt" => {
                let x = self.act(cx, 0)?;
                let f = self.activation(cx)?;
                self.push(cx, FloatOp::Activation(f), vec![x.id], x.shape)
            }
            "Add" | "Sub" | "Mul" | "Div" => self.binary(cx)?,
            "Max" => self.maximum(cx)?,
            "Pow" => self.pow(cx)?,
            "LayerNormalization" => self.layer_norm(cx)?,
            "Gather" => self.gather(cx)?,
            "Where" => self.where_(cx, &output)?,
            "IsNaN" | "IsInf" => return self.is_non_finite(cx, &output),
            "Split" => return self.split(cx),
            "BatchNormalization" => self.batch_norm(cx)?,
            "Flatten" => self.flatten(cx)?,
            "Reshape" => self.reshape(cx)?,
            "Squeeze" | "Unsqueeze" => self.squeeze(cx)?,
            "Identity" | "Dropout" => self.act(cx, 0)?,
            "Transpose" => self.transpose(cx)?,
            "Concat" => self.concat(cx)?,
            "Pad" => self.pad(cx)?,
            _ => return Err(cx.unsupported("")),
        };
        self.bind(output, act);
        Ok(())
    }

    fn push(&mut self, cx: &Ctx<'_>, op: FloatOp, inputs: Vec<TensorId>, shape: Vec<usize>) -> Act {
        self.push_named(cx, "", op, inputs, shape)
    }

    /// [`Importer::push`] for one of several nodes an ONNX node becomes: named after it with
    /// `suffix`.
    fn push_named(
        &mut self,
        cx: &Ctx<'_>,
        suffix: &str,
        op: FloatOp,
        inputs: Vec<TensorId>,
        shape: Vec<usize>,
    ) -> Act {
        self.push_node(FloatNode {
            name: format!("{}{suffix}", cx.name),
            op,
            inputs,
        });
        Act {
            id: TensorId::of_node(self.nodes.len() - 1),
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
