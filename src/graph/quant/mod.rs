//! Calibration and quantisation: from a float graph to the integer graph.
//!
//! # Scheme
//! Every tensor `t` has a power-of-two scale `2^e_t` (a float `v` is the integer
//! `round(v · 2^e_t)`) and a signed width of [`QuantOptions::activation_bits`]. Weights of a
//! dense layer share one scale `2^e_w` chosen so the largest weight fits
//! [`QuantOptions::weight_bits`]; the bias is stored at the accumulator's scale `e_x + e_w`.
//! The accumulator is rescaled to the output's scale by a right shift `s = e_x + e_w − e_y`
//! with a named [`Rounding`](crate::graph::qgraph::Rounding) mode. Convolutions and
//! constant affine maps follow the same rule; an average pool keeps its input's scale and
//! divides by the window size; an Add brings both inputs to the finer scale by exact
//! multiplication with a power of two;
//! wiring (Concat) divides finer inputs down to the coarsest, so it only moves integers.
//!
//! # Bit budget
//! `e_t` is the largest exponent (at most [`QuantOptions::max_frac_bits`]) such that the
//! largest magnitude seen in calibration, times `2^headroom_bits`, still fits the signed
//! width. Headroom keeps inputs unlike the calibration set from overflowing. Accumulators
//! are bounded by `n · 2^(a−1) · 2^(w−1) + |b|`, which must stay below
//! [`MAX_ACCUMULATOR_BITS`] bits: far below the field modulus, and inside `i64`.

mod input;
pub(crate) mod options;
pub(crate) mod scale;

use serde::{Deserialize, Serialize};

use crate::error::{Error, QuantError};
use crate::graph::ir::{each_float_op, FloatGraph, FloatNode};
use crate::graph::ops::{FloatKernel, Operand, Quantiser};
use crate::graph::qgraph::{
    Affine, QGraph, QNode, QOp, QTensor, MAX_ACCUMULATOR_BITS, MAX_TENSOR_BITS,
};
use crate::graph::repeats::Repeat;
use crate::graph::TensorId;
use scale::{bits_i32, exponent_for, shift};

pub use crate::error::readable;
use input::check_finite;
pub use input::{calibration_warnings, check_calibration, check_integers, quantise_input};
pub use options::{Precision, QuantOptions};

/// What quantisation did to the calibration set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantReport {
    /// Largest |float output − dequantised integer output| over the calibration set.
    pub max_output_error: f64,
    /// Calibration samples used.
    pub samples: usize,
    /// With an error budget (`compile --max-error`): what the search measured and chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetReport>,
}

/// What `compile --max-error` measured and chose ([`crate::api::CompileOptions::max_error`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetReport {
    /// The budget: the largest max abs output error allowed.
    pub max_error: f64,
    /// The chosen setting's max abs output error on the held-out samples.
    pub held_out_error: f64,
    /// Calibration samples held out of fitting the scales, on which the error was measured.
    pub held_out_samples: usize,
    /// The chosen widths.
    pub activation_bits: u32,
    /// The chosen weight width.
    pub weight_bits: u32,
    /// The chosen input bits of activation tables (none for a model without them).
    pub table_bits: Option<u32>,
    /// Settings whose error was measured.
    pub settings_tried: usize,
}

impl QuantReport {
    /// The largest error measured: on the calibration samples, or on the held-out ones an
    /// error budget measured.
    pub fn largest_error(&self) -> f64 {
        self.budget.as_ref().map_or(self.max_output_error, |b| {
            b.held_out_error.max(self.max_output_error)
        })
    }
}

impl std::fmt::Display for QuantReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "max |float - quantised| output error {} on {} calibration samples",
            readable(self.max_output_error),
            self.samples
        )?;
        if let Some(b) = &self.budget {
            write!(
                f,
                "; error budget {}: {}-bit activations, {}-bit weights{} chosen, {} on {} held-out samples ({} settings measured)",
                readable(b.max_error),
                b.activation_bits,
                b.weight_bits,
                b.table_bits.map_or(String::new(), |t| format!(", {t}-bit tables")),
                readable(b.held_out_error),
                b.held_out_samples,
                b.settings_tried
            )?;
        }
        Ok(())
    }
}

