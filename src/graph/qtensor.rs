//! The integer graph's tensors and the one integer form of a linear output: the leaf types
//! that every op module, the integer graph and the circuit read, so that none of them imports
//! another back.

use std::ops::Range;

use serde::{Deserialize, Serialize};

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

/// One multiply of a linear output: `weight · inputs[input][index]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tap {
    /// Which of the node's inputs.
    pub input: usize,
    /// Flat index into it.
    pub index: usize,
    /// The constant weight.
    pub weight: i64,
    /// Where the weight lies in the node's [`QOp::params`](crate::graph::qgraph::QOp::params) weights, when it is a trained
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
    /// Where the bias lies in the node's [`QOp::params`](crate::graph::qgraph::QOp::params) biases, when it is one.
    pub bias_param: Option<usize>,
    /// `d >= 1`.
    pub divisor: u64,
}

/// A graph's trained parameters, as its hashed-parameters commitment covers them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GraphParams {
    /// `[weights, biases]`: every node's, one node after another.
    pub values: [Vec<i64>; 2],
    /// Per node, where its weights and its biases lie in `values` (`None`: it has none).
    pub ranges: Vec<Option<[Range<usize>; 2]>>,
}

impl GraphParams {
    /// The narrowest signed widths that hold every weight and every bias (at least 1).
    pub fn bits(&self) -> [u32; 2] {
        self.values.each_ref().map(|values| {
            values
                .iter()
                .map(|v| {
                    // `v` needs `b` bits when `−2^(b−1) <= v < 2^(b−1)`.
                    let magnitude = if *v < 0 { !*v } else { *v };
                    65 - magnitude.leading_zeros()
                })
                .max()
                .unwrap_or(1)
        })
    }
}

/// The batch count `t` of a product `[t, m, k] × [t, k, n]` of `a_len` and `b_len` values,
/// if the lengths have those shapes (all dimensions non-zero).
pub fn matmul_batches(m: usize, k: usize, n: usize, a_len: usize, b_len: usize) -> Option<usize> {
    let per_a = m.checked_mul(k).filter(|p| *p > 0 && n > 0)?;
    let t = a_len.is_multiple_of(per_a).then(|| a_len / per_a)?;
    (t.checked_mul(k)?.checked_mul(n)? == b_len).then_some(t)
}

/// Where one output element of a wiring op comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source<C> {
    /// Element `index` of the node's input `input` (a position in its input list).
    Element {
        /// Which of the node's inputs.
        input: usize,
        /// Flat index into it.
        index: usize,
    },
    /// A constant (padding).
    Constant(C),
}
