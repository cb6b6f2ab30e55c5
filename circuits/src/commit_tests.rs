use super::*;
use crate::dev::{named_failures, Broken};
use crate::range::{LookupRangeChip, RangeInstructions};
use crate::testing::{felts, malicious_tests, mock_fp, Chips, Scenario, Target, Verdict, LOOKUPS};
use ff::Field;
use std::collections::BTreeSet;

/// Commits to `values`, range-checked at `bits`, under `salt`; `tamper` forges one
/// accumulator.
#[derive(Clone, Debug, Default)]
struct Fixture {
    values: Vec<i64>,
    bits: u32,
    salt: Fp,
    tamper: Option<(usize, Fp)>,
    /// Commit with the plan's second chip (the outputs'), over its own columns.
    out: bool,
    /// A second group, at its own width, committed after `values` in the same chain.
    second: Option<(Vec<i64>, u32)>,
}

impl Fixture {
    fn honest(values: &[i64], bits: u32) -> Self {
        Self {
            values: values.to_vec(),
            bits,
            salt: Fp::from(0x5eed_u64) * Fp::from(u64::MAX),
            tamper: None,
            out: false,
            second: None,
        }
    }

    fn commitment(&self) -> Fp {
        match &self.second {
            None => commitment(&self.values, self.bits, self.salt).expect("values in range"),
            Some((values, bits)) => group_commitment(
                &[(&self.values, self.bits), (values, *bits)],
                self.salt,
                DOMAIN,
            )
            .expect("values in range"),
        }
    }
}

impl Scenario for Fixture {
    fn assign(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        chips.range.table().load(&mut layouter)?;
        let range = LookupRangeChip::construct(chips.range.clone());
        let values: Vec<_> = felts(&self.values).into_iter().map(Value::known).collect();
        let cells = range.witness_signed(&mut layouter, "x", &values, self.bits)?;
        let config = if self.out {
            chips.commit_out.clone()
        } else {
            chips.commit.clone()
        };
        let mut chip = CommitChip::construct(config.ok_or(Error::Synthesis)?);
        chip.tamper = self.tamper;
        let salt = Value::known(self.salt);
        let c = match &self.second {
            None => chip.commit(&mut layouter, "t", &cells, self.bits, salt)?,
            Some((values, bits)) => {
                let values: Vec<_> = felts(values).into_iter().map(Value::known).collect();
                let second = range.witness_signed(&mut layouter, "y", &values, *bits)?;
                let groups = [(cells.as_slice(), self.bits), (second.as_slice(), *bits)];
                chip.commit_groups(&mut layouter, "t", &groups, salt, DOMAIN)?
            }
        };
        layouter.constrain_instance(c.cell(), chips.instance, 0)
    }
}

#[test]
fn packing_is_injective_and_matches_the_layout() {
    // Two values of 8 bits: (3 + 128) · 256 + (−5 + 128).
    assert_eq!(pack(&[3, -5], 8), Ok(vec![Fp::from(131 * 256 + 123)]));
    assert_eq!(per_element(62), 4);
    assert_eq!(packed_len(9, 62), 3);
    assert_eq!(pack(&[1, 2, 3, 4, 5], 62).map(|p| p.len()), Ok(2));
    // Out-of-range values are named, not wrapped.
    assert_eq!(pack(&[0, 128], 8), Err(1));
    assert_eq!(pack(&[-129], 8), Err(0));
    assert_ne!(pack(&[0, 1], 8), pack(&[1, 0], 8));
}

#[test]
fn commitments_verify_for_every_width_and_several_packed_elements() {
    for (values, bits) in [
        (vec![3, -5, 7, 0, -128, 127], 8),
        (vec![-1], 1),
        ((0..9).map(|i| (i << 55) - (1 << 58)).collect(), 62),
        // Seventeen elements: one block hash of fifteen, then two single hashes.
        ((0..66).map(|i| (i << 54) - (1 << 60)).collect(), 62),
        (TEN.to_vec(), 8),
    ] {
        for out in [false, true] {
            let f = Fixture {
                out,
                ..Fixture::honest(&values, bits)
            };
            assert_eq!(mock_fp(&f, vec![f.commitment()]), Ok(()), "bits {bits}");
        }
    }
}

/// The domain of the group commitments under test.
const DOMAIN: Fp = Fp::from_raw([7, 0, 0, 0]);

#[test]
fn groups_at_their_own_widths_chain_into_one_commitment() {
    let f = Fixture {
        second: Some((vec![1 << 20, -(1 << 20), 0], 22)),
        ..Fixture::honest(&[3, -5, 7, 0, -128, 127], 8)
    };
    assert_eq!(mock_fp(&f, vec![f.commitment()]), Ok(()));
    // The groups' order and widths are bound: each other arrangement is another commitment.
    let (second, bits) = f.second.clone().unwrap();
    for other in [
        group_commitment(&[(&second, bits), (&f.values, f.bits)], f.salt, DOMAIN),
        group_commitment(&[(&f.values, 22), (&second, bits)], f.salt, DOMAIN),
        // Another domain: the same values as another architecture's.
        group_commitment(
            &[(&f.values, f.bits), (&second, bits)],
            f.salt,
            DOMAIN + Fp::ONE,
        ),
        commitment(&[f.values.clone(), second.clone()].concat(), 22, f.salt).map_err(|i| (0, i)),
    ] {
        let other = other.unwrap();
        assert_ne!(other, f.commitment());
        let failures = mock_fp(&f, vec![other]).unwrap_err();
        assert_eq!(
            named_failures(&failures, LOOKUPS),
            BTreeSet::from([Broken::Copy])
        );
    }
    // The domain is one more element of the chain.
    assert_eq!(group_rows(&[(6, 8), (3, 22)]), 2 + 1 + 3 * HASH_ROWS);
    assert_eq!(
        group_commitment(&[(&[0, 200], 8)], f.salt, DOMAIN),
        Err((0, 1))
    );
}

