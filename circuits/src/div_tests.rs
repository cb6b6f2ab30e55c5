use super::*;
use crate::dev::assert_fails_with;
use crate::range::LookupRangeChip;
use crate::testing::Scenario;
use crate::testing::{
    expose, felts, malicious_tests, mock, mock_fp, sources, Chips, Target, Verdict, LOOKUPS,
};
use crate::value::felt;
use ff::Field;
use halo2_proofs::dev::MockProver;
use pasta_curves::Fp;

const QUOTIENT_RANGE: &str = "'range check t quotient'";
const REMAINDER_RANGE: &str = "'range check t remainder'";
const REMAINDER_UPPER: &str = "'range check t remainder upper'";

/// Divides `xs` by `divisor` with offset `offset`; `qs` and `rs` may be tampered with.
#[derive(Clone, Debug, Default)]
struct Fixture {
    xs: Vec<i64>,
    divisor: i64,
    offset: i64,
    bits: u32,
    qs: Vec<Fp>,
    rs: Vec<Fp>,
}

impl Fixture {
    /// Division by `2^shift`.
    fn honest(xs: &[i64], shift: u32, offset: i64, bits: u32) -> Self {
        Self::dividing(xs, 1 << shift, offset, bits)
    }

    fn dividing(xs: &[i64], divisor: i64, offset: i64, bits: u32) -> Self {
        let (qs, rs): (Vec<_>, Vec<_>) = xs
            .iter()
            .map(|x| {
                let (q, r) = floor_div(x + offset, divisor);
                (felt::<Fp>(q), felt::<Fp>(r))
            })
            .unzip();
        Self {
            xs: xs.to_vec(),
            divisor,
            offset,
            bits,
            qs,
            rs,
        }
    }

    fn quotients(&self) -> Vec<i64> {
        self.xs
            .iter()
            .map(|x| floor_div(x + self.offset, self.divisor).0)
            .collect()
    }
}

/// The reference: floor division with a non-negative remainder.
fn floor_div(x: i64, d: i64) -> (i64, i64) {
    (x.div_euclid(d), x.rem_euclid(d))
}

impl Scenario for Fixture {
    fn assign(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        chips.range.table().load(&mut layouter)?;
        let xs = sources(&mut layouter, &chips, &felts(&self.xs))?;
        let range = LookupRangeChip::construct(chips.range.clone());
        let chip = DivChip::construct(chips.div.clone(), range);
        let spec = DivSpec {
            divisor: u64::try_from(self.divisor).unwrap_or(1),
            offset: felt(self.offset),
        };
        let known = |v: &[Fp]| v.iter().map(|v| Value::known(*v)).collect::<Vec<_>>();
        let qs = chip.divide(
            &mut layouter,
            "t",
            &xs,
            &vec![spec; xs.len()],
            self.bits,
            &known(&self.qs),
            &known(&self.rs),
        )?;
        let cells: Vec<_> = qs.iter().map(|q| q.cell().clone()).collect();
        expose(&mut layouter, &chips, &cells)
    }
}

#[test]
fn rescale_floor_matches_reference() {
    let f = Fixture::honest(
        &[0, 1, 255, 256, 257, -1, -256, -257, 1000, -1000],
        8,
        0,
        16,
    );
    assert_eq!(mock(&f, &f.quotients()), Ok(()));
}

#[test]
fn rescale_half_up_matches_reference() {
    let f = Fixture::honest(&[0, 7, 8, 9, -8, -9, -7, 23], 4, 8, 16);
    assert_eq!(f.quotients(), vec![0, 0, 1, 1, 0, -1, 0, 1]);
    assert_eq!(mock(&f, &f.quotients()), Ok(()));
}

#[test]
fn rescale_by_one_has_zero_remainder() {
    let f = Fixture::honest(&[5, -5, 0], 0, 0, 8);
    assert_eq!(mock(&f, &f.quotients()), Ok(()));
}

#[test]
fn rescale_quotient_at_range_edges_is_accepted() {
    // q = 127 and q = -128 for an 8-bit quotient.
    let f = Fixture::honest(&[127 * 16 + 15, -128 * 16], 4, 0, 8);
    assert_eq!(mock(&f, &f.quotients()), Ok(()));
}

#[test]
fn rescale_quotient_just_outside_declared_range_is_rejected() {
    let f = Fixture::honest(&[128 * 16], 4, 0, 8);
    assert_fails_with(mock(&f, &f.quotients()), LOOKUPS, &[QUOTIENT_RANGE]);
    let f = Fixture::honest(&[-129 * 16 + 15], 4, 0, 8);
    assert_fails_with(mock(&f, &f.quotients()), LOOKUPS, &[QUOTIENT_RANGE]);
}

/// 1000 >> 4 claimed 63 with the honest remainder 8: both ranges pass.
fn quotient_off_by_one() -> Verdict {
    let mut f = Fixture::honest(&[1000], 4, 0, 16);
    let public = f.quotients();
    f.qs[0] += Fp::ONE;
    mock(&f, &[public[0] + 1])
}

