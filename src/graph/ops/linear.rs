//! Linear ops: dense, convolution, average pool, add and affine. Each output is a dot
//! product of its taps plus a bias, divided (rounded) by its divisor: the one integer form
//! ([`IntegerOp::linear`]) that the linear chips prove for every linear op.

use std::ops::Range;

use ndarray::{Array1, Array2, Axis as ArrayAxis};
use serde::{Deserialize, Serialize};

use super::{
    arg, check_len, check_range, len_of, need_len, operand, same_lengths, second, to_i64,
    EvalContext, FloatKernel, IntegerOp, Mismatch, Operand, Quantised, Quantiser, Splitting,
};
use crate::error::{Error, QuantError, StructureError, WitnessError};
use crate::graph::qtensor::{LinearOutput, QTensor, Tap};
use crate::graph::quant::scale::{linear, shift};
use crate::graph::record::NodeWitness;
use crate::graph::window::{pool_taps, ConvShape, Window};
use crate::par;

/// A dense layer: `acc_o = bias_o + Σ_j weights[o, j] · x_j`, rescaled by `2^shift`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dense {
    /// Integer weights, `(outputs, inputs)`.
    pub weights: Array2<i64>,
    /// Integer bias at the accumulator's scale.
    pub bias: Vec<i64>,
    /// Right shift from the accumulator's scale to the output's.
    pub shift: u32,
}

/// A convolution, rescaled by `2^shift`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conv {
    /// Geometry.
    pub shape: ConvShape,
    /// Integer weights `[out_channels, channels / groups, kernel…]`, flat.
    pub weights: Vec<i64>,
    /// One bias per output channel, at the accumulator's scale.
    pub bias: Vec<i64>,
    /// Right shift to the output's scale.
    pub shift: u32,
}

/// An average pool: the window's sum divided by its size (output at the input's scale).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvgPool {
    /// Geometry.
    pub window: Window,
    /// Divide by the full kernel size, padding included.
    pub count_include_pad: bool,
}

/// The sum of two tensors aligned to one scale: `(a · w_a + b · w_b) / 2^shift`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Add {
    /// Powers of two that bring both inputs to the accumulator's scale.
    pub weights: [i64; 2],
    /// Right shift to the output's scale.
    pub shift: u32,
}

/// `y_i = (a_i · x_i + b_i) / 2^shift`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affine {
    /// Integer `a`, one per element.
    pub scale: Vec<i64>,
    /// Integer `b` at the accumulator's scale.
    pub bias: Vec<i64>,
    /// Right shift to the output's scale.
    pub shift: u32,
}

/// A trained tap: `weight · inputs[0][index]`, parameter `param` of the op.
fn param(index: usize, weight: i64, param: usize) -> Tap {
    Tap {
        input: 0,
        index,
        weight,
        param: Some(param),
    }
}

/// Bias `b` of a bias list and its parameter index; an empty list (no bias) gives the
/// constant 0 and no parameter.
fn bias(biases: &[i64], b: usize) -> (i64, Option<usize>) {
    match biases.get(b) {
        Some(&value) => (value, Some(b)),
        None => (0, None),
    }
}

impl IntegerOp for Dense {
    fn kind(&self) -> &'static str {
        "Dense"
    }

    /// `weights` of `(outputs, inputs)` and one bias per output.
    fn output_len(&self, ins: &[&QTensor], _out: &QTensor) -> Result<usize, StructureError> {
        let (d, x) = (self, ins[0]);
        let (rows, cols) = d.weights.dim();
        check_len("the input", x.len, cols)?;
        check_len("the bias", d.bias.len(), rows)?;
        Ok(rows)
    }

    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
        eval(self, cx)
    }

    fn preserves_range(&self) -> bool {
        false
    }

    fn params(&self) -> Option<[Vec<i64>; 2]> {
        Some([self.weights.iter().copied().collect(), self.bias.clone()])
    }

    fn zero_params(&mut self) {
        self.weights.fill(0);
        self.bias.fill(0);
    }

    fn shift(&self) -> u32 {
        self.shift
    }

    fn is_linear(&self) -> bool {
        true
    }

    fn linear(&self, o: usize) -> Option<LinearOutput> {
        let inputs = self.weights.ncols();
        let (bias, bias_param) = bias(&self.bias, o);
        Some(LinearOutput {
            taps: self
                .weights
                .outer_iter()
                .nth(o)?
                .iter()
                .enumerate()
                .map(|(j, w)| param(j, *w, o * inputs + j))
                .collect(),
            bias,
            bias_param,
            divisor: 1 << self.shift,
        })
    }

    fn splitting(&self) -> Splitting {
        Splitting::Layer {
            units: self.weights.nrows(),
            label: "outputs",
        }
    }

    fn piece(&self, units: Range<usize>, _elements: Range<usize>) -> Option<Self> {
        Some(Dense {
            weights: self
                .weights
                .select(ArrayAxis(0), &units.clone().collect::<Vec<_>>()),
            bias: self.bias[units].to_vec(),
            shift: self.shift,
        })
    }
}

