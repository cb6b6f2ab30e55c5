//! The integer graph: typed integer ops whose forward pass *is* the model's meaning.
//!
//! The circuit proves exactly [`QGraph::eval`], bit for bit; [`crate::graph::witness`] is that same
//! pass recording its intermediates. Serialisable and versioned through the compiled model
//! file ([`crate::api::CompiledModel`]).
//!
//! Every op is one of three kinds, and each kind has one chip path:
//! - **linear** ([`QOp::linear`]): Dense, Conv, AvgPool, Add, Affine. Output `o` is
//!   `floor((bias_o + Σ w · x + c_o) / d_o)`, with the taps `(input, index, w)`, the bias and
//!   the divisor `d_o` given by [`LinearOutput`] and `c_o` by the rounding mode;
//! - **elementwise** nonlinear: Relu, MaxPool;
//! - **wiring**: each output is an input element or a constant (no rows).
//!
//! Tensors are named by [`TensorId`]: the model input, or a node's output.

// The op list (`each_op!`) is the one exhaustive match over `QOp`: never a wildcard arm.
#![deny(clippy::wildcard_enum_match_arm)]

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::activation::Table;
use super::ops::IntegerOp;

pub use super::ops::argmax::ArgMax;
pub use super::ops::gather::Gather;
pub use super::ops::linear::{Add, Affine, AvgPool, Conv, Dense};
pub use super::ops::lookup::Lookup;
pub use super::ops::matmul::MatMul;
pub use super::ops::maximum::Max;
pub use super::ops::mul::Mul;
pub use super::ops::pool::MaxPool;
pub use super::ops::relu::Relu;
pub use super::ops::softmax::Softmax;
pub use super::ops::wiring::Wiring;
pub use super::qtensor::{
    GraphParams, LinearOutput, QTensor, Rounding, Tap, MAX_ACCUMULATOR_BITS, MAX_TENSOR_BITS,
};
use crate::graph::TensorId;

/// An integer op.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum QOp {
    /// Dense layer.
    Dense(Dense),
    /// Convolution.
    Conv(Conv),
    /// Average pool.
    AvgPool(AvgPool),
    /// Sum of two tensors.
    Add(Add),
    /// Product of two tensors, rescaled: `floor((a · b + c) / 2^shift)`.
    Mul(Mul),
    /// Elementwise affine map by constants.
    Affine(Affine),
    /// `max(x, 0)`, same scale and width.
    Relu,
    /// A tabulated elementwise function.
    Lookup(Lookup),
    /// Index of the first maximum along an axis; output at scale `2^0`.
    ArgMax(ArgMax),
    /// Softmax along an axis.
    Softmax(Softmax),
    /// Maximum of each window (padding ignored), same scale and width.
    MaxPool(MaxPool),
    /// Each output is an input element or a constant at the output's scale.
    Wiring(Wiring),
    /// Rows of a constant table selected by ids (scale `2^0`).
    Gather(Gather),
    /// The product of two activations as matrices.
    MatMul(MatMul),
    /// The elementwise maximum of two tensors at one scale.
    Max(Max),
}

/// Each payload into its variant (what an op's quantisation makes becomes a node's op).
macro_rules! from_payloads {
    ($($variant:ident),*) => {$(
        impl From<$variant> for QOp {
            fn from(op: $variant) -> Self {
                Self::$variant(op)
            }
        }
    )*};
}
from_payloads!(
    Dense, Conv, AvgPool, Add, Mul, Affine, Lookup, ArgMax, Softmax, MaxPool, Wiring, Gather,
    MatMul, Max
);

impl From<Relu> for QOp {
    fn from(_: Relu) -> Self {
        Self::Relu
    }
}

