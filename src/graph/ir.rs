//! The float graph: what an importer produces and what calibration runs.
//!
//! A DAG over flat tensors (batch 1, row-major), named by [`TensorId`]: the model input or
//! a node's output. Every node reads earlier tensors only, so the node order is an
//! execution order; the graph lists its outputs (any tensors, in the model's order). Shape-only ops (Flatten, Reshape, Identity, Dropout) vanish at import;
//! Transpose, Concat and Pad become [`FloatOp::Wiring`]; BatchNormalization and constant
//! Add/Mul fold into the preceding linear layer or become an [`FloatOp::Affine`]. Each op's
//! float semantics and quantisation live with its integer meaning, in `graph/ops/`.
// The op list (`each_float_op!`) is the one exhaustive match over `FloatOp`: no wildcard.
#![deny(clippy::wildcard_enum_match_arm)]

use serde::{Deserialize, Serialize};

use crate::graph::TensorId;

pub use crate::graph::ops::argmax::ArgMax;
pub use crate::graph::ops::gather::FloatGather;
pub use crate::graph::ops::linear::{AvgPool, FloatAdd, FloatAffine, FloatConv, FloatDense};
pub use crate::graph::ops::lookup::{Activation, Composite, Step};
pub use crate::graph::ops::matmul::FloatMatMul;
pub use crate::graph::ops::maximum::Max;
pub use crate::graph::ops::mul::FloatMul;
pub use crate::graph::ops::pool::MaxPool;
pub use crate::graph::ops::relu::Relu;
pub use crate::graph::ops::softmax::FloatSoftmax;
pub use crate::graph::ops::wiring::Wiring;
pub use crate::graph::ops::{FloatKernel, Mismatch};
pub use crate::graph::qtensor::Source;

/// One op of the float graph. Each variant's payload is its op's [`FloatKernel`] (in the
/// op's module of `graph/ops/`, beside its integer meaning); `each_float_op!` below is the
/// one list of variants, and every use of an op's meaning goes through it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FloatOp {
    /// `y = W x + b`, `W` of shape `(outputs, inputs)`.
    Dense(FloatDense),
    /// Convolution (any rank, stride, padding, dilation, groups).
    Conv(FloatConv),
    /// Average over each window, dividing by the window's size (or the full kernel's).
    AvgPool(AvgPool),
    /// Maximum over each window (padding ignored).
    MaxPool(MaxPool),
    /// `y = max(x, 0)`.
    Relu,
    /// A nonlinear elementwise function, proven by table lookup.
    Activation(Activation),
    /// Sum of two tensors of the same length (residual connections).
    Add,
    /// Elementwise product of two tensors of the same length (gating; the erf form of GELU).
    Mul,
    /// Elementwise maximum of two tensors of the same length (ONNX `Max`).
    Max,
    /// The product of two activations as matrices (attention's Q·Kᵀ and P·V).
    MatMul(FloatMatMul),
    /// Index of the first maximum along an axis (ONNX `ArgMax`, `select_last_index = 0`).
    ArgMax(ArgMax),
    /// `e^(x − max) / Σ e^(x − max)` along an axis, over the elements a mask keeps.
    Softmax(FloatSoftmax),
    /// Rows of a constant table selected by the input's integer ids (an embedding).
    Gather(FloatGather),
    /// `y_i = a_i · x_i + b_i`: constant Mul, Add, Sub, or a BatchNormalization that no
    /// linear layer precedes.
    Affine(FloatAffine),
    /// Pure wiring: each output element is an input element or a constant.
    Wiring(Wiring<f32>),
}

/// The one list of [`FloatOp`]'s variants: `each_float_op!(op, k => body)` evaluates
/// `body` with `k` bound to the variant's [`FloatKernel`] (a reference, mutable when `op`
/// is). A new variant is a compile error here until its op implements the trait.
macro_rules! each_float_op {
    ($op:expr, $k:ident => $body:expr) => {{
        use $crate::graph::ir::FloatOp as F;
        match $op {
            F::Dense($k) => $body,
            F::Conv($k) => $body,
            F::AvgPool($k) => $body,
            F::MaxPool($k) => $body,
            F::Relu => {
                let $k = &mut $crate::graph::ir::Relu;
                $body
            }
            F::Activation($k) => $body,
            F::Add => {
                let $k = &mut $crate::graph::ir::FloatAdd;
                $body
            }
            F::Mul => {
                let $k = &mut $crate::graph::ir::FloatMul;
                $body
            }
            F::Max => {
                let $k = &mut $crate::graph::ir::Max;
                $body
            }
            F::MatMul($k) => $body,
            F::ArgMax($k) => $body,
            F::Softmax($k) => $body,
            F::Gather($k) => $body,
            F::Affine($k) => $body,
            F::Wiring($k) => $body,
        }
    }};
}
pub(crate) use each_float_op;

