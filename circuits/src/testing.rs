//! Shared fixtures for the chips' MockProver tests: every chip configured over the one
//! column plan, at a small dot width so multi-row dot products are cheap to test.

use halo2_proofs::{
    circuit::{Layouter, Region, SimpleFloorPlanner, Value},
    dev::{MockProver, VerifyFailure},
    plonk::{Advice, Circuit, Column, ConstraintSystem, Error, Selector},
};
use pasta_curves::Fp;
use std::collections::BTreeSet;

use crate::dev::{assert_fails_with, named_failures, Broken};
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

/// The model circuit's column plan at [`WIDTH`] (with commitments), and a source column.
pub(crate) fn configure(meta: &mut ConstraintSystem<Fp>) -> Chips {
    let plan = ChipSet::configure_with_commitments(meta, WIDTH);
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

/// What a chip test assigns over the plan's chips: the body of its circuit's `synthesize`.
/// [`Test`] makes it a halo2 circuit over the one column plan, so that no test repeats the
/// `Circuit` boilerplate.
pub(crate) trait Scenario: Clone + Default {
    /// Assigns the test's regions (loading the lookup table first where it uses one).
    fn assign(&self, chips: Chips, layouter: impl Layouter<Fp>) -> Result<(), Error>;
}

/// A [`Scenario`] as a circuit configured over [`configure`]'s plan.
#[derive(Clone, Debug, Default)]
pub(crate) struct Test<S>(pub S);

impl<S: Scenario> Circuit<Fp> for Test<S> {
    type Config = Chips;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self(S::default())
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> Chips {
        configure(meta)
    }

    fn synthesize(&self, chips: Chips, layouter: impl Layouter<Fp>) -> Result<(), Error> {
        self.0.assign(chips, layouter)
    }
}

/// Enables, on `row` of a window of `len` rows laid out by hand, the selectors a window
/// chip (max, argmax) enables there: `first` on row 0, `next` below it, `last` on the final row.
pub(crate) fn enable_window_row(
    region: &mut Region<'_, Fp>,
    row: usize,
    len: usize,
    [first, next, last]: [Selector; 3],
) -> Result<(), Error> {
    if row == 0 {
        first.enable(region, row)?;
    } else {
        next.enable(region, row)?;
    }
    if row + 1 == len {
        last.enable(region, row)?;
    }
    Ok(())
}

pub(crate) fn felts(values: &[i64]) -> Vec<Fp> {
    values.iter().map(|v| felt(*v)).collect()
}

/// Runs the mock prover; a synthesis error means the fixture itself is broken.
pub(crate) fn mock<S: Scenario>(scenario: &S, public: &[i64]) -> Result<(), Vec<VerifyFailure>> {
    mock_fp(scenario, felts(public))
}

/// [`mock`] with public values given as field elements.
pub(crate) fn mock_fp<S: Scenario>(
    scenario: &S,
    public: Vec<Fp>,
) -> Result<(), Vec<VerifyFailure>> {
    match MockProver::run(K, &Test(scenario.clone()), vec![public]) {
        Ok(prover) => prover.verify(),
        Err(e) => broken(e),
    }
}

fn broken(e: Error) -> ! {
    panic!("synthesis failed: {e:?}")
}

/// What the mock prover said about a circuit.
pub(crate) type Verdict = Result<(), Vec<VerifyFailure>>;

/// The one named thing a malicious witness must break.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    /// A gate's constraint: `(gate, constraint)`, from the chip's name constants.
    Constraint(&'static str, &'static str),
    /// A lookup, by its name in [`LOOKUPS`].
    Lookup(&'static str),
}

impl Target {
    /// The name that [`assert_fails_with`] looks for.
    fn name(self) -> &'static str {
        match self {
            Self::Constraint(_, name) | Self::Lookup(name) => name,
        }
    }

    pub(crate) fn broken(self) -> Broken {
        match self {
            Self::Constraint(gate, name) => Broken::constraint(gate, name),
            Self::Lookup(name) => Broken::Lookup(name.to_owned()),
        }
    }
}

/// A malicious witness (a plain function that builds a circuit and runs the mock prover) and
/// the one named constraint that rejects it: the unit of the constraint-coverage test.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Malicious {
    /// The `#[test]` that runs it; its name says what is forged and what rejects it.
    pub test: &'static str,
    /// Builds the circuit and runs the mock prover.
    pub run: fn() -> Verdict,
    /// What must fail, alone.
    pub breaks: Target,
}

impl Malicious {
    /// Runs the witness and asserts that it fails on exactly [`Malicious::breaks`]: no other
    /// constraint, lookup or copy.
    pub(crate) fn check(&self) {
        let verdict = (self.run)();
        let got = match &verdict {
            Ok(()) => BTreeSet::new(),
            Err(failures) => named_failures(failures, LOOKUPS),
        };
        assert_eq!(
            got,
            BTreeSet::from([self.breaks.broken()]),
            "{}: the failures are not exactly the target",
            self.test
        );
        assert_fails_with(verdict, LOOKUPS, &[self.breaks.name()]);
    }
}

/// Declares a chip's malicious tests: each line `test_name: scenario => target;` becomes a
/// `#[test]` of that name and an entry of the chip's `MALICIOUS` list, which the coverage test
/// ([`crate::coverage_tests`]) runs again.
macro_rules! malicious_tests {
    ($($test:ident: $run:path => $target:expr;)+) => {
        /// This chip's malicious witnesses, each rejected by exactly one named constraint.
        pub(crate) const MALICIOUS: &[$crate::testing::Malicious] = &[$(
            $crate::testing::Malicious {
                test: stringify!($test),
                run: $run,
                breaks: $target,
            },
        )+];
        $(
            #[test]
            fn $test() {
                $crate::testing::Malicious {
                    test: stringify!($test),
                    run: $run,
                    breaks: $target,
                }
                .check();
            }
        )+
    };
}
pub(crate) use malicious_tests;
