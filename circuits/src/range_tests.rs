use super::*;
use crate::dev::assert_fails_with;
use crate::testing::{malicious_tests, Target, Verdict};
use crate::value::felt;
use halo2_proofs::{
    circuit::SimpleFloorPlanner,
    dev::MockProver,
    plonk::{Circuit, ConstraintSystem},
};
use pasta_curves::Fp;

const K: u32 = 10;
const LOOKUPS: &[&str] = &LookupRangeConfig::LOOKUP_NAMES;
const LANE_0: &str = LookupRangeConfig::LOOKUP_NAMES[0];
const LANE_1: &str = LookupRangeConfig::LOOKUP_NAMES[1];

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
    /// Filled by synthesis: the proven width of every returned cell.
    widths: std::cell::RefCell<Vec<u32>>,
}

fn configure_range(meta: &mut ConstraintSystem<Fp>) -> LookupRangeConfig {
    let advice = [(); 5].map(|_| meta.advice_column());
    let fixed = [(); 5].map(|_| meta.fixed_column());
    let table = RangeTableConfig::configure(meta);
    LookupRangeConfig::configure(meta, advice, fixed, table)
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
        let widths: Vec<u32> = match self.mode {
            Mode::Signed => chip
                .witness_signed(&mut layouter, "x", &values, self.bits)?
                .iter()
                .map(SignedCell::bits)
                .collect(),
            Mode::SignedCopied => chip
                .check_signed(&mut layouter, "x", &cells, self.bits)?
                .iter()
                .map(SignedCell::bits)
                .collect(),
            Mode::Unsigned => chip
                .check_unsigned(&mut layouter, "x", &cells, self.bits)?
                .iter()
                .map(UnsignedCell::bits)
                .collect(),
        };
        *self.widths.borrow_mut() = widths;
        Ok(())
    }
}