/// The one list of ops: binds `$x` to the op's payload (for the unit variant `Relu`, to
/// `$relu`) and `$wrap` to its variant's constructor, and evaluates `$body`, which each arm type-checks for its own op. Exhaustive,
/// with no wildcard arm: the graph stage ([`QOp::as_op`]) and the circuit stage
/// (`circuit::ops`) dispatch through it, so a new [`QOp`] variant is added here, once, and
/// is then a compile error until its op implements each stage's trait.
macro_rules! each_op {
    ($op:expr, $x:ident => $body:expr, relu: $relu:expr) => {
        $crate::graph::each_op!($op, $x, _wrap => $body, relu: $relu)
    };
    ($op:expr, $x:ident, $wrap:ident => $body:expr, relu: $relu:expr) => {
        match $op {
            $crate::graph::qgraph::QOp::Dense($x) => {
                let $wrap = $crate::graph::qgraph::QOp::Dense;
                $body
            }
            $crate::graph::qgraph::QOp::Conv($x) => {
                let $wrap = $crate::graph::qgraph::QOp::Conv;
                $body
            }
            $crate::graph::qgraph::QOp::AvgPool($x) => {
                let $wrap = $crate::graph::qgraph::QOp::AvgPool;
                $body
            }
            $crate::graph::qgraph::QOp::Add($x) => {
                let $wrap = $crate::graph::qgraph::QOp::Add;
                $body
            }
            $crate::graph::qgraph::QOp::Mul($x) => {
                let $wrap = $crate::graph::qgraph::QOp::Mul;
                $body
            }
            $crate::graph::qgraph::QOp::Affine($x) => {
                let $wrap = $crate::graph::qgraph::QOp::Affine;
                $body
            }
            $crate::graph::qgraph::QOp::Relu => {
                let $x = $relu;
                let $wrap = |_: $crate::graph::qgraph::Relu| $crate::graph::qgraph::QOp::Relu;
                $body
            }
            $crate::graph::qgraph::QOp::Lookup($x) => {
                let $wrap = $crate::graph::qgraph::QOp::Lookup;
                $body
            }
            $crate::graph::qgraph::QOp::ArgMax($x) => {
                let $wrap = $crate::graph::qgraph::QOp::ArgMax;
                $body
            }
            $crate::graph::qgraph::QOp::Softmax($x) => {
                let $wrap = $crate::graph::qgraph::QOp::Softmax;
                $body
            }
            $crate::graph::qgraph::QOp::MaxPool($x) => {
                let $wrap = $crate::graph::qgraph::QOp::MaxPool;
                $body
            }
            $crate::graph::qgraph::QOp::Wiring($x) => {
                let $wrap = $crate::graph::qgraph::QOp::Wiring;
                $body
            }
            $crate::graph::qgraph::QOp::Gather($x) => {
                let $wrap = $crate::graph::qgraph::QOp::Gather;
                $body
            }
            $crate::graph::qgraph::QOp::MatMul($x) => {
                let $wrap = $crate::graph::qgraph::QOp::MatMul;
                $body
            }
            $crate::graph::qgraph::QOp::Max($x) => {
                let $wrap = $crate::graph::qgraph::QOp::Max;
                $body
            }
        }
    };
}
pub(crate) use each_op;

impl QOp {
    /// The op's meaning ([`IntegerOp`]): the graph stage's dispatch.
    pub(crate) fn as_op(&self) -> &dyn IntegerOp {
        each_op!(self, op => op as &dyn IntegerOp, relu: &Relu)
    }

    /// The piece of the op over `units` whose outputs are `elements`
    /// ([`IntegerOp::piece`]; the op as it is when it has no pieces of its own).
    pub(crate) fn piece(&self, units: Range<usize>, elements: Range<usize>) -> QOp {
        each_op!(self, op, wrap => op.piece(units, elements).map(wrap), relu: &Relu)
            .unwrap_or_else(|| self.clone())
    }

    /// Runs `f` on the op's meaning, mutably.
    pub(crate) fn with_op_mut<R>(&mut self, f: impl FnOnce(&mut dyn IntegerOp) -> R) -> R {
        each_op!(self, op => f(op), relu: &mut Relu)
    }

