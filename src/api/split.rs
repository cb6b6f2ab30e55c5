//! Layers too large for any part, computed in pieces before the partition (the pieces
//! themselves: [`QGraph::split_node`]).

use super::partition::part_visibility;
use crate::circuit::cost::{self, Budget};
use crate::error::CompileError;
use crate::graph::qgraph::QGraph;
use crate::visibility::Visibilities;

/// The most pieces [`split_to_fit`] cuts one layer into: past it, each piece's links cost
/// more rows than its own, so more pieces would not fit where fewer did not.
pub const MAX_PIECES: usize = 64;

/// `graph` with every layer (convolution, dense layer or elementwise op) that no part could
/// hold alone, with its links, computed in as few pieces (at most [`MAX_PIECES`]) as each
/// fit `budget` alone, with the elementwise ops after it ([`QGraph::split_node`]: the pieces
/// compute the layer's outputs exactly). A layer that fits stays whole; one that fits in no
/// number of pieces is left to [`partition`](crate::api::partition), which names it.
pub fn split_to_fit(
    mut graph: QGraph,
    visibility: &Visibilities,
    budget: &Budget,
) -> Result<QGraph, CompileError> {
    // A part that cannot be formed (its links would carry more values than a tensor may
    // hold) does not fit either.
    let fits = |graph: &QGraph, nodes: std::ops::Range<usize>| -> Result<bool, CompileError> {
        let (first, last) = (nodes.start == 0, nodes.end == graph.nodes.len());
        match graph.part(nodes) {
            Ok(part) => {
                let vis = part_visibility(visibility, &part, first, last);
                Ok(cost::choose_within(&part, &vis, budget)?.is_some())
            }
            Err(CompileError::Structure { .. } | CompileError::NoSuchNodes { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    };
    let mut i = 0;
    while i < graph.nodes.len() {
        let units = graph.split_units(i).min(MAX_PIECES);
        let mut next = i + 1;
        if units > 1 && !fits(&graph, i..i + 1)? {
            // Tried at about 1.5x more pieces each time: a layer many times too large does
            // not cost a layout per piece count.
            let mut pieces = 2;
            loop {
                let split = graph.split_node(i, pieces)?;
                let mut all_fit = true;
                for piece in &split.pieces {
                    if !fits(&split.graph, piece.clone())? {
                        all_fit = false;
                        break;
                    }
                }
                if all_fit {
                    next = split.join + 1;
                    graph = split.graph;
                    break;
                }
                if pieces == units {
                    break;
                }
                pieces = (pieces * 3 / 2).max(pieces + 1).min(units);
            }
        }
        i = next;
    }
    graph.validate()?;
    Ok(graph)
}