fn run(values: &[i64], bits: u32, mode: Mode) -> Result<(), Vec<halo2_proofs::dev::VerifyFailure>> {
    let circuit = Fixture {
        values: values.to_vec(),
        bits,
        mode,
        ..Fixture::default()
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

/// One hand-written row: the running sum `z`, and per lane the limb, its claimed top bit and
/// its width.
#[derive(Clone, Copy, Debug, Default)]
struct Row {
    z: i64,
    limbs: [i64; 2],
    outs: [i64; 2],
    widths: [u32; 2],
}

/// A hand-written decomposition; `rows[0].z` is the value checked.
#[derive(Clone, Debug, Default)]
struct Forged {
    rows: Vec<Row>,
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
                let k = |v: i64| Value::known(felt::<Fp>(v));
                for (r, row) in self.rows.iter().enumerate() {
                    let [t0, t1] = row.widths;
                    region.assign_advice(|| "z", c.z, r, || k(row.z))?;
                    for lane in 0..LANES {
                        region.assign_advice(|| "limb", c.limbs[lane], r, || k(row.limbs[lane]))?;
                        region.assign_advice(|| "out", c.outs[lane], r, || k(row.outs[lane]))?;
                        let tag = i64::from(row.widths[lane]);
                        region.assign_fixed(|| "tag", c.tags[lane], r, || k(tag))?;
                    }
                    region.assign_fixed(|| "shift", c.shift, r, || k(1 << t0))?;
                    region.assign_fixed(|| "radix", c.radix, r, || k(1 << (t0 + t1)))?;
                    let off = if r == 0 { self.offset } else { 0 };
                    region.assign_fixed(|| "offset", c.offset, r, || k(off))?;
                    c.q_limb.enable(&mut region, r)?;
                    if r + 1 == self.rows.len() {
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

fn run_forged(f: Forged) -> Verdict {
    MockProver::run(K, &f, vec![])
        .unwrap_or_else(|e| panic!("synthesis failed: {e:?}"))
        .verify()
}

/// 9-bit signed `x`: `x + 256` as an 8-bit limb and a 1-bit top limb whose out is the sign.
fn signed9(x: i64, limbs: [i64; 2], outs: [i64; 2]) -> Forged {
    Forged {
        rows: vec![Row {
            z: x,
            limbs,
            outs,
            widths: [8, 1],
        }],
        offset: 256,
    }
}

#[test]
fn range_honest_hand_decomposition_is_accepted() {
    // x = -3: x + 256 = 253 = 253 + 256 · 0; top bits 1 (of 253 in 8 bits) and 0 (the sign).
    assert_eq!(run_forged(signed9(-3, [253, 0], [1, 0])), Ok(()));
    // x = 0: 256 = 0 + 256 · 1, sign 1.
    assert_eq!(run_forged(signed9(0, [0, 1], [0, 1])), Ok(()));
}

#[test]
fn range_sign_bit_claimed_nonnegative_for_negative_is_rejected() {
    // x = -3 with sign out 1 over the honest limb 0: (1, 0, 1) is not in the table.
    assert_fails_with(
        run_forged(signed9(-3, [253, 0], [1, 1])),
        LOOKUPS,
        &[LANE_1],
    );
    // ... or over a limb of 1, which needs low = -3 (p - 3): that limb leaves the table.
    assert_fails_with(run_forged(signed9(-3, [-3, 1], [0, 1])), LOOKUPS, &[LANE_0]);
}

#[test]
fn range_sign_of_zero_is_not_free() {
    // x = 0 claimed negative: either the out lies about the top limb 1 ...
    assert_fails_with(run_forged(signed9(0, [0, 1], [0, 0])), LOOKUPS, &[LANE_1]);
    // ... or low would have to be 256, one past the 8-bit limb.
    assert_fails_with(run_forged(signed9(0, [256, 0], [1, 0])), LOOKUPS, &[LANE_0]);
}

/// The top bit of 253 in 8 bits is 1; claiming 0 leaves the table.
fn low_limb_out_forged() -> Verdict {
    run_forged(signed9(-3, [253, 0], [0, 0]))
}

/// 300 is past the 9-bit signed range: 556 = 44 + 256 · 2, and 2 is not a 1-bit limb.
fn sign_limb_of_two() -> Verdict {
    run_forged(signed9(300, [44, 2], [0, 1]))
}

/// 32-bit unsigned 70000 = 0x0001_1170 over two rows: limbs 0x70, 0x11 | `z_1`, 0.
fn unsigned32(z1: i64, last: i64) -> Forged {
    let row = |z, limbs: [i64; 2]| Row {
        z,
        limbs,
        outs: limbs.map(|l| (l >> 7) & 1),
        widths: [8, 8],
    };
    Forged {
        rows: vec![row(70000, [0x70, 0x11]), row(z1, [last, 0])],
        offset: 0,
    }
}

#[test]
fn range_two_row_hand_decomposition_is_accepted() {
    assert_eq!(run_forged(unsigned32(1, 1)), Ok(()));
}

/// `z_1` forged to 2 (its last limb follows): 70000 is not 0x1170 + 2^16 · 2.
fn running_sum_step_forged() -> Verdict {
    run_forged(unsigned32(2, 2))
}

/// The last limb forged to 2 under the honest `z_1 = 1`.
fn last_limb_forged() -> Verdict {
    run_forged(unsigned32(1, 2))
}

malicious_tests! {
    range_out_of_a_low_limb_is_forced_too:
        low_limb_out_forged => Target::Lookup(LANE_0);
    range_sign_bit_of_two_is_rejected:
        sign_limb_of_two => Target::Lookup(LANE_1);
    range_running_sum_step_mismatch_names_the_step_constraint:
        running_sum_step_forged
            => Target::Constraint(LookupRangeConfig::GATE, LookupRangeConfig::STEP);
    range_last_limb_mismatch_names_the_last_constraint:
        last_limb_forged
            => Target::Constraint(LookupRangeConfig::LAST_GATE, LookupRangeConfig::LAST);
}

#[test]
fn range_rows_pack_two_limbs() {
    assert_eq!(LookupRangeChip::<Fp>::signed_rows(16), 1);
    assert_eq!(LookupRangeChip::<Fp>::signed_rows(17), 2);
    assert_eq!(LookupRangeChip::<Fp>::unsigned_rows(0), 1);
    assert_eq!(LookupRangeChip::<Fp>::unsigned_rows(32), 2);
    assert_eq!(LookupRangeChip::<Fp>::unsigned_rows(62), 4);
}

#[test]
fn range_table_rows_count_what_load_fills() {
    // `ROWS` is what the layout reserves for the table: one row per `(t, v)` with
    // `0 <= t <= LIMB_BITS` and `0 <= v < 2^t`, as `load` fills it.
    let filled: usize = (0..=LIMB_BITS).map(|t| 1usize << t).sum();
    assert_eq!(RangeTableConfig::ROWS, filled);
    assert_eq!(RangeTableConfig::ROWS, 511);
}

#[test]
fn range_checked_cells_carry_the_proven_width() {
    for (mode, bits) in [
        (Mode::Signed, 9),
        (Mode::SignedCopied, 17),
        (Mode::Unsigned, 12),
    ] {
        let circuit = Fixture {
            values: vec![0, 1, 100],
            bits,
            mode,
            ..Fixture::default()
        };
        assert_eq!(
            MockProver::run(K, &circuit, vec![])
                .map(|p| p.verify())
                .ok(),
            Some(Ok(()))
        );
        assert_eq!(*circuit.widths.borrow(), vec![bits; 3], "{mode:?}");
    }
}

#[test]
fn range_rows_of_a_bound_count_both_sides() {
    // A power of two needs only the lower check; any other bound adds the upper one.
    assert_eq!(LookupRangeChip::<Fp>::below_rows(16), 1);
    assert_eq!(LookupRangeChip::<Fp>::below_rows(6), 2);
    // 2^40 + 1 needs 41 bits: six limbs, three rows, twice.
    assert_eq!(LookupRangeChip::<Fp>::below_rows((1 << 40) + 1), 6);
}
