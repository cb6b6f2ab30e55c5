//! Witness generation: the integer forward pass recording every integer a chip needs.
//!
//! Each node is computed in parallel across its outputs ([`crate::par`]); every element
//! depends only on the node's input, so the result is the same at any thread count.
//! Values that would leave their declared range are reported here, before any proving,
//! with the node, tensor, index and range.

use crate::error::WitnessError;
use crate::par;
use crate::qgraph::{Dense, QGraph, QOp, QTensor};

/// What one node recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeWitness {
    /// A dense layer.
    Dense {
        /// Per output: the accumulator after each row of `dot_width` products.
        partials: Vec<Vec<i64>>,
        /// Per output: the rescaled value (the node's output).
        quotients: Vec<i64>,
        /// Per output: the rescale's remainder, in `[0, 2^shift)`.
        remainders: Vec<i64>,
    },
    /// A ReLU.
    Relu {
        /// `max(x, 0)`.
        outputs: Vec<i64>,
    },
}

impl NodeWitness {
    /// The node's output values.
    pub fn output(&self) -> &[i64] {
        match self {
            Self::Dense { quotients, .. } => quotients,
            Self::Relu { outputs } => outputs,
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
    /// Products per row the partial sums were recorded at.
    pub dot_width: usize,
}

impl Witness {
    /// The model's output.
    pub fn output(&self) -> &[i64] {
        self.nodes.last().map_or(&self.input, NodeWitness::output)
    }
}

/// Runs the integer forward pass of `graph` on `input`, recording dot-product partial sums
/// every `dot_width` products.
pub fn generate(graph: &QGraph, input: &[i64], dot_width: usize) -> Result<Witness, WitnessError> {
    if input.len() != graph.input.len {
        return Err(WitnessError::InputLength {
            expected: graph.input.len,
            got: input.len(),
        });
    }
    for (i, v) in input.iter().enumerate() {
        check_range("input", &graph.input, i, i128::from(*v))?;
    }
    let mut nodes: Vec<NodeWitness> = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let x = nodes.last().map_or(input, NodeWitness::output);
        let record = match &node.op {
            QOp::Dense(dense) => dense_witness(&node.name, dense, &node.output, x, dot_width)?,
            QOp::Relu => NodeWitness::Relu {
                outputs: x.iter().map(|v| (*v).max(0)).collect(),
            },
        };
        nodes.push(record);
    }
    Ok(Witness {
        input: input.to_vec(),
        nodes,
        dot_width,
    })
}

fn dense_witness(
    node: &str,
    dense: &Dense,
    output: &QTensor,
    x: &[i64],
    width: usize,
) -> Result<NodeWitness, WitnessError> {
    let offset = i128::from(dense.rounding.offset(dense.shift));
    let divisor = 1i128 << dense.shift;
    let rows = par::try_map(dense.bias.len(), |o| {
        let weights = dense.weights.row(o).to_vec();
        let mut acc = i128::from(dense.bias[o]);
        let mut partials = Vec::with_capacity(x.len().div_ceil(width).max(1));
        for (ws, xs) in weights.chunks(width).zip(x.chunks(width)) {
            acc += ws
                .iter()
                .zip(xs)
                .map(|(w, x)| i128::from(*w) * i128::from(*x))
                .sum::<i128>();
            partials.push(to_i64(node, "accumulator", o, acc)?);
        }
        if partials.is_empty() {
            partials.push(to_i64(node, "accumulator", o, acc)?);
        }
        let shifted = acc + offset;
        let q = shifted.div_euclid(divisor);
        let r = shifted.rem_euclid(divisor);
        let q = check_range(node, output, o, q)?;
        Ok((partials, q, to_i64(node, "remainder", o, r)?))
    })?;
    let mut partials = Vec::with_capacity(rows.len());
    let (mut quotients, mut remainders) = (Vec::new(), Vec::new());
    for (p, q, r) in rows {
        partials.push(p);
        quotients.push(q);
        remainders.push(r);
    }
    Ok(NodeWitness::Dense {
        partials,
        quotients,
        remainders,
    })
}

fn check_range(
    node: &str,
    tensor: &QTensor,
    index: usize,
    value: i128,
) -> Result<i64, WitnessError> {
    let (min, max) = (tensor.min(), tensor.max());
    if value < i128::from(min) || value > i128::from(max) {
        return Err(WitnessError::OutOfRange {
            node: node.to_string(),
            tensor: tensor.name.clone(),
            index,
            value,
            min,
            max,
        });
    }
    i64::try_from(value).map_err(|_| unreachable_range(node, &tensor.name, index, value))
}

fn to_i64(node: &str, what: &str, index: usize, value: i128) -> Result<i64, WitnessError> {
    i64::try_from(value).map_err(|_| unreachable_range(node, what, index, value))
}

fn unreachable_range(node: &str, tensor: &str, index: usize, value: i128) -> WitnessError {
    WitnessError::OutOfRange {
        node: node.to_string(),
        tensor: tensor.to_string(),
        index,
        value,
        min: i64::MIN,
        max: i64::MAX,
    }
}
