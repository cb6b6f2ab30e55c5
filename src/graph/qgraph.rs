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

use ndarray::Array2;
use serde::{Deserialize, Serialize};

pub use super::params::GraphParams;

use crate::graph::activation::{Activation, Table};
use crate::graph::ir::Source;
use crate::graph::window::{pool_taps, Axis, ConvShape, Window};
use crate::graph::TensorId;

/// The widest accumulator the integer pass and the rescale chip accept.
pub const MAX_ACCUMULATOR_BITS: u32 = 62;

/// How a division rounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rounding {
    /// `floor(x / d)`.
    Floor,
    /// `floor((x + floor(d / 2)) / d)`: nearest, halves toward +∞ (for even `d`).
    HalfUp,
}

impl Rounding {
    /// The constant added before flooring a division by `divisor`.
    pub fn offset(self, divisor: u64) -> i64 {
        match self {
            Self::Floor => 0,
            // Divisors are bounded by 2^62 (quantiser) so half of one fits i64.
            Self::HalfUp => i64::try_from(divisor / 2).unwrap_or(i64::MAX),
        }
    }
}

/// The widest tensor: every value is range-checked as a signed integer of at most this many
/// bits (the circuit's range chip accepts as many; `circuit` asserts it).
pub const MAX_TENSOR_BITS: u32 = 62;

/// A tensor of the integer graph: flat length, power-of-two scale and signed width.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QTensor {
    /// Name (the producing node's, or the model input's).
    pub name: String,
    /// Number of values.
    pub len: usize,
    /// The integer `q` stands for the real `q / 2^scale_exp`.
    pub scale_exp: i32,
    /// Every value lies in `[-2^(bits-1), 2^(bits-1))`, enforced by range checks.
    pub bits: u32,
}

impl QTensor {
    /// Smallest allowed value.
    pub fn min(&self) -> i64 {
        -(1i64 << (self.bits - 1))
    }
    /// Largest allowed value.
    pub fn max(&self) -> i64 {
        (1i64 << (self.bits - 1)) - 1
    }
    /// The real number an integer of this tensor stands for.
    pub fn to_float(&self, q: i64) -> f64 {
        // i64 → f64 is exact for |q| < 2^53, which every range-checked value is.
        (q as f64) * 2f64.powi(-self.scale_exp)
    }
}

/// A dense layer: `acc_o = bias_o + Σ_j weights[o, j] · x_j`, rescaled by `2^shift`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dense {
    /// Integer weights, `(outputs, inputs)`.
    pub weights: Array2<i64>,
    /// Integer bias at the accumulator's scale.
    pub bias: Vec<i64>,
    /// Right shift from the accumulator's scale to the output's.
    pub shift: u32,
}

/// A convolution, rescaled by `2^shift`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conv {
    /// Geometry.
    pub shape: ConvShape,
    /// Integer weights `[out_channels, channels / groups, kernel…]`, flat.
    pub weights: Vec<i64>,
    /// One bias per output channel, at the accumulator's scale.
    pub bias: Vec<i64>,
    /// Right shift to the output's scale.
    pub shift: u32,
}

/// An average pool: the window's sum divided by its size (output at the input's scale).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvgPool {
    /// Geometry.
    pub window: Window,
    /// Divide by the full kernel size, padding included.
    pub count_include_pad: bool,
}

/// The sum of two tensors aligned to one scale: `(a · w_a + b · w_b) / 2^shift`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Add {
    /// Powers of two that bring both inputs to the accumulator's scale.
    pub weights: [i64; 2],
    /// Right shift to the output's scale.
    pub shift: u32,
}

/// `y_i = (a_i · x_i + b_i) / 2^shift`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affine {
    /// Integer `a`, one per element.
    pub scale: Vec<i64>,
    /// Integer `b` at the accumulator's scale.
    pub bias: Vec<i64>,
    /// Right shift to the output's scale.
    pub shift: u32,
}

/// A tabulated function: `y = table[floor(x / 2^shift)]` (see [`crate::graph::activation`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lookup {
    /// The function (for reports; the table is the meaning).
    pub function: Activation,
    /// The table, its input reduction and its measured error bound.
    pub table: Table,
}

/// Softmax along an axis, per group: `m = max x`, gaps `g = m − x`, `e = T(floor(g / 2^s))`
/// with `T(v) ≈ e^(−v·2^s / 2^e_x) · 2^e_E` (the table), `S = Σ e`, and
/// `y = floor(e · 2^out_scale / S)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Softmax {
    /// The axis.
    pub axis: Axis,
    /// `e^(−g)` over the reduced gaps (an unsigned domain).
    pub table: Table,
    /// The output's scale exponent: `y` is a fraction of `2^out_scale`.
    pub out_scale: u32,
    /// Which elements take part (a causal mask), one per element; empty: all. A masked
    /// element is left out of its group's max and sum, and its output is exactly 0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep: Vec<bool>,
}

