use super::*;
use crate::dev::assert_fails_with;
use crate::value::felt;
use halo2_proofs::{
    circuit::SimpleFloorPlanner,
    dev::MockProver,
    plonk::{Circuit, ConstraintSystem},
};
use pasta_curves::Fp;

const K: u32 = 10;
const LOOKUPS: &[&str] = &[LookupRangeConfig::LOOKUP];

#[derive(Clone, Copy, Debug, Default)]
enum Mode {
    #[default]
    Signed,
    /// Values assigned in another region, then copied in.
    SignedCopied,
    Unsigned,
}

/// Range-checks `values` as `bits`-bit integers.
#[derive(Clone, Debug, Default)]
struct Fixture {
    values: Vec<i64>,
    bits: u32,
    mode: Mode,
}

fn configure_range(meta: &mut ConstraintSystem<Fp>) -> LookupRangeConfig {
    let z = meta.advice_column();
    let limb = meta.advice_column();
    let fixed = [
        meta.fixed_column(),
        meta.fixed_column(),
        meta.fixed_column(),
    ];
    let table = RangeTableConfig::configure(meta);
    let out = meta.advice_column();
    LookupRangeConfig::configure(meta, [z, limb, out], fixed, table)
}

impl Circuit<Fp> for Fixture {
    type Config = (LookupRangeConfig, Column<Advice>);
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self::default()
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> Self::Config {
        let source = meta.advice_column();
        meta.enable_equality(source);
        (configure_range(meta), source)
    }

    fn synthesize(
        &self,
        (config, source): Self::Config,
        mut layouter: impl Layouter<Fp>,
    ) -> Result<(), Error> {
        config.table().load(&mut layouter)?;
        let chip = LookupRangeChip::construct(config);
        let values: Vec<_> = self.values.iter().map(|v| Value::known(felt(*v))).collect();
        let cells = layouter.assign_region(
            || "source",
            |mut region| {
                values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| region.assign_advice(|| "x", source, i, || *v))
                    .collect::<Result<Vec<_>, _>>()
            },
        )?;
        match self.mode {
            Mode::Signed => chip
                .witness_signed(&mut layouter, "x", &values, self.bits)
                .map(drop),
            Mode::SignedCopied => chip
                .check_signed(&mut layouter, "x", &cells, self.bits)
                .map(drop),
            Mode::Unsigned => chip
                .check_unsigned(&mut layouter, "x", &cells, self.bits)
                .map(drop),
        }
    }
}

fn run(values: &[i64], bits: u32, mode: Mode) -> Result<(), Vec<halo2_proofs::dev::VerifyFailure>> {
    let circuit = Fixture {
        values: values.to_vec(),
        bits,
        mode,
    };
    MockProver::run(K, &circuit, vec![])
        .unwrap_or_else(|e| panic!("synthesis failed: {e:?}"))
        .verify()
}

