//! Wiring (Flatten, Transpose, Concat, Pad, …): cells move by copy; a constant is a
//! range-checked cell pinned to its value.

use std::collections::{BTreeMap, BTreeSet};

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{LookupRangeChip, SignedCell};

use super::cells::{cell_at, pinned};
use super::{CircuitOp, SynthContext, Unread};
use crate::circuit::rows::{OpRows, RowContext};
use crate::error::CompileError;
use crate::graph::ir::Source;
use crate::graph::qgraph::Wiring;

impl CircuitOp for Wiring {
    type Record<'w> = Unread;

    /// Copies are free; each distinct constant is one range-checked, pinned cell.
    fn rows(&self, cx: &RowContext<'_>) -> Result<OpRows, CompileError> {
        let constants: BTreeSet<i64> = self
            .0
            .iter()
            .filter_map(|s| match s {
                Source::Constant(c) => Some(*c),
                Source::Element { .. } => None,
            })
            .collect();
        Ok(OpRows {
            range: constants.len() * LookupRangeChip::<Fp>::signed_rows(cx.node.output.bits),
            nonnegative: (0..cx.node.inputs.len()).all(|slot| cx.input_nonneg(slot))
                && constants.iter().all(|c| *c >= 0),
            ..OpRows::default()
        })
    }

    /// Wiring moves cells (copies cost nothing); a constant is a range-checked cell pinned
    /// to the circuit's constant column, so the verifying key fixes its value.
    fn synthesize(
        &self,
        cx: &SynthContext<'_>,
        layouter: &mut impl Layouter<Fp>,
        ins: &[&[SignedCell<Fp>]],
        _record: Option<Unread>,
    ) -> Result<Vec<SignedCell<Fp>>, Error> {
        synthesize(cx, layouter, &self.0, ins)
    }
}

fn synthesize(
    cx: &SynthContext<'_>,
    layouter: &mut impl Layouter<Fp>,
    sources: &[Source<i64>],
    ins: &[&[SignedCell<Fp>]],
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let (config, node) = (cx.config, cx.node);
    let range = LookupRangeChip::construct(config.range.clone());
    let mut constants: BTreeMap<i64, SignedCell<Fp>> = BTreeMap::new();
    for s in sources {
        if let Source::Constant(c) = s {
            if constants.contains_key(c) {
                continue;
            }
            let name = format!("{} constant", node.name);
            let cell = pinned(&range, layouter, &name, *c, node.output.bits)?;
            constants.insert(*c, cell);
        }
    }
    sources
        .iter()
        .map(|s| match s {
            Source::Element { input, index } => cell_at(ins, *input, *index).cloned(),
            Source::Constant(c) => constants.get(c).cloned().ok_or(Error::Synthesis),
        })
        .collect()
}
