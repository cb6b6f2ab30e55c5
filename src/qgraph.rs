//! The integer graph: typed integer ops whose forward pass *is* the model's meaning.
//!
//! The circuit proves exactly [`QGraph::eval`], bit for bit; [`crate::witness`] is that same
//! pass recording its intermediates. Serialisable and versioned through the compiled model
//! file ([`crate::api::CompiledModel`]).

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::WitnessError;
use crate::quant::Rounding;

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

/// A dense layer with its rescale.
///
/// # Semantics
/// `acc_o = bias_o + Σ_j weights[o, j] · x_j` exactly (no overflow: the quantiser bounds it
/// below 2^62), then `y_o = floor((acc_o + rounding.offset(shift)) / 2^shift)`, which must lie in
/// the output tensor's range (else the pass fails: the circuit could not prove it).
///
/// # Shapes
/// `x`: `inputs`; `weights`: `(outputs, inputs)`; `bias`, `y`: `outputs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dense {
    /// Integer weights, `(outputs, inputs)`.
    pub weights: Array2<i64>,
    /// Integer bias at the accumulator's scale.
    pub bias: Vec<i64>,
    /// Right shift from the accumulator's scale to the output's.
    pub shift: u32,
    /// Rounding of the shift.
    pub rounding: Rounding,
}

impl Dense {
    /// Bits that bound `|acc|` for inputs of `input_bits` signed bits, sign included.
    pub fn accumulator_bits(&self, input_bits: u32) -> u32 {
        let x_max = 1u128 << (input_bits - 1);
        let bound = self
            .weights
            .outer_iter()
            .zip(&self.bias)
            .map(|(row, b)| {
                row.iter()
                    .map(|w| u128::from(w.unsigned_abs()) * x_max)
                    .sum::<u128>()
                    + u128::from(b.unsigned_abs())
            })
            .max()
            .unwrap_or(0);
        128 - bound.leading_zeros() + 1
    }
}

/// An integer op.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QOp {
    /// Dense layer and rescale.
    Dense(Dense),
    /// `max(x, 0)`, same scale and width.
    Relu,
}

/// One node: an op applied to the previous node's output (the input for the first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QNode {
    /// Name, from the source model.
    pub name: String,
    /// The op.
    pub op: QOp,
    /// Its output tensor.
    pub output: QTensor,
}

/// A chain of integer nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QGraph {
    /// The model input.
    pub input: QTensor,
    /// Nodes in execution order.
    pub nodes: Vec<QNode>,
}

impl QGraph {
    /// The output tensor (the last node's, or the input's for an empty graph).
    pub fn output(&self) -> &QTensor {
        self.nodes.last().map_or(&self.input, |n| &n.output)
    }

    /// The integer forward pass: the model's output for an integer input.
    pub fn eval(&self, input: &[i64]) -> Result<Vec<i64>, WitnessError> {
        let witness = crate::witness::generate(self, input, crate::layout::DOT_WIDTH)?;
        Ok(witness.output().to_vec())
    }

    /// The real numbers the integer outputs stand for.
    pub fn outputs_to_float(&self, outputs: &[i64]) -> Vec<f64> {
        outputs.iter().map(|q| self.output().to_float(*q)).collect()
    }
}