impl IntegerOp for Conv {
    fn kind(&self) -> &'static str {
        "Conv"
    }

    /// Its geometry, weights and biases must fit the input.
    fn output_len(&self, ins: &[&QTensor], _out: &QTensor) -> Result<usize, StructureError> {
        let (c, x) = (self, ins[0]);
        c.shape.validate()?;
        let w = &c.shape.window;
        check_len("the input", x.len, w.channels * w.input_positions())?;
        check_len("the weights", c.weights.len(), c.shape.weights_len())?;
        check_len("the bias", c.bias.len(), c.shape.out_channels)?;
        Ok(c.shape.outputs())
    }

    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
        eval(self, cx)
    }

    fn preserves_range(&self) -> bool {
        false
    }

    fn params(&self) -> Option<[Vec<i64>; 2]> {
        Some([self.weights.clone(), self.bias.clone()])
    }

    fn zero_params(&mut self) {
        self.weights.fill(0);
        self.bias.fill(0);
    }

    fn shift(&self) -> u32 {
        self.shift
    }

    fn is_linear(&self) -> bool {
        true
    }

    fn linear(&self, o: usize) -> Option<LinearOutput> {
        let positions = self.shape.window.positions().max(1);
        let (bias, bias_param) = bias(&self.bias, o / positions);
        Some(LinearOutput {
            taps: self
                .shape
                .taps(o)
                .into_iter()
                .map(|(i, w)| param(i, self.weights[w], w))
                .collect(),
            bias,
            bias_param,
            divisor: 1 << self.shift,
        })
    }

    /// Output channels, or groups when there are several (a piece then has its groups alone).
    fn splitting(&self) -> Splitting {
        if self.shape.groups > 1 {
            Splitting::Layer {
                units: self.shape.groups,
                label: "groups",
            }
        } else {
            Splitting::Layer {
                units: self.shape.out_channels,
                label: "channels",
            }
        }
    }

    fn piece(&self, units: Range<usize>, _elements: Range<usize>) -> Option<Self> {
        let shape = &self.shape;
        let per_channel = shape.window.channels / shape.groups * shape.window.kernel_len();
        let out_per_group = shape.out_channels / shape.groups;
        let in_per_group = shape.window.channels / shape.groups;
        // Output channels `o0..o1`; a grouped convolution's piece has its groups alone.
        let (o0, o1) = if shape.groups > 1 {
            (units.start * out_per_group, units.end * out_per_group)
        } else {
            (units.start, units.end)
        };
        let mut piece = self.clone();
        if shape.groups > 1 {
            piece.shape.groups = units.len();
            piece.shape.window.channels = units.len() * in_per_group;
        }
        piece.shape.out_channels = o1 - o0;
        piece.weights = self.weights[o0 * per_channel..o1 * per_channel].to_vec();
        piece.bias = self.bias[o0..o1].to_vec();
        Some(piece)
    }

    /// A grouped convolution's piece reads its groups' input channels.
    fn piece_input(&self, units: Range<usize>) -> Option<Range<usize>> {
        let shape = &self.shape;
        if shape.groups == 1 {
            return None;
        }
        let per_group = shape.window.channels / shape.groups * shape.window.input_positions();
        Some(units.start * per_group..units.end * per_group)
    }
}

