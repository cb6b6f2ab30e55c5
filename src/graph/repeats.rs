//! Repeated blocks: runs of nodes whose structure repeats, block after block (GPT-2's
//! layers, a ResNet stage's blocks). Found on the float graph, they let quantisation give
//! every repetition the same scales ([`crate::graph::quant::Calibrated::quantise_alike`]);
//! found on the integer graph, they let the partitioner cut every repetition alike, so that
//! repeated blocks become parts of one shape, which share keys.
//!
//! Finding them is a heuristic that costs nothing in soundness: whether two parts share a
//! circuit is decided by their shapes' digests, never by this module.
//!
//! Node `a` *matches* node `a + p` when their signatures (op and widths, without names or
//! trained values) are equal and each input of `a + p` is either the tensor `p` nodes after
//! `a`'s input (the same wiring, one block on) or the very same tensor (one both blocks
//! read, such as an attention mask). A run of `count` blocks of `period` nodes from `start`
//! is one where every node matches the node one period on.

use std::ops::Range;

use super::ir::FloatGraph;
use super::qgraph::QGraph;

/// `count` blocks of `period` nodes each, the first starting at node `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repeat {
    /// The first node of the first block.
    pub start: usize,
    /// Nodes per block.
    pub period: usize,
    /// Blocks (at least two).
    pub count: usize,
}

impl Repeat {
    /// The first node of each block, then the node after the last block.
    pub fn boundaries(&self) -> impl Iterator<Item = usize> + '_ {
        (0..=self.count).map(|r| self.start + r * self.period)
    }

    /// The nodes the blocks cover.
    pub fn nodes(&self) -> Range<usize> {
        self.start..self.start + self.count * self.period
    }
}

/// The repeated runs of a graph of `signatures.len()` nodes (node `i` reads the tensors
/// `inputs[i]`, where tensor `0` is the graph's input and tensor `j + 1` node `j`'s output),
/// in node order and disjoint: the run that covers the most nodes (with the shortest period
/// on a tie, then the earliest), then the same search before it and after it.
pub fn find<S: PartialEq>(signatures: &[S], inputs: &[Vec<usize>]) -> Vec<Repeat> {
    let mut found = Vec::new();
    search(signatures, inputs, 0..signatures.len(), &mut found);
    found.sort_by_key(|r| r.start);
    found
}

/// The repeated runs of a float graph: its nodes compared by op structure (without trained
/// values) and output length.
pub fn of_float(graph: &FloatGraph) -> Vec<Repeat> {
    let lens = graph.tensor_lens();
    let signatures: Vec<(String, usize)> = graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.op.signature(), lens.get(i + 1).copied().unwrap_or(0)))
        .collect();
    let inputs: Vec<Vec<usize>> = graph
        .nodes
        .iter()
        .map(|n| n.inputs.iter().map(|t| t.index()).collect())
        .collect();
    find(&signatures, &inputs)
}

/// The repeated runs of an integer graph: its nodes compared by op (params zeroed) and
/// output tensor (length, scale, width), names left out. Blocks quantised alike and split
/// alike are equal here, so cutting at their boundaries gives parts of one shape.
pub fn of_integer(graph: &QGraph) -> Vec<Repeat> {
    let signatures: Vec<String> = graph
        .nodes
        .iter()
        .map(|n| {
            let mut op = n.op.clone();
            op.zero_params();
            let t = &n.output;
            // An op always serialises (finite numbers, string keys).
            let op = serde_json::to_string(&op).unwrap_or_default();
            format!("{op}|{}|{}|{}", t.len, t.scale_exp, t.bits)
        })
        .collect();
    let inputs: Vec<Vec<usize>> = graph
        .nodes
        .iter()
        .map(|n| n.inputs.iter().map(|t| t.index()).collect())
        .collect();
    find(&signatures, &inputs)
}

