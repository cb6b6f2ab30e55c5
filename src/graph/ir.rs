//! The float graph: what an importer produces and what calibration runs.
//!
//! A DAG over flat tensors (batch 1, row-major), named by [`TensorId`]: the model input or
//! a node's output. Every node reads earlier tensors only, so the node order is an
//! execution order; the graph lists its outputs (any tensors, in the model's order). Shape-only ops (Flatten, Reshape, Identity, Dropout) vanish at import;
//! Transpose, Concat and Pad become [`FloatOp::Wiring`]; BatchNormalization and constant
//! Add/Mul fold into the preceding linear layer or become an [`FloatOp::Affine`].

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::graph::activation::Activation;
use crate::graph::window::{pool_taps, Axis, ConvShape, Window};
use crate::graph::TensorId;

/// Where one output element of a wiring op comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source<C> {
    /// Element `index` of the node's input `input` (a position in its input list).
    Element {
        /// Which of the node's inputs.
        input: usize,
        /// Flat index into it.
        index: usize,
    },
    /// A constant (padding).
    Constant(C),
}

/// One op of the float graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FloatOp {
    /// `y = W x + b`, `W` of shape `(outputs, inputs)`.
    Dense {
        /// Weights, `(outputs, inputs)`.
        weights: Array2<f32>,
        /// Bias, `outputs` long.
        bias: Array1<f32>,
    },
    /// Convolution (any rank, stride, padding, dilation, groups).
    Conv {
        /// Geometry.
        shape: ConvShape,
        /// Weights `[out_channels, channels / groups, kernel…]`, flat.
        weights: Vec<f32>,
        /// One bias per output channel.
        bias: Vec<f32>,
    },
    /// Average over each window, dividing by the window's size.
    AvgPool {
        /// Geometry.
        window: Window,
        /// Divide by the full kernel size even where it hangs over the padding.
        count_include_pad: bool,
    },
    /// Maximum over each window (padding ignored).
    MaxPool {
        /// Geometry.
        window: Window,
    },
    /// `y = max(x, 0)`.
    Relu,
    /// A nonlinear elementwise function, proven by table lookup.
    Activation(Activation),
    /// Sum of two tensors of the same length (residual connections).
    Add,
    /// Elementwise product of two tensors of the same length (gating; the erf form of GELU).
    Mul,
    /// Elementwise maximum of two tensors of the same length (ONNX `Max`).
    Max,
    /// The product of two activations as matrices: input 0 `[t, m, k]`, input 1 `[t, k, n]`
    /// (row-major; `t` from the lengths), output `[t, m, n]` (attention's Q·Kᵀ and P·V).
    MatMul {
        /// Rows of the left matrix.
        m: usize,
        /// The summed dimension.
        k: usize,
        /// Columns of the right matrix.
        n: usize,
    },
    /// Index of the first maximum along an axis (ONNX `ArgMax`, `select_last_index = 0`).
    ArgMax(Axis),
    /// `e^(x − max) / Σ e^(x − max)` along an axis.
    Softmax(Axis),
    /// Softmax along an axis over the kept elements only (a causal mask: ONNX's
    /// `Softmax(Where(mask, x, very negative))`); a masked element's output is exactly 0.
    MaskedSoftmax {
        /// The axis.
        axis: Axis,
        /// One per element: whether it takes part. Every group keeps at least one.
        keep: Vec<bool>,
    },
    /// Rows of a constant table selected by the input's integer ids (an embedding): the
    /// output is `ids.len() · dim` long, row after row.
    Gather {
        /// The table, `(vocab, dim)`.
        table: Array2<f32>,
    },
    /// `y_i = a_i · x_i + b_i`: constant Mul, Add, Sub, or a BatchNormalization that no
    /// linear layer precedes.
    Affine {
        /// `a`, one per element.
        scale: Vec<f32>,
        /// `b`, one per element.
        bias: Vec<f32>,
    },
    /// Pure wiring: each output element is an input element or a constant.
    Wiring {
        /// One per output element.
        sources: Vec<Source<f32>>,
    },
}

