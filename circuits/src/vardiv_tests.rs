use super::*;
use crate::dev::assert_fails_with;
use crate::testing::Scenario;
use crate::testing::{
    expose, felts, malicious_tests, mock, mock_fp, sources, Chips, Target, Verdict, LOOKUPS,
};
use crate::value::felt;
use ff::Field;
use halo2_proofs::dev::MockProver;
use pasta_curves::Fp;

const SCALE: i64 = 1 << 4;
const REMAINDER_RANGE: &str = "'range check t remainder'";
const QUOTIENT_RANGE: &str = "'range check t quotient'";

/// `floor(n · 16 / d)` for each pair, claiming `qs`.
#[derive(Clone, Debug, Default)]
struct Fixture {
    pairs: Vec<(i64, i64)>,
    qs: Vec<Fp>,
    /// Filled by synthesis: the signed width claimed for every returned quotient.
    /// What synthesis saw (shared with the clone the mock prover runs).
    widths: std::rc::Rc<std::cell::RefCell<Vec<u32>>>,
}

impl Fixture {
    fn honest(pairs: &[(i64, i64)]) -> Self {
        Self {
            pairs: pairs.to_vec(),
            qs: pairs.iter().map(|(n, d)| felt(n * SCALE / d)).collect(),
            widths: Default::default(),
        }
    }
}

impl Scenario for Fixture {
    fn assign(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        chips.range.table().load(&mut layouter)?;
        let flat: Vec<i64> = self.pairs.iter().flat_map(|(n, d)| [*n, *d]).collect();
        let cells = sources(&mut layouter, &chips, &felts(&flat))?;
        let ns: Vec<_> = cells.iter().step_by(2).cloned().collect();
        let ds: Vec<_> = cells.iter().skip(1).step_by(2).cloned().collect();
        let chip = VarDivChip::construct(
            chips.vardiv.clone(),
            LookupRangeChip::construct(chips.range.clone()),
        );
        let qs: Vec<_> = self.qs.iter().map(|q| Value::known(*q)).collect();
        let out = chip.divide_by_cells(&mut layouter, "t", &ns, &ds, felt(SCALE), 8, 8, &qs)?;
        *self.widths.borrow_mut() = out.iter().map(SignedCell::bits).collect();
        let cells: Vec<_> = out.iter().map(|q| q.cell().clone()).collect();
        expose(&mut layouter, &chips, &cells)
    }
}

fn quotients(f: &Fixture) -> Vec<i64> {
    f.pairs.iter().map(|(n, d)| n * SCALE / d).collect()
}

#[test]
fn division_by_cells_matches_floor() {
    let f = Fixture::honest(&[(3, 7), (7, 7), (0, 5), (10, 11), (1, 200), (15, 1)]);
    assert_eq!(mock(&f, &quotients(&f)), Ok(()));
}

#[test]
fn quotient_off_by_one_is_rejected() {
    // 3 · 16 = 6 · 7 + 6: claiming 7 needs r = -1.
    let mut f = Fixture::honest(&[(3, 7)]);
    f.qs[0] += Fp::ONE;
    assert_fails_with(mock(&f, &[7]), LOOKUPS, &[REMAINDER_RANGE]);
    // Claiming 5 needs r = 13 >= d: u = d - 1 - r = -7 fails.
    let mut f = Fixture::honest(&[(3, 7)]);
    f.qs[0] -= Fp::ONE;
    assert_fails_with(mock(&f, &[5]), LOOKUPS, &[REMAINDER_RANGE]);
}

#[test]
fn zero_denominator_is_rejected() {
    let mut f = Fixture::honest(&[(3, 1)]);
    f.pairs[0].1 = 0;
    f.qs[0] = Fp::ZERO;
    assert_fails_with(mock(&f, &[0]), LOOKUPS, &[REMAINDER_RANGE]);
}

#[test]
fn quotient_wrapped_around_the_field_is_rejected() {
    let mut f = Fixture::honest(&[(3, 7)]);
    let inv = Option::<Fp>::from(felt::<Fp>(7).invert()).unwrap_or(Fp::ZERO);
    f.qs[0] += inv;
    let claimed = f.qs[0];
    let verdict = mock_fp(&f, vec![claimed]);
    assert_fails_with(verdict, LOOKUPS, &[QUOTIENT_RANGE]);
}

