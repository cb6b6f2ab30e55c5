use super::*;
use crate::dev::assert_fails_with;
use crate::testing::{enable_window_row, Scenario};
use crate::testing::{expose, felts, malicious_tests, mock, Chips, Target, Verdict, LOOKUPS};
use crate::value::felt;
use halo2_proofs::dev::MockProver;
use pasta_curves::Fp;

const GAP_RANGE: &str = "'range check t gap'";
const MAX_RANGE: &str = "'range check t max'";
const BITS: u32 = 8;

/// Maxima of `windows` (signed 8-bit inputs); `maxima` may be forged.
#[derive(Clone, Debug, Default)]
struct Fixture {
    windows: Vec<Vec<i64>>,
    maxima: Vec<i64>,
    /// Pass the inputs through a ReLU first, so they are non-negative by construction.
    relu_first: bool,
}

impl Fixture {
    fn honest(windows: &[&[i64]]) -> Self {
        Self {
            windows: windows.iter().map(|w| w.to_vec()).collect(),
            maxima: windows
                .iter()
                .map(|w| w.iter().copied().max().unwrap_or(0))
                .collect(),
            relu_first: false,
        }
    }
}

impl Scenario for Fixture {
    fn assign(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        chips.range.table().load(&mut layouter)?;
        let range = LookupRangeChip::construct(chips.range.clone());
        let relu = crate::ReluChip::construct(chips.relu.clone());
        let mut windows = Vec::new();
        for w in &self.windows {
            let values: Vec<_> = felts(w).into_iter().map(Value::known).collect();
            let mut cells = range.witness_signed(&mut layouter, "inputs", &values, BITS)?;
            if self.relu_first {
                let ys: Vec<_> = w
                    .iter()
                    .map(|v| Value::known(felts(&[(*v).max(0)])[0]))
                    .collect();
                cells = crate::ReluInstructions::relu(&relu, &mut layouter, "relu", &cells, &ys)?;
            }
            windows.push(cells);
        }
        let chip = MaxChip::construct(chips.max.clone(), range);
        let maxima: Vec<_> = felts(&self.maxima).into_iter().map(Value::known).collect();
        let ms = chip.max(&mut layouter, "t", &windows, &maxima)?;
        let cells: Vec<_> = ms.iter().map(|m| m.cell().clone()).collect();
        expose(&mut layouter, &chips, &cells)
    }
}

#[test]
fn max_of_honest_windows_is_accepted() {
    let f = Fixture::honest(&[&[3, 1, 2], &[-5, -7, -6], &[4], &[-128, 127], &[0, -1]]);
    assert_eq!(mock(&f, &f.maxima), Ok(()));
}

#[test]
fn max_with_ties_and_duplicates_is_accepted() {
    let f = Fixture::honest(&[&[2, 2, 1], &[5, 5, 5, 5], &[-3, -3]]);
    assert_eq!(mock(&f, &f.maxima), Ok(()));
}

#[test]
fn max_of_relu_outputs_is_accepted() {
    let mut f = Fixture::honest(&[&[0, 0, 0, 0], &[3, 9, 9, 1]]);
    f.relu_first = true;
    assert_eq!(mock(&f, &f.maxima), Ok(()));
}

fn claimed_max_above_every_input() -> Verdict {
    let mut f = Fixture::honest(&[&[1, 3, 2]]);
    f.maxima = vec![4];
    mock(&f, &[4])
}

#[test]
fn claimed_max_below_an_input_is_rejected() {
    // 2 is an input, so the product is zero, but 3 - ... the gap 2 - 3 = -1 is negative.
    let mut f = Fixture::honest(&[&[1, 3, 2]]);
    f.maxima = vec![2];
    assert_fails_with(mock(&f, &[2]), LOOKUPS, &[GAP_RANGE]);
}

#[test]
fn claimed_max_wrapped_around_the_field_is_rejected() {
    // Every gap m - x_j of a huge m is a huge field element.
    let mut f = Fixture::honest(&[&[1, 3, 2]]);
    f.maxima = vec![3 - (1 << 40)];
    assert_fails_with(
        mock(&f, &f.maxima.clone()),
        LOOKUPS,
        &[MaxConfig::ATTAINED, GAP_RANGE, MAX_RANGE],
    );
}

#[test]
fn claimed_max_of_a_tie_at_the_wrong_value_is_rejected() {
    let mut f = Fixture::honest(&[&[2, 2, 1]]);
    f.maxima = vec![1];
    assert_fails_with(mock(&f, &[1]), LOOKUPS, &[GAP_RANGE]);
}

/// One window laid out by hand in the chip's columns under the chip's selectors, one
/// `[x, m, d, p]` per row (input, claimed max, gap, running product), then its gaps
/// range-checked as the chip does: a forgery that breaks one constraint and nothing else.
#[derive(Clone, Debug, Default)]
struct Forged {
    rows: Vec<[i64; 4]>,
}

