use super::*;
use crate::dev::assert_fails_with;
use crate::range::{LookupRangeChip, RangeInstructions};
use crate::testing::Scenario;
use crate::testing::{expose, felts, malicious_tests, mock, Chips, Target, Verdict, LOOKUPS};
use crate::value::felt;
use pasta_curves::Fp;

/// ReLU of `xs` (range-checked at `bits`), with claimed outputs `ys`, applied `times` times.
#[derive(Clone, Debug, Default)]
struct Fixture {
    xs: Vec<i64>,
    ys: Vec<i64>,
    bits: u32,
    times: usize,
}

impl Fixture {
    fn honest(xs: &[i64], bits: u32) -> Self {
        Self {
            xs: xs.to_vec(),
            ys: xs.iter().map(|x| (*x).max(0)).collect(),
            bits,
            times: 1,
        }
    }
}

impl Scenario for Fixture {
    fn assign(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        chips.range.table().load(&mut layouter)?;
        let range = LookupRangeChip::construct(chips.range.clone());
        let values: Vec<_> = felts(&self.xs).into_iter().map(Value::known).collect();
        let mut cells = range.witness_signed(&mut layouter, "x", &values, self.bits)?;
        let ys: Vec<_> = self.ys.iter().map(|y| Value::known(felt(*y))).collect();
        let chip = ReluChip::construct(chips.relu.clone());
        for _ in 0..self.times {
            cells = chip.relu(&mut layouter, "t", &cells, &ys)?;
        }
        let out: Vec<_> = cells.iter().map(|c| c.cell().clone()).collect();
        expose(&mut layouter, &chips, &out)
    }
}

#[test]
fn relu_matches_max_with_zero_at_edges() {
    for bits in [1, 8, 9, 16] {
        let (lo, hi) = (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1);
        let xs: Vec<i64> = [lo, lo + 1, -1, 0, 1, hi - 1, hi]
            .into_iter()
            .filter(|x| (lo..=hi).contains(x))
            .collect();
        let f = Fixture::honest(&xs, bits);
        assert_eq!(mock(&f, &f.ys), Ok(()), "bits {bits}");
    }
}

#[test]
fn relu_of_relu_is_free_and_correct() {
    let mut f = Fixture::honest(&[-3, 0, 4], 8);
    f.times = 2;
    assert_eq!(mock(&f, &f.ys), Ok(()));
}

fn negative_claimed_positive() -> Verdict {
    let mut f = Fixture::honest(&[-5], 8);
    f.ys = vec![5];
    mock(&f, &[5])
}

malicious_tests! {
    relu_negative_claimed_positive_is_rejected:
        negative_claimed_positive => Target::Constraint(ReluConfig::GATE, ReluConfig::IDENTITY);
}

#[test]
fn relu_negative_passed_through_is_rejected() {
    let mut f = Fixture::honest(&[-5], 8);
    f.ys = vec![-5];
    assert_fails_with(mock(&f, &[-5]), LOOKUPS, &[ReluConfig::IDENTITY]);
}

#[test]
fn relu_positive_zeroed_is_rejected() {
    let mut f = Fixture::honest(&[7], 8);
    f.ys = vec![0];
    assert_fails_with(mock(&f, &[0]), LOOKUPS, &[ReluConfig::IDENTITY]);
}

#[test]
fn relu_of_zero_claimed_nonzero_is_rejected() {
    let mut f = Fixture::honest(&[0], 8);
    f.ys = vec![1];
    assert_fails_with(mock(&f, &[1]), LOOKUPS, &[ReluConfig::IDENTITY]);
}

#[test]
fn relu_input_just_outside_range_is_rejected() {
    let f = Fixture::honest(&[128], 8);
    // The decomposition fails, and so the sign bit it leaves makes the ReLU identity fail too.
    assert_fails_with(
        mock(&f, &f.ys),
        LOOKUPS,
        &[
            crate::range::LookupRangeConfig::LOOKUP,
            ReluConfig::IDENTITY,
        ],
    );
}