/// One division row per `[n, d, q, r, u]` laid out by hand in the chip's columns under its
/// selector, with the scale 16, then `r`, `u` and `q` range-checked as the chip does.
#[derive(Clone, Debug, Default)]
struct Forged {
    rows: Vec<[i64; 5]>,
}

impl Scenario for Forged {
    fn assign(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        chips.range.table().load(&mut layouter)?;
        let c = &chips.vardiv;
        let (qs, rest) = layouter.assign_region(
            || "variable division forged",
            |mut region| {
                let k = |v: i64| Value::known(felt::<Fp>(v));
                let (mut qs, mut rest) = (Vec::new(), Vec::new());
                for (row, [n, d, q, r, u]) in self.rows.iter().copied().enumerate() {
                    region.assign_advice(|| "n", c.n, row, || k(n))?;
                    region.assign_advice(|| "d", c.d, row, || k(d))?;
                    qs.push(region.assign_advice(|| "q", c.q, row, || k(q))?);
                    rest.push(region.assign_advice(|| "r", c.r, row, || k(r))?);
                    rest.push(region.assign_advice(|| "u", c.u, row, || k(u))?);
                    region.assign_fixed(|| "scale", c.scale, row, || k(SCALE))?;
                    c.q_vdiv.enable(&mut region, row)?;
                }
                Ok((qs, rest))
            },
        )?;
        let range = LookupRangeChip::construct(chips.range.clone());
        range.check_unsigned(&mut layouter, "forged remainder", &rest, 8)?;
        range.check_unsigned(&mut layouter, "forged quotient", &qs, 8)?;
        Ok(())
    }
}

fn forged(rows: &[[i64; 5]]) -> Verdict {
    mock(
        &Forged {
            rows: rows.to_vec(),
        },
        &[],
    )
}

#[test]
fn vardiv_honest_hand_layout_is_accepted() {
    // 3 · 16 = 6 · 7 + 6, u = 7 - 1 - 6 = 0.
    assert_eq!(forged(&[[3, 7, 6, 6, 0]]), Ok(()));
}

/// `3 · 16 / 7` claimed 7 with the honest remainder 6 and complement 0: every range check
/// passes, only the identity `48 = 7 · 7 + 6` is false.
fn quotient_forged_remainder_kept() -> Verdict {
    forged(&[[3, 7, 7, 6, 0]])
}

/// `3 · 16 / 7` claimed 5 with remainder 13 (the identity holds): the complement
/// `7 - 1 - 13 = -7` is forged to 0 so that its range check passes.
fn complement_forged_into_range() -> Verdict {
    forged(&[[3, 7, 5, 13, 0]])
}

malicious_tests! {
    vardiv_quotient_forged_with_the_honest_remainder_is_rejected_by_the_identity:
        quotient_forged_remainder_kept
            => Target::Constraint(VarDivConfig::GATE, VarDivConfig::IDENTITY);
    vardiv_remainder_complement_forged_into_range_is_rejected:
        complement_forged_into_range
            => Target::Constraint(VarDivConfig::GATE, VarDivConfig::COMPLEMENT);
}

#[test]
fn vardiv_quotients_claim_one_bit_more_than_their_unsigned_width() {
    // An 8-bit unsigned quotient is a 9-bit signed cell: no narrower claim than proven.
    let f = Fixture::honest(&[(3, 7), (15, 1)]);
    assert_eq!(mock(&f, &quotients(&f)), Ok(()));
    assert_eq!(*f.widths.borrow(), vec![9, 9]);
}

#[test]
fn vardiv_quotient_count_must_match_the_inputs() {
    // A spare claimed quotient is refused at synthesis, not silently dropped.
    let mut f = Fixture::honest(&[(3, 7)]);
    f.qs.push(Fp::ZERO);
    let verdict = MockProver::run(
        crate::testing::K,
        &crate::testing::Test(f.clone()),
        vec![felts(&[6])],
    );
    assert!(matches!(verdict, Err(Error::Synthesis)), "{verdict:?}");
}

#[test]
fn vardiv_range_rows_count_the_quotient_and_both_remainder_sides() {
    // What the layout reserves: one quotient check and two denominator-width checks.
    assert_eq!(VarDivChip::<Fp>::range_rows(8, 8), 3);
    // 33 bits take three rows.
    assert_eq!(VarDivChip::<Fp>::range_rows(8, 33), 7);
}
