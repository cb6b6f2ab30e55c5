//! What a node adds to the layout, as each op's rows compute it ([`crate::circuit::ops`]) and
//! the layout sums it ([`crate::circuit::layout`]): a leaf module both read, so neither
//! imports the other's types back.

use serde::{Deserialize, Serialize};

use crate::graph::qgraph::{QGraph, QNode};

/// Rows one node occupies in each column group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRows {
    /// Node name (`input` for the model input).
    pub name: String,
    /// Op kind.
    pub op: String,
    /// Dot-product rows.
    pub dot: usize,
    /// Division, ReLU and max rows.
    pub elementwise: usize,
    /// Range-check rows.
    pub range: usize,
    /// Commitment rows (packing and Poseidon), in a commitment chip's own columns.
    #[serde(default)]
    pub commit: usize,
}

/// Advice columns of the elementwise group (division, ReLU, max, argmax, product rows).
pub const ELEMENTWISE_ADVICE: usize = 5;
/// Advice columns of the range group (`z` and two lanes of limb and output).
pub const RANGE_ADVICE: usize = 5;

impl NodeRows {
    /// Advice cells the node occupies at dot width `dot_width`: its rows times the advice
    /// columns of each group (inputs and accumulator for dot rows).
    pub fn cells(&self, dot_width: usize) -> usize {
        self.dot * (dot_width + 1)
            + self.elementwise * ELEMENTWISE_ADVICE
            + self.range * RANGE_ADVICE
            + self.commit * zkinfer_circuits::plan::COMMIT_ADVICE
    }
}

/// What one node adds to the layout: rows per column group, rows of the shared lookup table,
/// and whether its outputs are non-negative by construction (a ReLU of them is then free).
#[derive(Debug, Default)]
pub(crate) struct OpRows {
    pub(crate) dot: usize,
    pub(crate) elementwise: usize,
    pub(crate) range: usize,
    pub(crate) table: usize,
    pub(crate) nonnegative: bool,
}

/// What a node's rows may depend on: the graph, the node, the dot width, and which tensors
/// are non-negative by construction.
pub(crate) struct RowContext<'a> {
    pub(crate) graph: &'a QGraph,
    pub(crate) node: &'a QNode,
    pub(crate) dot_width: usize,
    /// Whether the parameters are hashed (linear ops with parameters take the pair chip).
    pub(crate) hashed_params: bool,
    /// Per tensor so far, whether it is non-negative by construction.
    pub(crate) nonnegative: &'a [bool],
}

impl RowContext<'_> {
    /// Whether the node's input `slot` is non-negative by construction.
    pub(crate) fn input_nonneg(&self, slot: usize) -> bool {
        self.node
            .inputs
            .get(slot)
            .is_some_and(|t| self.nonnegative.get(t.index()).copied().unwrap_or(false))
    }

    /// The bits of the node's input `slot` (1 for a missing one: validation rejects it).
    pub(crate) fn input_bits(&self, slot: usize) -> u32 {
        self.node
            .inputs
            .get(slot)
            .and_then(|&t| self.graph.tensor(t))
            .map_or(1, |t| t.bits)
    }
}
