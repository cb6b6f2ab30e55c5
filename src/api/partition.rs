//! The partition of a model too large for one circuit: parts in execution order whose
//! circuits each fit a budget, and a part's visibilities (hashed at every cut). A leaf of
//! `api/` beside `format`: the compiler and the split read it, and it reads neither.

use super::format::PartSpec;
use crate::circuit::cost::{self, Budget};
use crate::circuit::layout::Layout;
use crate::error::{CompileError, WeightsError};
use crate::graph::qgraph::{QGraph, QNode, QOp};
use crate::graph::repeats;
use crate::visibility::{Visibilities, Visibility};

/// The most values all the links of a model proven in parts may carry together (as many as
/// one tensor may hold).
pub const MAX_LINK_VALUES: usize = crate::graph::window::MAX_LEN;

/// Cuts `graph` into parts whose circuits each fit `budget`: each part takes as many nodes
/// as fit, in execution order, and a part starts at each node of `starts` (repeated blocks'
/// boundaries, `block_starts`: the same greedy rule then cuts every block alike). `Err`
/// names the first node of a part that cannot fit.
pub fn partition(
    graph: &QGraph,
    visibility: &Visibilities,
    budget: &Budget,
    starts: &[usize],
) -> Result<Vec<PartSpec>, CompileError> {
    let n = graph.nodes.len();
    let mut parts = Vec::new();
    let mut start = 0;
    while start < n {
        let limit = starts
            .iter()
            .copied()
            .find(|&s| s > start)
            .unwrap_or(n)
            .min(n);
        // The fastest layout of nodes `start..end` within the budget: with its output link
        // hashed as it will be, and without (its rows only grow with more nodes, so once it
        // does not fit, no longer part does; the link's own rows can shrink as a later cut
        // carries less).
        let fits = |end: usize, linked: bool| -> Result<Option<Layout>, CompileError> {
            // With hashed params, a part holding an embedding table ends before the next
            // trained params: its verifier file would publish them.
            if visibility.hashed_params() && exposed_params(&graph.nodes[start..end]).is_some() {
                return Ok(None);
            }
            let part = graph.part(start..end)?;
            let mut vis = part_visibility(visibility, &part, start == 0, end == n);
            if !linked && end < n {
                vis.output = Visibility::Public;
            }
            cost::choose_within(&part, &vis, budget)
        };
        let mut best = None;
        for end in start + 1..=limit {
            if fits(end, false)?.is_none() {
                break;
            }
            if let Some(l) = fits(end, true)? {
                best = Some((end, l.dot_width));
            }
        }
        let Some((end, dot_width)) = best else {
            return Err(CompileError::NoPartFits {
                node: graph.nodes[start].name.clone(),
                budget: budget.to_string(),
            });
        };
        parts.push(PartSpec { start, dot_width });
        start = end;
    }
    Ok(parts)
}

/// The first node of every block of `graph`'s repeated runs ([`repeats::of_integer`]), and
/// the node after each run's last block: where parts start so that every block of a run is
/// cut alike, and its parts are of one shape. A run whose two first blocks fit one part
/// together is left out (cutting between them would add parts, not share keys).
pub fn block_starts(
    graph: &QGraph,
    visibility: &Visibilities,
    budget: &Budget,
) -> Result<Vec<usize>, CompileError> {
    let n = graph.nodes.len();
    let mut starts = Vec::new();
    for run in repeats::of_integer(graph) {
        let pair = run.start..run.start + 2 * run.period;
        let part = graph.part(pair.clone())?;
        let vis = part_visibility(visibility, &part, pair.start == 0, pair.end == n);
        if cost::choose_within(&part, &vis, budget)?.is_some() {
            continue;
        }
        starts.extend(run.boundaries().filter(|&b| b > 0 && b < n));
    }
    Ok(starts)
}

/// The visibilities of `part`: the model's at its ends, hashed at every cut. Its params are
/// hashed when the model's are and a commitment can cover them: a part without params, or
/// one holding an embedding table (a lookup table in fixed columns), keeps fixed params (its
/// verifier file then holds its weights, as a model with fixed params does).
pub fn part_visibility(
    model: &Visibilities,
    part: &QGraph,
    first: bool,
    last: bool,
) -> Visibilities {
    let hashed = model.hashed_params() && check_hashable(part).is_ok();
    Visibilities {
        input: if first {
            model.input
        } else {
            Visibility::Hashed
        },
        output: if last {
            model.output
        } else {
            Visibility::Hashed
        },
        params: if hashed {
            Visibility::Hashed
        } else {
            Visibility::Fixed
        },
        param_bits: if hashed { model.param_bits } else { [0, 0] },
    }
}

/// With hashed params, the position among a part's `nodes` (the model's, not the part's
/// link slices) of the first node whose trained params the part would publish: a part
/// holding an embedding table keeps fixed params, its verifier file holds its weights, so
/// it may hold no other trained params.
pub(super) fn exposed_params(nodes: &[QNode]) -> Option<usize> {
    if !nodes.iter().any(|n| matches!(n.op, QOp::Gather(_))) {
        return None;
    }
    nodes.iter().position(|n| n.op.has_params())
}

/// Whether hashed params can cover `graph`'s: it has some, and no embedding table (a
/// Gather's table is a lookup table in fixed columns, so the verifying key would still
/// commit to it).
pub(super) fn check_hashable(graph: &QGraph) -> Result<(), WeightsError> {
    if let Some(node) = graph.nodes.iter().find(|n| matches!(n.op, QOp::Gather(_))) {
        return Err(WeightsError::Gather {
            node: node.name.clone(),
        });
    }
    if graph.params().values.iter().all(Vec::is_empty) {
        return Err(WeightsError::NoParams);
    }
    Ok(())
}
