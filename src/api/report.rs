//! What `inspect` and `accuracy` report, computed by the library so that every front end
//! (the CLI, a service, the Python package) shows the same numbers. Each report is
//! `Serialize` (the `--json` output) and `Display` (the text output).

use std::fmt;

use serde::Serialize;

use super::compile::CompiledModel;
use super::shape::Shapes;
use crate::circuit::cost::Shape;
use crate::circuit::layout::plan;
use crate::circuit::{degree, InstanceLayout, DOT_WIDTHS};
use crate::error::{CompileError, Error};
use crate::graph::quant::QuantReport;
use crate::input::{argmax, EvalSet};

/// A compiled model's circuit: shape, cost and every node's rows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Inspection {
    /// `log2` of the circuit's rows.
    pub k: u32,
    /// Rows used.
    pub rows: usize,
    /// Multiply–accumulate pairs per dot-product row.
    pub dot_width: usize,
    /// Public values.
    pub instances: usize,
    /// Whether the input is public.
    pub public_input: bool,
    /// Who sees the input, output and parameters.
    pub visibility: crate::Visibilities,
    /// Advice columns.
    pub advice_columns: usize,
    /// Fixed columns.
    pub fixed_columns: usize,
    /// Equality-enabled columns.
    pub equality_columns: usize,
    /// Lookup arguments.
    pub lookups: usize,
    /// Proving time the cost model predicts, seconds.
    pub predicted_prove_s: f64,
    /// Peak memory of proving the memory model predicts, MiB
    /// ([`crate::circuit::cost::Shape::predicted_peak_bytes`]).
    pub predicted_peak_mib: f64,
    /// Verifying time with the key in hand (a kept `Verifier`, the service) the cost model
    /// predicts, seconds ([`crate::circuit::cost::Shape::predicted_verify_seconds`]).
    pub predicted_verify_s: f64,
    /// Verifying time in a fresh process (`zkinfer verify`) the cost model predicts, seconds:
    /// parameters loaded and the verifying key rebuilt first
    /// ([`crate::circuit::cost::Shape::predicted_cold_verify_seconds`]).
    pub predicted_cold_verify_s: f64,
    /// Of a cold verification, the seconds rebuilding the verifying key
    /// ([`crate::circuit::cost::Shape::predicted_key_seconds`]): what parts of one shape pay
    /// once.
    pub predicted_key_s: f64,
    /// Every width the model lays out at: `(width, k, predicted seconds)`.
    pub alternatives: Vec<(usize, u32, f64)>,
    /// Rows of the shared range table.
    pub range_table_rows: usize,
    /// Rows of the whole lookup table (range and functions).
    pub table_rows: usize,
    /// The function tables.
    pub tables: Vec<TableInfo>,
    /// The constraint system's degree.
    pub degree: usize,
    /// Per node, the input first.
    pub nodes: Vec<NodeInfo>,
    /// The model's outputs in order, as `(tensor name, values)`: the instance column holds
    /// them one after another.
    pub outputs: Vec<(String, usize)>,
    /// Float-vs-integer error on the calibration set.
    pub quant_report: Option<QuantReport>,
}

/// One function table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TableInfo {
    /// The node.
    pub node: String,
    /// The function.
    pub function: String,
    /// Table rows.
    pub rows: usize,
    /// Bits of the reduced input.
    pub input_bits: u32,
    /// The input is divided by `2^shift` first.
    pub shift: u32,
    /// Measured largest error, in real units.
    pub error_bound: f64,
}

/// One node (or the input) of the circuit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeInfo {
    /// Name.
    pub name: String,
    /// Op kind.
    pub op: String,
    /// Values.
    pub len: usize,
    /// Scale exponent.
    pub scale_exp: i32,
    /// Signed width.
    pub bits: u32,
    /// Rows per column group.
    pub rows: NodeRowsInfo,
    /// Advice cells.
    pub cells: usize,
}

/// Rows of one node per column group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeRowsInfo {
    /// Dot-product rows.
    pub dot: usize,
    /// Elementwise rows.
    pub elementwise: usize,
    /// Range-check rows.
    pub range: usize,
    /// Commitment rows (a commitment chip's own columns).
    pub commit: usize,
}