impl FloatOp {
    /// The op's kind, for messages and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Dense { .. } => "Dense",
            Self::Conv { .. } => "Conv",
            Self::AvgPool { .. } => "AvgPool",
            Self::MaxPool { .. } => "MaxPool",
            Self::Relu => "Relu",
            Self::Activation(f) => f.name(),
            Self::Add => "Add",
            Self::Mul => "Mul",
            Self::Max => "Max",
            Self::MatMul { .. } => "MatMul",
            Self::ArgMax(_) => "ArgMax",
            Self::Softmax(_) | Self::MaskedSoftmax { .. } => "Softmax",
            Self::Gather { .. } => "Gather",
            Self::Affine { .. } => "Affine",
            Self::Wiring { .. } => "Wiring",
        }
    }

    /// Output length for inputs of `lens` (no checks; see [`FloatGraph::validate`]).
    fn output_len(&self, lens: &[usize]) -> usize {
        let first = lens.first().copied().unwrap_or(0);
        match self {
            Self::Dense { bias, .. } => bias.len(),
            Self::Conv { shape, .. } => shape.outputs(),
            Self::AvgPool { window, .. } | Self::MaxPool { window } => {
                window.channels * window.positions()
            }
            Self::Relu
            | Self::Activation(_)
            | Self::Add
            | Self::Mul
            | Self::Max
            | Self::Softmax(_)
            | Self::MaskedSoftmax { .. } => first,
            Self::Gather { table } => first * table.ncols(),
            Self::MatMul { m, k, n } => first / (m * k).max(1) * m * n,
            Self::ArgMax(axis) => axis.groups(),
            Self::Affine { scale, .. } => scale.len(),
            Self::Wiring { sources } => sources.len(),
        }
    }

    /// The float semantics.
    fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        let x = xs.first().copied().unwrap_or_default();
        match self {
            Self::Dense { weights, bias } => weights
                .outer_iter()
                .zip(bias.iter())
                .map(|(row, b)| {
                    row.iter()
                        .zip(x)
                        .map(|(w, x)| f64::from(*w) * x)
                        .sum::<f64>()
                        + f64::from(*b)
                })
                .collect(),
            Self::Conv {
                shape,
                weights,
                bias,
            } => {
                let positions = shape.window.positions().max(1);
                (0..shape.outputs())
                    .map(|o| {
                        shape
                            .taps(o)
                            .iter()
                            .map(|&(i, w)| f64::from(weights[w]) * x[i])
                            .sum::<f64>()
                            + f64::from(bias[o / positions])
                    })
                    .collect()
            }
            Self::AvgPool {
                window,
                count_include_pad,
            } => (0..window.channels * window.positions())
                .map(|o| {
                    let taps = pool_taps(window, o);
                    let n = if *count_include_pad {
                        window.kernel_len()
                    } else {
                        taps.len()
                    };
                    taps.iter().map(|&i| x[i]).sum::<f64>() / n.max(1) as f64
                })
                .collect(),
            Self::MaxPool { window } => (0..window.channels * window.positions())
                .map(|o| {
                    pool_taps(window, o)
                        .iter()
                        .map(|&i| x[i])
                        .fold(f64::NEG_INFINITY, f64::max)
                })
                .collect(),
            Self::Relu => x.iter().map(|v| v.max(0.0)).collect(),
            Self::Activation(f) => x.iter().map(|v| f.eval(*v)).collect(),
            Self::Add => {
                let y = xs.get(1).copied().unwrap_or_default();
                x.iter().zip(y).map(|(a, b)| a + b).collect()
            }
            Self::Mul => {
                let y = xs.get(1).copied().unwrap_or_default();
                x.iter().zip(y).map(|(a, b)| a * b).collect()
            }
            Self::Max => {
                let y = xs.get(1).copied().unwrap_or_default();
                x.iter().zip(y).map(|(a, b)| a.max(*b)).collect()
            }
            Self::ArgMax(axis) => (0..axis.groups())
                .map(|g| {
                    let group = axis.group(g);
                    let mut best = 0;
                    for (j, &i) in group.iter().enumerate() {
                        if x[i] > x[group[best]] {
                            best = j;
                        }
                    }
                    best as f64
                })
                .collect(),
            Self::MatMul { m, k, n } => {
                let (m, k, n) = (*m, *k, *n);
                let y = xs.get(1).copied().unwrap_or_default();
                let batches = x.len() / (m * k).max(1);
                (0..batches * m * n)
                    .map(|o| {
                        let (t, i, j) = (o / (m * n), (o / n) % m, o % n);
                        (0..k)
                            .map(|l| x[(t * m + i) * k + l] * y[(t * k + l) * n + j])
                            .sum()
                    })
                    .collect()
            }
            Self::Softmax(axis) => softmax(x, axis, &[]),
            Self::MaskedSoftmax { axis, keep } => softmax(x, axis, keep),
            Self::Gather { table } => {
                let (vocab, dim) = table.dim();
                x.iter()
                    .flat_map(|id| {
                        // An id outside the table is NaN, which calibration reports.
                        let valid = id.fract() == 0.0 && *id >= 0.0 && *id < vocab as f64;
                        let row = valid.then(|| table.row(*id as usize));
                        (0..dim).map(move |j| row.as_ref().map_or(f64::NAN, |r| f64::from(r[j])))
                    })
                    .collect()
            }
            Self::Affine { scale, bias } => x
                .iter()
                .zip(scale.iter().zip(bias))
                .map(|(x, (a, b))| f64::from(*a) * x + f64::from(*b))
                .collect(),
            Self::Wiring { sources } => sources
                .iter()
                .map(|s| match s {
                    Source::Element { input, index } => xs[*input][*index],
                    Source::Constant(c) => f64::from(*c),
                })
                .collect(),
        }
    }
}

