//! Witness generation: the integer forward pass recording every integer a chip needs.
//!
//! Each node is computed in parallel across its outputs (rayon, through the crate-private
//! `par` helpers); every element depends only on the node's inputs, so the result is the
//! same at any thread count.
//! Values that would leave their declared range are reported here, before any proving,
//! with the node, tensor, index and range.

use super::ops::{self, check_range, Inputs};
use crate::error::WitnessError;
use crate::graph::qgraph::{QGraph, QNode, QOp};
use crate::graph::TensorId;

/// What one node recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeWitness {
    /// A linear op (Dense, Conv, AvgPool, Add, Affine).
    Linear {
        /// Per output: the divided value (the node's output).
        quotients: Vec<i64>,
        /// Per output: the division's remainder, in `[0, d)`.
        remainders: Vec<i64>,
    },
    /// A product of two tensors, rescaled.
    Product {
        /// Per element: `a · b`.
        products: Vec<i64>,
        /// Per element: the rescaled product (the node's output).
        quotients: Vec<i64>,
        /// Per element: the rescale's remainder.
        remainders: Vec<i64>,
    },
    /// A table lookup.
    Lookup {
        /// Per element: the reduced input `floor(x / 2^shift)`, the table's index.
        reduced: Vec<i64>,
        /// Per element: the reduction's remainder, in `[0, 2^shift)`.
        remainders: Vec<i64>,
        /// Per element: the table's output.
        outputs: Vec<i64>,
    },
    /// The first index of each group's maximum.
    ArgMax {
        /// Per group: the maximum.
        maxima: Vec<i64>,
        /// Per group: the index (the node's output).
        indices: Vec<i64>,
    },
    /// A softmax; per-element records are in group order (group 0's elements first).
    Softmax {
        /// Per group: the maximum.
        maxima: Vec<i64>,
        /// Per element: the reduced gap `floor((m − x) / 2^shift)`.
        reduced: Vec<i64>,
        /// Per element: the reduction's remainder.
        remainders: Vec<i64>,
        /// Per element: the table's exponential.
        exps: Vec<i64>,
        /// Per element, in tensor order: the output.
        outputs: Vec<i64>,
    },
    /// An elementwise op (ReLU, MaxPool) or wiring: just its outputs.
    Values {
        /// The outputs.
        outputs: Vec<i64>,
    },
}

impl NodeWitness {
    /// The node's output values.
    pub fn output(&self) -> &[i64] {
        match self {
            Self::Linear { quotients, .. } | Self::Product { quotients, .. } => quotients,
            Self::Lookup { outputs, .. }
            | Self::Softmax { outputs, .. }
            | Self::Values { outputs } => outputs,
            Self::ArgMax { indices, .. } => indices,
        }
    }
}

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

/// One node's record: one arm per op, no wildcard, each op's evaluation in its module.
fn node_witness(graph: &QGraph, node: &QNode, xs: &[&[i64]]) -> Result<NodeWitness, WitnessError> {
    let inputs = Inputs {
        node: &node.name,
        xs,
    };
    let out = &node.output;
    match &node.op {
        QOp::Relu => Ok(ops::relu::eval(inputs)),
        QOp::MaxPool(window) => ops::pool::eval_max(window, out, inputs),
        QOp::Wiring(sources) => ops::wiring::eval(sources, out, inputs),
        QOp::Lookup(lookup) => ops::lookup::eval(lookup, out, inputs),
        QOp::Mul { shift } => ops::mul::eval(*shift, graph.rounding, out, inputs),
        QOp::ArgMax(axis) => ops::argmax::eval(axis, inputs),
        QOp::Softmax(sm) => ops::softmax::eval(sm, out, inputs),
        QOp::Gather(g) => ops::gather::eval(g, out, inputs),
        QOp::MatMul(mm) => ops::matmul::eval(mm, graph.rounding, out, inputs),
        QOp::Dense(_) | QOp::Conv(_) | QOp::AvgPool(_) | QOp::Add(_) | QOp::Affine(_) => {
            ops::linear::eval(graph.rounding, node, inputs)
        }
    }
}
