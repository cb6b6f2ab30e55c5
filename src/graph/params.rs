//! Trained parameters: which values of an op are weights and biases (the ones hashed
//! parameters move into committed advice cells and a verifier file zeroes), and a graph's
//! parameters in the order their commitment covers them.

use std::ops::Range;

use super::qgraph::QGraph;

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
    /// Every trained parameter ([`QOp::params`](super::qgraph::QOp::params)), node after node.
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
