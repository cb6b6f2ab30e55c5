//! Elementwise-chain fusion: a nonlinearity exported as a chain of elementwise ops of one
//! activation (tanh-GELU as `transformers` writes it, `0.5·x·(1 + tanh(√(2/π)·(x +
//! 0.044715·x³)))`; erf-GELU `0.5·x·(1 + erf(x/√2))`; SiLU `x·sigmoid(x)`) becomes one
//! table lookup of the whole function ([`Activation::Composite`]), where the chain would
//! cost a table per nonlinear op, a rounding per constant map and a product per `Mul`, and
//! its intermediates (`x³`) would need wide ranges of their own.
//!
//! # What fuses
//! A *chain* is a set of float nodes, each one of
//! - a tabulated function ([`FloatOp::Activation`]) other than a composite, `Ln` or `Rsqrt`
//!   (whose floors rise to the table's step, which only the whole function's table knows),
//! - [`FloatOp::Relu`],
//! - [`FloatOp::Affine`] with one scale and one bias for every element (a constant `Mul`,
//!   `Add`, `Sub` or `Div` by a scalar),
//! - [`FloatOp::Add`], [`FloatOp::Mul`] or [`FloatOp::Max`] of two values of the chain or
//!   of its input (`Pow` by an integer imports as products),
//!
//! all of one length, that together read exactly one tensor `x` from outside, and whose
//! outputs, but the last node's, are read only inside the chain (and are no graph output).
//! Each node's output is then a function of `x`'s element at the same index alone, so the
//! last node's output is `f(x)` elementwise for the [`Composite`] that runs the chain on
//! one scalar. The chain is replaced by that one node; its other nodes go.
//!
//! A chain is fused only if it has at least two nodes and at least one tabulated function:
//! a single op is left as it is, and a chain of exact arithmetic (products and constant
//! maps only) stays exact rather than becoming a table.
//!
//! # Why the meaning is kept
//! [`Composite::eval`] evaluates each step as the float op it replaces evaluates one
//! element (the same `f64` expressions), so the fused float graph computes the same values
//! as the unfused one. The integer graph's lookup tabulates that function over the input's
//! whole domain with its measured error bound ([`crate::graph::activation`]); the circuit
//! proves the lookup as it proves any other. Nothing else reads the removed
//! intermediates, so no other node's input changes.
#![deny(clippy::wildcard_enum_match_arm)]

use std::collections::BTreeSet;

use crate::graph::ir::{Activation, FloatGraph, FloatOp};
use crate::graph::ir::{Composite, Step};
use crate::graph::TensorId;