/// Quantises `graph` with scales chosen from `calibration` (one flat input per sample).
pub fn quantise(
    graph: &FloatGraph,
    calibration: &[Vec<f32>],
    options: &QuantOptions,
) -> Result<(QGraph, QuantReport), Error> {
    Calibrated::run(graph, calibration)?.quantise(options)
}

/// A float graph run on samples: every tensor's largest magnitude and the float outputs,
/// computed once, so that quantisations at several settings ([`Calibrated::quantise`]) and
/// their errors on these samples ([`Calibrated::max_output_error`]) share one float pass.
#[derive(Debug)]
pub struct Calibrated<'a> {
    graph: &'a FloatGraph,
    samples: &'a [Vec<f32>],
    /// Per tensor (the input first), the largest magnitude over the samples.
    max_abs: Vec<f64>,
    /// Per sample, the float outputs in order.
    outputs: Vec<Vec<f64>>,
}

impl<'a> Calibrated<'a> {
    /// Runs `graph` on `samples`, refusing samples it cannot take and values that are not
    /// finite (naming the tensor).
    pub fn run(graph: &'a FloatGraph, samples: &'a [Vec<f32>]) -> Result<Self, Error> {
        graph.validate()?;
        if samples.is_empty() {
            return Err(QuantError::NoCalibration.into());
        }
        for sample in samples {
            check_finite(&graph.input_name, sample)?;
            if graph.integer_input {
                check_integers(&graph.input_name, sample)?;
            }
            if sample.len() != graph.input_len() {
                return Err(QuantError::InputLength {
                    tensor: graph.input_name.clone(),
                    expected: graph.input_len(),
                    got: sample.len(),
                }
                .into());
            }
        }
        let mut max_abs = vec![0f64; graph.nodes.len() + 1];
        let mut outputs = Vec::with_capacity(samples.len());
        for sample in samples {
            let trace = graph.forward(sample);
            // Calibration overflowing f64 (huge weights) has no scale: name where it happened.
            for (t, values) in trace.iter().enumerate() {
                if let Some(index) = values.iter().position(|v| !v.is_finite()) {
                    let tensor = match t {
                        0 => graph.input_name.clone(),
                        _ => graph.nodes[t - 1].name.clone(),
                    };
                    let value = values[index];
                    return Err(QuantError::NotFinite {
                        tensor,
                        index,
                        value,
                    }
                    .into());
                }
                max_abs[t] = values.iter().fold(max_abs[t], |m, v| m.max(v.abs()));
            }
            outputs.push(
                graph
                    .outputs
                    .iter()
                    .flat_map(|t| trace[t.index()].iter().copied())
                    .collect(),
            );
        }
        Ok(Self {
            graph,
            samples,
            max_abs,
            outputs,
        })
    }

    /// The samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are none (never: [`Calibrated::run`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Largest |float output − dequantised integer output| of `qgraph` over these samples.
    /// An input outside the integer input's range is clamped to it, as a prover's would be;
    /// a value leaving its declared range inside the graph is the witness error.
    pub fn max_output_error(&self, qgraph: &QGraph) -> Result<f64, Error> {
        let mut error = 0f64;
        for (sample, float_out) in self.samples.iter().zip(&self.outputs) {
            let x = quantise_input(&qgraph.input, sample, true)?;
            let out = qgraph.outputs_to_float(&qgraph.eval(&x)?);
            for (q, f) in out.iter().zip(float_out) {
                error = error.max((q - f).abs());
            }
        }
        Ok(error)
    }

    /// The integer graph with scales from these samples, and its error on them.
    pub fn quantise(&self, options: &QuantOptions) -> Result<(QGraph, QuantReport), Error> {
        let alike = Alike {
            max_abs: self.max_abs.clone(),
            weight_max: vec![None; self.graph.nodes.len()],
        };
        self.quantise_with(options, &alike)
    }

