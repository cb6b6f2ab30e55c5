//! The whole of `zkinfer compile` from an ONNX file as one library call: import, calibrate, quantise, lay out,
//! and check against tract's own execution of the file, so that every front end (the CLI,
//! a service, the Python package) compiles with the same defence in depth.

use std::path::Path;

use super::compile::{CompileOptions, CompiledModel};
use crate::error::Error;
use crate::graph::ir::FloatGraph;
use crate::graph::quant::calibration_warnings;
use crate::graph::quant::QuantReport;
use crate::input::join_parts;
use crate::onnx::{compare_with_reference, import_bytes, ReferenceCheck};

/// What [`compile_file`] produced.
#[derive(Debug)]
pub struct Compiled {
    /// The imported float graph.
    pub graph: FloatGraph,
    /// The compiled model.
    pub model: CompiledModel,
    /// How the compiled model compares with tract's execution of the file.
    pub reference: ReferenceCheck,
    /// Warnings about the calibration data (outliers).
    pub warnings: Vec<String>,
    /// The calibration samples as the model takes them (inputs of a model of several
    /// inputs joined).
    pub samples: Vec<Vec<f32>>,
}

/// Imports the ONNX file at `path`, compiles it with scales from `calibration` (for a
/// model of several inputs, each input may be given separately, as in EZKL's files), and
/// refuses it if its outputs disagree with tract's beyond the tolerance.
pub fn compile_file(
    path: &Path,
    calibration: Vec<Vec<f32>>,
    options: &CompileOptions,
) -> Result<Compiled, Error> {
    let shown = path.display().to_string();
    let bytes = crate::onnx::read_model(path)?;
    let graph = import_bytes(&bytes, &shown)?;
    let samples = join_parts(calibration, &graph.input_lens());
    crate::graph::quant::check_calibration(&samples)?;
    let warnings = calibration_warnings(&samples);
    let model = CompiledModel::compile(&graph, &samples, options)?;
    let reference = check_against_reference(&bytes, &graph, &model, &samples)?;
    Ok(Compiled {
        graph,
        model,
        reference,
        warnings,
        samples,
    })
}

/// Runs the ONNX model `onnx` (the file's bytes) with tract on (some of) `samples` and
/// compares it with `graph`'s float outputs and `model`'s integer outputs
/// ([`compare_with_reference`]); an [`crate::error::IrError::Reference`] when either disagrees beyond
/// the tolerance.
pub fn check_against_reference(
    onnx: &[u8],
    graph: &FloatGraph,
    model: &CompiledModel,
    samples: &[Vec<f32>],
) -> Result<ReferenceCheck, Error> {
    let proven = |x: &[f32]| -> Result<Vec<f64>, Error> {
        let q = model.quantise_input(x, true)?;
        Ok(model.graph.outputs_to_float(&model.graph.eval(&q)?))
    };
    let report_error = model
        .quant_report
        .as_ref()
        .map_or(0.0, QuantReport::largest_error);
    compare_with_reference(onnx, graph, &proven, report_error, samples)
}
