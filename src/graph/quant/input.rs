//! Inputs: a float input turned into the integers of the input tensor, and the warnings a
//! calibration set earns before it sets the input's scale.

use crate::error::{readable, QuantError};
use crate::graph::qgraph::QTensor;

use super::scale::round_scaled;

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

/// Checks that every value of an integer input is a whole number.
pub fn check_integers(tensor: &str, x: &[f32]) -> Result<(), QuantError> {
    match x.iter().position(|v| v.fract() != 0.0) {
        Some(index) => Err(QuantError::NotInteger {
            tensor: tensor.to_string(),
            index,
            value: f64::from(x[index]),
        }),
        None => Ok(()),
    }
}

/// Every calibration value is a finite number: checked before anything reads them (a NaN
/// or an infinity would otherwise surface as nonsense warnings and scales), naming the
/// first offending sample and value.
pub fn check_calibration(samples: &[Vec<f32>]) -> Result<(), QuantError> {
    for (sample, values) in samples.iter().enumerate() {
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(QuantError::NotFiniteSample {
                sample,
                index,
                value: f64::from(values[index]),
            });
        }
    }
    Ok(())
}

/// Warnings about calibration data that would cost precision: a value far beyond the rest
/// (over 100 times the 99th percentile of all magnitudes) sets the input's scale alone, so
/// every other value loses bits. Empty when the data look ordinary.
pub fn calibration_warnings(samples: &[Vec<f32>]) -> Vec<String> {
    let mut magnitudes: Vec<f32> = samples
        .iter()
        .flatten()
        .map(|v| v.abs())
        .filter(|v| v.is_finite())
        .collect();
    if magnitudes.is_empty() {
        return Vec::new();
    }
    magnitudes.sort_by(f32::total_cmp);
    let p99 = magnitudes[(magnitudes.len() - 1) * 99 / 100];
    let mut warnings = Vec::new();
    for (s, sample) in samples.iter().enumerate() {
        for (i, v) in sample.iter().enumerate() {
            if v.abs() > 100.0 * p99 && v.abs() > 1e-6 {
                warnings.push(format!(
                    "calibration sample {s}, value {i} = {} is over 100 times the 99th percentile of all calibration magnitudes ({}): the input's scale is chosen to cover it, which costs precision on every other input; remove the outlier (and prove such inputs with --clamp)",
                    readable(f64::from(*v)),
                    readable(f64::from(p99))
                ));
            }
        }
    }
    warnings.truncate(10);
    warnings
}

pub(super) fn check_finite(tensor: &str, x: &[f32]) -> Result<(), QuantError> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(QuantError::NotFinite {
            tensor: tensor.to_string(),
            index,
            value: f64::from(x[index]),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