    /// [`Calibrated::quantise`] with the blocks of each run of `repeats` quantised alike: a
    /// tensor's scale comes from the largest magnitude seen at its position in any block
    /// (the tensor a block reads included: the first block's input joins the later blocks'
    /// inputs), and a linear node's weights share a scale with the same node of every
    /// block. Each block then has the scales of the others, and a later block of the run
    /// quantises to the same integer structure (ops, scales, widths, tables) as the one
    /// before it, differing in its weights only: what lets their parts share keys.
    pub fn quantise_alike(
        &self,
        options: &QuantOptions,
        repeats: &[Repeat],
    ) -> Result<(QGraph, QuantReport), Error> {
        self.quantise_with(options, &Alike::of(self, repeats))
    }

    fn quantise_with(
        &self,
        options: &QuantOptions,
        alike: &Alike,
    ) -> Result<(QGraph, QuantReport), Error> {
        let graph = self.graph;
        let max_abs = &alike.max_abs;
        // An integer input (token ids) is exact at scale 2^0, as wide as its largest value
        // with headroom needs.
        let input = if graph.integer_input {
            let needed = (max_abs[0] * 2f64.powi(bits_i32(options.headroom_bits)) + 1.0)
                .log2()
                .ceil() as u32
                + 1;
            QTensor {
                name: graph.input_name.clone(),
                len: graph.input_len(),
                scale_exp: 0,
                bits: needed.clamp(options.activation_bits, MAX_TENSOR_BITS),
            }
        } else {
            QTensor {
                name: graph.input_name.clone(),
                len: graph.input_len(),
                scale_exp: exponent_for(max_abs[0], options.activation_bits, options),
                bits: options.activation_bits,
            }
        };
        let mut builder = Builder {
            options,
            graph: QGraph {
                integer_input: graph.integer_input,
                input,
                nodes: Vec::with_capacity(graph.nodes.len()),
                outputs: Vec::new(),
                rounding: options.rounding,
            },
            ids: vec![TensorId::INPUT],
            weight_max: None,
        };
        for (i, node) in graph.nodes.iter().enumerate() {
            let calibrated = exponent_for(max_abs[i + 1], options.activation_bits, options);
            builder.weight_max = alike.weight_max[i];
            builder.node(node, calibrated)?;
        }
        let mut qgraph = builder.graph;
        qgraph.outputs = graph
            .outputs
            .iter()
            .map(|t| {
                builder
                    .ids
                    .get(t.index())
                    .copied()
                    .unwrap_or(TensorId::INPUT)
            })
            .collect();
        let report = QuantReport {
            max_output_error: self.max_output_error(&qgraph)?,
            samples: self.samples.len(),
            budget: None,
        };
        Ok((qgraph, report))
    }
}

/// The statistics scales are chosen from: per tensor the largest magnitude, and per node
/// the largest weight magnitude its weights' scale must hold, each pooled over the blocks
/// quantised alike ([`Calibrated::quantise_alike`]).
struct Alike {
    max_abs: Vec<f64>,
    weight_max: Vec<Option<f64>>,
}

/// How far apart (in bits) the magnitudes at one position of blocks quantised alike may be:
/// a block whose ranges differ more from its group's starts a group of its own, so that
/// sharing a scale costs a block at most this many bits of precision. Measured on GPT-2 of
/// eight blocks, whose residual stream grows block after block (top-1 agreement on its
/// evaluation set, distinct circuits of 35 parts): every block pooled 0.806 (7), 6 bits
/// 0.975 (13), 4 bits 0.981 (18), 2 bits 0.9875 (26), a key per part 0.9875 (32).
pub const ALIKE_TOLERANCE_BITS: f64 = 4.0;

