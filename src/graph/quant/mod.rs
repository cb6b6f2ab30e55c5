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
mod options;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{Error, QuantError};
use crate::graph::activation::{Domain, Table};
use crate::graph::ir::{FloatGraph, FloatNode, FloatOp, Source};
use crate::graph::qgraph::{
    Add, Affine, ArgMax, AvgPool, Conv, Dense, Gather, Lookup, MatMul, Max, MaxPool, Mul, QGraph,
    QNode, QOp, QTensor, Softmax, Wiring, MAX_ACCUMULATOR_BITS, MAX_TENSOR_BITS,
};
use crate::graph::window::Axis;
use crate::graph::TensorId;

pub use crate::error::readable;
pub use input::{calibration_warnings, check_calibration, check_integers, quantise_input};
use input::{check_finite, round_scaled};
pub use options::{Precision, QuantOptions};

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
    let traces: Vec<_> = calibration.iter().map(|x| graph.forward(x)).collect();
    let max_abs: Vec<f64> = (0..=graph.nodes.len())
        .map(|t| {
            traces
                .iter()
                .flat_map(|trace| trace[t].iter())
                .fold(0f64, |m, v| m.max(v.abs()))
        })
        .collect();
    // Calibration overflowing f64 (huge weights) has no scale: name where it happened.
    for trace in &traces {
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
        }
    }
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
    };
    for (i, node) in graph.nodes.iter().enumerate() {
        let calibrated = exponent_for(max_abs[i + 1], options.activation_bits, options);
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

    let mut max_output_error = 0f64;
    for (sample, trace) in calibration.iter().zip(&traces) {
        let x = quantise_input(&qgraph.input, sample, false)?;
        let out = qgraph.outputs_to_float(&qgraph.eval(&x)?);
        let float_out = graph.outputs.iter().flat_map(|t| &trace[t.index()]);
        for (q, f) in out.iter().zip(float_out) {
            max_output_error = max_output_error.max((q - f).abs());
        }
    }
    let report = QuantReport {
        max_output_error,
        samples: calibration.len(),
    };
    Ok((qgraph, report))
}