impl CompiledModel {
    /// The predicted peak memory of proving, in bytes: of the whole model, of its part
    /// `part`, or of its largest part (a parted prove holds one part's keys at a time).
    pub fn predicted_peak_bytes(&self, part: Option<usize>) -> Result<u64, CompileError> {
        if !self.is_parted() {
            return Ok(Shape::of(&self.layout()?).predicted_peak_bytes());
        }
        let parts = self.part_models()?;
        let chosen: Vec<&CompiledModel> = match part {
            Some(i) => parts.get(i).into_iter().collect(),
            None => parts.iter().collect(),
        };
        chosen.into_iter().try_fold(0, |peak, part| {
            Ok(peak.max(Shape::of(&part.layout()?).predicted_peak_bytes()))
        })
    }

    /// The circuit's shape, cost and rows per node.
    pub fn inspect(&self) -> Result<Inspection, CompileError> {
        let layout = self.layout()?;
        let g = &self.graph;
        let shape = Shape::of(&layout);
        // `(values, scale, bits)` per layout entry: the input, each node, each commitment.
        let instance = InstanceLayout::of(g, &self.visibility);
        // The parameters' commitment covers every weight and bias (at two widths).
        let params = instance.params.map(|_| {
            let values = g.params().values;
            let bits = self.visibility.param_bits.into_iter().max().unwrap_or(0);
            (values[0].len() + values[1].len(), 0, bits)
        });
        let tensors = std::iter::once(&g.input)
            .chain(g.nodes.iter().map(|n| &n.output))
            .map(|t| (t.len, t.scale_exp, t.bits))
            .chain(
                instance
                    .commitments(g)
                    .into_iter()
                    .map(|(_, len, bits)| (len, 0, bits)),
            )
            .chain(params);
        let nodes = layout
            .nodes
            .iter()
            .zip(tensors)
            .map(|(r, (len, scale_exp, bits))| NodeInfo {
                name: r.name.clone(),
                op: r.op.clone(),
                len,
                scale_exp,
                bits,
                rows: NodeRowsInfo {
                    dot: r.dot,
                    elementwise: r.elementwise,
                    range: r.range,
                    commit: r.commit,
                },
                cells: r.cells(layout.dot_width),
            })
            .collect();
        let tables = g
            .nodes
            .iter()
            .filter_map(|n| {
                let crate::graph::qgraph::QOp::Lookup(l) = &n.op else {
                    return None;
                };
                Some(TableInfo {
                    node: n.name.clone(),
                    function: l.function.name().into(),
                    rows: l.table.outputs.len(),
                    input_bits: l.table.input_bits,
                    shift: l.table.shift,
                    error_bound: l.table.error_bound,
                })
            })
            .collect();
        let alternatives = DOT_WIDTHS
            .iter()
            .filter_map(|w| plan(g, &self.visibility, *w).ok())
            .map(|l| (l.dot_width, l.k, Shape::of(&l).predicted_seconds()))
            .collect();
        Ok(Inspection {
            k: layout.k,
            rows: layout.rows,
            dot_width: layout.dot_width,
            instances: layout.instances,
            public_input: self.visibility.public_input(),
            visibility: self.visibility,
            advice_columns: shape.advice,
            fixed_columns: shape.fixed,
            equality_columns: shape.equality,
            lookups: shape.lookups,
            predicted_prove_s: shape.predicted_seconds(),
            predicted_peak_mib: mib(shape.predicted_peak_bytes()),
            predicted_verify_s: shape.predicted_verify_seconds(),
            predicted_cold_verify_s: shape.predicted_cold_verify_seconds(),
            predicted_key_s: shape.predicted_key_seconds(),
            alternatives,
            range_table_rows: zkinfer_circuits::RangeTableConfig::ROWS,
            table_rows: layout.table_rows,
            tables,
            degree: degree(layout.commitments),
            nodes,
            quant_report: self.quant_report.clone(),
            outputs: g
                .output_tensors()
                .map(|t| (t.name.clone(), t.len))
                .collect(),
        })
    }