impl Alike {
    fn of(calibrated: &Calibrated<'_>, repeats: &[Repeat]) -> Self {
        let graph = calibrated.graph;
        // Tensors at one position of every block of a group, and the tensors the blocks
        // read there, in one class each (union–find over tensor indices).
        let mut parent: Vec<usize> = (0..calibrated.max_abs.len()).collect();
        fn root(parent: &mut [usize], mut t: usize) -> usize {
            while parent[t] != t {
                parent[t] = parent[parent[t]];
                t = parent[t];
            }
            t
        }
        // A tensor made inside some block: joined to another block's only through its own
        // group, never through a later group's input.
        let in_block = |t: usize| t > 0 && repeats.iter().any(|r| r.nodes().contains(&(t - 1)));
        let mut weight_max: Vec<Option<f64>> = vec![None; graph.nodes.len()];
        for group in repeats.iter().flat_map(|r| groups(calibrated, r)) {
            for k in 0..group.period {
                let same: Vec<usize> = (0..group.count)
                    .map(|r| group.start + r * group.period + k)
                    .collect();
                let pooled = same
                    .iter()
                    .filter_map(|&n| graph.nodes[n].op.weight_max())
                    .reduce(f64::max);
                for &n in &same {
                    weight_max[n] = pooled;
                    let read = graph.nodes[same[0]]
                        .inputs
                        .iter()
                        .zip(&graph.nodes[n].inputs)
                        .map(|(a, b)| (a.index(), b.index()))
                        // What the group's first block reads from before the group joins
                        // only when it is no block's and within the tolerance.
                        .filter(|&(a, b)| {
                            a == b
                                || a > group.start
                                || (!in_block(a)
                                    && within(calibrated.max_abs[a], calibrated.max_abs[b]))
                        });
                    for (a, b) in [(same[0] + 1, n + 1)].into_iter().chain(read) {
                        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
                        parent[rb] = ra;
                    }
                }
            }
        }
        let mut pooled = vec![0f64; parent.len()];
        for t in 0..parent.len() {
            let r = root(&mut parent, t);
            pooled[r] = pooled[r].max(calibrated.max_abs[t]);
        }
        let max_abs = (0..parent.len())
            .map(|t| pooled[root(&mut parent, t)])
            .collect();
        Self {
            max_abs,
            weight_max,
        }
    }
}

/// Whether two magnitudes are within [`ALIKE_TOLERANCE_BITS`] of each other (a zero, seen
/// nowhere in calibration, constrains nothing).
fn within(a: f64, b: f64) -> bool {
    a == 0.0 || b == 0.0 || (a.max(b) / a.min(b)).log2() <= ALIKE_TOLERANCE_BITS
}

/// The blocks of `repeat` in runs of consecutive blocks whose magnitudes at every position
/// (each node's output, and its weights) are within [`ALIKE_TOLERANCE_BITS`] of each other:
/// the groups quantised alike (a block alone is left out).
fn groups(calibrated: &Calibrated<'_>, repeat: &Repeat) -> Vec<Repeat> {
    let graph = calibrated.graph;
    let magnitudes = |r: usize| -> Vec<f64> {
        (0..repeat.period)
            .flat_map(|k| {
                let n = repeat.start + r * repeat.period + k;
                [
                    calibrated.max_abs[n + 1],
                    graph.nodes[n].op.weight_max().unwrap_or(0.0),
                ]
            })
            .collect()
    };
    // Per position, the smallest non-zero and the largest magnitude of the group so far.
    let widen = |range: &mut [(f64, f64)], r: usize| {
        for (m, (lo, hi)) in magnitudes(r).into_iter().zip(range.iter_mut()) {
            if m > 0.0 {
                *lo = if *lo == 0.0 { m } else { lo.min(m) };
                *hi = hi.max(m);
            }
        }
    };
    let mut found = Vec::new();
    let mut first = 0;
    let mut range = vec![(0.0, 0.0); 2 * repeat.period];
    widen(&mut range, 0);
    for r in 1..=repeat.count {
        if r < repeat.count {
            let mut wider = range.clone();
            widen(&mut wider, r);
            if wider.iter().all(|&(lo, hi)| within(lo, hi)) {
                range = wider;
                continue;
            }
        }
        if r - first >= 2 {
            found.push(Repeat {
                start: repeat.start + first * repeat.period,
                period: repeat.period,
                count: r - first,
            });
        }
        first = r;
        range = vec![(0.0, 0.0); 2 * repeat.period];
        if r < repeat.count {
            widen(&mut range, r);
        }
    }
    found
}