malicious_tests! {
    rescale_quotient_off_by_one_is_rejected:
        quotient_off_by_one => Target::Constraint(DivConfig::GATE, DivConfig::IDENTITY);
}

#[test]
fn rescale_quotient_off_by_one_with_negative_remainder_is_rejected() {
    let mut f = Fixture::honest(&[1000], 4, 0, 16);
    let public = f.quotients();
    f.qs[0] += Fp::ONE;
    f.rs[0] -= felt::<Fp>(16);
    assert_fails_with(mock(&f, &[public[0] + 1]), LOOKUPS, &[REMAINDER_RANGE]);
}

#[test]
fn rescale_remainder_equal_to_divisor_is_rejected() {
    let mut f = Fixture::honest(&[1000], 4, 0, 16);
    let public = f.quotients();
    f.qs[0] -= Fp::ONE;
    f.rs[0] += felt::<Fp>(16);
    assert_fails_with(mock(&f, &[public[0] - 1]), LOOKUPS, &[REMAINDER_RANGE]);
}

#[test]
fn rescale_quotient_wrapped_around_the_field_is_rejected() {
    // q' = q - 1/2^s and r' = r + 1 satisfy the identity modulo p: q' is a ~254-bit element.
    let mut f = Fixture::honest(&[1000], 4, 0, 16);
    let inv = Option::<Fp>::from(felt::<Fp>(16).invert()).unwrap_or(Fp::ZERO);
    f.qs[0] -= inv;
    f.rs[0] += Fp::ONE;
    let claimed = f.qs[0];
    let verdict = mock_fp(&f, vec![claimed]);
    assert_fails_with(verdict, LOOKUPS, &[QUOTIENT_RANGE]);
}

#[test]
fn division_by_non_powers_of_two_matches_reference() {
    for d in [1, 3, 5, 6, 9, 25] {
        let xs = [0, 1, d - 1, d, d + 1, -1, -d, -d - 1, 1000, -1000];
        let f = Fixture::dividing(&xs, d, d / 2, 16);
        assert_eq!(mock(&f, &f.quotients()), Ok(()), "d = {d}");
    }
}

#[test]
fn division_remainder_equal_to_a_non_power_of_two_divisor_is_rejected() {
    // 1003 = 167 * 6 + 1; claim 166 * 6 + 7: r = 7 < 2^3 passes the low check only.
    let mut f = Fixture::dividing(&[1003], 6, 0, 16);
    f.qs[0] -= Fp::ONE;
    f.rs[0] += felt::<Fp>(6);
    assert_fails_with(mock(&f, &[166]), LOOKUPS, &[REMAINDER_UPPER]);
    // r = d exactly: 1002 = 167 * 6 + 0; claim 166 * 6 + 6.
    let mut f = Fixture::dividing(&[1002], 6, 0, 16);
    f.qs[0] -= Fp::ONE;
    f.rs[0] += felt::<Fp>(6);
    assert_fails_with(mock(&f, &[166]), LOOKUPS, &[REMAINDER_UPPER]);
}

#[test]
fn division_negative_remainder_is_rejected() {
    let mut f = Fixture::dividing(&[1000], 6, 0, 16);
    f.qs[0] += Fp::ONE;
    f.rs[0] -= felt::<Fp>(6);
    assert_fails_with(mock(&f, &[167]), LOOKUPS, &[REMAINDER_RANGE]);
}

#[test]
fn division_quotient_wrapped_around_the_field_is_rejected() {
    let mut f = Fixture::dividing(&[1000], 6, 0, 16);
    let inv = Option::<Fp>::from(felt::<Fp>(6).invert()).unwrap_or(Fp::ZERO);
    f.qs[0] -= inv;
    f.rs[0] += Fp::ONE;
    let claimed = f.qs[0];
    assert_fails_with(mock_fp(&f, vec![claimed]), LOOKUPS, &[QUOTIENT_RANGE]);
}

#[test]
fn division_witness_counts_must_match_the_inputs() {
    // A spare quotient or remainder is refused at synthesis, not silently dropped.
    let mut f = Fixture::honest(&[1000], 4, 0, 16);
    f.qs.push(Fp::ZERO);
    let public = felts(&f.quotients());
    let verdict = MockProver::run(
        crate::testing::K,
        &crate::testing::Test(f.clone()),
        vec![public.clone()],
    );
    assert!(matches!(verdict, Err(Error::Synthesis)), "{verdict:?}");
    let mut f = Fixture::honest(&[1000], 4, 0, 16);
    f.rs.push(Fp::ZERO);
    let verdict = MockProver::run(
        crate::testing::K,
        &crate::testing::Test(f.clone()),
        vec![public],
    );
    assert!(matches!(verdict, Err(Error::Synthesis)), "{verdict:?}");
}

#[test]
fn division_range_rows_count_quotient_and_remainder() {
    // What the layout reserves: the quotient's signed check plus the remainder's one or two
    // checks (two when the divisor is not a power of two).
    assert_eq!(DivChip::<Fp>::range_rows(16, 16), 2);
    assert_eq!(DivChip::<Fp>::range_rows(6, 16), 3);
    assert_eq!(DivChip::<Fp>::range_rows(6, 17), 4);
}