fn edges(bits: u32) -> (i64, i64) {
    (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
}

#[test]
fn range_signed_edges_are_accepted() {
    for bits in [1, 2, 8, 9, 16, 17, 32] {
        let (lo, hi) = edges(bits);
        for mode in [Mode::Signed, Mode::SignedCopied] {
            let values = [lo, lo + 1, -1, 0, hi - 1, hi];
            let values: Vec<i64> = values
                .into_iter()
                .filter(|v| (lo..=hi).contains(v))
                .collect();
            assert_eq!(run(&values, bits, mode), Ok(()), "bits {bits} {mode:?}");
        }
    }
}

#[test]
fn range_unsigned_edges_are_accepted() {
    for bits in [0, 1, 7, 8, 9, 16, 62] {
        let max = if bits == 0 { 0 } else { (1i64 << bits) - 1 };
        assert_eq!(
            run(&[0, max / 2, max], bits, Mode::Unsigned),
            Ok(()),
            "bits {bits}"
        );
    }
}

#[test]
fn range_signed_value_just_above_max_is_rejected() {
    for bits in [1, 8, 9, 16] {
        let (_, hi) = edges(bits);
        for mode in [Mode::Signed, Mode::SignedCopied] {
            assert_fails_with(
                run(&[hi + 1], bits, mode),
                LOOKUPS,
                &[LookupRangeConfig::LOOKUP],
            );
        }
    }
}

#[test]
fn range_signed_value_just_below_min_is_rejected() {
    for bits in [1, 8, 9, 16] {
        let (lo, _) = edges(bits);
        assert_fails_with(
            run(&[lo - 1], bits, Mode::Signed),
            LOOKUPS,
            &[LookupRangeConfig::LOOKUP],
        );
    }
}

#[test]
fn range_unsigned_value_just_outside_is_rejected() {
    for bits in [0, 1, 8, 9, 16] {
        assert_fails_with(
            run(&[1i64 << bits], bits, Mode::Unsigned),
            LOOKUPS,
            &[LookupRangeConfig::LOOKUP],
        );
    }
}

#[test]
fn range_unsigned_negative_value_is_rejected() {
    // -1 is p - 1 in the field: the top limb becomes a ~254-bit number.
    assert_fails_with(
        run(&[-1], 16, Mode::Unsigned),
        LOOKUPS,
        &[LookupRangeConfig::LOOKUP],
    );
}

#[test]
fn range_field_wrapped_value_is_rejected() {
    // A value congruent to a small one only after adding the modulus cannot pass: p - 2^20.
    assert_fails_with(
        run(&[-(1 << 20)], 32, Mode::Unsigned),
        LOOKUPS,
        &[LookupRangeConfig::LOOKUP],
    );
}

/// A hand-written decomposition of `x` into `limbs`, with running sums `zs` (`zs[0]` is `x`).
#[derive(Clone, Debug, Default)]
struct Forged {
    x: i64,
    zs: Vec<i64>,
    limbs: Vec<i64>,
    widths: Vec<u32>,
    offset: i64,
}

impl Circuit<Fp> for Forged {
    type Config = LookupRangeConfig;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self::default()
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> Self::Config {
        configure_range(meta)
    }

    fn synthesize(&self, c: Self::Config, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        c.table().load(&mut layouter)?;
        layouter.assign_region(
            || "forged range check",
            |mut region| {
                for (r, width) in self.widths.iter().enumerate() {
                    let k = |v: i64| Value::known(felt::<Fp>(v));
                    let z = if r == 0 { self.x } else { self.zs[r] };
                    region.assign_advice(|| "z", c.z, r, || k(z))?;
                    region.assign_advice(|| "limb", c.limb, r, || k(self.limbs[r]))?;
                    region.assign_fixed(|| "tag", c.tag, r, || k(i64::from(*width)))?;
                    region.assign_fixed(|| "radix", c.radix, r, || k(1 << width))?;
                    let off = if r == 0 { self.offset } else { 0 };
                    region.assign_fixed(|| "offset", c.offset, r, || k(off))?;
                    c.q_limb.enable(&mut region, r)?;
                    if r + 1 == self.widths.len() {
                        c.q_last.enable(&mut region, r)?;
                    } else {
                        c.q_step.enable(&mut region, r)?;
                    }
                }
                Ok(())
            },
        )
    }
}

fn run_forged(f: Forged) -> Result<(), Vec<halo2_proofs::dev::VerifyFailure>> {
    MockProver::run(K, &f, vec![])
        .unwrap_or_else(|e| panic!("synthesis failed: {e:?}"))
        .verify()
}

#[test]
fn range_honest_hand_decomposition_is_accepted() {
    // 9-bit signed: x = -3, x + 256 = 253 = low 253 (8 bits), sign 0.
    let f = Forged {
        x: -3,
        zs: vec![-3, 0],
        limbs: vec![253, 0],
        widths: vec![8, 1],
        offset: 256,
    };
    assert_eq!(run_forged(f), Ok(()));
}

#[test]
fn range_sign_bit_claimed_nonnegative_for_negative_is_rejected() {
    // x = -3 with sign bit 1 needs low = -3 (p - 3): the limb leaves the table.
    let f = Forged {
        x: -3,
        zs: vec![-3, 1],
        limbs: vec![-3, 1],
        widths: vec![8, 1],
        offset: 256,
    };
    assert_fails_with(run_forged(f), LOOKUPS, &[LookupRangeConfig::LOOKUP]);
}

#[test]
fn range_sign_of_zero_is_not_free() {
    // x = 0 claimed negative: low would have to be 256, one past the 8-bit limb.
    let f = Forged {
        x: 0,
        zs: vec![0, 0],
        limbs: vec![256, 0],
        widths: vec![8, 1],
        offset: 256,
    };
    assert_fails_with(run_forged(f), LOOKUPS, &[LookupRangeConfig::LOOKUP]);
}

#[test]
fn range_sign_bit_of_two_is_rejected() {
    let f = Forged {
        x: 300,
        zs: vec![300, 2],
        limbs: vec![44, 2],
        widths: vec![8, 1],
        offset: 256,
    };
    assert_fails_with(run_forged(f), LOOKUPS, &[LookupRangeConfig::LOOKUP]);
}

#[test]
fn range_running_sum_step_mismatch_names_the_step_constraint() {
    let f = Forged {
        x: 1001,
        zs: vec![1001, 4],
        limbs: vec![233, 4],
        widths: vec![8, 8],
        offset: 0,
    };
    assert_fails_with(run_forged(f), LOOKUPS, &[LookupRangeConfig::STEP]);
}

#[test]
fn range_last_limb_mismatch_names_the_last_constraint() {
    let f = Forged {
        x: 1001,
        zs: vec![1001, 3],
        limbs: vec![233, 4],
        widths: vec![8, 8],
        offset: 0,
    };
    assert_fails_with(run_forged(f), LOOKUPS, &[LookupRangeConfig::LAST]);
}