/// Fuses every chain of `graph` (see the module docs); returns how many were fused.
pub fn fuse_elementwise(graph: &mut FloatGraph) -> usize {
    let n = graph.nodes.len();
    let lens = graph.tensor_lens();
    let mut readers: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n + 1];
    for (i, node) in graph.nodes.iter().enumerate() {
        for t in &node.inputs {
            if let Some(r) = readers.get_mut(t.index()) {
                r.insert(i);
            }
        }
    }
    let outputs: BTreeSet<TensorId> = graph.outputs.iter().copied().collect();
    let member = |i: usize| -> bool {
        let node = &graph.nodes[i];
        let len = lens.get(i + 1).copied().unwrap_or(0);
        let same_len = node
            .inputs
            .iter()
            .all(|t| lens.get(t.index()).copied() == Some(len));
        same_len && step_of(&node.op, |_| 0).is_some()
    };
    let mut fused = vec![false; n];
    let mut removed = vec![false; n];
    let mut replacements = Vec::new();
    for root in (0..n).rev() {
        if fused[root] || !member(root) {
            continue;
        }
        let mut chain = BTreeSet::from([root]);
        loop {
            let mut grown = false;
            let inputs: Vec<TensorId> = chain
                .iter()
                .flat_map(|&m| graph.nodes[m].inputs.iter().copied())
                .collect();
            for t in inputs {
                let Some(p) = t.node() else { continue };
                let absorbable = !chain.contains(&p)
                    && !fused[p]
                    && member(p)
                    && !outputs.contains(&t)
                    && readers[t.index()].iter().all(|r| chain.contains(r));
                if absorbable {
                    chain.insert(p);
                    grown = true;
                }
            }
            if !grown {
                break;
            }
        }
        let inside = |t: &TensorId| t.node().is_some_and(|p| chain.contains(&p));
        let external: BTreeSet<TensorId> = chain
            .iter()
            .flat_map(|&m| graph.nodes[m].inputs.iter().copied())
            .filter(|t| !inside(t))
            .collect();
        let has_function = chain
            .iter()
            .any(|&m| matches!(graph.nodes[m].op, FloatOp::Activation(_)));
        let [x] = external.into_iter().collect::<Vec<_>>()[..] else {
            continue;
        };
        if chain.len() < 2 || !has_function {
            continue;
        }
        // Value 0 is x, value k + 1 the chain's k-th node (in execution order).
        let order: Vec<usize> = chain.iter().copied().collect();
        let value = |t: TensorId| -> usize {
            if t == x {
                return 0;
            }
            t.node()
                .and_then(|p| order.iter().position(|&m| m == p))
                .map_or(0, |k| k + 1)
        };
        let steps: Vec<Step> = order
            .iter()
            .filter_map(|&m| {
                let node = &graph.nodes[m];
                step_of(&node.op, |k| node.inputs.get(k).map_or(0, |t| value(*t)))
            })
            .collect();
        if steps.len() > Composite::MAX_STEPS {
            continue;
        }
        for &m in &chain {
            fused[m] = true;
            removed[m] = m != root;
        }
        replacements.push((root, Composite { steps }, x));
    }
    let count = replacements.len();
    for (root, composite, x) in replacements {
        let node = &mut graph.nodes[root];
        node.op = FloatOp::Activation(Activation::Composite(composite));
        node.inputs = vec![x];
    }
    if count > 0 {
        remove_nodes(graph, &removed);
    }
    count
}

/// The step a chain member computes, its operands numbered by `arg`; `None` for an op that
/// is not elementwise of its inputs (or an affine map whose constants differ by element).
fn step_of(op: &FloatOp, arg: impl Fn(usize) -> usize) -> Option<Step> {
    match op {
        FloatOp::Activation(f) if f.composable() => Some(Step::Function(f.clone(), arg(0))),
        FloatOp::Affine(a) if uniform(&a.scale) && uniform(&a.bias) => Some(Step::Affine {
            scale: a.scale.first().copied().unwrap_or(1.0),
            bias: a.bias.first().copied().unwrap_or(0.0),
            arg: arg(0),
        }),
        FloatOp::Relu => Some(Step::Relu(arg(0))),
        FloatOp::Add => Some(Step::Add(arg(0), arg(1))),
        FloatOp::Mul => Some(Step::Mul(arg(0), arg(1))),
        FloatOp::Max => Some(Step::Max(arg(0), arg(1))),
        FloatOp::Activation(_)
        | FloatOp::Affine(_)
        | FloatOp::Dense(_)
        | FloatOp::Conv(_)
        | FloatOp::AvgPool(_)
        | FloatOp::MaxPool(_)
        | FloatOp::MatMul(_)
        | FloatOp::ArgMax(_)
        | FloatOp::Softmax(_)
        | FloatOp::Gather(_)
        | FloatOp::Wiring(_) => None,
    }
}

/// Whether every value is the first.
fn uniform(values: &[f32]) -> bool {
    values
        .first()
        .is_some_and(|v| values.iter().all(|w| w == v))
}

/// Drops the nodes `removed` marks (which nothing left reads) and renumbers the tensors.
fn remove_nodes(graph: &mut FloatGraph, removed: &[bool]) {
    let mut new_id = vec![TensorId::INPUT; removed.len() + 1];
    let mut next = 0;
    for (i, gone) in removed.iter().enumerate() {
        if !gone {
            new_id[i + 1] = TensorId::of_node(next);
            next += 1;
        }
    }
    let map = |t: TensorId| new_id.get(t.index()).copied().unwrap_or(t);
    let nodes = std::mem::take(&mut graph.nodes);
    graph.nodes = nodes
        .into_iter()
        .zip(removed)
        .filter(|(_, gone)| !**gone)
        .map(|(mut node, _)| {
            node.inputs = node.inputs.iter().map(|t| map(*t)).collect();
            node
        })
        .collect();
    graph.outputs = graph.outputs.iter().map(|t| map(*t)).collect();
}
