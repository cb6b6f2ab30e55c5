//! A model cut into parts: each part is an integer graph of its own, whose input is every
//! tensor that crosses the cut before it and whose outputs are every tensor that crosses the
//! cut after it (a cut may cross skip connections, so a part has several input and output
//! tensors, carried as one flat list in tensor-id order).
//!
//! The parts compose to the model exactly: part `i + 1`'s input is part `i`'s outputs, value
//! for value, so the parts' integer passes, run one after another, are the model's.
//!
//! Inside a part, each crossing tensor is taken out of the flat input by wiring (free), and,
//! when it is narrower than the widest crossing tensor, range-checked back to its own width
//! by an identity affine node: every node of the part then sees its inputs with exactly the
//! widths the whole model declares, so its validation, tables and accumulator bounds are the
//! model's. (The flat input is range-checked to the widest width, and its commitment binds
//! it to the previous part's outputs, each range-checked to its own width there.)

use std::collections::HashMap;
use std::ops::Range;

use super::ir::Source;
use super::qgraph::{Affine, QGraph, QNode, QOp, QTensor, Wiring};
use super::TensorId;
use crate::error::{CompileError, StructureError};

impl QGraph {
    /// The tensors made before node `cut` (the input included) that a node at or after
    /// `cut`, or the output list, reads: what crosses a cut before node `cut`, in id order.
    pub fn crossing(&self, cut: usize) -> Vec<TensorId> {
        let mut read: Vec<TensorId> = self.nodes[cut.min(self.nodes.len())..]
            .iter()
            .flat_map(|n| n.inputs.iter().copied())
            .chain(self.outputs.iter().copied())
            .filter(|t| t.index() <= cut)
            .collect();
        read.sort_unstable();
        read.dedup();
        read
    }

    /// The values the cuts before each node of `starts` (increasing) carry in all: each
    /// tensor counts once per cut it crosses. Linear in the graph, whatever the cuts.
    pub fn link_values(&self, starts: &[usize]) -> u128 {
        // The last node that reads each tensor (the node count for a graph output).
        let mut last = vec![None::<usize>; self.nodes.len() + 1];
        for (i, node) in self.nodes.iter().enumerate() {
            for t in &node.inputs {
                if let Some(l) = last.get_mut(t.index()) {
                    *l = Some(l.map_or(i, |l: usize| l.max(i)));
                }
            }
        }
        for t in &self.outputs {
            if let Some(l) = last.get_mut(t.index()) {
                *l = Some(self.nodes.len());
            }
        }
        let cuts_in = |from: usize, to: usize| {
            // Cuts `c` with `from <= c <= to`.
            let lo = starts.partition_point(|&c| c < from);
            let hi = starts.partition_point(|&c| c <= to);
            hi.saturating_sub(lo) as u128
        };
        last.iter()
            .enumerate()
            .filter_map(|(id, l)| {
                let len = self.tensor(TensorId(id))?.len as u128;
                // Made before node `id` (its id), read last by node `l`: it crosses the
                // cuts before nodes `id..=l`.
                l.map(|l| len * cuts_in(id, l))
            })
            .sum()
    }

