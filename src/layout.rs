//! Layout: rows per node, the circuit's height and its `k`.
//!
//! The column budget is fixed per library version (see [`crate::circuit`]), so a model only
//! changes rows, `k`, the fixed-column weights and the selectors. Chips occupy disjoint
//! column groups, and halo2's `SimpleFloorPlanner` stacks each region below the previous
//! one *in its own columns*, so the height is the tallest group, not the sum:
//!
//! | group | columns | holds |
//! |---|---|---|
//! | dot | `x_0..x_31`, `acc`, `w_0..w_31`, `bias` | dot products |
//! | elementwise | `a_0..a_2`, `offset`, `divisor` | rescale rows, ReLU rows |
//! | range | `z`, `limb`, `tag`, `radix`, `offset` | every range check |
//!
//! and the lookup table needs [`RangeTableConfig::ROWS`] rows of its own.

use serde::{Deserialize, Serialize};
use zkinfer_circuits::{FixedDotChip, LookupRangeChip, RangeTableConfig};

use crate::error::CompileError;
use crate::qgraph::{QGraph, QOp};

/// Multiply–accumulate pairs per dot-product row (DESIGN.md: wide rows prove fastest).
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
    /// Rescale and ReLU rows.
    pub elementwise: usize,
    /// Range-check rows.
    pub range: usize,
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
}

/// Lays out `graph`.
pub fn plan(graph: &QGraph, public_input: bool) -> Result<Layout, CompileError> {
    let mut nodes = vec![NodeRows {
        name: graph.input.name.clone(),
        op: "Input".into(),
        dot: 0,
        elementwise: 0,
        range: graph.input.len * LookupRangeChip::<pasta_curves::Fp>::signed_rows(graph.input.bits),
    }];
    let mut previous_is_relu = false;
    let mut input_len = graph.input.len;
    for node in &graph.nodes {
        let out = node.output.len;
        let rows = match &node.op {
            QOp::Dense(d) => NodeRows {
                name: node.name.clone(),
                op: "Dense".into(),
                dot: out * FixedDotChip::rows(input_len, DOT_WIDTH),
                elementwise: out,
                range: out
                    * (LookupRangeChip::<pasta_curves::Fp>::signed_rows(node.output.bits)
                        + LookupRangeChip::<pasta_curves::Fp>::unsigned_rows(d.shift)),
            },
            QOp::Relu => NodeRows {
                name: node.name.clone(),
                op: "Relu".into(),
                dot: 0,
                // A ReLU of a known non-negative value is free (see `ReluChip`).
                elementwise: if previous_is_relu { 0 } else { out },
                range: 0,
            },
        };
        previous_is_relu = matches!(node.op, QOp::Relu);
        input_len = out;
        nodes.push(rows);
    }
    let sum = |f: fn(&NodeRows) -> usize| nodes.iter().map(f).sum::<usize>();
    let rows = [
        sum(|n| n.dot),
        sum(|n| n.elementwise),
        sum(|n| n.range),
        RangeTableConfig::ROWS,
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let instances = graph.output().len + if public_input { graph.input.len } else { 0 };
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
        dot_width: DOT_WIDTH,
        instances,
    })
}
