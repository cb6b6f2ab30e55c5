//! Input files: one or more flat float samples from JSON.
//!
//! Accepted forms (numbers may be nested; each sample is flattened row-major):
//! - EZKL's `{"input_data": [[...], ...]}`: one sample per inner list;
//! - `{"input": [...]}` or `{"inputs": [[...], ...]}` (the latter is also how the labelled
//!   evaluation sets store their samples);
//! - a bare `[[...], ...]` (samples) or `[...]` (one sample of plain numbers).

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, SamplesError};

/// Reads every sample in an input file.
pub fn read_samples(path: &Path) -> Result<Vec<Vec<f32>>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    parse_samples(&text).map_err(|source| Error::Samples {
        path: path.display().to_string(),
        source,
    })
}

/// Parses samples from JSON text (see the module docs for the forms).
pub fn parse_samples(text: &str) -> Result<Vec<Vec<f32>>, SamplesError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        if ["NaN", "Infinity"].iter().any(|t| text.contains(t)) {
            SamplesError::NotFinite {
                line: e.line(),
                column: e.column(),
            }
        } else {
            SamplesError::Json(e)
        }
    })?;
    let (field, data) = match &value {
        Value::Object(map) => ["input_data", "inputs", "input"]
            .into_iter()
            .find_map(|k| map.get(k).map(|v| (k, v)))
            .ok_or(SamplesError::NoKey)?,
        other => ("top level", other),
    };
    let samples: Vec<&Value> = match data {
        Value::Array(items) if field != "input" && items.iter().all(Value::is_array) => {
            items.iter().collect()
        }
        Value::Array(_) => vec![data],
        _ => return Err(SamplesError::NotArray { field }),
    };
    if samples.is_empty() {
        return Err(SamplesError::NoSamples { field });
    }
    samples
        .into_iter()
        .enumerate()
        .map(|(sample, s)| {
            let mut out = Vec::new();
            flatten(s, &mut out).map_err(|e| match e {
                Flat::NotNumber(index, found) => SamplesError::NotNumber {
                    field,
                    sample,
                    index,
                    found,
                },
                Flat::BeyondF32(index, value) => SamplesError::BeyondF32 {
                    field,
                    sample,
                    index,
                    value,
                },
            })?;
            Ok(out)
        })
        .collect()
}

/// Why a sample does not flatten: the value's index and what it is.
enum Flat {
    NotNumber(usize, String),
    BeyondF32(usize, String),
}

fn flatten(value: &Value, out: &mut Vec<f32>) -> Result<(), Flat> {
    match value {
        Value::Array(items) => items.iter().try_for_each(|v| flatten(v, out)),
        Value::Number(n) => {
            let v = n
                .as_f64()
                .ok_or_else(|| Flat::NotNumber(out.len(), n.to_string()))?;
            // JSON numbers are f64; the models take f32, as ONNX inputs do. A number beyond
            // f32's range would become an infinity: refused here, by its place.
            let x = v as f32;
            if !x.is_finite() {
                return Err(Flat::BeyondF32(out.len(), n.to_string()));
            }
            out.push(x);
            Ok(())
        }
        other => Err(Flat::NotNumber(out.len(), other.to_string())),
    }
}

/// Samples for a model of several inputs of flat lengths `lens`: a file that lists each
/// input separately (EZKL's `input_data: [[a…], [b…]]`, or several such groups in turn) is
/// regrouped into concatenated samples; samples that already have the total length, and
/// everything for a model of one input, pass through unchanged.
pub fn join_parts(samples: Vec<Vec<f32>>, lens: &[usize]) -> Vec<Vec<f32>> {
    let parts = lens.len();
    let separate = parts > 1
        && samples.len().is_multiple_of(parts)
        && samples
            .iter()
            .enumerate()
            .all(|(i, s)| s.len() == lens[i % parts]);
    if !separate {
        return samples;
    }
    samples.chunks(parts).map(|group| group.concat()).collect()
}

/// A sample's label: one class, or one class per position of a sequence output (a
/// language model's next token at every position).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Label {
    /// The class of the whole output.
    Class(usize),
    /// The class at each position: the output splits into as many equal rows.
    PerPosition(Vec<usize>),
}

