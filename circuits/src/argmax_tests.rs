use super::*;
use crate::dev::{assert_fails_with, COPY_FAILURE};
use crate::max::{MaxChip, MaxInstructions};
use crate::testing::{enable_window_row, Scenario};
use crate::testing::{expose, felts, malicious_tests, mock, Chips, Target, Verdict, LOOKUPS};
use crate::value::felt;
use halo2_proofs::dev::MockProver;
use pasta_curves::Fp;

const EARLIER_RANGE: &str = "'range check t earlier gap'";
const BITS: u32 = 8;

/// Argmax of `windows` (signed 8-bit), claiming `indices`.
#[derive(Clone, Debug, Default)]
struct Fixture {
    windows: Vec<Vec<i64>>,
    indices: Vec<i64>,
}

/// ONNX's rule: the first index of the maximum.
fn first_argmax(w: &[i64]) -> i64 {
    let m = w.iter().copied().max().unwrap_or(0);
    w.iter().position(|v| *v == m).unwrap_or(0) as i64
}

impl Fixture {
    fn honest(windows: &[&[i64]]) -> Self {
        Self {
            windows: windows.iter().map(|w| w.to_vec()).collect(),
            indices: windows.iter().map(|w| first_argmax(w)).collect(),
        }
    }
}

impl Scenario for Fixture {
    fn assign(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        chips.range.table().load(&mut layouter)?;
        let range = LookupRangeChip::construct(chips.range.clone());
        let mut windows = Vec::new();
        for w in &self.windows {
            let values: Vec<_> = felts(w).into_iter().map(Value::known).collect();
            windows.push(range.witness_signed(&mut layouter, "inputs", &values, BITS)?);
        }
        let maxima: Vec<_> = self
            .windows
            .iter()
            .map(|w| Value::known(felts(&[w.iter().copied().max().unwrap_or(0)])[0]))
            .collect();
        let max = MaxChip::construct(chips.max.clone(), range.clone());
        let (_, gaps) = max.max_with_gaps(&mut layouter, "t", &windows, &maxima)?;
        let chip = ArgMaxChip::construct(chips.argmax.clone(), range);
        let indices: Vec<_> = felts(&self.indices).into_iter().map(Value::known).collect();
        let out = chip.argmax(&mut layouter, "t", &gaps, BITS, &indices)?;
        let cells: Vec<_> = out.iter().map(|c| c.cell().clone()).collect();
        expose(&mut layouter, &chips, &cells)
    }
}

#[test]
fn argmax_of_honest_windows_is_the_first_maximum() {
    let f = Fixture::honest(&[
        &[3, 1, 3, 2],
        &[1, 2, 5],
        &[-4],
        &[0, 0, 0],
        &[-128, 127, 127],
    ]);
    assert_eq!(f.indices, vec![0, 2, 0, 0, 1]);
    assert_eq!(mock(&f, &f.indices), Ok(()));
}

#[test]
fn argmax_later_index_at_a_tie_is_rejected() {
    let mut f = Fixture::honest(&[&[3, 1, 3]]);
    f.indices = vec![2];
    assert_fails_with(mock(&f, &[2]), LOOKUPS, &[EARLIER_RANGE]);
}

#[test]
fn argmax_index_of_a_smaller_element_is_rejected() {
    let mut f = Fixture::honest(&[&[1, 5, 2]]);
    f.indices = vec![0];
    assert_fails_with(mock(&f, &[0]), LOOKUPS, &[ArgMaxConfig::ATTAINS]);
    let mut f = Fixture::honest(&[&[1, 5, 2]]);
    f.indices = vec![2];
    assert_fails_with(
        mock(&f, &[2]),
        LOOKUPS,
        &[ArgMaxConfig::ATTAINS, EARLIER_RANGE],
    );
}

#[test]
fn argmax_index_past_the_window_is_rejected() {
    let mut f = Fixture::honest(&[&[1, 5, 2]]);
    f.indices = vec![3];
    assert_fails_with(mock(&f, &[3]), LOOKUPS, &[ArgMaxConfig::ONE, EARLIER_RANGE]);
}

#[test]
fn argmax_public_index_must_match_the_proven_one() {
    let f = Fixture::honest(&[&[1, 5, 2]]);
    assert_fails_with(mock(&f, &[0]), LOOKUPS, &[COPY_FAILURE]);
}

/// One window laid out by hand in the chip's columns under the chip's selectors, one
/// `[d, h, p, g, t]` per row (gap, one-hot bit, prefix sum, earlier gap, running count), then
/// (when `check_earlier`) every `g` range-checked as the chip does.
#[derive(Clone, Debug, Default)]
struct Forged {
    rows: Vec<[i64; 5]>,
    check_earlier: bool,
}

