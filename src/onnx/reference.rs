//! Defence in depth for the importer: run the ONNX file with an independent executor
//! (tract's own inference) and compare it with what zkinfer will prove.
//!
//! The importer and the float graph's executor share one reading of every op, so a misread
//! attribute or layout (issue 11: BatchNormalization on `[N, C, …]` with `N > 1`) agrees with
//! itself. tract reads the ONNX file on its own; [`compare_with_reference`] refuses a model
//! whose float graph, or whose integer outputs, disagree with tract beyond the tolerance.

use std::fmt;

use serde::Serialize;
use tract_onnx::prelude::*;

use crate::error::{Error, IrError};
use crate::graph::ir::FloatGraph;

/// The real numbers a compiled model's integer outputs stand for, on one float input.
pub type Proven<'a> = dyn Fn(&[f32]) -> Result<Vec<f64>, Error> + 'a;

/// Calibration samples checked against the reference (tract is slower than our graph).
pub const REFERENCE_SAMPLES: usize = 16;

/// How the imported model compares with tract's execution of the ONNX file.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReferenceCheck {
    /// Both agree within the tolerance.
    Agrees {
        /// Samples compared.
        samples: usize,
        /// Largest |zkinfer float graph − tract| over the outputs.
        float_error: f64,
        /// Largest |proven integer output (as a real) − tract|.
        integer_error: f64,
        /// The float tolerance: `1e-3 · max(1, max |tract output|)`.
        float_tolerance: f64,
        /// The integer tolerance: the quantisation error measured at compile time plus the
        /// float tolerance.
        integer_tolerance: f64,
    },
    /// tract could not run the model, so nothing was compared.
    Unavailable {
        /// tract's reason.
        reason: String,
    },
}

impl fmt::Display for ReferenceCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Agrees {
                samples,
                float_error,
                integer_error,
                ..
            } => write!(
                f,
                "checked against tract's execution of the ONNX file on {samples} samples: float import error {float_error:.2e}, quantised output error {integer_error:.4}"
            ),
            Self::Unavailable { reason } => write!(
                f,
                "not checked against an independent executor (tract cannot run this model: {reason})"
            ),
        }
    }
}

/// Runs the ONNX model `onnx` (the file's bytes) with tract on (up to [`REFERENCE_SAMPLES`] of) `samples` and
/// compares it with `graph`'s float outputs and the compiled model's: `proven` gives the
/// real numbers its integer outputs stand for on an input, within `report_error` (its
/// quantisation report's largest output error) of the float outputs. An
/// [`IrError::Reference`] when either disagrees beyond the tolerance.
pub fn compare_with_reference(
    onnx: &[u8],
    graph: &FloatGraph,
    proven: &Proven<'_>,
    report_error: f64,
    samples: &[Vec<f32>],
) -> Result<ReferenceCheck, Error> {
    let samples = &samples[..samples.len().min(REFERENCE_SAMPLES)];
    let shapes = input_shapes(graph);
    let runnable = match runnable(onnx, &shapes) {
        Ok(r) => r,
        Err(e) => {
            return Ok(ReferenceCheck::Unavailable {
                reason: format!("{e}"),
            })
        }
    };
    let (mut float_error, mut integer_error, mut largest) = (0f64, 0f64, 0f64);
    let mut worst = (0, 0, 0.0, 0.0, 0.0);
    for (s, x) in samples.iter().enumerate() {
        let reference = match run(&runnable, &shapes, x) {
            Ok(y) => y,
            Err(e) => {
                return Ok(ReferenceCheck::Unavailable {
                    reason: format!("{e}"),
                })
            }
        };
        let ours = graph.eval(x);
        let proven = proven(x)?;
        if reference.len() != ours.len() || reference.len() != proven.len() {
            return Err(IrError::Reference {
                reason: format!(
                    "tract's output has {} values, the imported model's {}",
                    reference.len(),
                    ours.len()
                ),
            }
            .into());
        }
        for (i, ((r, f), p)) in reference.iter().zip(&ours).zip(&proven).enumerate() {
            let r = f64::from(*r);
            // A non-finite value on either side is a disagreement, never ignored.
            let gap = |v: f64| {
                if (v - r).is_finite() {
                    (v - r).abs()
                } else {
                    f64::INFINITY
                }
            };
            largest = largest.max(if r.is_finite() { r.abs() } else { 0.0 });
            if gap(*f) > float_error || (gap(*f).is_infinite() && float_error.is_infinite()) {
                float_error = gap(*f);
                worst = (s, i, r, *f, *p);
            }
            integer_error = integer_error.max(gap(*p));
        }
    }
    let float_tolerance = 1e-3 * largest.max(1.0);
    let integer_tolerance = report_error + float_tolerance;
    if !(float_error <= float_tolerance && integer_error <= integer_tolerance) {
        let (s, i, r, f, p) = worst;
        return Err(IrError::Reference {
            reason: format!(
                "on calibration sample {s}, output {i}: tract computes {r:.6}, the imported float graph {f:.6} and the quantised model {p:.6} (float error {float_error:.2e}, tolerance {float_tolerance:.2e}; quantised error {integer_error:.4}, tolerance {integer_tolerance:.4}); the importer misreads this model, please report it"
            ),
        }
        .into());
    }
    Ok(ReferenceCheck::Agrees {
        samples: samples.len(),
        float_error,
        integer_error,
        float_tolerance,
        integer_tolerance,
    })
}

