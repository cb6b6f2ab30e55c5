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

use std::collections::BTreeSet;

use pasta_curves::Fp;
use serde::{Deserialize, Serialize};
use zkinfer_circuits::{
    ArgMaxChip, DivChip, FixedDotChip, FunctionChip, LookupRangeChip, MaxChip, RangeTableConfig,
    VarDivChip,
};

use crate::circuit::InstanceLayout;
use crate::error::CompileError;
use crate::graph::ir::Source;
use crate::graph::qgraph::{QGraph, QOp};
use crate::graph::window::pool_taps;
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
}

/// Lays out `graph`. Rows are an upper bound of what synthesis assigns (a test checks
/// that the chosen `k` fits).
pub fn plan(
    graph: &QGraph,
    visibility: &Visibilities,
    dot_width: usize,
) -> Result<Layout, CompileError> {
    let signed_rows = LookupRangeChip::<Fp>::signed_rows;
    let mut nodes = vec![NodeRows {
        name: graph.input.name.clone(),
        op: "Input".into(),
        dot: 0,
        elementwise: 0,
        range: graph.input.len * signed_rows(graph.input.bits),
    }];
    // Whether every value of a tensor is non-negative by construction (ReLU is then free).
    let mut nonnegative = vec![false];
    // The shared table: the range rows, then every function's domain.
    let mut table_rows = RangeTableConfig::ROWS;
    for node in &graph.nodes {
        let out = &node.output;
        let input_nonneg = |slot: usize| {
            node.inputs
                .get(slot)
                .is_some_and(|&t| nonnegative.get(t).copied().unwrap_or(false))
        };
        let mut rows = NodeRows {
            name: node.name.clone(),
            op: node.op.kind().into(),
            dot: 0,
            elementwise: 0,
            range: 0,
        };
        let nonneg = match &node.op {
            QOp::Relu => {
                rows.elementwise = if input_nonneg(0) { 0 } else { out.len };
                true
            }
            QOp::Lookup(lookup) => {
                let t = &lookup.table;
                let sign = if t.outputs.iter().all(|y| *y >= 0) {
                    0
                } else {
                    signed_rows(out.bits)
                };
                rows.elementwise = out.len;
                rows.range = out.len
                    * (DivChip::<Fp>::range_rows(1 << t.shift, t.input_bits) + sign)
                    + FunctionChip::rows(out.len);
                table_rows += t.outputs.len();
                t.outputs.iter().all(|y| *y >= 0)
            }
            QOp::Mul { shift } => {
                rows.elementwise = 2 * out.len;
                rows.range = out.len * DivChip::<Fp>::range_rows(1 << shift, out.bits);
                false
            }
            QOp::ArgMax(axis) => {
                let (n, bits) = (axis.len, graph.tensor(node.inputs[0]).map_or(1, |t| t.bits));
                rows.elementwise = 2 * n * axis.groups();
                rows.range = axis.groups()
                    * (MaxChip::<Fp>::range_rows(n, bits, input_nonneg(0))
                        + ArgMaxChip::<Fp>::range_rows(n, bits));
                true
            }
            QOp::Softmax(sm) => {
                let (n, groups) = (sm.axis.len, sm.axis.groups());
                let bits = graph.tensor(node.inputs[0]).map_or(1, |t| t.bits);
                let t = &sm.table;
                rows.dot = groups * FixedDotChip::rows(n, dot_width);
                rows.elementwise = 3 * n * groups;
                rows.range = groups * MaxChip::<Fp>::range_rows(n, bits, input_nonneg(0))
                    + FunctionChip::rows(out.len)
                    + out.len
                        * (DivChip::<Fp>::range_rows(1 << t.shift, t.input_bits + 1)
                            + VarDivChip::<Fp>::range_rows(sm.out_scale + 1, sm.sum_bits(bits)));
                table_rows += t.outputs.len();
                true
            }
            QOp::MaxPool(window) => {
                for o in 0..out.len {
                    let n = pool_taps(window, o).len();
                    rows.elementwise += n;
                    rows.range += MaxChip::<Fp>::range_rows(n, out.bits, input_nonneg(0));
                }
                input_nonneg(0)
            }
            QOp::Wiring(sources) => {
                let constants: BTreeSet<i64> = sources
                    .iter()
                    .filter_map(|s| match s {
                        Source::Constant(c) => Some(*c),
                        Source::Element { .. } => None,
                    })
                    .collect();
                rows.range = constants.len() * signed_rows(out.bits);
                (0..node.inputs.len()).all(input_nonneg) && constants.iter().all(|c| *c >= 0)
            }
            op
            @ (QOp::Dense(_) | QOp::Conv(_) | QOp::AvgPool(_) | QOp::Add(_) | QOp::Affine(_)) => {
                for o in 0..out.len {
                    let lin = op.linear(o).ok_or_else(|| CompileError::Invalid {
                        node: node.name.clone(),
                        reason: format!("no linear output {o}"),
                    })?;
                    rows.dot += FixedDotChip::rows(lin.taps.len(), dot_width);
                    rows.elementwise += 1;
                    rows.range += DivChip::<Fp>::range_rows(lin.divisor, out.bits);
                }
                false
            }
        };
        nonnegative.push(nonneg);
        nodes.push(rows);
    }
    let sum = |f: fn(&NodeRows) -> usize| nodes.iter().map(f).sum::<usize>();
    let rows = [
        sum(|n| n.dot),
        sum(|n| n.elementwise),
        sum(|n| n.range),
        table_rows,
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let instances = InstanceLayout::of(graph, visibility).len();
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
    })
}