impl Scenario for Forged {
    fn assign(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        chips.range.table().load(&mut layouter)?;
        let c = &chips.argmax;
        let gs = layouter.assign_region(
            || "argmax forged",
            |mut region| {
                let k = |v: i64| Value::known(felt::<Fp>(v));
                let mut gs = Vec::new();
                for (row, [d, h, p, g, t]) in self.rows.iter().copied().enumerate() {
                    region.assign_advice(|| "d", c.d, row, || k(d))?;
                    region.assign_advice(|| "h", c.h, row, || k(h))?;
                    region.assign_advice(|| "p", c.p, row, || k(p))?;
                    gs.push(region.assign_advice(|| "g", c.g, row, || k(g))?);
                    region.assign_advice(|| "t", c.t, row, || k(t))?;
                    let selectors = [c.q_first, c.q_next, c.q_last];
                    enable_window_row(&mut region, row, self.rows.len(), selectors)?;
                }
                Ok(gs)
            },
        )?;
        if self.check_earlier {
            LookupRangeChip::construct(chips.range.clone()).check_unsigned(
                &mut layouter,
                "forged earlier gap",
                &gs,
                BITS,
            )?;
        }
        Ok(())
    }
}

/// The forged window with its earlier gaps range-checked, as in the chip.
fn forged(rows: &[[i64; 5]]) -> Verdict {
    let f = Forged {
        rows: rows.to_vec(),
        check_earlier: true,
    };
    mock(&f, &[])
}

#[test]
fn argmax_honest_hand_layout_is_accepted() {
    // x = [3, 5]: gaps [2, 0], index 1.
    assert_eq!(forged(&[[2, 0, 0, 1, 1], [0, 1, 1, 0, 1]]), Ok(()));
}

/// x = [5, 5, 5] (gaps 0): bits [-1, 1, 1] sum to 1 and every other gate constraint holds, so
/// the index comes out as 3, past the window. This one runs without the range check of `g`,
/// because with it no witness breaks the first row's "boolean" alone: a bit `h_0` other than 0
/// or 1 forces `d_0 = 0` ("attains"), hence `g_0 = h_0 - 1`, which the range check bounds to
/// `[0, 2^b)`; so `h_0` is in `[2, 2^b]` and the later (boolean) bits cannot bring the sum
/// back to 1 ("exactly one"). The first row's boolean check is implied by the others; the
/// later rows' is not (see [`later_bit_forged_to_minus_one`]).
fn first_bit_forged_to_minus_one() -> Verdict {
    let f = Forged {
        rows: vec![[0, -1, -1, -2, 2], [0, 1, 0, -1, 3], [0, 1, 1, 0, 3]],
        check_earlier: false,
    };
    mock(&f, &[])
}

/// x = [5, 5, 5] (gaps 0): bits [1, 1, -1] sum to 1 with every earlier gap in range; the index
/// comes out as -1.
fn later_bit_forged_to_minus_one() -> Verdict {
    forged(&[[0, 1, 1, 0, 0], [0, 1, 2, 1, -1], [0, -1, 1, 0, -1]])
}

/// x = [3, 5] (gaps [2, 0]) claimed index 0: the prefix sum starts at 1 with no bit set.
fn first_prefix_forged_to_one() -> Verdict {
    forged(&[[2, 0, 1, 0, 0], [0, 0, 1, 0, 0]])
}

/// x = [3, 1, 5] (gaps [2, 4, 0]) claimed index 1: the prefix sum steps to 1 with no bit set.
fn later_prefix_forged_to_one() -> Verdict {
    forged(&[[2, 0, 0, 1, 1], [4, 0, 1, 0, 1], [0, 0, 1, 0, 1]])
}

/// x = [3, 5] (gaps [2, 0]) claimed index 0, whose gap is 2.
fn first_chosen_below_the_max() -> Verdict {
    forged(&[[2, 1, 1, 0, 0], [0, 0, 1, 0, 0]])
}

/// x = [3, 1, 5] (gaps [2, 4, 0]) claimed index 1, whose gap is 4.
fn later_chosen_below_the_max() -> Verdict {
    forged(&[[2, 0, 0, 1, 1], [4, 1, 1, 0, 1], [0, 0, 1, 0, 1]])
}

/// x = [5, 5] claimed index 1 (a later tie): the earlier gap should be 0 - 1 = -1, forged to
/// 0 so that its range check passes.
fn first_earlier_gap_forged_in_range() -> Verdict {
    forged(&[[0, 0, 0, 0, 1], [0, 1, 1, 0, 1]])
}

/// x = [1, 5, 5] claimed index 2 (a later tie): row 1's earlier gap -1 forged to 0.
fn later_earlier_gap_forged_in_range() -> Verdict {
    forged(&[[4, 0, 0, 3, 1], [0, 0, 0, 0, 2], [0, 1, 1, 0, 2]])
}