impl Softmax {
    /// The elements of group `g` that take part, in axis order.
    pub fn group(&self, g: usize) -> Vec<usize> {
        let mut group = self.axis.group(g);
        if !self.keep.is_empty() {
            group.retain(|&i| self.keep.get(i).copied().unwrap_or(false));
        }
        group
    }

    /// Signed width of a group's sum `S` of exponentials of `exp_bits` signed bits (`S` is
    /// below `len · 2^(exp_bits − 1)`); saturates at 128 instead of overflowing, so that
    /// validation can reject it.
    pub fn sum_bits(&self, exp_bits: u32) -> u32 {
        let len = self.axis.len as u128;
        let shift = exp_bits.saturating_sub(1);
        match len.checked_shl(shift).filter(|b| b >> shift == len) {
            Some(bound) => 128 - bound.saturating_sub(1).leading_zeros() + 1,
            None => 128,
        }
    }
}

/// Rows of a constant table selected by integer ids (an embedding): output `t · dim + j`
/// is `table[ids[t] · dim + j]`, for ids in `[0, vocab)`. Proven by a lookup of the key
/// `ids[t] · dim + j` in a table of `(key, value)` pairs, so an id outside the vocabulary
/// has no row to match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gather {
    /// Rows in the table.
    pub vocab: usize,
    /// Values per row.
    pub dim: usize,
    /// The flat table (`first = 0`, no reduction, `vocab · dim` outputs), at the output's
    /// scale.
    pub table: Table,
}

/// The product of two activations as matrices: input 0 is `[t, M, K]`, input 1 is
/// `[t, K, N]` (row-major, `t` from the lengths), output `[t, M, N]`, each output
/// `floor((Σ_l a · b + c) / 2^shift)`. Proven by dot products over cell pairs, summed before
/// one rescale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatMul {
    /// Rows of the left matrix.
    pub m: usize,
    /// The summed dimension.
    pub k: usize,
    /// Columns of the right matrix.
    pub n: usize,
    /// Right shift from the product's scale to the output's.
    pub shift: u32,
}

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
    Mul {
        /// Right shift from the product's scale to the output's.
        shift: u32,
    },
    /// Elementwise affine map by constants.
    Affine(Affine),
    /// `max(x, 0)`, same scale and width.
    Relu,
    /// A tabulated elementwise function.
    Lookup(Lookup),
    /// Index of the first maximum along an axis; output at scale `2^0`.
    ArgMax(Axis),
    /// Softmax along an axis.
    Softmax(Softmax),
    /// Maximum of each window (padding ignored), same scale and width.
    MaxPool(Window),
    /// Each output is an input element or a constant at the output's scale.
    Wiring(Vec<Source<i64>>),
    /// Rows of a constant table selected by ids (scale `2^0`).
    Gather(Gather),
    /// The product of two activations as matrices.
    MatMul(MatMul),
}

/// One multiply of a linear output: `weight · inputs[input][index]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tap {
    /// Which of the node's inputs.
    pub input: usize,
    /// Flat index into it.
    pub index: usize,
    /// The constant weight.
    pub weight: i64,
    /// Where the weight lies in the node's [`QOp::params`] weights, when it is a trained
    /// parameter (not a constant of the architecture such as an average pool's 1).
    pub param: Option<usize>,
}

/// One output of a linear op: `floor((bias + Σ taps + offset) / divisor)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinearOutput {
    /// The products to sum.
    pub taps: Vec<Tap>,
    /// The constant term, at the accumulator's scale.
    pub bias: i64,
    /// Where the bias lies in the node's [`QOp::params`] biases, when it is one.
    pub bias_param: Option<usize>,
    /// `d >= 1`.
    pub divisor: u64,
}

