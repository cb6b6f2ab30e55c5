use super::*;
use crate::dev::assert_fails_with;
use crate::range::{FunctionTable, LookupRangeChip, RangeInstructions};
use crate::testing::{configure, expose, felts, mock, Chips, LOOKUPS};
use crate::value::felt;
use halo2_proofs::{
    circuit::SimpleFloorPlanner,
    plonk::{Circuit, ConstraintSystem},
};
use pasta_curves::Fp;

const F_TAG: u64 = FIRST_FUNCTION_TAG;
const G_TAG: u64 = FIRST_FUNCTION_TAG + 1;
const FUNCTION_REGION: &str = "'function t'";

/// `f(x) = x^2 - 3` and `g(x) = -x` on `[-8, 8)`.
fn f(x: i64) -> i64 {
    x * x - 3
}
fn g(x: i64) -> i64 {
    -x
}

fn tables() -> Vec<FunctionTable<Fp>> {
    let table = |tag, h: fn(i64) -> i64| FunctionTable {
        tag,
        entries: (-8..8).map(|x| (felt(x), felt(h(x)))).collect(),
    };
    vec![table(F_TAG, f), table(G_TAG, g)]
}

/// Looks `xs` up in table `tag`, claiming outputs `ys`.
#[derive(Clone, Debug, Default)]
struct Fixture {
    tag: u64,
    xs: Vec<i64>,
    ys: Vec<i64>,
}

impl Fixture {
    fn honest(xs: &[i64]) -> Self {
        Self {
            tag: F_TAG,
            xs: xs.to_vec(),
            ys: xs.iter().map(|x| f(*x)).collect(),
        }
    }
}

impl Circuit<Fp> for Fixture {
    type Config = Chips;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self::default()
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> Chips {
        configure(meta)
    }

    fn synthesize(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        chips.range.table().load_with(&mut layouter, &tables())?;
        let range = LookupRangeChip::construct(chips.range.clone());
        let values: Vec<_> = felts(&self.xs).into_iter().map(Value::known).collect();
        let xs = range.witness_signed(&mut layouter, "inputs", &values, 8)?;
        let xs: Vec<_> = xs.iter().map(|x| x.cell().clone()).collect();
        let ys: Vec<_> = felts(&self.ys).into_iter().map(Value::known).collect();
        let chip = FunctionChip::construct(chips.range.clone());
        let out = chip.apply(&mut layouter, "t", self.tag, &xs, &ys)?;
        expose(&mut layouter, &chips, &out)
    }
}

#[test]
fn function_rows_of_the_table_are_accepted() {
    let fx = Fixture::honest(&[-8, -1, 0, 3, 7]);
    assert_eq!(mock(&fx, &fx.ys), Ok(()));
}

#[test]
fn function_output_from_the_wrong_row_is_rejected() {
    let mut fx = Fixture::honest(&[2]);
    fx.ys = vec![f(3)];
    assert_fails_with(mock(&fx, &fx.ys.clone()), LOOKUPS, &[FUNCTION_REGION]);
}

#[test]
fn function_input_outside_the_domain_is_rejected() {
    // 8 is a valid 8-bit input but not in the table's domain [-8, 8).
    let fx = Fixture::honest(&[8]);
    assert_fails_with(mock(&fx, &fx.ys.clone()), LOOKUPS, &[FUNCTION_REGION]);
}

#[test]
fn function_output_of_another_table_is_rejected() {
    // g's row (2, -2) exists under g's tag, not under f's.
    let mut fx = Fixture::honest(&[2]);
    fx.ys = vec![g(2)];
    assert_fails_with(mock(&fx, &fx.ys.clone()), LOOKUPS, &[FUNCTION_REGION]);
    let mut fx = Fixture::honest(&[2]);
    fx.tag = G_TAG;
    fx.ys = vec![g(2)];
    assert_eq!(mock(&fx, &fx.ys.clone()), Ok(()));
}

#[test]
fn function_output_of_zero_mimicking_a_range_row_is_rejected() {
    // (0, 0) is a limb row's value and output, but not f's row for 0 (f(0) = -3).
    let mut fx = Fixture::honest(&[0]);
    fx.ys = vec![0];
    assert_fails_with(mock(&fx, &[0]), LOOKUPS, &[FUNCTION_REGION]);
}