/// Builds the integer graph node by node.
struct Builder<'a> {
    options: &'a QuantOptions,
    graph: QGraph,
    /// Float tensor id → integer tensor id (alignment nodes shift the numbering).
    ids: Vec<TensorId>,
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
        let ins: Vec<(TensorId, QTensor)> = node.inputs.iter().map(|&t| self.tensor(t)).collect();
        let (x_id, x) = ins
            .first()
            .cloned()
            .unwrap_or_else(|| (TensorId::INPUT, self.graph.input.clone()));
        let id = match &node.op {
            FloatOp::Dense { weights, bias } => {
                let l = self.linear(name, x.scale_exp, calibrated, weights.iter(), bias.iter())?;
                let op = QOp::Dense(Dense {
                    weights: Array2::from_shape_vec(weights.dim(), l.weights).map_err(|e| {
                        QuantError::Overflow {
                            node: format!("{name}: {e}"),
                            needed: 0,
                            budget: MAX_ACCUMULATOR_BITS,
                        }
                    })?,
                    bias: l.bias,
                    shift: l.shift,
                });
                self.push(name, op, vec![x_id], bias.len(), l.e_y)?
            }
            FloatOp::Conv {
                shape,
                weights,
                bias,
            } => {
                let l = self.linear(name, x.scale_exp, calibrated, weights.iter(), bias.iter())?;
                let op = QOp::Conv(Conv {
                    shape: shape.clone(),
                    weights: l.weights,
                    bias: l.bias,
                    shift: l.shift,
                });
                self.push(name, op, vec![x_id], shape.outputs(), l.e_y)?
            }
            FloatOp::Affine { scale, bias } => {
                let l = self.linear(name, x.scale_exp, calibrated, scale.iter(), bias.iter())?;
                let op = QOp::Affine(Affine {
                    scale: l.weights,
                    bias: l.bias,
                    shift: l.shift,
                });
                self.push(name, op, vec![x_id], scale.len(), l.e_y)?
            }
            FloatOp::ArgMax(axis) => {
                let op = QOp::ArgMax(ArgMax(axis.clone()));
                self.push(name, op, vec![x_id], axis.groups(), 0)?
            }
            FloatOp::Softmax(axis) => self.softmax(name, x_id, &x, axis, Vec::new())?,
            FloatOp::MaskedSoftmax { axis, keep } => {
                self.softmax(name, x_id, &x, axis, keep.clone())?
            }
            FloatOp::AvgPool {
                window,
                count_include_pad,
            } => {
                let op = QOp::AvgPool(AvgPool {
                    window: window.clone(),
                    count_include_pad: *count_include_pad,
                });
                self.push(
                    name,
                    op,
                    vec![x_id],
                    window.channels * window.positions(),
                    x.scale_exp,
                )?
            }
            FloatOp::MaxPool { window } => {
                let op = QOp::MaxPool(MaxPool(window.clone()));
                self.push(
                    name,
                    op,
                    vec![x_id],
                    window.channels * window.positions(),
                    x.scale_exp,
                )?
            }
            FloatOp::Relu => self.push(name, QOp::Relu, vec![x_id], x.len, x.scale_exp)?,
            FloatOp::Gather { table } => self.gather(name, x_id, &x, table)?,
            FloatOp::Activation(function) => {
                let o = self.options;
                let domain = Domain::signed(x.scale_exp, x.bits, o.table_bits);
                let function = function.for_step(domain.step());
                let (table, e_y) = Table::build(
                    function,
                    x.scale_exp,
                    x.bits,
                    o.table_bits,
                    o.activation_bits,
                    o.max_frac_bits,
                );
                let op = QOp::Lookup(Lookup { function, table });
                self.push(name, op, vec![x_id], x.len, e_y)?
            }
            FloatOp::Add => {
                let (b_id, b) = ins.get(1).cloned().unwrap_or_else(|| (x_id, x.clone()));
                let e_in = x.scale_exp.max(b.scale_exp);
                let e_y = calibrated.min(e_in);
                let weight = |e: i32| 1i64 << (e_in - e).clamp(0, 62);
                let op = QOp::Add(Add {
                    weights: [weight(x.scale_exp), weight(b.scale_exp)],
                    shift: shift(name, e_in - e_y)?,
                });
                self.push(name, op, vec![x_id, b_id], x.len, e_y)?
            }
            FloatOp::Mul => {
                let (b_id, b) = ins.get(1).cloned().unwrap_or_else(|| (x_id, x.clone()));
                let e_acc = x.scale_exp + b.scale_exp;
                let e_y = calibrated.min(e_acc);
                let op = QOp::Mul(Mul {
                    shift: shift(name, e_acc - e_y)?,
                });
                self.push(name, op, vec![x_id, b_id], x.len, e_y)?
            }
            FloatOp::Max => {
                // The maximum is one of its inputs: they share one scale, and so does it.
                let (inputs, e) = self.align(name, &ins, x.scale_exp)?;
                self.push(name, QOp::Max(Max), inputs, x.len, e)?
            }
            FloatOp::MatMul { m, k, n } => {
                let (b_id, b) = ins.get(1).cloned().unwrap_or_else(|| (x_id, x.clone()));
                let e_acc = x.scale_exp + b.scale_exp;
                let e_y = calibrated.min(e_acc);
                let op = QOp::MatMul(MatMul {
                    m: *m,
                    k: *k,
                    n: *n,
                    shift: shift(name, e_acc - e_y)?,
                });
                let len = x.len / (m * k).max(1) * m * n;
                self.push(name, op, vec![x_id, b_id], len, e_y)?
            }
            FloatOp::Wiring { sources } => {
                // Wiring moves integers, so every input must share one scale.
                let (inputs, e) = self.align(name, &ins, x.scale_exp)?;
                let sources = sources
                    .iter()
                    .map(|s| match s {
                        Source::Element { input, index } => Source::Element {
                            input: *input,
                            index: *index,
                        },
                        Source::Constant(c) => Source::Constant(round_scaled(f64::from(*c), e)),
                    })
                    .collect::<Vec<_>>();
                let len = sources.len();
                self.push(name, QOp::Wiring(Wiring(sources)), inputs, len, e)?
            }
        };
        self.ids.push(id);
        Ok(())
    }

    /// The inputs `ins` brought to one scale (of node `name`): the finest are divided down to
    /// the coarsest by an affine map each; `fallback` when there are none.
    fn align(
        &mut self,
        name: &str,
        ins: &[(TensorId, QTensor)],
        fallback: i32,
    ) -> Result<(Vec<TensorId>, i32), Error> {
        let e = ins
            .iter()
            .map(|(_, t)| t.scale_exp)
            .min()
            .unwrap_or(fallback);
        let mut inputs = Vec::with_capacity(ins.len());
        for (k, (id, t)) in ins.iter().enumerate() {
            if t.scale_exp == e {
                inputs.push(*id);
                continue;
            }
            let op = QOp::Affine(Affine {
                scale: vec![1; t.len],
                bias: vec![0; t.len],
                shift: shift(name, t.scale_exp - e)?,
            });
            inputs.push(self.push(&format!("{name}.align{k}"), op, vec![*id], t.len, e)?);
        }
        Ok((inputs, e))
    }

    /// A softmax over `axis` (the elements `keep` marks, all when empty): `e^(−g)` at the
    /// gaps' left ends, so the max element's exponential is exactly `2^e_E` and the sum is
    /// never zero; outputs are fractions of `2^out_scale`.
    fn softmax(
        &mut self,
        name: &str,
        x_id: TensorId,
        x: &QTensor,
        axis: &Axis,
        keep: Vec<bool>,
    ) -> Result<TensorId, Error> {
        let bits = x.bits;
        let domain = Domain {
            input_scale: x.scale_exp,
            input_bits: bits,
            signed: false,
            table_bits: self.options.table_bits,
        };
        let exp = |g: f64| (-g).exp();
        let (table, _) = Table::tabulate(&exp, &domain, bits, bits as i32 - 2, false);
        let out_scale = self.options.max_frac_bits.clamp(0, bits as i32 - 2) as u32;
        let op = QOp::Softmax(Softmax {
            axis: axis.clone(),
            table,
            out_scale,
            keep,
        });
        self.push(name, op, vec![x_id], x.len, out_scale as i32)
    }

    /// A gather: the ids brought to scale `2^0` (exactly, for integer ids) and the table
    /// at the scale its largest value allows.
    fn gather(
        &mut self,
        name: &str,
        x_id: TensorId,
        x: &QTensor,
        table: &Array2<f32>,
    ) -> Result<TensorId, Error> {
        let ids = match x.scale_exp {
            0 => x_id,
            e if e > 0 => {
                let op = QOp::Affine(Affine {
                    scale: vec![1; x.len],
                    bias: vec![0; x.len],
                    shift: shift(name, e)?,
                });
                self.push(&format!("{name}.ids"), op, vec![x_id], x.len, 0)?
            }
            e => {
                return Err(QuantError::Overflow {
                    node: format!("{name}: ids at scale 2^{e} are not exact integers"),
                    needed: 0,
                    budget: 0,
                }
                .into())
            }
        };
        let (vocab, dim) = table.dim();
        let max_abs = table.iter().fold(0f64, |m, v| m.max(f64::from(v.abs())));
        let e_y = exponent_for(max_abs, self.options.activation_bits, self.options);
        let outputs = table
            .iter()
            .map(|v| round_scaled(f64::from(*v), e_y))
            .collect();
        let op = QOp::Gather(Gather {
            vocab,
            dim,
            table: Table {
                shift: 0,
                // The keys' width, for reports.
                input_bits: usize::BITS - (vocab * dim).saturating_sub(1).leading_zeros(),
                first: 0,
                outputs,
                error_bound: 0.5 * 2f64.powi(-e_y),
            },
        });
        self.push(name, op, vec![ids], x.len * dim, e_y)
    }

    /// Integer weights and bias of a linear op, and its output exponent and shift.
    fn linear<'w>(
        &self,
        name: &str,
        e_x: i32,
        calibrated: i32,
        weights: impl Iterator<Item = &'w f32> + Clone,
        bias: impl Iterator<Item = &'w f32>,
    ) -> Result<QuantLinear, Error> {
        let w_max = weights
            .clone()
            .fold(0f64, |m, w| m.max(f64::from(*w).abs()));
        let e_w = weight_exponent(w_max, self.options.weight_bits);
        let e_acc = e_x + e_w;
        let e_y = calibrated.min(e_acc);
        Ok(QuantLinear {
            weights: weights.map(|w| round_scaled(f64::from(*w), e_w)).collect(),
            bias: bias.map(|b| round_scaled(f64::from(*b), e_acc)).collect(),
            shift: shift(name, e_acc - e_y)?,
            e_y,
        })
    }
}

struct QuantLinear {
    weights: Vec<i64>,
    bias: Vec<i64>,
    shift: u32,
    e_y: i32,
}

fn shift(node: &str, bits: i32) -> Result<u32, Error> {
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
        // 1.0 with one bit of headroom in 16 bits: 2 · 2^e <= 32767 → e = 12 (capped at 12).
        assert_eq!(exponent_for(1.0, 16, &o), 12);
        // 20.0: 40 · 2^e <= 32767 → e = 9.
        assert_eq!(exponent_for(20.0, 16, &o), 9);
        assert_eq!(weight_exponent(0.9, 10), 9);
    }
}
