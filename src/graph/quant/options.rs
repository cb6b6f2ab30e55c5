//! The knobs of quantisation, and the precision presets over them.

use serde::{Deserialize, Serialize};

use crate::error::PrecisionError;
use crate::graph::qtensor::Rounding;

/// Knobs of quantisation. The defaults keep the digits models' accuracy equal to float.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantOptions {
    /// Signed width of every activation (and so of every range check).
    pub activation_bits: u32,
    /// Signed width of weights.
    pub weight_bits: u32,
    /// Extra bits of range above the calibration maximum.
    pub headroom_bits: u32,
    /// Most fractional bits any activation gets. A tensor whose calibrated range is small
    /// (a layer norm's variance of GPT-2's 0.02-scale embeddings, about 0.02) uses its width
    /// up to this many fractional bits; 12 left such a tensor 7 of its 16 bits and put a
    /// whole variance range in one interval of the reciprocal root's table.
    pub max_frac_bits: i32,
    /// Rounding of every division.
    pub rounding: Rounding,
    /// Input bits of a lookup table: activations are reduced to this width before the lookup
    /// (the table has `2^table_bits` rows; see [`crate::graph::activation`]).
    pub table_bits: u32,
}

/// A precision preset: how wide activations and weights are. Wider values cost more range
/// checks (rows) and bring the integer outputs closer to the float model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 16-bit activations, 10-bit weights, at most 16 fractional bits: the fastest proofs.
    #[default]
    Standard,
    /// 24-bit activations, 16-bit weights, at most 18 fractional bits, 12-bit tables.
    High,
}

impl std::str::FromStr for Precision {
    type Err = PrecisionError;

    fn from_str(s: &str) -> Result<Self, PrecisionError> {
        match s {
            "standard" => Ok(Self::Standard),
            "high" => Ok(Self::High),
            other => Err(PrecisionError {
                name: other.to_string(),
            }),
        }
    }
}

impl QuantOptions {
    /// The options of a precision preset (rounding and headroom as by default).
    pub fn of(precision: Precision) -> Self {
        match precision {
            Precision::Standard => Self::default(),
            Precision::High => Self {
                activation_bits: 24,
                weight_bits: 16,
                max_frac_bits: 18,
                table_bits: 12,
                ..Self::default()
            },
        }
    }
}

impl Default for QuantOptions {
    fn default() -> Self {
        Self {
            activation_bits: 16,
            weight_bits: 10,
            headroom_bits: 1,
            max_frac_bits: 16,
            rounding: Rounding::HalfUp,
            table_bits: 10,
        }
    }
}
