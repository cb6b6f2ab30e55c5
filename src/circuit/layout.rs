//! Layout: rows per node, the circuit's height and its `k`.
//!
//! The column budget is fixed per library version (see [`crate::circuit`]), so a model only
//! changes rows, `k`, the fixed-column weights and the selectors. Chips occupy disjoint
//! column groups, and halo2's `SimpleFloorPlanner` stacks each region below the previous
//! one *in its own columns*, so the height is the tallest group, not the sum:
//!
//! | group | columns | holds |
//! |---|---|---|
//! | dot | `x_0..x_{W-1}`, `acc`, `w_0..w_{W-1}`, `bias` | dot products |
//! | elementwise | `a_0..a_3`, `offset`, `divisor` | division, ReLU and max rows |
//! | range | `z`, two lanes of `limb`, `out`, `tag`; `shift`, `radix`, `offset` | every range check and table function |
//!
//! and the lookup table needs [`RangeTableConfig::ROWS`] rows of its own, plus each
//! activation's table.

use pasta_curves::Fp;
use serde::{Deserialize, Serialize};
use zkinfer_circuits::{commit, LookupRangeChip, RangeTableConfig};

use crate::circuit::{ops, InstanceLayout, OUTPUT_COMMITMENT};
use crate::error::CompileError;
use crate::graph::qgraph::{QGraph, QNode, QOp};
use crate::visibility::Visibilities;

/// The default dot-product width (the cost model may pick another, see [`crate::circuit::cost`]).
pub const DOT_WIDTH: usize = 32;
/// Rows at the bottom of the circuit that halo2 reserves for blinding (checked by a test
/// against the configured constraint system).
pub const UNUSABLE_ROWS: usize = 6;
/// Smallest `k`: the range table alone needs 511 rows.
pub const MIN_K: u32 = 10;
/// Largest `k` this version will set up.
pub const MAX_K: u32 = 22;

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

/// The circuit's shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// Per node.
    pub nodes: Vec<NodeRows>,
    /// Rows of the tallest column group or table.
    pub rows: usize,
    /// `2^k` rows in all.
    pub k: u32,
    /// Pairs per dot-product row.
    pub dot_width: usize,
    /// Public values: outputs, then inputs if public.
    pub instances: usize,
    /// Rows of the shared lookup table (range limbs and function tables).
    pub table_rows: usize,
    /// Whether the circuit carries the commitment chip (some tensor is hashed).
    #[serde(default)]
    pub commitments: bool,
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
    nonnegative: &'a [bool],
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

/// Lays out `graph`. Rows are an upper bound of what synthesis assigns (a test checks
/// that the chosen `k` fits).
pub fn plan(
    graph: &QGraph,
    visibility: &Visibilities,
    dot_width: usize,
) -> Result<Layout, CompileError> {
    let mut nodes = vec![NodeRows {
        name: graph.input.name.clone(),
        op: "Input".into(),
        dot: 0,
        elementwise: 0,
        range: graph.input.len * LookupRangeChip::<Fp>::signed_rows(graph.input.bits),
        commit: 0,
    }];
    // Whether every value of a tensor is non-negative by construction (ReLU is then free).
    let mut nonnegative = vec![false];
    // The shared table: the range rows, then every function's domain.
    let mut table_rows = RangeTableConfig::ROWS;
    for node in &graph.nodes {
        let cx = RowContext {
            graph,
            node,
            dot_width,
            hashed_params: visibility.hashed_params(),
            nonnegative: &nonnegative,
        };
        // One arm per op, no wildcard: each op's rows live next to its synthesis.
        let op = match &node.op {
            QOp::Relu => ops::relu::rows(&cx),
            QOp::Lookup(lookup) => ops::lookup::rows(&cx, lookup),
            QOp::Mul { shift } => ops::mul::rows(&cx, *shift),
            QOp::ArgMax(axis) => ops::argmax::rows(&cx, axis),
            QOp::Softmax(softmax) => ops::softmax::rows(&cx, softmax),
            QOp::Gather(gather) => ops::gather::rows(&cx, gather),
            QOp::MatMul(mm) => ops::matmul::rows(&cx, mm),
            QOp::MaxPool(window) => ops::max::rows(&cx, window),
            QOp::Wiring(sources) => ops::wiring::rows(&cx, sources),
            op
            @ (QOp::Dense(_) | QOp::Conv(_) | QOp::AvgPool(_) | QOp::Add(_) | QOp::Affine(_)) => {
                ops::linear::rows(&cx, op)?
            }
        };
        table_rows += op.table;
        nonnegative.push(op.nonnegative);
        nodes.push(NodeRows {
            name: node.name.clone(),
            op: node.op.kind().into(),
            dot: op.dot,
            elementwise: op.elementwise,
            range: op.range,
            commit: 0,
        });
    }
    let instance = InstanceLayout::of(graph, visibility);
    // Commitments: the input's and the outputs' each in a chip of its own columns; the
    // parameters' after the input's, in its chip.
    let mut chip_rows = [0, 0];
    for (name, len, bits) in instance.commitments(graph) {
        let rows = commit::rows(len, bits);
        chip_rows[usize::from(name == OUTPUT_COMMITMENT)] += rows;
        nodes.push(NodeRows {
            name: name.into(),
            op: "Commit".into(),
            dot: 0,
            elementwise: 0,
            range: 0,
            commit: rows,
        });
    }
    if instance.params.is_some() {
        let params = ops::params::rows(graph, visibility.param_bits);
        chip_rows[0] += params.commit;
        nodes.push(params);
    }
    let sum = |f: fn(&NodeRows) -> usize| nodes.iter().map(f).sum::<usize>();
    let rows = [
        sum(|n| n.dot),
        sum(|n| n.elementwise),
        sum(|n| n.range),
        chip_rows[0].max(chip_rows[1]),
        table_rows,
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let instances = instance.len();
    let needed = rows.max(instances) + UNUSABLE_ROWS;
    let k = (MIN_K..=MAX_K)
        .find(|k| (1usize << k) >= needed)
        .ok_or(CompileError::TooLarge {
            rows: needed,
            max_k: MAX_K,
        })?;
    Ok(Layout {
        nodes,
        rows,
        k,
        dot_width,
        instances,
        table_rows,
        commitments: instance.hashes(),
    })
}
