//! Calibration and quantisation: from a float graph to the integer graph.
//!
//! # Scheme
//! Every tensor `t` has a power-of-two scale `2^e_t` (a float `v` is the integer
//! `round(v · 2^e_t)`) and a signed width of [`QuantOptions::activation_bits`]. Weights of a
//! dense layer share one scale `2^e_w` chosen so the largest weight fits
//! [`QuantOptions::weight_bits`]; the bias is stored at the accumulator's scale `e_x + e_w`.
//! The accumulator is rescaled to the output's scale by a right shift `s = e_x + e_w − e_y`
//! with a named [`Rounding`] mode.
//!
//! # Bit budget
//! `e_t` is the largest exponent (at most [`QuantOptions::max_frac_bits`]) such that the
//! largest magnitude seen in calibration, times `2^headroom_bits`, still fits the signed
//! width. Headroom keeps inputs unlike the calibration set from overflowing. Accumulators
//! are bounded by `n · 2^(a−1) · 2^(w−1) + |b|`, which must stay below
//! [`MAX_ACCUMULATOR_BITS`] bits: far below the field modulus, and inside `i64`.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{Error, QuantError};
use crate::ir::{FloatGraph, FloatLayer};
use crate::qgraph::{Dense, QGraph, QNode, QOp, QTensor};

/// The widest accumulator the integer pass and the rescale chip accept.
pub const MAX_ACCUMULATOR_BITS: u32 = 62;

/// How a right shift rounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rounding {
    /// `floor(x / 2^s)`.
    Floor,
    /// `floor((x + 2^(s-1)) / 2^s)`: nearest, halves toward +∞.
    HalfUp,
}

impl Rounding {
    /// The constant added before flooring.
    pub fn offset(self, shift: u32) -> i64 {
        match self {
            Self::Floor => 0,
            Self::HalfUp if shift == 0 => 0,
            Self::HalfUp => 1i64 << (shift - 1),
        }
    }
}

/// Knobs of quantisation. The defaults keep the digits models' accuracy equal to float.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantOptions {
    /// Signed width of every activation (and so of every range check).
    pub activation_bits: u32,
    /// Signed width of weights.
    pub weight_bits: u32,
    /// Extra bits of range above the calibration maximum.
    pub headroom_bits: u32,
    /// Most fractional bits any activation gets.
    pub max_frac_bits: i32,
    /// Rounding of every rescale.
    pub rounding: Rounding,
}

impl Default for QuantOptions {
    fn default() -> Self {
        Self {
            activation_bits: 16,
            weight_bits: 10,
            headroom_bits: 1,
            max_frac_bits: 12,
            rounding: Rounding::HalfUp,
        }
    }
}

/// What quantisation did to the calibration set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantReport {
    /// Largest |float output − dequantised integer output| over the calibration set.
    pub max_output_error: f64,
    /// Calibration samples used.
    pub samples: usize,
}

/// Quantises `graph` with scales chosen from `calibration` (one flat input per sample).
pub fn quantise(
    graph: &FloatGraph,
    calibration: &[Vec<f32>],
    options: &QuantOptions,
) -> Result<(QGraph, QuantReport), Error> {
    graph.validate()?;
    if calibration.is_empty() {
        return Err(QuantError::NoCalibration.into());
    }
    for sample in calibration {
        check_finite(&graph.input_name, sample)?;
        if sample.len() != graph.input_len() {
            return Err(QuantError::InputLength {
                tensor: graph.input_name.clone(),
                expected: graph.input_len(),
                got: sample.len(),
            }
            .into());
        }
    }
    let traces: Vec<_> = calibration.iter().map(|x| graph.forward(x)).collect();
    let max_abs = |layer: usize| {
        traces
            .iter()
            .flat_map(|t| t[layer].iter())
            .fold(0f64, |m, v| m.max(v.abs()))
    };

    let input = QTensor {
        name: graph.input_name.clone(),
        len: graph.input_len(),
        scale_exp: exponent_for(max_abs(0), options.activation_bits, options),
        bits: options.activation_bits,
    };
    let mut nodes = Vec::with_capacity(graph.layers.len());
    let mut current = input.clone();
    for (i, layer) in graph.layers.iter().enumerate() {
        let (op, output) = match layer {
            FloatLayer::Dense {
                name,
                weights,
                bias,
            } => {
                let w_max = weights.iter().fold(0f64, |m, w| m.max(f64::from(*w).abs()));
                let e_w = weight_exponent(w_max, options.weight_bits);
                let e_acc = current.scale_exp + e_w;
                let e_y = exponent_for(max_abs(i + 1), options.activation_bits, options).min(e_acc);
                let shift = u32::try_from(e_acc - e_y).map_err(|_| QuantError::Overflow {
                    node: name.clone(),
                    needed: 0,
                    budget: MAX_ACCUMULATOR_BITS,
                })?;
                let q_weights = Array2::from_shape_fn(weights.dim(), |(o, j)| {
                    round_scaled(f64::from(weights[[o, j]]), e_w)
                });
                let q_bias: Vec<i64> = bias
                    .iter()
                    .map(|b| round_scaled(f64::from(*b), e_acc))
                    .collect();
                let dense = Dense {
                    weights: q_weights,
                    bias: q_bias,
                    shift,
                    rounding: options.rounding,
                };
                let needed = dense.accumulator_bits(current.bits);
                if needed > MAX_ACCUMULATOR_BITS {
                    return Err(QuantError::Overflow {
                        node: name.clone(),
                        needed,
                        budget: MAX_ACCUMULATOR_BITS,
                    }
                    .into());
                }
                let output = QTensor {
                    name: name.clone(),
                    len: bias.len(),
                    scale_exp: e_y,
                    bits: options.activation_bits,
                };
                (QOp::Dense(dense), output)
            }
            FloatLayer::Relu { name } => (
                QOp::Relu,
                QTensor {
                    name: name.clone(),
                    ..current.clone()
                },
            ),
        };
        nodes.push(QNode {
            name: layer.name().to_string(),
            op,
            output: output.clone(),
        });
        current = output;
    }
    let qgraph = QGraph { input, nodes };

    let mut max_output_error = 0f64;
    for (sample, trace) in calibration.iter().zip(&traces) {
        let x = quantise_input(&qgraph.input, sample, false)?;
        let out = qgraph.eval(&x)?;
        let float_out = trace.last().map(Vec::as_slice).unwrap_or_default();
        for (q, f) in out.iter().zip(float_out) {
            max_output_error = max_output_error.max((qgraph.output().to_float(*q) - f).abs());
        }
    }
    let report = QuantReport {
        max_output_error,
        samples: calibration.len(),
    };
    Ok((qgraph, report))
}

