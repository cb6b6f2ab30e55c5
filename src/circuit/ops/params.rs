//! Hashed parameters: every trained weight and bias in an advice cell, range-checked to the
//! model's declared widths and bound by one Poseidon commitment in the instance column.
//!
//! With fixed parameters the weights sit in fixed columns and the verifying key commits to
//! them, so a verifier needs the weights to rebuild the key. Here the key depends on the
//! architecture only; a linear op with parameters then takes the pair dot chip (input cell
//! × weight cell, both copied) instead of the fixed-weight one, and its bias enters as one
//! more pair, `1 × bias`, with the 1 pinned by the verifying key.
//!
//! Soundness: each weight cell is range-checked to `param_bits[0]` bits and each bias to
//! `param_bits[1]` before it is packed, so the packing is injective and the public
//! commitment fixes every value; every use copies the committed cell.

use std::ops::Range;

use halo2_proofs::{
    circuit::{Layouter, Value},
    plonk::Error,
};
use pasta_curves::Fp;
use zkinfer_circuits::{
    commit, ChipSet, CommitChip, CommitInstructions, LookupRangeChip, RangeInstructions, SignedCell,
};

use super::cells::{pinned, values};
use crate::circuit::rows::NodeRows;
use crate::graph::qgraph::QGraph;

/// The cells of a graph's parameters.
pub(in crate::circuit) struct ParamCells {
    /// `[weights, biases]`, every node's one after another.
    cells: [Vec<SignedCell<Fp>>; 2],
    /// Per node, where its weights and biases lie in `cells`.
    ranges: Vec<Option<[Range<usize>; 2]>>,
    /// A cell pinned to 1: the other operand of every bias.
    one: SignedCell<Fp>,
}

/// One node's parameter cells.
pub(in crate::circuit) struct NodeParams<'a> {
    /// Its weights, in [`crate::graph::qgraph::Tap::param`]'s order.
    pub weights: &'a [SignedCell<Fp>],
    /// Its biases, in [`crate::graph::qgraph::LinearOutput::bias_param`]'s order.
    pub biases: &'a [SignedCell<Fp>],
    /// The pinned 1.
    pub one: &'a SignedCell<Fp>,
}

impl ParamCells {
    /// Node `i`'s parameters, if it has any.
    pub(in crate::circuit) fn of(&self, i: usize) -> Option<NodeParams<'_>> {
        let [w, b] = self.ranges.get(i)?.as_ref()?;
        Some(NodeParams {
            weights: self.cells[0].get(w.clone())?,
            biases: self.cells[1].get(b.clone())?,
            one: &self.one,
        })
    }
}

/// Witnesses and range-checks every parameter of `graph` (values known only when
/// proving, with `salt`: at key generation every advice value is unknown), commits to them
/// at `bits` under `salt` in the domain `domain`, and constrains the commitment to the
/// instance column's row `row`.
pub(in crate::circuit) fn synthesize_params(
    config: &ChipSet,
    layouter: &mut impl Layouter<Fp>,
    graph: &QGraph,
    (bits, domain, row): ([u32; 2], Fp, usize),
    salt: Option<Fp>,
) -> Result<ParamCells, Error> {
    let proving = salt.is_some();
    let salt = salt.map_or(Value::unknown(), Value::known);
    let params = graph.params();
    let range = LookupRangeChip::construct(config.range.clone());
    let names = ["weights", "biases"];
    let mut cells: [Vec<SignedCell<Fp>>; 2] = Default::default();
    for g in 0..2 {
        let known = proving.then_some(params.values[g].as_slice());
        if !params.values[g].is_empty() {
            let v = values(params.values[g].len(), known);
            cells[g] = range.witness_signed(layouter, names[g], &v, bits[g])?;
        }
    }
    let one = pinned(&range, layouter, "params one", 1, 2)?;
    let chip = CommitChip::construct(config.commit.clone().ok_or(Error::Synthesis)?);
    let groups = [
        (cells[0].as_slice(), bits[0]),
        (cells[1].as_slice(), bits[1]),
    ];
    let commitment = chip.commit_groups(layouter, "params", &groups, salt, domain)?;
    layouter.constrain_instance(commitment.cell(), config.instance, row)?;
    Ok(ParamCells {
        cells,
        ranges: params.ranges,
        one,
    })
}

/// The rows of the parameters: their range checks (and the pinned 1's), and their
/// commitment in the input's commitment chip.
pub(in crate::circuit) fn rows(graph: &QGraph, bits: [u32; 2]) -> NodeRows {
    let params = graph.params();
    let signed = LookupRangeChip::<Fp>::signed_rows;
    NodeRows {
        name: "params commitment".into(),
        op: "Commit".into(),
        dot: 0,
        elementwise: 0,
        range: params.values[0].len() * signed(bits[0])
            + params.values[1].len() * signed(bits[1])
            + signed(2),
        commit: commit::group_rows(&[
            (params.values[0].len(), bits[0]),
            (params.values[1].len(), bits[1]),
        ]),
    }
}