impl IntegerOp for AvgPool {
    fn kind(&self) -> &'static str {
        "AvgPool"
    }

    fn output_len(&self, ins: &[&QTensor], _out: &QTensor) -> Result<usize, StructureError> {
        super::pool::output_len(&self.window, ins[0])
    }

    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
        eval(self, cx)
    }

    fn preserves_range(&self) -> bool {
        false
    }

    fn params(&self) -> Option<[Vec<i64>; 2]> {
        None
    }

    fn is_linear(&self) -> bool {
        true
    }

    fn linear(&self, o: usize) -> Option<LinearOutput> {
        let taps: Vec<Tap> = pool_taps(&self.window, o)
            .into_iter()
            .map(|index| Tap {
                input: 0,
                index,
                weight: 1,
                param: None,
            })
            .collect();
        let n = if self.count_include_pad {
            self.window.kernel_len()
        } else {
            taps.len()
        };
        Some(LinearOutput {
            taps,
            bias: 0,
            bias_param: None,
            divisor: n.max(1) as u64,
        })
    }
}

impl IntegerOp for Add {
    fn kind(&self) -> &'static str {
        "Add"
    }

    fn arity(&self) -> Option<usize> {
        Some(2)
    }

    /// Two tensors of one length.
    fn output_len(&self, ins: &[&QTensor], _out: &QTensor) -> Result<usize, StructureError> {
        let (x, y) = (ins[0], second(ins)?);
        check_len("the second input", y.len, x.len)?;
        Ok(x.len)
    }

    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
        eval(self, cx)
    }

    fn preserves_range(&self) -> bool {
        false
    }

    fn params(&self) -> Option<[Vec<i64>; 2]> {
        None
    }

    fn shift(&self) -> u32 {
        self.shift
    }

    fn is_linear(&self) -> bool {
        true
    }

    fn linear(&self, o: usize) -> Option<LinearOutput> {
        Some(LinearOutput {
            taps: (0..2)
                .map(|input| Tap {
                    input,
                    index: o,
                    weight: self.weights[input],
                    param: None,
                })
                .collect(),
            bias: 0,
            bias_param: None,
            divisor: 1 << self.shift,
        })
    }

    fn splitting(&self) -> Splitting {
        Splitting::Elementwise
    }
}

impl IntegerOp for Affine {
    fn kind(&self) -> &'static str {
        "Affine"
    }

    /// One scale and one bias per value.
    fn output_len(&self, ins: &[&QTensor], _out: &QTensor) -> Result<usize, StructureError> {
        let x = ins[0];
        check_len("the scale", self.scale.len(), x.len)?;
        check_len("the bias", self.bias.len(), x.len)?;
        Ok(x.len)
    }

    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
        eval(self, cx)
    }

    fn preserves_range(&self) -> bool {
        false
    }

    fn params(&self) -> Option<[Vec<i64>; 2]> {
        Some([self.scale.clone(), self.bias.clone()])
    }

    fn zero_params(&mut self) {
        self.scale.fill(0);
        self.bias.fill(0);
    }

    fn shift(&self) -> u32 {
        self.shift
    }

    fn is_linear(&self) -> bool {
        true
    }

    fn linear(&self, o: usize) -> Option<LinearOutput> {
        let (bias, bias_param) = bias(&self.bias, o);
        Some(LinearOutput {
            taps: vec![param(o, self.scale.get(o).copied().unwrap_or(0), o)],
            bias,
            bias_param,
            divisor: 1 << self.shift,
        })
    }

    fn splitting(&self) -> Splitting {
        Splitting::Elementwise
    }

    fn piece(&self, _units: Range<usize>, elements: Range<usize>) -> Option<Self> {
        Some(Affine {
            scale: self.scale[elements.clone()].to_vec(),
            bias: self.bias[elements].to_vec(),
            shift: self.shift,
        })
    }
}

