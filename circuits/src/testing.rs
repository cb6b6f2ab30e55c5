//! Shared fixtures for the chips' MockProver tests: every chip configured over the one
//! column plan, at a small dot width so multi-row dot products are cheap to test.

use halo2_proofs::{
    circuit::{Layouter, Value},
    dev::{MockProver, VerifyFailure},
    plonk::{Advice, Circuit, Column, ConstraintSystem, Error},
};
use pasta_curves::Fp;

use crate::range::LookupRangeConfig;
use crate::value::felt;
use crate::{Cell, ChipSet};

pub(crate) const K: u32 = 10;
pub(crate) const WIDTH: usize = 4;
pub(crate) const LOOKUPS: &[&str] = &LookupRangeConfig::LOOKUP_NAMES;

/// The plan's chips ([`ChipSet`], reached through `Deref`), plus a free advice column for
/// the fixtures' source cells.
#[derive(Clone, Debug)]
pub(crate) struct Chips {
    pub plan: ChipSet,
    pub source: Column<Advice>,
}

impl std::ops::Deref for Chips {
    type Target = ChipSet;

    fn deref(&self) -> &ChipSet {
        &self.plan
    }
}

/// The model circuit's column plan at [`WIDTH`], and a source column.
pub(crate) fn configure(meta: &mut ConstraintSystem<Fp>) -> Chips {
    let plan = ChipSet::configure(meta, WIDTH);
    let source = meta.advice_column();
    meta.enable_equality(source);
    Chips { plan, source }
}

/// Assigns `values` as free witnesses in the source column (they stand for cells that other
/// chips produced).
pub(crate) fn sources(
    layouter: &mut impl Layouter<Fp>,
    chips: &Chips,
    values: &[Fp],
) -> Result<Vec<Cell<Fp>>, Error> {
    layouter.assign_region(
        || "sources",
        |mut region| {
            values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    region.assign_advice(|| "source", chips.source, i, || Value::known(*v))
                })
                .collect()
        },
    )
}

/// Constrains `cells` to the instance column, in order.
pub(crate) fn expose(
    layouter: &mut impl Layouter<Fp>,
    chips: &Chips,
    cells: &[Cell<Fp>],
) -> Result<(), Error> {
    for (row, cell) in cells.iter().enumerate() {
        layouter.constrain_instance(cell.cell(), chips.instance, row)?;
    }
    Ok(())
}

pub(crate) fn felts(values: &[i64]) -> Vec<Fp> {
    values.iter().map(|v| felt(*v)).collect()
}

/// Runs the mock prover; a synthesis error means the fixture itself is broken.
pub(crate) fn mock<C: Circuit<Fp>>(circuit: &C, public: &[i64]) -> Result<(), Vec<VerifyFailure>> {
    mock_fp(circuit, felts(public))
}

/// [`mock`] with public values given as field elements.
pub(crate) fn mock_fp<C: Circuit<Fp>>(
    circuit: &C,
    public: Vec<Fp>,
) -> Result<(), Vec<VerifyFailure>> {
    match MockProver::run(K, circuit, vec![public]) {
        Ok(prover) => prover.verify(),
        Err(e) => broken(e),
    }
}

fn broken(e: Error) -> ! {
    panic!("synthesis failed: {e:?}")
}