    /// The op's kind, for reports.
    pub fn kind(&self) -> &'static str {
        self.as_op().kind()
    }

    /// How many tensors the op reads (`None`: any number, at least one, for wiring).
    pub fn arity(&self) -> Option<usize> {
        self.as_op().arity()
    }

    /// The right shift of a rescaling op (`0` for the others).
    pub fn shift(&self) -> u32 {
        self.as_op().shift()
    }

    /// The function table the op looks values up in, if any.
    pub fn table(&self) -> Option<&Table> {
        self.as_op().table()
    }

    /// Whether this op is linear (a dot product and a division per output).
    pub fn is_linear(&self) -> bool {
        self.as_op().is_linear()
    }

    /// Output `o` of a linear op; `None` for the others and for `o` out of range.
    pub fn linear(&self, o: usize) -> Option<LinearOutput> {
        self.as_op().linear(o)
    }

    /// The trained parameters of the op, `[weights, biases]`, in the order of
    /// [`Tap::param`] and [`LinearOutput::bias_param`]: exactly the values hashed parameters
    /// move to advice cells and a verifier file zeroes (`None` for an op with none).
    pub fn params(&self) -> Option<[Vec<i64>; 2]> {
        self.as_op().params()
    }

    /// Whether the op has trained parameters ([`QOp::params`] is `Some`).
    pub fn has_params(&self) -> bool {
        self.as_op().params().is_some()
    }

    /// Sets every trained parameter ([`QOp::params`]) to zero: what a verifier file keeps of
    /// an op whose parameters are hashed.
    pub fn zero_params(&mut self) {
        self.with_op_mut(|op| op.zero_params());
    }
}

/// One node: an op over earlier tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QNode {
    /// Name, from the source model.
    pub name: String,
    /// The op.
    pub op: QOp,
    /// Tensors read, in the op's order.
    pub inputs: Vec<TensorId>,
    /// Its output tensor.
    pub output: QTensor,
}

/// A DAG of integer nodes over one flat input, with a list of outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QGraph {
    /// The model input.
    pub input: QTensor,
    /// Nodes in execution order.
    pub nodes: Vec<QNode>,
    /// The model's outputs, in order: the instance column exposes them one after another.
    pub outputs: Vec<TensorId>,
    /// How every division rounds.
    pub rounding: Rounding,
    /// The input holds integers (token ids) at scale `2^0`: a fractional input value is an
    /// error, not rounded.
    #[serde(default)]
    pub integer_input: bool,
}

impl QGraph {
    /// Tensor `id`, if the graph has it.
    pub fn tensor(&self, id: TensorId) -> Option<&QTensor> {
        match id.node() {
            None => Some(&self.input),
            Some(i) => self.nodes.get(i).map(|n| &n.output),
        }
    }

    /// The output tensors, in order (ids a validated graph has; others are skipped).
    pub fn output_tensors(&self) -> impl Iterator<Item = &QTensor> {
        self.outputs.iter().filter_map(|&t| self.tensor(t))
    }

    /// Values in all outputs together (the length of [`QGraph::eval`]'s result).
    pub fn output_len(&self) -> usize {
        self.output_tensors().map(|t| t.len).sum()
    }

    /// Whether any node looks values up in a function table (activations, softmax).
    pub fn has_tables(&self) -> bool {
        self.nodes.iter().any(|n| n.op.table().is_some())
    }

    /// The graph's structure alone: every name blanked and, when `params` is false, every
    /// trained parameter zeroed. Names never reach a circuit, and hashed params reach it
    /// only as witness values, so two graphs with equal structures (params zeroed when they
    /// are hashed) lay out as one circuit with one pair of keys.
    pub fn structure(&self, params: bool) -> QGraph {
        let mut structure = self.clone();
        structure.input.name.clear();
        for node in &mut structure.nodes {
            node.name.clear();
            node.output.name.clear();
            if !params {
                node.op.zero_params();
            }
        }
        structure
    }

    /// The real numbers the integer outputs (all outputs, concatenated) stand for, each at
    /// its own tensor's scale.
    pub fn outputs_to_float(&self, outputs: &[i64]) -> Vec<f64> {
        let scales = self
            .output_tensors()
            .flat_map(|t| std::iter::repeat_n(t, t.len));
        outputs
            .iter()
            .zip(scales)
            .map(|(q, t)| t.to_float(*q))
            .collect()
    }
}
