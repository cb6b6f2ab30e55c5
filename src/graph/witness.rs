//! Witness generation: the integer forward pass recording every integer a chip needs.
//!
//! Each node is computed in parallel across its outputs (rayon, through the crate-private
//! `par` helpers); every element depends only on the node's inputs, so the result is the
//! same at any thread count.
//! Values that would leave their declared range are reported here, before any proving,
//! with the node, tensor, index and range.

pub use super::record::NodeWitness;

use super::ops::{check_range, EvalContext, Inputs};
use crate::error::WitnessError;
use crate::graph::qgraph::{QGraph, QNode};
use crate::graph::TensorId;

/// Every integer of one inference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The integer input.
    pub input: Vec<i64>,
    /// One record per node, in graph order.
    pub nodes: Vec<NodeWitness>,
    /// The graph's outputs, in order.
    pub output_ids: Vec<TensorId>,
}

impl Witness {
    /// The model's outputs, concatenated in the graph's output order (read from the node
    /// records, so a forged record shows in them).
    pub fn outputs(&self) -> Vec<i64> {
        self.output_ids
            .iter()
            .flat_map(|&t| self.tensor(t).iter().copied())
            .collect()
    }

    /// Tensor `id`'s values (empty for an id the graph lacks).
    pub fn tensor(&self, id: TensorId) -> &[i64] {
        match id.node() {
            None => &self.input,
            Some(i) => self.nodes.get(i).map_or(&[], NodeWitness::output),
        }
    }
}

impl QGraph {
    /// The integer forward pass: the model's output for an integer input. This is the
    /// model's meaning; it depends on nothing of the circuit's layout.
    pub fn eval(&self, input: &[i64]) -> Result<Vec<i64>, WitnessError> {
        Ok(generate(self, input)?.outputs())
    }
}

/// Runs the integer forward pass of `graph` on `input`, recording every integer a chip
/// needs. Nothing here depends on the circuit's layout (dot-product running sums are
/// derived by the chip from the cells it copies).
pub fn generate(graph: &QGraph, input: &[i64]) -> Result<Witness, WitnessError> {
    if input.len() != graph.input.len {
        return Err(WitnessError::InputLength {
            expected: graph.input.len,
            got: input.len(),
        });
    }
    for (i, v) in input.iter().enumerate() {
        check_range("input", &graph.input, i, i128::from(*v))?;
    }
    let mut witness = Witness {
        input: input.to_vec(),
        nodes: Vec::with_capacity(graph.nodes.len()),
        output_ids: graph.outputs.clone(),
    };
    for node in &graph.nodes {
        let xs: Vec<&[i64]> = node.inputs.iter().map(|&t| witness.tensor(t)).collect();
        let record = node_witness(graph, node, &xs)?;
        witness.nodes.push(record);
    }
    Ok(witness)
}

/// One node's record: its op's evaluation
/// ([`IntegerOp::eval`](super::ops::IntegerOp::eval)).
fn node_witness(graph: &QGraph, node: &QNode, xs: &[&[i64]]) -> Result<NodeWitness, WitnessError> {
    let cx = EvalContext {
        inputs: Inputs {
            node: &node.name,
            xs,
        },
        out: &node.output,
        rounding: graph.rounding,
    };
    node.op.as_op().eval(&cx)
}