/// Every linear op's evaluation: each output's taps summed with its bias, then divided.
fn eval(op: &dyn IntegerOp, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
    let name = cx.inputs.node;
    let rows = par::try_map(cx.out.len, |o| {
        let lin = op.linear(o).ok_or_else(|| WitnessError::Inconsistent {
            node: name.to_string(),
            reason: format!("has no linear output {o}"),
        })?;
        let mut acc = i128::from(lin.bias);
        for tap in &lin.taps {
            acc += i128::from(tap.weight) * i128::from(cx.inputs.get(tap.input, tap.index)?);
        }
        to_i64(name, "accumulator", o, acc)?;
        let divisor = i128::from(lin.divisor);
        let shifted = acc + i128::from(cx.rounding.offset(lin.divisor));
        let q = check_range(name, cx.out, o, shifted.div_euclid(divisor))?;
        Ok((
            q,
            to_i64(name, "remainder", o, shifted.rem_euclid(divisor))?,
        ))
    })?;
    let (mut quotients, mut remainders) = (Vec::new(), Vec::new());
    for (q, r) in rows {
        quotients.push(q);
        remainders.push(r);
    }
    Ok(NodeWitness::Linear {
        quotients,
        remainders,
    })
}

/// A dense layer of the float graph: `y = W x + b`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatDense {
    /// Weights, `(outputs, inputs)`.
    pub weights: Array2<f32>,
    /// Bias, `outputs` long.
    pub bias: Array1<f32>,
}

/// A convolution of the float graph (any rank, stride, padding, dilation, groups).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatConv {
    /// Geometry.
    pub shape: ConvShape,
    /// Weights `[out_channels, channels / groups, kernel…]`, flat.
    pub weights: Vec<f32>,
    /// One bias per output channel.
    pub bias: Vec<f32>,
}

/// The sum of two tensors of one length (residual connections).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloatAdd;

/// `y_i = a_i · x_i + b_i`: a constant Mul, Add or Sub, or a BatchNormalization that no
/// linear layer precedes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatAffine {
    /// `a`, one per element.
    pub scale: Vec<f32>,
    /// `b`, one per element.
    pub bias: Vec<f32>,
}

impl FloatKernel for FloatDense {
    type Integer = Dense;

    fn kind(&self) -> &'static str {
        "Dense"
    }

    fn output_len(&self, _lens: &[usize]) -> usize {
        self.bias.len()
    }

    fn check(&self, lens: &[usize]) -> Result<(), Mismatch> {
        let (outputs, inputs) = self.weights.dim();
        need_len(len_of(lens, 0), inputs)?;
        if self.bias.len() != outputs {
            return Err(Mismatch::new(format!("bias ({outputs})"), self.bias.len()));
        }
        Ok(())
    }

    fn constants(&self) -> Vec<f32> {
        self.weights
            .iter()
            .chain(self.bias.iter())
            .copied()
            .collect()
    }

    fn weight_max(&self) -> Option<f64> {
        Some(largest(self.weights.iter()))
    }

    fn zero_trained(&mut self) {
        self.weights.fill(0.0);
        self.bias.fill(0.0);
    }

    fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        let x = arg(xs, 0);
        self.weights
            .outer_iter()
            .zip(self.bias.iter())
            .map(|(row, b)| {
                row.iter()
                    .zip(x)
                    .map(|(w, x)| f64::from(*w) * x)
                    .sum::<f64>()
                    + f64::from(*b)
            })
            .collect()
    }

    fn quantise(
        &self,
        q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        calibrated: i32,
    ) -> Result<Quantised<Dense>, Error> {
        let x = operand(name, ins, 0)?;
        let l = linear(
            &*q,
            name,
            x.tensor.scale_exp,
            calibrated,
            self.weights.iter(),
            self.bias.iter(),
        )?;
        let weights = Array2::from_shape_vec(self.weights.dim(), l.weights).map_err(|e| {
            QuantError::Shape {
                node: name.to_string(),
                expected: format!("{:?} weights", self.weights.dim()),
                got: e.to_string(),
            }
        })?;
        Ok(Quantised {
            op: Dense {
                weights,
                bias: l.bias,
                shift: l.shift,
            },
            inputs: vec![x.id],
            len: self.bias.len(),
            scale_exp: l.e_y,
        })
    }

    fn fold(&mut self, scale: &[f32], bias: &[f32]) -> bool {
        if self.bias.len() != scale.len() {
            return false;
        }
        for (o, mut row) in self.weights.outer_iter_mut().enumerate() {
            row.mapv_inplace(|w| w * scale[o]);
            self.bias[o] = self.bias[o] * scale[o] + bias[o];
        }
        true
    }
}

