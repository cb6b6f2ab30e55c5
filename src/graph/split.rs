//! One layer computed in pieces: a convolution or dense layer too large for any one circuit
//! (a part of a model proven in parts) becomes several layers over consecutive output
//! channels (rows, for a dense layer), so the partitioner can put each piece in a part of its
//! own.
//!
//! An elementwise op whose links alone are too large (a residual `Add` reading two big
//! tensors) is split the same way, over its elements.
//!
//! The elementwise ops that follow the layer and alone read its result (a residual `Add`, a
//! `Relu`, an affine map: its *chain*) are computed in the same pieces, each piece reading
//! its own slice of any other tensor they add (the skip connection); only then are the
//! pieces joined back in order. That keeps what crosses a cut inside the pieces near one
//! layer's worth of values: a slice of the skip tensor stops crossing once its piece is
//! done, as the piece's result starts to. Joining right after the layer would carry the whole
//! skip tensor, the layer's input and every finished piece across every cut between pieces.
//!
//! The pieces compute exactly the chain's outputs, value for value: each output of a
//! convolution or dense layer depends on its own channel's weights and bias only, each output
//! of an elementwise op on the same element of its inputs, and the slices and the join are
//! wiring (copies, no rows). A grouped convolution splits between groups only, each piece
//! reading its groups' input channels through a slice of its own.

use std::ops::Range;

use super::ir::Source;
use super::ops::Splitting;
use super::qgraph::{QGraph, QNode, QOp, QTensor, Wiring};
use super::TensorId;
use crate::error::{CompileError, StructureError};

/// A graph with one chain computed in pieces.
#[derive(Debug)]
pub struct Split {
    /// The new graph.
    pub graph: QGraph,
    /// Each piece's nodes in it (consecutive).
    pub pieces: Vec<Range<usize>>,
    /// The join, wiring after the last piece; later nodes follow it.
    pub join: usize,
}

impl QGraph {
    /// How many pieces node `i` can be split into at most: a dense layer's outputs, a
    /// convolution's output channels (its groups, when it has more than one), an elementwise
    /// op's elements; 1 for any other op.
    pub fn split_units(&self, i: usize) -> usize {
        let Some(node) = self.nodes.get(i) else {
            return 1;
        };
        match node.op.as_op().splitting() {
            Splitting::Layer { units, .. } => units,
            Splitting::Elementwise => node.output.len,
            Splitting::Never => 1,
        }
    }

    /// The nodes after node `i` that can be computed in node `i`'s pieces: each the next node
    /// in order, elementwise, the only reader of the one before (which is no graph output),
    /// its other inputs made before node `i`. Node `i` and its chain are nodes `i..end`.
    pub fn split_chain_end(&self, i: usize) -> usize {
        let mut end = i + 1;
        while let Some(next) = self.nodes.get(end) {
            let last = TensorId::of_node(end - 1);
            let read_once = self
                .nodes
                .iter()
                .flat_map(|n| &n.inputs)
                .filter(|&&t| t == last)
                .count()
                == 1;
            let others_before = next.inputs.iter().all(|&t| t == last || t.index() <= i);
            let chained = read_once
                && others_before
                && next.inputs.contains(&last)
                && !self.outputs.contains(&last)
                && next.op.as_op().splitting() == Splitting::Elementwise
                && next.output.len == self.nodes[end - 1].output.len;
            if !chained {
                break;
            }
            end += 1;
        }
        end
    }

