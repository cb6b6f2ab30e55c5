//! Trained parameters: which values of an op are weights and biases (the ones hashed
//! parameters move into committed advice cells and a verifier file zeroes), and a graph's
//! parameters in the order their commitment covers them.

use super::qgraph::QGraph;
use super::qtensor::GraphParams;

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
