//! ReLU: `max(0, x)`.

use super::Inputs;
use crate::graph::qgraph::QTensor;
use crate::graph::witness::NodeWitness;

pub(in crate::graph) fn output_len(x: &QTensor) -> usize {
    x.len
}

pub(in crate::graph) fn eval(inputs: Inputs<'_>) -> NodeWitness {
    NodeWitness::Values {
        outputs: inputs.first().iter().map(|v| (*v).max(0)).collect(),
    }
}