    /// The part of the graph made of nodes `nodes`: its input is what crosses the cut
    /// before them (the model input itself for the first part), its outputs what crosses the
    /// cut after them (the model's outputs for the last part).
    pub fn part(&self, nodes: Range<usize>) -> Result<QGraph, CompileError> {
        if nodes.start >= nodes.end || nodes.end > self.nodes.len() {
            return Err(CompileError::NoSuchNodes {
                start: nodes.start,
                end: nodes.end,
                nodes: self.nodes.len(),
            });
        }
        // A tensor read that no earlier part makes (a graph that skipped validation).
        let unknown = |node: &str, tensor: String| CompileError::Structure {
            node: node.to_string(),
            source: StructureError::UnknownTensor { tensor },
        };
        let part_name = format!("part of nodes {}..{}", nodes.start, nodes.end);
        let tensor = |t: TensorId| {
            self.tensor(t)
                .cloned()
                .ok_or_else(|| unknown(&part_name, t.to_string()))
        };
        let mut part = QGraph {
            input: self.input.clone(),
            nodes: Vec::new(),
            outputs: Vec::new(),
            rounding: self.rounding,
            integer_input: self.integer_input,
        };
        // Where each tensor of the model lives in the part.
        let mut at: HashMap<TensorId, TensorId> = HashMap::new();
        if nodes.start == 0 {
            at.insert(TensorId::INPUT, TensorId::INPUT);
        } else {
            let crossing = self.crossing(nodes.start);
            let tensors = crossing
                .iter()
                .map(|&t| tensor(t))
                .collect::<Result<Vec<_>, _>>()?;
            part.input = link_tensor(nodes.start, &tensors);
            part.integer_input = false;
            let mut offset = 0;
            for (&t, original) in crossing.iter().zip(&tensors) {
                let id = part.take_slice(offset, original);
                offset += original.len;
                at.insert(t, id);
            }
        }
        for i in nodes.clone() {
            let node = &self.nodes[i];
            let inputs = node
                .inputs
                .iter()
                .map(|t| {
                    at.get(t)
                        .copied()
                        .ok_or_else(|| unknown(&node.name, format!("{t}, made in no part")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            at.insert(TensorId::of_node(i), part.push(node.clone(), inputs));
        }
        let outputs = if nodes.end == self.nodes.len() {
            self.outputs.clone()
        } else {
            self.crossing(nodes.end)
        };
        part.outputs = outputs
            .iter()
            .map(|t| at.get(t).copied())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| unknown(&part_name, "an output made in no part".into()))?;
        // A tensor that only passes through (the part's input, or a slice of it read by
        // nobody here) is still its own node, so outputs name distinct tensors.
        for o in 0..part.outputs.len() {
            if part.outputs[o] == TensorId::INPUT {
                let input = part.input.clone();
                let copy = QOp::Wiring(Wiring((0..input.len).map(element).collect()));
                part.outputs[o] = part.push(
                    QNode {
                        name: format!("{} (passed on)", input.name),
                        op: copy,
                        inputs: Vec::new(),
                        output: input,
                    },
                    vec![TensorId::INPUT],
                );
            }
        }
        part.validate()?;
        Ok(part)
    }

    /// Appends `node` reading `inputs`; returns its output's id.
    fn push(&mut self, mut node: QNode, inputs: Vec<TensorId>) -> TensorId {
        node.inputs = inputs;
        self.nodes.push(node);
        TensorId::of_node(self.nodes.len() - 1)
    }

    /// Takes `original` out of the flat input at `offset`: wiring, then a range check back
    /// to its own width when the input is wider.
    fn take_slice(&mut self, offset: usize, original: &QTensor) -> TensorId {
        let wide = QTensor {
            bits: self.input.bits,
            ..original.clone()
        };
        let slice = self.push(
            QNode {
                name: format!("{} (from the link)", original.name),
                op: QOp::Wiring(Wiring(
                    (offset..offset + original.len).map(element).collect(),
                )),
                inputs: Vec::new(),
                output: wide,
            },
            vec![TensorId::INPUT],
        );
        if original.bits == self.input.bits {
            return slice;
        }
        let identity = QOp::Affine(Affine {
            scale: vec![1; original.len],
            bias: vec![0; original.len],
            shift: 0,
        });
        self.push(
            QNode {
                name: format!("{} (range-checked)", original.name),
                op: identity,
                inputs: Vec::new(),
                output: original.clone(),
            },
            vec![slice],
        )
    }
}

/// The flat input of the part that starts at node `start`: the crossing tensors one after
/// another, as wide as the widest.
fn link_tensor(start: usize, tensors: &[QTensor]) -> QTensor {
    QTensor {
        name: format!("link before node {start}"),
        len: tensors.iter().map(|t| t.len).sum(),
        scale_exp: tensors.first().map_or(0, |t| t.scale_exp),
        bits: tensors.iter().map(|t| t.bits).max().unwrap_or(1),
    }
}

fn element(index: usize) -> Source<i64> {
    Source::Element { input: 0, index }
}