#[test]
fn the_salt_and_every_value_change_the_commitment() {
    let f = Fixture::honest(&[3, -5, 7], 8);
    let c = f.commitment();
    assert_ne!(commitment(&[3, -5, 7], 8, f.salt + Fp::ONE), Ok(c));
    assert_ne!(commitment(&[3, -5, 8], 8, f.salt), Ok(c));
    assert_ne!(
        commitment(&[3, -5], 8, f.salt),
        Ok(c),
        "the length is bound"
    );
    assert_ne!(
        commitment(&[3, -5, 7], 16, f.salt),
        Ok(c),
        "the width is bound"
    );
}

#[test]
fn a_commitment_under_another_salt_or_values_is_rejected_by_the_instance() {
    let f = Fixture::honest(&[3, -5, 7], 8);
    for public in [
        commitment(&[3, -5, 7], 8, f.salt + Fp::ONE).unwrap(),
        commitment(&[3, -5, 6], 8, f.salt).unwrap(),
    ] {
        let failures = mock_fp(&f, vec![public]).unwrap_err();
        assert_eq!(
            named_failures(&failures, LOOKUPS),
            BTreeSet::from([Broken::Copy])
        );
    }
}

#[test]
fn a_value_outside_its_width_cannot_be_packed() {
    // 128 is not an 8-bit signed value: the range check that every packed value passes
    // first rejects it, so no digit reaches 2^bits and packing cannot wrap.
    let mut f = Fixture::honest(&[3, 127], 8);
    f.values[1] = 128;
    let public = chain(f.salt, &[Fp::from(131 * 256 + 256)]);
    let failures = mock_fp(&f, vec![public]).unwrap_err();
    assert!(
        named_failures(&failures, LOOKUPS)
            .iter()
            .any(|b| matches!(b, Broken::Lookup(_))),
        "{failures:?}"
    );
}

/// Forges the accumulator of `row` by `delta` and publishes the commitment to the forged
/// packing, so only the packing gate can object.
fn forged(values: &[i64], bits: u32, row: usize, out: bool) -> Verdict {
    let mut f = Fixture {
        out,
        ..Fixture::honest(values, bits)
    };
    let delta = Fp::from(1000);
    f.tamper = Some((row, delta));
    let mut packed = pack(values, bits).expect("in range");
    packed[row / per_element(bits).div_ceil(PACK_LANES)] += delta;
    mock_fp(&f, vec![chain(f.salt, &packed)])
}

fn forged_first() -> Verdict {
    forged(&[5], 8, 0, false)
}

/// Ten 8-bit values: one element over three rows (4, 4 and 2 values); row 2 continues it
/// and ends it.
const TEN: [i64; 10] = [5, -7, 9, 11, 13, -128, 127, 0, 1, -1];

fn forged_next() -> Verdict {
    forged(&TEN, 8, 2, false)
}

/// The same forgeries on the outputs' chip (the plan's second instance of the gates).
fn forged_first_out() -> Verdict {
    forged(&[5], 8, 0, true)
}

fn forged_next_out() -> Verdict {
    forged(&TEN, 8, 2, true)
}

malicious_tests! {
    a_forged_first_digit_is_rejected:
        forged_first => Target::Constraint(CommitConfig::GATE_FIRST, CommitConfig::FIRST);
    a_forged_running_packing_is_rejected:
        forged_next => Target::Constraint(CommitConfig::GATE_NEXT, CommitConfig::NEXT);
    a_forged_first_digit_of_the_outputs_chip_is_rejected:
        forged_first_out => Target::Constraint(CommitConfig::GATE_FIRST, CommitConfig::FIRST);
    a_forged_running_packing_of_the_outputs_chip_is_rejected:
        forged_next_out => Target::Constraint(CommitConfig::GATE_NEXT, CommitConfig::NEXT);
}

#[test]
fn rows_cover_the_packing_and_one_hash_per_element() {
    // Four values per packing row, rows of one element never shared with the next.
    assert_eq!(rows(6, 8), 2 + HASH_ROWS);
    assert_eq!(rows(9, 62), 3 + 3 * HASH_ROWS);
    // Fifteen packed elements are one block hash (eight permutations); the rest one each.
    assert_eq!(rows(64, 62), 16 + BLOCK_ROWS + HASH_ROWS);
    assert_eq!(BLOCK_ROWS, 1 + 8 * (HASH_ROWS - 1));
}
