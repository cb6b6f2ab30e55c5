//! The scale arithmetic every op's quantisation shares: exponents from calibrated ranges,
//! a linear op's integer weights and shift, rounding to a scale. A leaf: the op modules
//! (`graph/ops/`) call it, and it imports none of them.

use crate::error::{Error, QuantError};
use crate::graph::qtensor::MAX_ACCUMULATOR_BITS;

use super::options::QuantOptions;
use crate::graph::ops::Quantiser;

/// `round(v · 2^e)`, saturating at `i64` bounds (callers range-check the result).
pub(crate) fn round_scaled(v: f64, e: i32) -> i64 {
    let scaled = (v * 2f64.powi(e)).round();
    // Float-to-int `as` saturates by definition; callers range-check the result.
    scaled as i64
}

/// A right shift of `bits` at node `node`: non-negative and below [`MAX_ACCUMULATOR_BITS`].
pub(crate) fn shift(node: &str, bits: i32) -> Result<u32, Error> {
    u32::try_from(bits)
        .ok()
        .filter(|s| *s < MAX_ACCUMULATOR_BITS)
        .ok_or_else(|| {
            QuantError::Overflow {
                node: node.to_string(),
                needed: bits.unsigned_abs(),
                budget: MAX_ACCUMULATOR_BITS,
            }
            .into()
        })
}

/// A linear op's integer weights and bias, and its output exponent and shift.
pub(crate) struct QuantLinear {
    /// The weights at scale `2^e_w`.
    pub(crate) weights: Vec<i64>,
    /// The bias at the accumulator's scale `2^(e_x + e_w)`.
    pub(crate) bias: Vec<i64>,
    /// `e_x + e_w − e_y`.
    pub(crate) shift: u32,
    /// The output's exponent.
    pub(crate) e_y: i32,
}

/// Quantises a linear op of node `name` over an input at `2^e_x` whose output's range allows
/// `2^calibrated`: the weights share the one scale their largest magnitude allows (or the
/// largest among the repetitions `q` quantises alike, [`Quantiser::weight_max`]).
pub(crate) fn linear<'w>(
    q: &dyn Quantiser,
    name: &str,
    e_x: i32,
    calibrated: i32,
    weights: impl Iterator<Item = &'w f32> + Clone,
    bias: impl Iterator<Item = &'w f32>,
) -> Result<QuantLinear, Error> {
    let options = q.options();
    let w_max = q.weight_max(
        weights
            .clone()
            .fold(0f64, |m, w| m.max(f64::from(*w).abs())),
    );
    let e_w = weight_exponent(w_max, options.weight_bits);
    let e_acc = e_x + e_w;
    let e_y = calibrated.min(e_acc);
    Ok(QuantLinear {
        weights: weights.map(|w| round_scaled(f64::from(*w), e_w)).collect(),
        bias: bias.map(|b| round_scaled(f64::from(*b), e_acc)).collect(),
        shift: shift(name, e_acc - e_y)?,
        e_y,
    })
}

/// The largest exponent `e <= max_frac_bits` with `m · 2^headroom · 2^e <= 2^(bits-1) − 1`.
pub(crate) fn exponent_for(max_abs: f64, bits: u32, options: &QuantOptions) -> i32 {
    let limit = 2f64.powi(bits_i32(bits) - 1) - 1.0;
    let m = max_abs * 2f64.powi(bits_i32(options.headroom_bits));
    if m <= 0.0 {
        return options.max_frac_bits;
    }
    floor_log2(limit / m).min(options.max_frac_bits)
}

/// The largest exponent with `max_abs · 2^e <= 2^(bits-1) − 1`.
pub(crate) fn weight_exponent(max_abs: f64, bits: u32) -> i32 {
    let limit = 2f64.powi(bits_i32(bits) - 1) - 1.0;
    if max_abs <= 0.0 {
        return 0;
    }
    floor_log2(limit / max_abs)
}

fn floor_log2(x: f64) -> i32 {
    // log2 of a finite positive f64 lies within ±1075, well inside i32.
    x.log2().floor() as i32
}

pub(crate) fn bits_i32(bits: u32) -> i32 {
    i32::try_from(bits).unwrap_or(i32::MAX)
}
