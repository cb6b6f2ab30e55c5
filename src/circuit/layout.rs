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

use crate::circuit::rows::RowContext;
pub use crate::circuit::rows::{NodeRows, ELEMENTWISE_ADVICE, RANGE_ADVICE};
use crate::circuit::{ops, InstanceLayout, OUTPUT_COMMITMENT};
use crate::error::CompileError;
use crate::graph::qgraph::QGraph;
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

/// Lays out `graph` at one dot width. Rows are an upper bound of what synthesis assigns (a
/// test checks that the chosen `k` fits).
pub fn plan(
    graph: &QGraph,
    visibility: &Visibilities,
    dot_width: usize,
) -> Result<Layout, CompileError> {
    plan_widths(graph, visibility, &[dot_width])?
        .pop()
        .unwrap_or(Err(CompileError::NoNodes))
}

/// Lays out `graph` at each of `widths` in one walk over its nodes: each width's layout, or
/// the error that width meets ([`CompileError::TooLarge`] when no `k` holds it). An error of
/// the graph itself, the same at every width, is returned at once.
pub fn plan_widths(
    graph: &QGraph,
    visibility: &Visibilities,
    widths: &[usize],
) -> Result<Vec<Result<Layout, CompileError>>, CompileError> {
    crate::counters::laid_out();
    let input = NodeRows {
        name: graph.input.name.clone(),
        op: "Input".into(),
        dot: 0,
        elementwise: 0,
        range: graph.input.len * LookupRangeChip::<Fp>::signed_rows(graph.input.bits),
        commit: 0,
    };
    let mut per_width: Vec<Vec<NodeRows>> = widths.iter().map(|_| vec![input.clone()]).collect();
    // Whether every value of a tensor is non-negative by construction (ReLU is then free).
    let mut nonnegative = vec![false];
    // The shared table: the range rows, then every function's domain (the same at every
    // width).
    let mut table_rows = RangeTableConfig::ROWS;
    for node in &graph.nodes {
        let mut node_table = 0;
        let mut node_nonnegative = false;
        for (&dot_width, nodes) in widths.iter().zip(&mut per_width) {
            let cx = RowContext {
                graph,
                node,
                dot_width,
                hashed_params: visibility.hashed_params(),
                nonnegative: &nonnegative,
            };
            // Each op's rows live next to its synthesis.
            let op = ops::rows(&cx)?;
            (node_table, node_nonnegative) = (op.table, op.nonnegative);
            nodes.push(NodeRows {
                name: node.name.clone(),
                op: node.op.kind().into(),
                dot: op.dot,
                elementwise: op.elementwise,
                range: op.range,
                commit: 0,
            });
        }
        table_rows += node_table;
        nonnegative.push(node_nonnegative);
    }
    Ok(widths
        .iter()
        .zip(per_width)
        .map(|(&dot_width, nodes)| finish(graph, visibility, dot_width, nodes, table_rows))
        .collect())
}

/// A width's layout from its nodes' rows: the commitments' rows, the tallest column group,
/// and the smallest `k` that holds it.
fn finish(
    graph: &QGraph,
    visibility: &Visibilities,
    dot_width: usize,
    mut nodes: Vec<NodeRows>,
    table_rows: usize,
) -> Result<Layout, CompileError> {
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
        let params = ops::params_rows(graph, visibility.param_bits);
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