impl Label {
    /// The classes, one per position (one for a whole-output label).
    pub fn classes(&self) -> &[usize] {
        match self {
            Self::Class(c) => std::slice::from_ref(c),
            Self::PerPosition(cs) => cs,
        }
    }
}

/// A labelled evaluation set, as in `../shared/models/*.eval.json`.
#[derive(Clone, Debug, Deserialize)]
pub struct EvalSet {
    /// Flat inputs.
    pub inputs: Vec<Vec<f32>>,
    /// Labels, one per input.
    pub labels: Vec<Label>,
    /// The float model's logits per sample, when recorded: flat, or nested as the model's
    /// output shape (`[positions][vocabulary]`, as `make_models_v3.py` writes them), which
    /// is read flat in row-major order.
    #[serde(default, deserialize_with = "flat_rows")]
    pub float_logits: Option<Vec<Vec<f64>>>,
}

/// One nested array of numbers per sample, each read flat (row-major).
fn flat_rows<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<Vec<f64>>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Nested {
        Number(f64),
        Array(Vec<Nested>),
    }
    fn flatten(n: Nested, out: &mut Vec<f64>) {
        match n {
            Nested::Number(v) => out.push(v),
            Nested::Array(items) => items.into_iter().for_each(|i| flatten(i, out)),
        }
    }
    let rows: Option<Vec<Nested>> = Option::deserialize(d)?;
    Ok(rows.map(|rows| {
        rows.into_iter()
            .map(|row| {
                let mut flat = Vec::new();
                flatten(row, &mut flat);
                flat
            })
            .collect()
    }))
}

impl EvalSet {
    /// Reads an evaluation set.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e.to_string()))?;
        let set: Self = serde_json::from_str(&text)
            .map_err(|e| file_error(path, format!("not an evaluation set: {e}")))?;
        if set.inputs.len() != set.labels.len() {
            return Err(file_error(
                path,
                format!(
                    "{} inputs but {} labels",
                    set.inputs.len(),
                    set.labels.len()
                ),
            ));
        }
        Ok(set)
    }
}

/// Index of the largest value; the first on ties (as ONNX ArgMax).
pub fn argmax<T: PartialOrd + Copy>(values: &[T]) -> Option<usize> {
    let mut best: Option<(usize, T)> = None;
    for (i, v) in values.iter().enumerate() {
        if best.is_none_or(|(_, b)| *v > b) {
            best = Some((i, *v));
        }
    }
    best.map(|(i, _)| i)
}

fn file_error(path: &Path, reason: String) -> Error {
    Error::File {
        path: path.display().to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_forms_are_all_accepted() {
        assert_eq!(
            parse_samples(r#"{"input_data": [[1, 2.5]]}"#).unwrap(),
            vec![vec![1.0, 2.5]]
        );
        assert_eq!(
            parse_samples(r#"{"input": [[1, 2], [3, 4]]}"#).unwrap(),
            vec![vec![1.0, 2.0, 3.0, 4.0]]
        );
        assert_eq!(
            parse_samples("[[1], [2]]").unwrap(),
            vec![vec![1.0], vec![2.0]]
        );
        assert_eq!(parse_samples("[1, 2]").unwrap(), vec![vec![1.0, 2.0]]);
    }

    #[test]
    fn nested_float_logits_are_read_flat() {
        let set: EvalSet = serde_json::from_str(
            r#"{"inputs": [[1]], "labels": [[1, 0]], "float_logits": [[[0.5, 1], [2, -1]]]}"#,
        )
        .unwrap();
        assert_eq!(set.float_logits, Some(vec![vec![0.5, 1.0, 2.0, -1.0]]));
    }

    #[test]
    fn input_with_nan_is_a_clear_error() {
        let err = parse_samples(r#"{"input_data": [[1, NaN]]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("NaN"), "{err}");
    }

    #[test]
    fn input_with_a_string_names_the_position() {
        let err = parse_samples(r#"{"input_data": [[1, "x"]]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("input_data[0]") && err.contains("#1"), "{err}");
    }

    #[test]
    fn argmax_takes_the_first_of_ties() {
        assert_eq!(argmax(&[1, 3, 3, 2]), Some(1));
        assert_eq!(argmax::<i64>(&[]), None);
    }
}
