//! Shared fixtures for the chips' MockProver tests: every chip configured over its own
//! columns, at a small dot width so multi-row dot products are cheap to test.

use halo2_proofs::{
    circuit::{Layouter, Value},
    dev::{MockProver, VerifyFailure},
    plonk::{Advice, Circuit, Column, ConstraintSystem, Error, Instance},
};
use pasta_curves::Fp;

use crate::range::LookupRangeConfig;
use crate::value::felt;
use crate::{
    ArgMaxConfig, Cell, ChipSet, DivConfig, FixedDotConfig, MaxConfig, MulConfig, ReluConfig,
    VarDivConfig,
};

pub(crate) const K: u32 = 10;
pub(crate) const WIDTH: usize = 4;
pub(crate) const LOOKUPS: &[&str] = &LookupRangeConfig::LOOKUP_NAMES;

/// The plan's chips, plus a free advice column for the fixtures' source cells.
#[derive(Clone, Debug)]
pub(crate) struct Chips {
    pub range: LookupRangeConfig,
    pub dot: FixedDotConfig,
    pub div: DivConfig,
    pub relu: ReluConfig,
    pub max: MaxConfig,
    pub argmax: ArgMaxConfig,
    pub vardiv: VarDivConfig,
    pub mul: MulConfig,
    pub source: Column<Advice>,
    pub instance: Column<Instance>,
}

/// The model circuit's column plan ([`ChipSet`]) at [`WIDTH`], and a source column.
pub(crate) fn configure(meta: &mut ConstraintSystem<Fp>) -> Chips {
    let plan = ChipSet::configure(meta, WIDTH);
    let source = meta.advice_column();
    meta.enable_equality(source);
    Chips {
        range: plan.range,
        dot: plan.dot,
        div: plan.div,
        relu: plan.relu,
        max: plan.max,
        argmax: plan.argmax,
        vardiv: plan.vardiv,
        mul: plan.mul,
        source,
        instance: plan.instance,
    }
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
