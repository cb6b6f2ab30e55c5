//! Trained parameters: which values of an op are weights and biases (the ones hashed
//! parameters move into committed advice cells and a verifier file zeroes), and a graph's
//! parameters in the order their commitment covers them.

use std::ops::Range;

use super::qgraph::{QGraph, QOp};

impl QOp {
    /// The trained parameters of the op, `[weights, biases]`, in the order of
    /// [`Tap::param`](super::qgraph::Tap::param) and
    /// [`LinearOutput::bias_param`](super::qgraph::LinearOutput::bias_param): a dense
    /// layer's and a convolution's weights and biases, an affine map's scales and offsets. `None` for an op with none
    /// (an average pool's and an add's constants belong to the architecture).
    pub fn params(&self) -> Option<[Vec<i64>; 2]> {
        match self {
            Self::Dense(d) => Some([d.weights.iter().copied().collect(), d.bias.clone()]),
            Self::Conv(c) => Some([c.weights.clone(), c.bias.clone()]),
            Self::Affine(a) => Some([a.scale.clone(), a.bias.clone()]),
            Self::AvgPool(_)
            | Self::Add(_)
            | Self::Relu
            | Self::Mul { .. }
            | Self::Lookup(_)
            | Self::ArgMax(_)
            | Self::Softmax(_)
            | Self::MaxPool(_)
            | Self::Wiring(_)
            | Self::Gather(_)
            | Self::MatMul(_) => None,
        }
    }

    /// Whether the op has trained parameters ([`QOp::params`] is `Some`).
    pub fn has_params(&self) -> bool {
        matches!(self, Self::Dense(_) | Self::Conv(_) | Self::Affine(_))
    }

    /// Sets every trained parameter ([`QOp::params`]) to zero: what a verifier file keeps of
    /// an op whose parameters are hashed.
    pub fn zero_params(&mut self) {
        match self {
            Self::Dense(d) => {
                d.weights.fill(0);
                d.bias.fill(0);
            }
            Self::Conv(c) => {
                c.weights.fill(0);
                c.bias.fill(0);
            }
            Self::Affine(a) => {
                a.scale.fill(0);
                a.bias.fill(0);
            }
            Self::AvgPool(_)
            | Self::Add(_)
            | Self::Relu
            | Self::Mul { .. }
            | Self::Lookup(_)
            | Self::ArgMax(_)
            | Self::Softmax(_)
            | Self::MaxPool(_)
            | Self::Wiring(_)
            | Self::Gather(_)
            | Self::MatMul(_) => {}
        }
    }
}

/// A graph's trained parameters, as its hashed-parameters commitment covers them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GraphParams {
    /// `[weights, biases]`: every node's, one node after another.
    pub values: [Vec<i64>; 2],
    /// Per node, where its weights and its biases lie in `values` (`None`: it has none).
    pub ranges: Vec<Option<[Range<usize>; 2]>>,
}

impl GraphParams {
    /// The narrowest signed widths that hold every weight and every bias (at least 1).
    pub fn bits(&self) -> [u32; 2] {
        self.values.each_ref().map(|values| {
            values
                .iter()
                .map(|v| {
                    // `v` needs `b` bits when `−2^(b−1) <= v < 2^(b−1)`.
                    let magnitude = if *v < 0 { !*v } else { *v };
                    65 - magnitude.leading_zeros()
                })
                .max()
                .unwrap_or(1)
        })
    }
}

impl QGraph {
    /// Every trained parameter ([`QOp::params`]), node after node.
    pub fn params(&self) -> GraphParams {
        let mut params = GraphParams::default();
        for node in &self.nodes {
            params.ranges.push(node.op.params().map(|groups| {
                let [w, b] = [0, 1].map(|g| {
                    let start = params.values[g].len();
                    params.values[g].extend(&groups[g]);
                    start..params.values[g].len()
                });
                [w, b]
            }));
        }
        params
    }
}