    /// The integer model on a labelled evaluation set: its accuracy, the float model's
    /// (when the set records float logits) and the error against those logits. A model of
    /// several outputs is scored on its first. A label per position splits the output into
    /// as many equal rows, each scored on its own (top-1 agreement per position).
    pub fn accuracy(&self, set: &EvalSet) -> Result<AccuracyReport, Error> {
        let (mut correct, mut float_correct, mut positions) = (0usize, 0usize, 0usize);
        let (mut max_err, mut sum_err, mut compared) = (0f64, 0f64, 0usize);
        for (i, (x, label)) in set.inputs.iter().zip(&set.labels).enumerate() {
            let sample = |e: &dyn fmt::Display| Error::File {
                path: format!("evaluation sample {i}"),
                reason: e.to_string(),
            };
            let q = self.quantise_input(x, false).map_err(|e| sample(&e))?;
            let y = self.graph.eval(&q).map_err(|e| sample(&e))?;
            let mut out = self.graph.outputs_to_float(&y);
            out.truncate(self.graph.output_tensors().next().map_or(0, |t| t.len));
            let classes = label.classes();
            if classes.is_empty() || !out.len().is_multiple_of(classes.len()) {
                return Err(sample(&format!(
                    "{} labels do not split an output of {} values into equal rows",
                    classes.len(),
                    out.len()
                )));
            }
            let row = out.len() / classes.len();
            let logits = set.float_logits.as_ref().and_then(|l| l.get(i));
            for (p, class) in classes.iter().enumerate() {
                let rows = p * row..(p + 1) * row;
                correct += usize::from(argmax(&out[rows.clone()]) == Some(*class));
                if let Some(float) = logits.and_then(|l| l.get(rows)) {
                    float_correct += usize::from(argmax(float) == Some(*class));
                }
            }
            positions += classes.len();
            if let Some(logits) = logits {
                for (a, b) in out.iter().zip(logits) {
                    max_err = max_err.max((a - b).abs());
                    sum_err += (a - b).abs();
                    compared += 1;
                }
            }
        }
        let n = positions.max(1) as f64;
        let float = set.float_logits.as_ref().map(|_| float_correct as f64 / n);
        Ok(AccuracyReport {
            samples: set.inputs.len(),
            positions,
            quantised_accuracy: correct as f64 / n,
            float_accuracy: float,
            max_logit_error: float.map(|_| max_err),
            mean_logit_error: float.map(|_| sum_err / compared.max(1) as f64),
        })
    }
}

/// The integer model's accuracy on a labelled evaluation set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccuracyReport {
    /// Samples evaluated.
    pub samples: usize,
    /// Labels scored: one per sample, or one per position of a sequence output.
    pub positions: usize,
    /// Fraction of labels the integer argmax agrees with.
    pub quantised_accuracy: f64,
    /// The same for the float logits recorded in the set, if any.
    pub float_accuracy: Option<f64>,
    /// Largest |integer output − float logit|, if the set records float logits.
    pub max_logit_error: Option<f64>,
    /// Mean |integer output − float logit|, if the set records float logits.
    pub mean_logit_error: Option<f64>,
}

impl fmt::Display for AccuracyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "samples: {}", self.samples)?;
        if self.positions != self.samples {
            writeln!(f, "positions scored: {}", self.positions)?;
        }
        writeln!(f, "quantised accuracy: {:.4}", self.quantised_accuracy)?;
        match (self.float_accuracy, self.max_logit_error, self.mean_logit_error) {
            (Some(a), Some(max), Some(mean)) => write!(
                f,
                "float accuracy:     {a:.4}\nmax |logit error|:  {max:.4}\nmean |logit error|: {mean:.4}"
            ),
            _ => write!(f, "float accuracy: not in the evaluation file"),
        }
    }
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<16} {:<8} {:>6} {:>6} {:>5} {:>8} {:>12} {:>8} {:>7} {:>9}",
            "node",
            "op",
            "len",
            "scale",
            "bits",
            "dot rows",
            "elementwise",
            "range",
            "commit",
            "cells"
        )?;
        for n in &self.nodes {
            writeln!(
                f,
                "{:<16} {:<8} {:>6} {:>6} {:>5} {:>8} {:>12} {:>8} {:>7} {:>9}",
                n.name,
                n.op,
                n.len,
                format!("2^{}", n.scale_exp),
                n.bits,
                n.rows.dot,
                n.rows.elementwise,
                n.rows.range,
                n.rows.commit,
                n.cells
            )?;
        }
        for t in &self.tables {
            writeln!(
                f,
                "table {}: {} over {} rows ({}-bit input after dividing by 2^{}), error bound {:.2e}",
                t.node, t.function, t.rows, t.input_bits, t.shift, t.error_bound
            )?;
        }
        writeln!(
            f,
            "k = {} ({} of {} rows used), dot width {}, {} advice + {} fixed + 1 instance columns, {} lookups (table of {} rows: {} range + functions), degree {}; input {}, output {}, parameters {}",
            self.k,
            self.rows,
            1u64 << self.k,
            self.dot_width,
            self.advice_columns,
            self.fixed_columns,
            self.lookups,
            self.table_rows,
            self.range_table_rows,
            self.degree,
            self.visibility.input,
            self.visibility.output,
            self.visibility.params
        )?;
        if self.outputs.len() > 1 {
            let outputs: Vec<String> = self
                .outputs
                .iter()
                .map(|(name, len)| format!("{name} ({len})"))
                .collect();
            writeln!(f, "outputs, in order: {}", outputs.join(", "))?;
        }
        let others: Vec<String> = self
            .alternatives
            .iter()
            .map(|a| format!("width {} k = {} {:.2} s", a.0, a.1, a.2))
            .collect();
        writeln!(
            f,
            "predicted proving time {:.2} s on the calibration machine (cost model; candidates: {}), peak memory {:.0} MiB",
            self.predicted_prove_s,
            others.join(", "),
            self.predicted_peak_mib
        )?;
        write!(
            f,
            "predicted verifying time {:.3} s with the key kept (a Verifier, `zkinfer serve`), {:.2} s cold (`zkinfer verify`: parameters loaded and the verifying key rebuilt first)",
            self.predicted_verify_s, self.predicted_cold_verify_s
        )?;
        match &self.quant_report {
            Some(q) => write!(f, "\n{q}"),
            None => Ok(()),
        }
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1u32 << 20)
}