type Runnable = TypedSimplePlan<TypedModel>;

/// The shapes of the model's inputs.
fn input_shapes(graph: &FloatGraph) -> Vec<Vec<usize>> {
    if graph.input_parts.is_empty() {
        vec![graph.input_shape.clone()]
    } else {
        graph.input_parts.iter().map(|p| p.shape.clone()).collect()
    }
}

/// tract's float outputs (concatenated) of the ONNX model `onnx` on one flat input (the inputs of
/// `graph`, concatenated): an independent reference for tests and for
/// [`compare_with_reference`].
pub fn reference_forward(onnx: &[u8], graph: &FloatGraph, x: &[f32]) -> Result<Vec<f32>, IrError> {
    let fail = |e: TractError| IrError::Reference {
        reason: format!("tract cannot run the model: {e:#}"),
    };
    let shapes = input_shapes(graph);
    run(&runnable(onnx, &shapes).map_err(fail)?, &shapes, x).map_err(fail)
}

/// Runs tract, turning a panic inside it (tract trusts its input more than we do) into an
/// error.
pub(super) fn guarded<T>(f: impl FnOnce() -> TractResult<T>) -> TractResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(TractError::msg("tract panicked on this model")))
}

fn runnable(onnx: &[u8], shapes: &[Vec<usize>]) -> TractResult<Runnable> {
    guarded(|| {
        let mut model = tract_onnx::onnx().model_for_read(&mut &onnx[..])?;
        for (i, shape) in shapes.iter().enumerate() {
            model = model.with_input_fact(i, f32::fact(shape).into())?;
        }
        model.into_optimized()?.into_runnable()
    })
}

fn run(runnable: &Runnable, shapes: &[Vec<usize>], x: &[f32]) -> TractResult<Vec<f32>> {
    guarded(|| {
        let mut inputs = TVec::new();
        let mut rest = x;
        for shape in shapes {
            let n: usize = shape.iter().product();
            if n > rest.len() {
                return Err(TractError::msg(
                    "the input is shorter than the model's inputs",
                ));
            }
            let (part, tail) = rest.split_at(n);
            rest = tail;
            let t: Tensor =
                tract_ndarray::ArrayD::from_shape_vec(shape.clone(), part.to_vec())?.into();
            inputs.push(t.into());
        }
        // Every output, concatenated in the model's order (as the graph's outputs are); a
        // missing one shows as a length mismatch in the comparison.
        let mut values = Vec::new();
        for output in runnable.run(inputs)? {
            values.extend_from_slice(output.cast_to::<f32>()?.as_slice::<f32>()?);
        }
        Ok(values)
    })
}