impl FloatKernel for FloatConv {
    type Integer = Conv;

    fn kind(&self) -> &'static str {
        "Conv"
    }

    fn output_len(&self, _lens: &[usize]) -> usize {
        self.shape.outputs()
    }

    fn check(&self, lens: &[usize]) -> Result<(), Mismatch> {
        let shape = &self.shape;
        shape
            .validate()
            .map_err(|e| Mismatch::new("a valid convolution", e))?;
        need_len(
            len_of(lens, 0),
            shape.window.channels * shape.window.input_positions(),
        )?;
        if self.weights.len() != shape.weights_len() || self.bias.len() != shape.out_channels {
            return Err(Mismatch::new(
                format!(
                    "{} weights and {} biases",
                    shape.weights_len(),
                    shape.out_channels
                ),
                format!("{} and {}", self.weights.len(), self.bias.len()),
            ));
        }
        Ok(())
    }

    fn constants(&self) -> Vec<f32> {
        self.weights.iter().chain(&self.bias).copied().collect()
    }

    fn weight_max(&self) -> Option<f64> {
        Some(largest(self.weights.iter()))
    }

    fn zero_trained(&mut self) {
        self.weights.fill(0.0);
        self.bias.fill(0.0);
    }

    fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        let x = arg(xs, 0);
        let positions = self.shape.window.positions().max(1);
        (0..self.shape.outputs())
            .map(|o| {
                self.shape
                    .taps(o)
                    .iter()
                    .map(|&(i, w)| f64::from(self.weights[w]) * x[i])
                    .sum::<f64>()
                    + f64::from(self.bias[o / positions])
            })
            .collect()
    }

    fn quantise(
        &self,
        q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        calibrated: i32,
    ) -> Result<Quantised<Conv>, Error> {
        let x = operand(name, ins, 0)?;
        let l = linear(
            &*q,
            name,
            x.tensor.scale_exp,
            calibrated,
            self.weights.iter(),
            self.bias.iter(),
        )?;
        Ok(Quantised {
            op: Conv {
                shape: self.shape.clone(),
                weights: l.weights,
                bias: l.bias,
                shift: l.shift,
            },
            inputs: vec![x.id],
            len: self.shape.outputs(),
            scale_exp: l.e_y,
        })
    }

    /// Folds a map whose constants are one per output channel.
    fn fold(&mut self, scale: &[f32], bias: &[f32]) -> bool {
        let per = self.shape.window.positions().max(1);
        let uniform = |v: &[f32]| v.chunks(per).all(|c| c.iter().all(|e| *e == c[0]));
        if scale.len() != per * self.bias.len() || !uniform(scale) || !uniform(bias) {
            return false;
        }
        let per_channel = self.weights.len() / self.shape.out_channels.max(1);
        for (oc, ws) in self.weights.chunks_mut(per_channel.max(1)).enumerate() {
            let s = scale[oc * per];
            ws.iter_mut().for_each(|w| *w *= s);
            self.bias[oc] = self.bias[oc] * s + bias[oc * per];
        }
        true
    }
}

impl FloatKernel for AvgPool {
    type Integer = AvgPool;

    fn kind(&self) -> &'static str {
        "AvgPool"
    }

    fn output_len(&self, _lens: &[usize]) -> usize {
        self.window.channels * self.window.positions()
    }

    fn check(&self, lens: &[usize]) -> Result<(), Mismatch> {
        self.window
            .validate()
            .map_err(|e| Mismatch::new("a valid window", e))?;
        need_len(
            len_of(lens, 0),
            self.window.channels * self.window.input_positions(),
        )
    }

    fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        let (x, window) = (arg(xs, 0), &self.window);
        (0..window.channels * window.positions())
            .map(|o| {
                let taps = pool_taps(window, o);
                let n = if self.count_include_pad {
                    window.kernel_len()
                } else {
                    taps.len()
                };
                taps.iter().map(|&i| x[i]).sum::<f64>() / n.max(1) as f64
            })
            .collect()
    }

    fn quantise(
        &self,
        _q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        _calibrated: i32,
    ) -> Result<Quantised<AvgPool>, Error> {
        let x = operand(name, ins, 0)?;
        Ok(Quantised {
            op: self.clone(),
            inputs: vec![x.id],
            len: self.window.channels * self.window.positions(),
            scale_exp: x.tensor.scale_exp,
        })
    }
}