impl FloatOp {
    /// The op's kind, for messages and reports.
    pub fn kind(&self) -> &'static str {
        each_float_op!(self, k => FloatKernel::kind(k))
    }

    /// How many tensors the op reads (`None`: any number, at least one).
    pub fn arity(&self) -> Option<usize> {
        each_float_op!(self, k => FloatKernel::arity(k))
    }

    /// Output length for inputs of `lens` (no checks; see [`FloatGraph::validate`]).
    pub fn output_len(&self, lens: &[usize]) -> usize {
        each_float_op!(self, k => FloatKernel::output_len(k, lens))
    }

    /// Structural checks against inputs of `lens` ([`FloatKernel::check`]).
    pub fn check(&self, lens: &[usize]) -> Result<(), Mismatch> {
        each_float_op!(self, k => FloatKernel::check(k, lens))
    }

    /// Every constant of the op ([`FloatKernel::constants`]).
    pub fn constants(&self) -> Vec<f32> {
        each_float_op!(self, k => FloatKernel::constants(k))
    }

    /// The float semantics.
    pub fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        each_float_op!(self, k => FloatKernel::eval(k, xs))
    }

    /// The largest magnitude of the weights that share one scale ([`FloatKernel::weight_max`]).
    pub fn weight_max(&self) -> Option<f64> {
        each_float_op!(self, k => FloatKernel::weight_max(k))
    }

    /// The op's structure without its trained values (canonical JSON): equal for the ops
    /// of repeated blocks ([`crate::graph::repeats`]).
    pub fn signature(&self) -> String {
        let mut structure = self.clone();
        each_float_op!(&mut structure, k => FloatKernel::zero_trained(k));
        // An op always serialises (finite numbers, string keys).
        serde_json::to_string(&structure).unwrap_or_default()
    }

    /// Folds a constant map `y = scale · x + bias` after the op into it, when it can
    /// ([`FloatKernel::fold`]); `false` leaves it unchanged.
    pub fn fold(&mut self, scale: &[f32], bias: &[f32]) -> bool {
        if scale.len() != bias.len() {
            return false;
        }
        each_float_op!(self, k => FloatKernel::fold(k, scale, bias))
    }
}

/// One node: an op over earlier tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatNode {
    /// Node name (from the model file).
    pub name: String,
    /// The op.
    pub op: FloatOp,
    /// Tensors read, in the op's order.
    pub inputs: Vec<TensorId>,
}

/// A DAG of float nodes over one flat input, with a list of outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatGraph {
    /// Name of the model input.
    pub input_name: String,
    /// The input's shape as declared by the model (batch dimension included).
    pub input_shape: Vec<usize>,
    /// Nodes in execution order.
    pub nodes: Vec<FloatNode>,
    /// The model's outputs, in order (any tensor, each at most once).
    pub outputs: Vec<TensorId>,
    /// For a model of several inputs: each input, in order. The graph's input is then their
    /// concatenation (flat, `input_shape = [total]`), and a wiring node slices each out.
    /// Empty for a model of one input.
    #[serde(default)]
    pub input_parts: Vec<InputPart>,
    /// The model's input holds integers (an ONNX integer input: token ids). Its values must
    /// be whole numbers, and it is quantised at scale `2^0`, exactly.
    #[serde(default)]
    pub integer_input: bool,
}

/// One input of a model of several inputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputPart {
    /// The ONNX input's name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
}

impl FloatGraph {
    /// The flat lengths of the model's inputs (one entry for a model of one input).
    pub fn input_lens(&self) -> Vec<usize> {
        if self.input_parts.is_empty() {
            vec![self.input_len()]
        } else {
            self.input_parts
                .iter()
                .map(|p| p.shape.iter().product())
                .collect()
        }
    }

    /// Values in the flat input.
    pub fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// Length of every tensor, the input first.
    pub fn tensor_lens(&self) -> Vec<usize> {
        let mut lens = vec![self.input_len()];
        for node in &self.nodes {
            let ins: Vec<usize> = node
                .inputs
                .iter()
                .map(|t| lens.get(t.index()).copied().unwrap_or(0))
                .collect();
            lens.push(node.op.output_len(&ins));
        }
        lens
    }

    /// The model's outputs for `input`, concatenated in output order.
    pub fn eval(&self, input: &[f32]) -> Vec<f64> {
        let values = self.forward(input);
        self.outputs
            .iter()
            .flat_map(|t| values[t.index()].iter().copied())
            .collect()
    }

    /// The float forward pass in `f64`: every tensor's values, the input first.
    pub fn forward(&self, input: &[f32]) -> Vec<Vec<f64>> {
        let mut values = vec![input.iter().map(|v| f64::from(*v)).collect::<Vec<_>>()];
        for node in &self.nodes {
            let xs: Vec<&[f64]> = node
                .inputs
                .iter()
                .map(|t| values[t.index()].as_slice())
                .collect();
            let y = node.op.eval(&xs);
            values.push(y);
        }
        values
    }
}