/// A model proven in parts: each part's circuit, and the distinct shapes among them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartsInspection {
    /// The parts, first first.
    pub parts: Vec<PartInfo>,
    /// The distinct circuits among the parts, in order of first use: one set of keys each.
    pub shapes: Vec<ShapeInfo>,
    /// Predicted proving time of all parts, one after another, seconds (keys not included).
    pub predicted_prove_s: f64,
    /// Predicted time to build the proving keys, once per shape, seconds (a shape's keys
    /// take about as long as one proof of one of its parts, as measured on ResNet-20 and
    /// GPT-2).
    pub predicted_keys_s: f64,
    /// Predicted peak memory: the largest part's (one shape's keys are held at a time), MiB.
    pub predicted_peak_mib: f64,
    /// Predicted verifying time of all parts with their keys kept, seconds.
    pub predicted_verify_s: f64,
    /// Predicted verifying time of all parts in a fresh process (parameters loaded per part,
    /// each shape's verifying key rebuilt once), seconds.
    pub predicted_cold_verify_s: f64,
    /// Float-vs-integer error on the calibration set (and the error budget's choice).
    pub quant_report: Option<QuantReport>,
    /// With hashed params, the published commitment: the digest of the parts' commitments
    /// (each part's is in its circuit's description).
    pub weights_commitment: Option<String>,
}

/// One part of a model proven in parts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartInfo {
    /// The model's nodes it proves, `[first, end)`.
    pub nodes: (usize, usize),
    /// Values its input link carries (the model's input for the first part).
    pub input_values: usize,
    /// Values its output link carries (the model's outputs for the last part).
    pub output_values: usize,
    /// Its shape: an index into [`PartsInspection::shapes`].
    pub shape: usize,
    /// Its circuit, as [`CompiledModel::inspect`] describes a model's.
    pub circuit: Inspection,
}

/// One distinct circuit among a model's parts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShapeInfo {
    /// Its digest ([`CompiledModel::shape_digest`]).
    pub digest: String,
    /// The parts of this shape, in order.
    pub parts: Vec<usize>,
    /// `log2` of its rows.
    pub k: u32,
    /// Predicted seconds to build its proving key (about one proof of one of its parts).
    pub predicted_keys_s: f64,
    /// Predicted seconds to rebuild its verifying key.
    pub predicted_vk_s: f64,
    /// Predicted peak memory of proving a part of it, MiB (its keys included).
    pub predicted_peak_mib: f64,
}