/// Softmax of `x` along `axis` over the elements `keep` marks (all when it is empty);
/// the others are 0.
fn softmax(x: &[f64], axis: &Axis, keep: &[bool]) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for g in 0..axis.groups() {
        let mut group = axis.group(g);
        if !keep.is_empty() {
            group.retain(|&i| keep.get(i).copied().unwrap_or(false));
        }
        let m = group.iter().fold(f64::NEG_INFINITY, |m, &i| m.max(x[i]));
        let sum: f64 = group.iter().map(|&i| (x[i] - m).exp()).sum();
        for &i in &group {
            y[i] = (x[i] - m).exp() / sum;
        }
    }
    y
}

/// One node: an op over earlier tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatNode {
    /// Node name (from the model file).
    pub name: String,
    /// The op.
    pub op: FloatOp,
    /// Tensors read, in the op's order.
    pub inputs: Vec<TensorId>,
}

/// A DAG of float nodes over one flat input, with a list of outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatGraph {
    /// Name of the model input.
    pub input_name: String,
    /// The input's shape as declared by the model (batch dimension included).
    pub input_shape: Vec<usize>,
    /// Nodes in execution order.
    pub nodes: Vec<FloatNode>,
    /// The model's outputs, in order (any tensor, each at most once).
    pub outputs: Vec<TensorId>,
    /// For a model of several inputs: each input, in order. The graph's input is then their
    /// concatenation (flat, `input_shape = [total]`), and a wiring node slices each out.
    /// Empty for a model of one input.
    #[serde(default)]
    pub input_parts: Vec<InputPart>,
    /// The model's input holds integers (an ONNX integer input: token ids). Its values must
    /// be whole numbers, and it is quantised at scale `2^0`, exactly.
    #[serde(default)]
    pub integer_input: bool,
}

/// One input of a model of several inputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputPart {
    /// The ONNX input's name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
}

impl FloatGraph {
    /// The flat lengths of the model's inputs (one entry for a model of one input).
    pub fn input_lens(&self) -> Vec<usize> {
        if self.input_parts.is_empty() {
            vec![self.input_len()]
        } else {
            self.input_parts
                .iter()
                .map(|p| p.shape.iter().product())
                .collect()
        }
    }

    /// Values in the flat input.
    pub fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// Length of every tensor, the input first.
    pub fn tensor_lens(&self) -> Vec<usize> {
        let mut lens = vec![self.input_len()];
        for node in &self.nodes {
            let ins: Vec<usize> = node
                .inputs
                .iter()
                .map(|t| lens.get(t.index()).copied().unwrap_or(0))
                .collect();
            lens.push(node.op.output_len(&ins));
        }
        lens
    }

    /// The model's outputs for `input`, concatenated in output order.
    pub fn eval(&self, input: &[f32]) -> Vec<f64> {
        let values = self.forward(input);
        self.outputs
            .iter()
            .flat_map(|t| values[t.index()].iter().copied())
            .collect()
    }

    /// The float forward pass in `f64`: every tensor's values, the input first.
    pub fn forward(&self, input: &[f32]) -> Vec<Vec<f64>> {
        let mut values = vec![input.iter().map(|v| f64::from(*v)).collect::<Vec<_>>()];
        for node in &self.nodes {
            let xs: Vec<&[f64]> = node
                .inputs
                .iter()
                .map(|t| values[t.index()].as_slice())
                .collect();
            let y = node.op.eval(&xs);
            values.push(y);
        }
        values
    }
}