impl QOp {
    /// The op's kind, for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Dense(_) => "Dense",
            Self::Conv(_) => "Conv",
            Self::AvgPool(_) => "AvgPool",
            Self::Add(_) => "Add",
            Self::Mul { .. } => "Mul",
            Self::Affine(_) => "Affine",
            Self::Relu => "Relu",
            Self::Lookup(l) => l.function.name(),
            Self::ArgMax(_) => "ArgMax",
            Self::Softmax(_) => "Softmax",
            Self::MaxPool(_) => "MaxPool",
            Self::Wiring(_) => "Wiring",
            Self::Gather(_) => "Gather",
            Self::MatMul(_) => "MatMul",
        }
    }

    /// How many tensors the op reads (`None`: any number, at least one, for wiring).
    pub fn arity(&self) -> Option<usize> {
        match self {
            Self::Add(_) | Self::Mul { .. } | Self::MatMul(_) => Some(2),
            Self::Wiring(_) => None,
            Self::Dense(_)
            | Self::Conv(_)
            | Self::AvgPool(_)
            | Self::Affine(_)
            | Self::Relu
            | Self::Lookup(_)
            | Self::ArgMax(_)
            | Self::Softmax(_)
            | Self::MaxPool(_)
            | Self::Gather(_) => Some(1),
        }
    }

    /// The right shift of a rescaling op (`0` for the others).
    pub fn shift(&self) -> u32 {
        match self {
            Self::Dense(Dense { shift, .. })
            | Self::Conv(Conv { shift, .. })
            | Self::Add(Add { shift, .. })
            | Self::Affine(Affine { shift, .. })
            | Self::Mul { shift }
            | Self::MatMul(MatMul { shift, .. }) => *shift,
            Self::AvgPool(_)
            | Self::Relu
            | Self::Lookup(_)
            | Self::ArgMax(_)
            | Self::Softmax(_)
            | Self::MaxPool(_)
            | Self::Wiring(_)
            | Self::Gather(_) => 0,
        }
    }

    /// The function table the op looks values up in, if any.
    pub fn table(&self) -> Option<&Table> {
        match self {
            Self::Lookup(lookup) => Some(&lookup.table),
            Self::Softmax(sm) => Some(&sm.table),
            Self::Gather(g) => Some(&g.table),
            Self::Dense(_)
            | Self::Conv(_)
            | Self::AvgPool(_)
            | Self::Add(_)
            | Self::Mul { .. }
            | Self::Affine(_)
            | Self::Relu
            | Self::ArgMax(_)
            | Self::MaxPool(_)
            | Self::Wiring(_)
            | Self::MatMul(_) => None,
        }
    }

    /// Whether this op is linear (a dot product and a division per output).
    pub fn is_linear(&self) -> bool {
        match self {
            Self::Dense(_) | Self::Conv(_) | Self::AvgPool(_) | Self::Add(_) | Self::Affine(_) => {
                true
            }
            Self::Relu
            | Self::Mul { .. }
            | Self::Lookup(_)
            | Self::ArgMax(_)
            | Self::Softmax(_)
            | Self::MaxPool(_)
            | Self::Wiring(_)
            | Self::Gather(_)
            | Self::MatMul(_) => false,
        }
    }

    /// Output `o` of a linear op; `None` for the others and for `o` out of range.
    pub fn linear(&self, o: usize) -> Option<LinearOutput> {
        let param = |index, weight, param| Tap {
            input: 0,
            index,
            weight,
            param: Some(param),
        };
        // A bias list may be empty (no bias): the constant term is then 0 and no parameter.
        let bias = |biases: &[i64], b: usize| match biases.get(b) {
            Some(&value) => (value, Some(b)),
            None => (0, None),
        };
        Some(match self {
            Self::Dense(d) => {
                let inputs = d.weights.ncols();
                let (bias, bias_param) = bias(&d.bias, o);
                LinearOutput {
                    taps: d
                        .weights
                        .outer_iter()
                        .nth(o)?
                        .iter()
                        .enumerate()
                        .map(|(j, w)| param(j, *w, o * inputs + j))
                        .collect(),
                    bias,
                    bias_param,
                    divisor: 1 << d.shift,
                }
            }
            Self::Conv(c) => {
                let positions = c.shape.window.positions().max(1);
                let (bias, bias_param) = bias(&c.bias, o / positions);
                LinearOutput {
                    taps: c
                        .shape
                        .taps(o)
                        .into_iter()
                        .map(|(i, w)| param(i, c.weights[w], w))
                        .collect(),
                    bias,
                    bias_param,
                    divisor: 1 << c.shift,
                }
            }
            Self::AvgPool(p) => {
                let taps: Vec<Tap> = pool_taps(&p.window, o)
                    .into_iter()
                    .map(|index| Tap {
                        input: 0,
                        index,
                        weight: 1,
                        param: None,
                    })
                    .collect();
                let n = if p.count_include_pad {
                    p.window.kernel_len()
                } else {
                    taps.len()
                };
                LinearOutput {
                    taps,
                    bias: 0,
                    bias_param: None,
                    divisor: n.max(1) as u64,
                }
            }
            Self::Add(a) => LinearOutput {
                taps: (0..2)
                    .map(|input| Tap {
                        input,
                        index: o,
                        weight: a.weights[input],
                        param: None,
                    })
                    .collect(),
                bias: 0,
                bias_param: None,
                divisor: 1 << a.shift,
            },
            Self::Affine(a) => {
                let (bias, bias_param) = bias(&a.bias, o);
                LinearOutput {
                    taps: vec![param(o, a.scale.get(o).copied().unwrap_or(0), o)],
                    bias,
                    bias_param,
                    divisor: 1 << a.shift,
                }
            }
            Self::Relu
            | Self::Mul { .. }
            | Self::Lookup(_)
            | Self::ArgMax(_)
            | Self::Softmax(_)
            | Self::MaxPool(_)
            | Self::Wiring(_)
            | Self::Gather(_)
            | Self::MatMul(_) => return None,
        })
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