impl FloatKernel for FloatAdd {
    type Integer = Add;

    fn kind(&self) -> &'static str {
        "Add"
    }

    fn arity(&self) -> Option<usize> {
        Some(2)
    }

    fn output_len(&self, lens: &[usize]) -> usize {
        len_of(lens, 0)
    }

    fn check(&self, lens: &[usize]) -> Result<(), Mismatch> {
        same_lengths(lens)
    }

    fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        arg(xs, 0)
            .iter()
            .zip(arg(xs, 1))
            .map(|(a, b)| a + b)
            .collect()
    }

    /// Both inputs brought to the finer scale by exact multiplication with a power of two.
    fn quantise(
        &self,
        _q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        calibrated: i32,
    ) -> Result<Quantised<Add>, Error> {
        let (x, y) = (operand(name, ins, 0)?, operand(name, ins, 1)?);
        let (e_x, e_b) = (x.tensor.scale_exp, y.tensor.scale_exp);
        let e_in = e_x.max(e_b);
        let e_y = calibrated.min(e_in);
        let weight = |e: i32| 1i64 << (e_in - e).clamp(0, 62);
        Ok(Quantised {
            op: Add {
                weights: [weight(e_x), weight(e_b)],
                shift: shift(name, e_in - e_y)?,
            },
            inputs: vec![x.id, y.id],
            len: x.tensor.len,
            scale_exp: e_y,
        })
    }
}

impl FloatKernel for FloatAffine {
    type Integer = Affine;

    fn kind(&self) -> &'static str {
        "Affine"
    }

    fn output_len(&self, _lens: &[usize]) -> usize {
        self.scale.len()
    }

    fn check(&self, lens: &[usize]) -> Result<(), Mismatch> {
        need_len(len_of(lens, 0), self.scale.len())?;
        if self.bias.len() != self.scale.len() {
            return Err(Mismatch::new(
                format!("{} biases", self.scale.len()),
                self.bias.len(),
            ));
        }
        Ok(())
    }

    fn constants(&self) -> Vec<f32> {
        self.scale.iter().chain(&self.bias).copied().collect()
    }

    fn weight_max(&self) -> Option<f64> {
        Some(largest(self.scale.iter()))
    }

    fn zero_trained(&mut self) {
        self.scale.fill(0.0);
        self.bias.fill(0.0);
    }

    fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        arg(xs, 0)
            .iter()
            .zip(self.scale.iter().zip(&self.bias))
            .map(|(x, (a, b))| f64::from(*a) * x + f64::from(*b))
            .collect()
    }

    fn quantise(
        &self,
        q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        calibrated: i32,
    ) -> Result<Quantised<Affine>, Error> {
        let x = operand(name, ins, 0)?;
        let l = linear(
            &*q,
            name,
            x.tensor.scale_exp,
            calibrated,
            self.scale.iter(),
            self.bias.iter(),
        )?;
        Ok(Quantised {
            op: Affine {
                scale: l.weights,
                bias: l.bias,
                shift: l.shift,
            },
            inputs: vec![x.id],
            len: self.scale.len(),
            scale_exp: l.e_y,
        })
    }

    fn fold(&mut self, scale: &[f32], bias: &[f32]) -> bool {
        if self.scale.len() != scale.len() {
            return false;
        }
        for o in 0..self.scale.len() {
            self.bias[o] = self.bias[o] * scale[o] + bias[o];
            self.scale[o] *= scale[o];
        }
        true
    }
}

/// The largest magnitude of `values`.
fn largest<'a>(values: impl Iterator<Item = &'a f32>) -> f64 {
    values.fold(0f64, |m, w| m.max(f64::from(*w).abs()))
}
