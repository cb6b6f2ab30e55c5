use super::*;
use crate::dev::assert_fails_with;
use crate::range::{FunctionTable, LookupRangeChip, RangeInstructions, Sign};
use crate::relu::{ReluChip, ReluInstructions};
use crate::testing::Scenario;
use crate::testing::{expose, felts, mock, Chips, K, LOOKUPS};
use crate::value::felt;
use halo2_proofs::dev::MockProver;
use pasta_curves::Fp;
use std::cell::RefCell;
use std::rc::Rc;

const F_TAG: u64 = FIRST_FUNCTION_TAG;
const G_TAG: u64 = FIRST_FUNCTION_TAG + 1;
const H_TAG: u64 = FIRST_FUNCTION_TAG + 2;
const FUNCTION_REGION: &str = "'function t'";

/// `f(x) = x^2 - 3`, `g(x) = -x` and `h(x) = x^2` (no negative output) on `[-8, 8)`.
fn f(x: i64) -> i64 {
    x * x - 3
}
fn g(x: i64) -> i64 {
    -x
}
fn h(x: i64) -> i64 {
    x * x
}

fn tables() -> Vec<FunctionTable<Fp>> {
    let table = |tag, h: fn(i64) -> i64| FunctionTable {
        tag,
        entries: (-8..8).map(|x| (felt(x), felt(h(x)))).collect(),
    };
    vec![table(F_TAG, f), table(G_TAG, g), table(H_TAG, h)]
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

impl Scenario for Fixture {
    fn assign(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
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

/// [`FunctionInstructions::apply_signed`] of `xs` in table `tag` at `bits`, then a ReLU of the
/// outputs, which are exposed.
#[derive(Clone, Debug, Default)]
struct Signed {
    tag: u64,
    bits: u32,
    xs: Vec<i64>,
    /// Filled by synthesis: per output of `apply_signed`, whether it came back non-negative
    /// by construction (no sign bit).
    /// What synthesis saw (shared with the clone the mock prover runs).
    nonnegative: Rc<RefCell<Vec<bool>>>,
}

impl Signed {
    fn new(tag: u64, bits: u32, xs: &[i64]) -> Self {
        Self {
            tag,
            bits,
            xs: xs.to_vec(),
            nonnegative: Rc::default(),
        }
    }

    /// The function's outputs, by tag.
    fn ys(&self) -> Vec<i64> {
        let h: fn(i64) -> i64 = match self.tag {
            F_TAG => f,
            G_TAG => g,
            _ => h,
        };
        self.xs.iter().map(|x| h(*x)).collect()
    }

    /// What the circuit exposes: the ReLU of every output.
    fn relu_of_ys(&self) -> Vec<i64> {
        self.ys().into_iter().map(|y| y.max(0)).collect()
    }

    fn table(&self) -> FunctionTable<Fp> {
        tables()
            .into_iter()
            .find(|t| t.tag == self.tag)
            .unwrap_or_else(|| panic!("no table {}", self.tag))
    }
}

impl Scenario for Signed {
    fn assign(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        chips.range.table().load_with(&mut layouter, &tables())?;
        let range = LookupRangeChip::construct(chips.range.clone());
        let values: Vec<_> = felts(&self.xs).into_iter().map(Value::known).collect();
        let xs = range.witness_signed(&mut layouter, "inputs", &values, 8)?;
        let xs: Vec<_> = xs.iter().map(|x| x.cell().clone()).collect();
        let ys: Vec<_> = felts(&self.ys()).into_iter().map(Value::known).collect();
        let chip = FunctionChip::construct(chips.range.clone());
        let out = chip.apply_signed(&mut layouter, "t", &self.table(), self.bits, &xs, &ys)?;
        *self.nonnegative.borrow_mut() = out
            .iter()
            .map(|y| matches!(y.sign(), Sign::NonNegative))
            .collect();
        let relu = ReluChip::construct(chips.relu.clone());
        let zs: Vec<_> = felts(&self.relu_of_ys())
            .into_iter()
            .map(Value::known)
            .collect();
        let out = relu.relu(&mut layouter, "t", &out, &zs)?;
        let cells: Vec<_> = out.iter().map(|z| z.cell().clone()).collect();
        expose(&mut layouter, &chips, &cells)
    }
}

#[test]
fn function_signed_outputs_with_negatives_carry_a_sign_bit() {
    // f's table has negative outputs (-3 at 0): each output is range-checked for its sign, so
    // a following ReLU zeroes the negative ones. Five inputs fill three rows.
    let fx = Signed::new(F_TAG, 7, &[-8, 0, 1, 7, -2]);
    assert_eq!(fx.ys(), vec![61, -3, -2, 46, 1]);
    assert_eq!(mock(&fx, &fx.relu_of_ys()), Ok(()));
    assert_eq!(*fx.nonnegative.borrow(), vec![false; 5]);
}

#[test]
fn function_signed_outputs_of_a_nonnegative_table_need_no_sign_bit() {
    // h's outputs are all >= 0, so they are non-negative by construction (the ReLU is free).
    let fx = Signed::new(H_TAG, 8, &[-8, 0, 3, 7, -1]);
    assert_eq!(mock(&fx, &fx.relu_of_ys()), Ok(()));
    assert_eq!(*fx.nonnegative.borrow(), vec![true; 5]);
}

#[test]
fn function_signed_table_outside_the_declared_width_is_a_synthesis_error() {
    // Every table output must fit `bits` signed bits, or no cell is returned at all.
    for (tag, fits, too_narrow) in [(F_TAG, 7, 6), (G_TAG, 5, 4), (H_TAG, 8, 7)] {
        let fx = Signed::new(tag, fits, &[3]);
        assert_eq!(
            mock(&fx, &fx.relu_of_ys()),
            Ok(()),
            "tag {tag} at {fits} bits"
        );
        let fx = Signed::new(tag, too_narrow, &[3]);
        let verdict = MockProver::run(
            K,
            &crate::testing::Test(fx.clone()),
            vec![felts(&fx.relu_of_ys())],
        );
        assert!(
            matches!(verdict, Err(Error::Synthesis)),
            "tag {tag} at {too_narrow} bits: {verdict:?}"
        );
    }
}