impl CompiledModel {
    /// Each part's circuit, for a model proven in parts.
    pub fn inspect_parts(&self) -> Result<PartsInspection, CompileError> {
        let models = self.part_models()?;
        let of = Shapes::of(&models);
        let parts = models
            .iter()
            .zip(self.part_ranges())
            .zip(&of.of_part)
            .map(|((part, range), &shape)| {
                Ok(PartInfo {
                    nodes: (range.start, range.end),
                    input_values: part.graph.input.len,
                    output_values: part.graph.output_len(),
                    shape,
                    circuit: part.inspect()?,
                })
            })
            .collect::<Result<Vec<_>, CompileError>>()?;
        let shapes: Vec<ShapeInfo> = of
            .digests
            .iter()
            .enumerate()
            .filter_map(|(s, digest)| {
                let members: Vec<usize> = of.parts_of(s).collect();
                let circuit = &parts.get(*members.first()?)?.circuit;
                Some(ShapeInfo {
                    digest: digest.clone(),
                    parts: members,
                    k: circuit.k,
                    predicted_keys_s: circuit.predicted_prove_s,
                    predicted_vk_s: circuit.predicted_key_s,
                    predicted_peak_mib: circuit.predicted_peak_mib,
                })
            })
            .collect();
        let cold_without_keys: f64 = parts
            .iter()
            .map(|p| p.circuit.predicted_cold_verify_s - p.circuit.predicted_key_s)
            .sum();
        Ok(PartsInspection {
            predicted_prove_s: parts.iter().map(|p| p.circuit.predicted_prove_s).sum(),
            predicted_keys_s: shapes.iter().map(|s| s.predicted_keys_s).sum(),
            predicted_peak_mib: parts
                .iter()
                .map(|p| p.circuit.predicted_peak_mib)
                .fold(0.0, f64::max),
            predicted_verify_s: parts.iter().map(|p| p.circuit.predicted_verify_s).sum(),
            predicted_cold_verify_s: cold_without_keys
                + shapes.iter().map(|s| s.predicted_vk_s).sum::<f64>(),
            shapes,
            parts,
            quant_report: self.quant_report.clone(),
            weights_commitment: self.weights.as_ref().map(|w| w.commitment.clone()),
        })
    }
}

impl fmt::Display for PartsInspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>4} {:>11} {:>5} {:>9} {:>9} {:>3} {:>5} {:>8} {:>10} {:>11} {:>7}",
            "part",
            "nodes",
            "shape",
            "in",
            "out",
            "k",
            "width",
            "rows",
            "predicted",
            "peak MiB",
            "params"
        )?;
        for (i, p) in self.parts.iter().enumerate() {
            let c = &p.circuit;
            writeln!(
                f,
                "{i:>4} {:>11} {:>5} {:>9} {:>9} {:>3} {:>5} {:>8} {:>9.2}s {:>11.0} {:>7}",
                format!("{}..{}", p.nodes.0, p.nodes.1),
                p.shape,
                p.input_values,
                p.output_values,
                c.k,
                c.dot_width,
                c.rows,
                c.predicted_prove_s,
                c.predicted_peak_mib,
                c.visibility.params.to_string()
            )?;
        }
        writeln!(
            f,
            "{} distinct circuits (shapes), one set of keys each:",
            self.shapes.len()
        )?;
        for (s, shape) in self.shapes.iter().enumerate() {
            let parts: Vec<String> = shape.parts.iter().map(usize::to_string).collect();
            writeln!(
                f,
                "  shape {s}: parts {}; k = {}, keys predicted {:.2} s (verifying key {:.2} s), peak {:.0} MiB; {}",
                parts.join(", "),
                shape.k,
                shape.predicted_keys_s,
                shape.predicted_vk_s,
                shape.predicted_peak_mib,
                &shape.digest[..16.min(shape.digest.len())]
            )?;
        }
        if let Some(c) = &self.weights_commitment {
            writeln!(
                f,
                "weights commitment {c}: the digest of the hashed parts' commitments, in order"
            )?;
        }
        write!(
            f,
            "{} parts linked by Poseidon commitments; predicted proving time {:.2} s in all and {:.2} s of keys (once per shape), peak memory {:.0} MiB (one part at a time); verifying {:.2} s with the keys kept, {:.1} s cold (each shape's verifying key rebuilt once)",
            self.parts.len(),
            self.predicted_prove_s,
            self.predicted_keys_s,
            self.predicted_peak_mib,
            self.predicted_verify_s,
            self.predicted_cold_verify_s
        )?;
        match &self.quant_report {
            Some(q) => write!(f, "\n{q}"),
            None => Ok(()),
        }
    }
}