/// Builds the integer graph node by node.
struct Builder<'a> {
    options: &'a QuantOptions,
    graph: QGraph,
    /// Float tensor id → integer tensor id (alignment nodes shift the numbering).
    ids: Vec<TensorId>,
    /// The node's weights' pooled largest magnitude, when it is quantised alike with others.
    weight_max: Option<f64>,
}

impl Builder<'_> {
    fn tensor(&self, float_id: TensorId) -> (TensorId, QTensor) {
        let id = self
            .ids
            .get(float_id.index())
            .copied()
            .unwrap_or(TensorId::INPUT);
        let t = self
            .graph
            .tensor(id)
            .cloned()
            .unwrap_or_else(|| self.graph.input.clone());
        (id, t)
    }

    fn push(
        &mut self,
        name: &str,
        op: QOp,
        inputs: Vec<TensorId>,
        len: usize,
        scale_exp: i32,
    ) -> Result<TensorId, Error> {
        let node = QNode {
            name: name.to_string(),
            op,
            inputs,
            output: QTensor {
                name: name.to_string(),
                len,
                scale_exp,
                bits: self.options.activation_bits,
            },
        };
        check_accumulator(&self.graph, &node)?;
        self.graph.nodes.push(node);
        Ok(TensorId::of_node(self.graph.nodes.len() - 1))
    }

    /// Quantises one float node; `calibrated` is the exponent its output's range allows.
    fn node(&mut self, node: &FloatNode, calibrated: i32) -> Result<(), Error> {
        let name = node.name.as_str();
        let ins: Vec<Operand> = node
            .inputs
            .iter()
            .map(|&t| {
                let (id, tensor) = self.tensor(t);
                Operand { id, tensor }
            })
            .collect();
        let id = each_float_op!(&node.op, op => {
            let q = FloatKernel::quantise(op, self, name, &ins, calibrated)?;
            self.push(name, q.op.into(), q.inputs, q.len, q.scale_exp)?
        });
        self.ids.push(id);
        Ok(())
    }
}

impl Quantiser for Builder<'_> {
    fn options(&self) -> &QuantOptions {
        self.options
    }

    fn rescale(&mut self, name: &str, input: &Operand, scale_exp: i32) -> Result<TensorId, Error> {
        let len = input.tensor.len;
        let op = QOp::Affine(Affine {
            scale: vec![1; len],
            bias: vec![0; len],
            shift: shift(name, input.tensor.scale_exp - scale_exp)?,
        });
        self.push(name, op, vec![input.id], len, scale_exp)
    }

    fn weight_max(&self, own: f64) -> f64 {
        self.weight_max.map_or(own, |pooled| pooled.max(own))
    }
}

/// Fails if some accumulator of a linear node could exceed [`MAX_ACCUMULATOR_BITS`] for
/// inputs anywhere in their declared ranges.
fn check_accumulator(graph: &QGraph, node: &QNode) -> Result<(), Error> {
    let needed = graph.accumulator_bits(node);
    if needed > MAX_ACCUMULATOR_BITS {
        return Err(QuantError::Overflow {
            node: node.name.clone(),
            needed,
            budget: MAX_ACCUMULATOR_BITS,
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::scale::weight_exponent;
    use super::*;
    use crate::graph::qgraph::Rounding;

    #[test]
    fn rounding_offsets_are_half_the_divisor() {
        assert_eq!(Rounding::HalfUp.offset(1), 0);
        assert_eq!(Rounding::HalfUp.offset(16), 8);
        assert_eq!(Rounding::HalfUp.offset(9), 4);
        assert_eq!(Rounding::Floor.offset(16), 0);
    }

    #[test]
    fn exponent_fits_the_largest_value_with_headroom() {
        let o = QuantOptions::default();
        // 1.0 with one bit of headroom in 16 bits: 2 · 2^e <= 32767 → e = 13.
        assert_eq!(exponent_for(1.0, 16, &o), 13);
        // 0.001 would allow e = 23: capped at 16 fractional bits.
        assert_eq!(exponent_for(0.001, 16, &o), 16);
        // 20.0: 40 · 2^e <= 32767 → e = 9.
        assert_eq!(exponent_for(20.0, 16, &o), 9);
        assert_eq!(weight_exponent(0.9, 10), 9);
    }
}