/// Converts a float input to the integers of `tensor`, rounding to nearest. Values outside
/// the representable range are an error naming the index, or saturate when `clamp` is set.
pub fn quantise_input(tensor: &QTensor, x: &[f32], clamp: bool) -> Result<Vec<i64>, QuantError> {
    if x.len() != tensor.len {
        return Err(QuantError::InputLength {
            tensor: tensor.name.clone(),
            expected: tensor.len,
            got: x.len(),
        });
    }
    check_finite(&tensor.name, x)?;
    x.iter()
        .enumerate()
        .map(|(index, v)| {
            let q = round_scaled(f64::from(*v), tensor.scale_exp);
            if (tensor.min()..=tensor.max()).contains(&q) {
                Ok(q)
            } else if clamp {
                Ok(q.clamp(tensor.min(), tensor.max()))
            } else {
                Err(QuantError::OutOfRange {
                    tensor: tensor.name.clone(),
                    index,
                    value: f64::from(*v),
                    min: tensor.to_float(tensor.min()),
                    max: tensor.to_float(tensor.max()),
                })
            }
        })
        .collect()
}

fn check_finite(tensor: &str, x: &[f32]) -> Result<(), QuantError> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(QuantError::NotFinite {
            tensor: tensor.to_string(),
            index,
            value: f64::from(x[index]),
        }),
        None => Ok(()),
    }
}

/// `round(v · 2^e)`, saturating at `i64` bounds (callers range-check the result).
fn round_scaled(v: f64, e: i32) -> i64 {
    let scaled = (v * 2f64.powi(e)).round();
    // Float-to-int `as` saturates by definition; callers range-check the result.
    scaled as i64
}

/// The largest exponent `e <= max_frac_bits` with `m · 2^headroom · 2^e <= 2^(bits-1) − 1`.
fn exponent_for(max_abs: f64, bits: u32, options: &QuantOptions) -> i32 {
    let limit = 2f64.powi(bits_i32(bits) - 1) - 1.0;
    let m = max_abs * 2f64.powi(bits_i32(options.headroom_bits));
    if m <= 0.0 {
        return options.max_frac_bits;
    }
    floor_log2(limit / m).min(options.max_frac_bits)
}

/// The largest exponent with `max_abs · 2^e <= 2^(bits-1) − 1`.
fn weight_exponent(max_abs: f64, bits: u32) -> i32 {
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

fn bits_i32(bits: u32) -> i32 {
    i32::try_from(bits).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_offsets_are_half_the_divisor() {
        assert_eq!(Rounding::HalfUp.offset(0), 0);
        assert_eq!(Rounding::HalfUp.offset(4), 8);
        assert_eq!(Rounding::Floor.offset(4), 0);
    }

    #[test]
    fn exponent_fits_the_largest_value_with_headroom() {
        let o = QuantOptions::default();
        // 1.0 with one bit of headroom in 16 bits: 2 · 2^e <= 32767 → e = 12 (capped at 12).
        assert_eq!(exponent_for(1.0, 16, &o), 12);
        // 20.0: 40 · 2^e <= 32767 → e = 9.
        assert_eq!(exponent_for(20.0, 16, &o), 9);
        assert_eq!(weight_exponent(0.9, 10), 9);
    }

    #[test]
    fn quantise_input_names_the_value_out_of_range() {
        let t = QTensor {
            name: "x".into(),
            len: 2,
            scale_exp: 12,
            bits: 16,
        };
        let err = quantise_input(&t, &[0.5, 9.0], false).unwrap_err();
        assert!(
            matches!(err, QuantError::OutOfRange { index: 1, .. }),
            "{err}"
        );
        assert_eq!(
            quantise_input(&t, &[0.5, 9.0], true).unwrap(),
            vec![2048, 32767]
        );
        let err = quantise_input(&t, &[f32::NAN, 0.0], false).unwrap_err();
        assert!(
            matches!(err, QuantError::NotFinite { index: 0, .. }),
            "{err}"
        );
    }
}