    /// The same graph with node `i` and its chain ([`QGraph::split_chain_end`]) computed in
    /// `pieces` pieces of consecutive units ([`QGraph::split_units`]), as even as they
    /// divide: first the slices of what the chain reads besides node `i`'s result, then each
    /// piece's nodes, then the join (wiring that keeps the chain's last name and output
    /// tensor). Later ids move up by the nodes added.
    ///
    /// `self` must be valid ([`QGraph::validate`]): the split graph then is too, and is not
    /// validated again (a compile tries several piece counts of several layers, and
    /// validation walks every multiply of the model).
    pub fn split_node(&self, i: usize, pieces: usize) -> Result<Split, CompileError> {
        let node = self.nodes.get(i).ok_or(CompileError::NoSuchNodes {
            start: i,
            end: i + 1,
            nodes: self.nodes.len(),
        })?;
        let units = self.split_units(i);
        if pieces < 2 || pieces > units {
            return Err(CompileError::Pieces {
                node: node.name.clone(),
                kind: node.op.kind(),
                units,
                pieces,
            });
        }
        let end = self.split_chain_end(i);
        let tensor = |t: TensorId| {
            self.tensor(t).ok_or_else(|| CompileError::Structure {
                node: node.name.clone(),
                source: StructureError::UnknownTensor {
                    tensor: t.to_string(),
                },
            })
        };
        let unit_range = |p: usize| p * units / pieces..(p + 1) * units / pieces;
        // Each piece's output elements (the same for every node of the chain).
        let per_unit = node.output.len / units;
        let elements = |p: usize| {
            let u = unit_range(p);
            u.start * per_unit..u.end * per_unit
        };
        let mut new: Vec<QNode> = Vec::new();
        // The slices first: a grouped convolution's piece's input channels (`heads[p]`), and
        // each tensor the chain reads besides node `i`'s result (`slices[p]` maps it to
        // piece `p`'s slice). One slice serves both when they are the same elements.
        let layer = matches!(node.op.as_op().splitting(), Splitting::Layer { .. });
        // The first node whose inputs are sliced elementwise: an elementwise head's own.
        let first = if layer { i + 1 } else { i };
        let mut heads = vec![node.inputs[0]; pieces];
        let mut slices: Vec<Vec<(TensorId, Range<usize>, TensorId)>> = vec![Vec::new(); pieces];
        let mut slice = |new: &mut Vec<QNode>, p: usize, t: TensorId, range: Range<usize>| {
            if let Some(&(.., sliced)) = slices[p].iter().find(|(s, r, _)| *s == t && *r == range) {
                return Ok(sliced);
            }
            let x = tensor(t)?;
            new.push(QNode {
                name: format!(
                    "{} (slice {}..{} for {})",
                    x.name, range.start, range.end, node.name
                ),
                op: QOp::Wiring(Wiring(range.clone().map(element).collect())),
                inputs: vec![t],
                output: QTensor {
                    name: format!("{} ({}..{})", x.name, range.start, range.end),
                    len: range.len(),
                    ..x.clone()
                },
            });
            let sliced = TensorId::of_node(i + new.len() - 1);
            slices[p].push((t, range, sliced));
            Ok::<_, CompileError>(sliced)
        };
        for (p, head) in heads.iter_mut().enumerate() {
            if let Some(range) = node.op.as_op().piece_input(unit_range(p)) {
                *head = slice(&mut new, p, node.inputs[0], range)?;
            }
            for later in &self.nodes[first..end] {
                for &t in later.inputs.iter().filter(|t| t.index() <= i) {
                    slice(&mut new, p, t, elements(p))?;
                }
            }
        }
        let mut ranges = Vec::with_capacity(pieces);
        let mut joined = Vec::with_capacity(pieces);
        for (p, slices) in slices.iter().enumerate() {
            let start = new.len();
            let units = unit_range(p);
            let label = piece_label(&node.op, &units);
            // The piece's result so far: its head's, then each chain node's.
            let mut last = heads[p];
            for (j, original) in self.nodes[i..end].iter().enumerate() {
                let (op, inputs) = if j == 0 && layer {
                    (piece(&node.op, units.clone(), elements(p)), vec![heads[p]])
                } else {
                    // The chain's previous node's result (none before the head).
                    let previous = (j > 0).then(|| TensorId::of_node(i + j - 1));
                    let inputs = original
                        .inputs
                        .iter()
                        .map(|&t| {
                            let slice =
                                slices.iter().find(|(s, r, _)| *s == t && *r == elements(p));
                            match slice {
                                _ if Some(t) == previous => last,
                                Some(&(.., sliced)) => sliced,
                                None => t,
                            }
                        })
                        .collect();
                    (piece(&original.op, units.clone(), elements(p)), inputs)
                };
                new.push(QNode {
                    name: format!("{} ({label})", original.name),
                    op,
                    inputs,
                    output: QTensor {
                        name: format!("{} ({label})", original.output.name),
                        len: elements(p).len(),
                        ..original.output.clone()
                    },
                });
                last = TensorId::of_node(i + new.len() - 1);
            }
            ranges.push(i + start..i + new.len());
            joined.push(last);
        }
        let tail = &self.nodes[end - 1];
        new.push(QNode {
            name: tail.name.clone(),
            op: QOp::Wiring(Wiring(
                (0..pieces)
                    .flat_map(|p| {
                        (0..elements(p).len()).map(move |index| Source::Element { input: p, index })
                    })
                    .collect(),
            )),
            inputs: joined,
            output: tail.output.clone(),
        });
        // The chain's nodes `i..end` become the new ones: the last one's id moves to the
        // join, and every later id by as many.
        let added = new.len() - (end - i);
        let moved = |t: TensorId| match t.node() {
            Some(j) if j >= i => TensorId::of_node(j + added),
            _ => t,
        };
        let later = self.nodes[end..].iter().map(|n| QNode {
            inputs: n.inputs.iter().map(|&t| moved(t)).collect(),
            ..n.clone()
        });
        let graph = QGraph {
            input: self.input.clone(),
            nodes: self.nodes[..i]
                .iter()
                .cloned()
                .chain(new)
                .chain(later)
                .collect(),
            outputs: self.outputs.iter().map(|&t| moved(t)).collect(),
            rounding: self.rounding,
            integer_input: self.integer_input,
        };
        let join = i + added + (end - i) - 1;
        Ok(Split {
            graph,
            pieces: ranges,
            join,
        })
    }
}

/// The piece of `op` over `units` (a dense layer's outputs, a convolution's output channels
/// or groups) whose output is `elements`: an elementwise op on its slice of each input.
fn piece(op: &QOp, units: Range<usize>, elements: Range<usize>) -> QOp {
    op.piece(units, elements)
}

/// How a piece of `op` over `units` is named.
fn piece_label(op: &QOp, units: &Range<usize>) -> String {
    let what = match op.as_op().splitting() {
        Splitting::Layer { label, .. } => label,
        Splitting::Elementwise | Splitting::Never => "elements",
    };
    format!("{what} {}..{}", units.start, units.end)
}

fn element(index: usize) -> Source<i64> {
    Source::Element { input: 0, index }
}