/// x = [3, 5] (index 1): the count starts at 0 instead of 1, so the index comes out as 0.
fn first_count_forged_to_zero() -> Verdict {
    forged(&[[2, 0, 0, 1, 0], [0, 1, 1, 0, 0]])
}

/// x = [3, 5] (index 1): the last count drops to 0.
fn later_count_forged_to_zero() -> Verdict {
    forged(&[[2, 0, 0, 1, 1], [0, 1, 1, 0, 0]])
}

/// x = [5, 5]: both elements chosen (prefix sum 2), index -1.
fn two_elements_chosen() -> Verdict {
    forged(&[[0, 1, 1, 0, 0], [0, 1, 2, 1, -1]])
}

malicious_tests! {
    argmax_first_bit_forged_to_minus_one_is_rejected_as_not_boolean:
        first_bit_forged_to_minus_one
            => Target::Constraint(ArgMaxConfig::FIRST_GATE, ArgMaxConfig::BOOLEAN);
    argmax_later_bit_forged_to_minus_one_is_rejected_as_not_boolean:
        later_bit_forged_to_minus_one
            => Target::Constraint(ArgMaxConfig::NEXT_GATE, ArgMaxConfig::BOOLEAN);
    argmax_first_prefix_sum_forged_to_one_is_rejected:
        first_prefix_forged_to_one
            => Target::Constraint(ArgMaxConfig::FIRST_GATE, ArgMaxConfig::PREFIX);
    argmax_later_prefix_sum_forged_to_one_is_rejected:
        later_prefix_forged_to_one
            => Target::Constraint(ArgMaxConfig::NEXT_GATE, ArgMaxConfig::PREFIX);
    argmax_first_element_chosen_below_the_max_is_rejected:
        first_chosen_below_the_max
            => Target::Constraint(ArgMaxConfig::FIRST_GATE, ArgMaxConfig::ATTAINS);
    argmax_later_element_chosen_below_the_max_is_rejected:
        later_chosen_below_the_max
            => Target::Constraint(ArgMaxConfig::NEXT_GATE, ArgMaxConfig::ATTAINS);
    argmax_first_earlier_gap_forged_into_range_is_rejected:
        first_earlier_gap_forged_in_range
            => Target::Constraint(ArgMaxConfig::FIRST_GATE, ArgMaxConfig::EARLIER);
    argmax_later_earlier_gap_forged_into_range_is_rejected:
        later_earlier_gap_forged_in_range
            => Target::Constraint(ArgMaxConfig::NEXT_GATE, ArgMaxConfig::EARLIER);
    argmax_first_count_forged_to_zero_is_rejected:
        first_count_forged_to_zero
            => Target::Constraint(ArgMaxConfig::FIRST_GATE, ArgMaxConfig::INDEX);
    argmax_later_count_forged_to_zero_is_rejected:
        later_count_forged_to_zero
            => Target::Constraint(ArgMaxConfig::NEXT_GATE, ArgMaxConfig::INDEX);
    argmax_two_elements_chosen_is_rejected:
        two_elements_chosen => Target::Constraint(ArgMaxConfig::LAST_GATE, ArgMaxConfig::ONE);
}

#[test]
fn argmax_index_width_covers_the_window_tightly() {
    // The index cell is returned as a signed cell of `index_bits(n)` bits, a claim that later
    // chips size their range checks by: the last index `n - 1` must fit, and one bit less
    // must not hold it.
    for (n, bits) in [(1, 1), (2, 2), (3, 3), (4, 3), (5, 4), (8, 4), (9, 5)] {
        assert_eq!(ArgMaxChip::<Fp>::index_bits(n), bits, "window of {n}");
        let last = n as i64 - 1;
        assert!(last < 1 << (bits - 1), "window of {n}");
        assert!(bits == 1 || last >= 1 << (bits - 2), "window of {n}");
    }
}

#[test]
fn argmax_index_count_must_match_the_windows() {
    // One claimed index for two windows: the chip refuses to lay out (rather than silently
    // leaving the second window without an index).
    let mut f = Fixture::honest(&[&[1, 5, 2], &[4, 3]]);
    f.indices.pop();
    let verdict = MockProver::run(
        crate::testing::K,
        &crate::testing::Test(f.clone()),
        vec![felts(&[1])],
    );
    assert!(matches!(verdict, Err(Error::Synthesis)), "{verdict:?}");
}

#[test]
fn argmax_range_rows_are_one_gap_check_per_position() {
    // What the layout reserves: `n` unsigned checks of `bits` bits (17 bits take two rows).
    assert_eq!(ArgMaxChip::<Fp>::range_rows(3, 8), 3);
    assert_eq!(ArgMaxChip::<Fp>::range_rows(3, 17), 6);
}