impl Scenario for Forged {
    fn assign(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        chips.range.table().load(&mut layouter)?;
        let c = &chips.max;
        let gaps = layouter.assign_region(
            || "max forged",
            |mut region| {
                let k = |v: i64| Value::known(felt::<Fp>(v));
                let mut gaps = Vec::new();
                for (row, [x, m, d, p]) in self.rows.iter().copied().enumerate() {
                    region.assign_advice(|| "x", c.x, row, || k(x))?;
                    region.assign_advice(|| "m", c.m, row, || k(m))?;
                    gaps.push(region.assign_advice(|| "d", c.d, row, || k(d))?);
                    region.assign_advice(|| "p", c.p, row, || k(p))?;
                    let selectors = [c.q_first, c.q_next, c.q_last];
                    enable_window_row(&mut region, row, self.rows.len(), selectors)?;
                }
                Ok(gaps)
            },
        )?;
        LookupRangeChip::construct(chips.range.clone())
            .check_unsigned(&mut layouter, "forged gap", &gaps, BITS)
            .map(drop)
    }
}

fn forged(rows: &[[i64; 4]]) -> Verdict {
    mock(
        &Forged {
            rows: rows.to_vec(),
        },
        &[],
    )
}

#[test]
fn max_honest_hand_layout_is_accepted() {
    // max(1, 2) = 2: gaps 1, 0; products 1, 0.
    assert_eq!(forged(&[[1, 2, 1, 1], [2, 2, 0, 0]]), Ok(()));
}

/// max(1, 2) claimed 5: a zero first gap would zero the product.
fn first_gap_forged_to_zero() -> Verdict {
    forged(&[[1, 5, 0, 0], [2, 5, 3, 0]])
}

/// max(1, 2) claimed 5: a zero second gap would zero the product.
fn later_gap_forged_to_zero() -> Verdict {
    forged(&[[1, 5, 4, 4], [2, 5, 0, 0]])
}

/// max(1, 2) claimed 5: the product starts at 0 instead of the first gap 4.
fn product_start_forged_to_zero() -> Verdict {
    forged(&[[1, 5, 4, 0], [2, 5, 3, 0]])
}

/// max(1, 5) claimed 1 (the first row's `m` is the output): each row's gap is zero against
/// its own `m`.
fn max_changed_between_rows() -> Verdict {
    forged(&[[1, 1, 0, 0], [5, 5, 0, 0]])
}

/// max(1, 2) claimed 5: the running product jumps to 0 although the gap 3 is not zero.
fn running_product_forged_to_zero() -> Verdict {
    forged(&[[1, 5, 4, 4], [2, 5, 3, 0]])
}

/// max(1, 2) claimed 5, every cell honest: the last product 12 is not zero.
fn hand_laid_max_not_attained() -> Verdict {
    forged(&[[1, 5, 4, 4], [2, 5, 3, 12]])
}

malicious_tests! {
    max_first_gap_forged_to_zero_is_rejected_by_the_gap:
        first_gap_forged_to_zero => Target::Constraint(MaxConfig::GATE, MaxConfig::GAP);
    max_later_gap_forged_to_zero_is_rejected_by_the_gap:
        later_gap_forged_to_zero => Target::Constraint(MaxConfig::NEXT_GATE, MaxConfig::GAP);
    max_product_start_forged_to_zero_is_rejected:
        product_start_forged_to_zero => Target::Constraint(MaxConfig::GATE, MaxConfig::START);
    max_changed_between_rows_is_rejected:
        max_changed_between_rows => Target::Constraint(MaxConfig::NEXT_GATE, MaxConfig::SAME);
    max_running_product_forged_to_zero_is_rejected:
        running_product_forged_to_zero
            => Target::Constraint(MaxConfig::NEXT_GATE, MaxConfig::PRODUCT);
    max_hand_laid_max_not_attained_is_rejected:
        hand_laid_max_not_attained
            => Target::Constraint(MaxConfig::LAST_GATE, MaxConfig::ATTAINED);
    claimed_max_above_every_input_is_rejected:
        claimed_max_above_every_input
            => Target::Constraint(MaxConfig::LAST_GATE, MaxConfig::ATTAINED);
}

#[test]
fn max_count_of_claimed_maxima_must_match_the_windows() {
    // One claimed max for two windows: the chip refuses to lay out (rather than silently
    // leaving the second window unchecked).
    let mut f = Fixture::honest(&[&[1, 3, 2], &[4]]);
    f.maxima.pop();
    let verdict = MockProver::run(
        crate::testing::K,
        &crate::testing::Test(f.clone()),
        vec![felts(&[3])],
    );
    assert!(matches!(verdict, Err(Error::Synthesis)), "{verdict:?}");
}

#[test]
fn max_range_rows_count_the_gaps_and_the_sign() {
    // What the layout reserves: `n` gap checks, plus the max's signed check unless every
    // input is non-negative by construction (17 bits take two rows).
    assert_eq!(MaxChip::<Fp>::range_rows(3, 17, true), 6);
    assert_eq!(MaxChip::<Fp>::range_rows(3, 8, false), 4);
    assert_eq!(MaxChip::<Fp>::range_rows(3, 17, false), 8);
}