fn search<S: PartialEq>(
    signatures: &[S],
    inputs: &[Vec<usize>],
    region: Range<usize>,
    found: &mut Vec<Repeat>,
) {
    let Some(best) = best_in(signatures, inputs, region.clone()) else {
        return;
    };
    search(signatures, inputs, region.start..best.start, found);
    search(signatures, inputs, best.nodes().end..region.end, found);
    found.push(best);
}

/// The run covering the most nodes of `region` (two blocks of one node at least).
fn best_in<S: PartialEq>(
    signatures: &[S],
    inputs: &[Vec<usize>],
    region: Range<usize>,
) -> Option<Repeat> {
    let len = region.len();
    let matches = |a: usize, p: usize| {
        let b = a + p;
        signatures[a] == signatures[b]
            && inputs[a].len() == inputs[b].len()
            && inputs[a]
                .iter()
                .zip(&inputs[b])
                .all(|(&ta, &tb)| tb == ta + p || tb == ta)
    };
    let mut best: Option<Repeat> = None;
    for period in 1..=len / 2 {
        // `run`: how many nodes from `start` on match the node one period later, within
        // the region (counted from the end, so each start costs one comparison).
        let mut run = 0usize;
        for start in (region.start..region.end - period).rev() {
            run = if matches(start, period) { run + 1 } else { 0 };
            let count = 1 + run / period;
            if count < 2 {
                continue;
            }
            let candidate = Repeat {
                start,
                period,
                count,
            };
            let covered = count * period;
            let better = best.is_none_or(|b| {
                let b_covered = b.count * b.period;
                covered > b_covered
                    || (covered == b_covered
                        && (period < b.period || (period == b.period && start < b.start)))
            });
            if better {
                best = Some(candidate);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain: node `i` reads tensor `i` (its predecessor's output).
    fn chain(n: usize) -> Vec<Vec<usize>> {
        (0..n).map(|i| vec![i]).collect()
    }

    #[test]
    fn finds_a_stack_of_blocks_between_a_stem_and_a_head() {
        // stem, then (dense, relu, add-of-block-input) x 3, then a head.
        let sig = ["stem", "d", "r", "a", "d", "r", "a", "d", "r", "a", "head"];
        let mut inputs = chain(sig.len());
        // Each add reads the relu and the block's input (a residual).
        for (add, block_input) in [(3, 1), (6, 4), (9, 7)] {
            inputs[add] = vec![add, block_input];
        }
        let found = find(&sig, &inputs);
        assert_eq!(
            found,
            vec![Repeat {
                start: 1,
                period: 3,
                count: 3
            }]
        );
        assert_eq!(found[0].boundaries().collect::<Vec<_>>(), vec![1, 4, 7, 10]);
    }

    #[test]
    fn other_wiring_is_not_a_repeat() {
        let sig = ["d", "r", "d", "r"];
        let mut inputs = chain(4);
        // The second relu reads the model's input, not its own block's dense layer.
        inputs[3] = vec![0];
        assert!(find(&sig, &inputs).is_empty());
    }

    #[test]
    fn a_tensor_both_blocks_read_is_shared_wiring() {
        // Node 0 makes a mask both blocks' second node reads.
        let sig = ["mask", "d", "s", "d", "s"];
        let mut inputs = chain(5);
        inputs[2] = vec![2, 1];
        inputs[4] = vec![4, 1];
        assert_eq!(
            find(&sig, &inputs),
            vec![Repeat {
                start: 1,
                period: 2,
                count: 2
            }]
        );
    }

    #[test]
    fn disjoint_runs_are_all_found() {
        let sig = ["a", "a", "a", "x", "b", "c", "b", "c"];
        let found = find(&sig, &chain(sig.len()));
        assert_eq!(
            found,
            vec![
                Repeat {
                    start: 0,
                    period: 1,
                    count: 3
                },
                Repeat {
                    start: 4,
                    period: 2,
                    count: 2
                }
            ]
        );
    }
}
