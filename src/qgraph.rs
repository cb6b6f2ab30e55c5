//! The integer graph: typed integer ops whose forward pass *is* the model's meaning.
//!
//! The circuit proves exactly [`QGraph::eval`], bit for bit; [`crate::witness`] is that same
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
//! Tensor `0` is the model input and tensor `i + 1` is node `i`'s output.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::activation::{Activation, Table};
use crate::ir::Source;
use crate::window::{pool_taps, Axis, ConvShape, Window};

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

/// A tabulated function: `y = table[floor(x / 2^shift)]` (see [`crate::activation`]).
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
}

impl Softmax {
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
}

/// One output of a linear op: `floor((bias + Σ taps + offset) / divisor)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinearOutput {
    /// The products to sum.
    pub taps: Vec<Tap>,
    /// The constant term, at the accumulator's scale.
    pub bias: i64,
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
        }
    }

    /// How many tensors the op reads (`None`: any number, at least one, for wiring).
    pub fn arity(&self) -> Option<usize> {
        match self {
            Self::Add(_) | Self::Mul { .. } => Some(2),
            Self::Wiring(_) => None,
            Self::Dense(_)
            | Self::Conv(_)
            | Self::AvgPool(_)
            | Self::Affine(_)
            | Self::Relu
            | Self::Lookup(_)
            | Self::ArgMax(_)
            | Self::Softmax(_)
            | Self::MaxPool(_) => Some(1),
        }
    }

    /// The right shift of a rescaling op (`0` for the others).
    pub fn shift(&self) -> u32 {
        match self {
            Self::Dense(Dense { shift, .. })
            | Self::Conv(Conv { shift, .. })
            | Self::Add(Add { shift, .. })
            | Self::Affine(Affine { shift, .. })
            | Self::Mul { shift } => *shift,
            Self::AvgPool(_)
            | Self::Relu
            | Self::Lookup(_)
            | Self::ArgMax(_)
            | Self::Softmax(_)
            | Self::MaxPool(_)
            | Self::Wiring(_) => 0,
        }
    }

    /// The function table the op looks values up in, if any.
    pub fn table(&self) -> Option<&Table> {
        match self {
            Self::Lookup(lookup) => Some(&lookup.table),
            Self::Softmax(sm) => Some(&sm.table),
            Self::Dense(_)
            | Self::Conv(_)
            | Self::AvgPool(_)
            | Self::Add(_)
            | Self::Mul { .. }
            | Self::Affine(_)
            | Self::Relu
            | Self::ArgMax(_)
            | Self::MaxPool(_)
            | Self::Wiring(_) => None,
        }
    }

    /// Whether this op is linear (a dot product and a division per output).
    pub fn is_linear(&self) -> bool {
        !matches!(
            self,
            Self::Relu
                | Self::Mul { .. }
                | Self::Lookup(_)
                | Self::ArgMax(_)
                | Self::Softmax(_)
                | Self::MaxPool(_)
                | Self::Wiring(_)
        )
    }

    /// Output `o` of a linear op; `None` for the others and for `o` out of range.
    pub fn linear(&self, o: usize) -> Option<LinearOutput> {
        let one = |index, weight| Tap {
            input: 0,
            index,
            weight,
        };
        Some(match self {
            Self::Dense(d) => LinearOutput {
                taps: d
                    .weights
                    .outer_iter()
                    .nth(o)?
                    .iter()
                    .enumerate()
                    .map(|(j, w)| one(j, *w))
                    .collect(),
                bias: d.bias.get(o).copied().unwrap_or(0),
                divisor: 1 << d.shift,
            },
            Self::Conv(c) => {
                let positions = c.shape.window.positions().max(1);
                LinearOutput {
                    taps: c
                        .shape
                        .taps(o)
                        .into_iter()
                        .map(|(i, w)| one(i, c.weights[w]))
                        .collect(),
                    bias: c.bias.get(o / positions).copied().unwrap_or(0),
                    divisor: 1 << c.shift,
                }
            }
            Self::AvgPool(p) => {
                let taps: Vec<Tap> = pool_taps(&p.window, o)
                    .into_iter()
                    .map(|i| one(i, 1))
                    .collect();
                let n = if p.count_include_pad {
                    p.window.kernel_len()
                } else {
                    taps.len()
                };
                LinearOutput {
                    taps,
                    bias: 0,
                    divisor: n.max(1) as u64,
                }
            }
            Self::Add(a) => LinearOutput {
                taps: (0..2)
                    .map(|input| Tap {
                        input,
                        index: o,
                        weight: a.weights[input],
                    })
                    .collect(),
                bias: 0,
                divisor: 1 << a.shift,
            },
            Self::Affine(a) => LinearOutput {
                taps: vec![one(o, a.scale.get(o).copied().unwrap_or(0))],
                bias: a.bias.get(o).copied().unwrap_or(0),
                divisor: 1 << a.shift,
            },
            Self::Relu
            | Self::Mul { .. }
            | Self::Lookup(_)
            | Self::ArgMax(_)
            | Self::Softmax(_)
            | Self::MaxPool(_)
            | Self::Wiring(_) => return None,
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
    /// Tensor ids read (`0` is the input, `i + 1` node `i`).
    pub inputs: Vec<usize>,
    /// Its output tensor.
    pub output: QTensor,
}

/// A DAG of integer nodes; the last node's output is the model's output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QGraph {
    /// The model input.
    pub input: QTensor,
    /// Nodes in execution order.
    pub nodes: Vec<QNode>,
    /// How every division rounds.
    pub rounding: Rounding,
}

impl QGraph {
    /// The output tensor (the last node's, or the input's for an empty graph).
    pub fn output(&self) -> &QTensor {
        self.nodes.last().map_or(&self.input, |n| &n.output)
    }

    /// Tensor `id`: the input for `0`, node `id - 1`'s output otherwise.
    pub fn tensor(&self, id: usize) -> Option<&QTensor> {
        match id {
            0 => Some(&self.input),
            _ => self.nodes.get(id - 1).map(|n| &n.output),
        }
    }

    /// Whether any node looks values up in a function table (activations, softmax).
    pub fn has_tables(&self) -> bool {
        self.nodes.iter().any(|n| n.op.table().is_some())
    }

    /// Bits that bound `|acc + offset|` of linear node `node` over all its outputs, for
    /// inputs anywhere in their declared ranges (`0` for other ops).
    pub fn accumulator_bits(&self, node: &QNode) -> u32 {
        let bits: Vec<u32> = node
            .inputs
            .iter()
            .map(|&t| self.tensor(t).map_or(1, |t| t.bits))
            .collect();
        let mut needed = 0;
        for o in 0..node.output.len {
            let Some(lin) = node.op.linear(o) else { break };
            let bound = lin
                .taps
                .iter()
                .map(|t| {
                    let b = bits.get(t.input).copied().unwrap_or(1).clamp(1, 64);
                    u128::from(t.weight.unsigned_abs()) << (b - 1)
                })
                .fold(0u128, u128::saturating_add)
                .saturating_add(u128::from(lin.bias.unsigned_abs()))
                .saturating_add(u128::from(lin.divisor));
            needed = needed.max(128 - bound.leading_zeros() + 1);
        }
        needed
    }

    /// Structural checks: every node reads earlier tensors of fitting lengths, its constants
    /// have the sizes its geometry needs, and range-preserving ops (ReLU, MaxPool, wiring)
    /// declare no wider output than their inputs (the circuit does not re-check them).
    /// The error names the node and the reason.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let max_bits = MAX_TENSOR_BITS;
        for t in std::iter::once(&self.input).chain(self.nodes.iter().map(|n| &n.output)) {
            if !(1..=max_bits).contains(&t.bits) {
                return Err((
                    t.name.clone(),
                    format!("{} bits is outside 1..={max_bits}", t.bits),
                ));
            }
            if t.len > crate::window::MAX_LEN {
                return Err((
                    t.name.clone(),
                    format!("{} values, more than {}", t.len, crate::window::MAX_LEN),
                ));
            }
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let bad = |reason: String| Err((node.name.clone(), reason));
            let mut ins = Vec::with_capacity(node.inputs.len());
            for &t in &node.inputs {
                match self.tensor(t) {
                    Some(tensor) if t <= i => ins.push(tensor),
                    _ => return bad(format!("reads tensor #{t}, which is not an earlier tensor")),
                }
            }
            let arity = node.op.arity().unwrap_or(ins.len().max(1));
            if ins.len() != arity {
                return bad(format!("has {} inputs, its op takes {arity}", ins.len()));
            }
            let x = ins[0];
            let out = &node.output;
            let expected_len = match &node.op {
                QOp::Dense(d) => {
                    let (rows, cols) = d.weights.dim();
                    if cols != x.len || rows != d.bias.len() {
                        return bad(format!(
                            "weights {:?} and {} biases do not fit input {}",
                            d.weights.dim(),
                            d.bias.len(),
                            x.len
                        ));
                    }
                    rows
                }
                QOp::Conv(c) => {
                    if let Err(e) = c.shape.validate() {
                        return bad(e);
                    }
                    let w = &c.shape.window;
                    if w.channels * w.input_positions() != x.len
                        || c.weights.len() != c.shape.weights_len()
                        || c.bias.len() != c.shape.out_channels
                    {
                        return bad("weights, biases or geometry do not fit the input".into());
                    }
                    c.shape.outputs()
                }
                QOp::AvgPool(AvgPool { window, .. }) | QOp::MaxPool(window) => {
                    if let Err(e) = window.validate() {
                        return bad(e);
                    }
                    if window.channels * window.input_positions() != x.len {
                        return bad(format!(
                            "window over {} values, input has {}",
                            window.channels * window.input_positions(),
                            x.len
                        ));
                    }
                    window.channels * window.positions()
                }
                QOp::Mul { shift } => {
                    if ins[1].len != x.len || *shift >= 62 || x.bits + ins[1].bits > 62 {
                        return bad(format!(
                            "multiplies {} by {} values with shift {shift}",
                            x.len, ins[1].len
                        ));
                    }
                    x.len
                }
                QOp::Add(_) => {
                    if ins[1].len != x.len {
                        return bad(format!("adds {} values to {}", ins[1].len, x.len));
                    }
                    x.len
                }
                QOp::Affine(a) => {
                    if a.scale.len() != x.len || a.bias.len() != x.len {
                        return bad("scale and bias must have one value per input".into());
                    }
                    x.len
                }
                QOp::Relu => x.len,
                QOp::ArgMax(axis) => {
                    if axis.size() != x.len || axis.len == 0 {
                        return bad(format!(
                            "axis over {} values, input has {}",
                            axis.size(),
                            x.len
                        ));
                    }
                    if out.scale_exp != 0 || out.max() < axis.len as i64 {
                        return bad("indices need scale 2^0 and room for the axis length".into());
                    }
                    axis.groups()
                }
                QOp::Softmax(sm) => {
                    let t = &sm.table;
                    let b = t.input_bits;
                    if sm.axis.size() != x.len || sm.axis.len == 0 {
                        return bad(format!(
                            "axis over {} values, input has {}",
                            sm.axis.size(),
                            x.len
                        ));
                    }
                    if b == 0
                        || b.checked_add(t.shift) != Some(x.bits)
                        || t.first != 0
                        || t.outputs.len() != 1 << b
                    {
                        return bad("exponential table does not cover the input's gaps".into());
                    }
                    if t.outputs.iter().any(|e| *e < 0 || *e > x.max())
                        || t.outputs.first() == Some(&0)
                    {
                        return bad(
                            "exponential table outputs must be positive and in range".into()
                        );
                    }
                    // The sum is a range-checked cell and the numerator `e · 2^out_scale`
                    // stays below 2^124 (62 + 62 bits), as the division chip requires.
                    let sum_bits = sm.sum_bits(x.bits);
                    if sum_bits > MAX_TENSOR_BITS {
                        return bad(format!(
                            "a sum of {} exponentials of {} bits needs {sum_bits} bits, more than {}",
                            sm.axis.len,
                            x.bits,
                            MAX_TENSOR_BITS
                        ));
                    }
                    if i64::from(sm.out_scale) + 1 >= i64::from(out.bits)
                        || out.scale_exp != sm.out_scale as i32
                    {
                        return bad(format!(
                            "output scale 2^{} does not fit {} bits",
                            sm.out_scale, out.bits
                        ));
                    }
                    x.len
                }
                QOp::Lookup(Lookup { table, .. }) => {
                    let b = table.input_bits;
                    if b == 0
                        || b.checked_add(table.shift) != Some(x.bits)
                        || table.first != -(1i64 << (b - 1))
                        || table.outputs.len() != 1 << b
                    {
                        return bad(format!(
                            "table of {} entries over {b} bits (shift {}) does not cover a {}-bit input",
                            table.outputs.len(),
                            table.shift,
                            x.bits
                        ));
                    }
                    if let Some(y) = table
                        .outputs
                        .iter()
                        .find(|y| **y < out.min() || **y > out.max())
                    {
                        return bad(format!("table output {y} outside the output's range"));
                    }
                    x.len
                }
                QOp::Wiring(sources) => {
                    for s in sources {
                        match s {
                            Source::Element { input, index } => {
                                if ins.get(*input).is_none_or(|t| *index >= t.len) {
                                    return bad(format!("wires element {index} of input {input}, which does not exist"));
                                }
                            }
                            Source::Constant(c) if *c < out.min() || *c > out.max() => {
                                return bad(format!("constant {c} outside the output's range"));
                            }
                            Source::Constant(_) => {}
                        }
                    }
                    sources.len()
                }
            };
            if out.len != expected_len {
                return bad(format!(
                    "output has {} values, its op makes {expected_len}",
                    out.len
                ));
            }
            let preserves_range = matches!(node.op, QOp::Relu | QOp::MaxPool(_) | QOp::Wiring(_));
            if preserves_range && ins.iter().any(|t| t.bits > out.bits) {
                return bad(format!(
                    "output of {} bits is narrower than an input",
                    out.bits
                ));
            }
            if node.op.is_linear() {
                let shift = node.op.shift();
                if shift >= 62 {
                    return bad(format!("shift {shift} too large"));
                }
                let needed = self.accumulator_bits(node);
                if needed > MAX_ACCUMULATOR_BITS {
                    return bad(format!("accumulator needs {needed} bits"));
                }
            }
        }
        Ok(())
    }

    /// The real numbers the integer outputs stand for.
    pub fn outputs_to_float(&self, outputs: &[i64]) -> Vec<f64> {
        outputs.iter().map(|q| self.output().to_float(*q)).collect()
    }
}
