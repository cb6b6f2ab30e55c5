//! The shared range table and the running-sum range check built on it.
//!
//! # Purpose
//! Prove `0 <= x < 2^n` (unsigned) or `-2^(n-1) <= x < 2^(n-1)` (signed) for cells that a
//! prover supplied. Every other chip's soundness rests on this one: quotients, remainders,
//! inputs and outputs all pass through it. A signed check also yields the *sign bit*
//! (`1` iff `x >= 0`), which [`crate::relu::ReluChip`] uses.
//!
//! # Layout
//! One decomposition of `x` into limbs `l_0 .. l_{L-1}` of widths `t_0 .. t_{L-1}`, two limbs
//! per row (two *lanes*, each with its own lookup):
//!
//! ```text
//! | z       | limb_0  | out_0 | limb_1  | out_1 | tag_0 | tag_1 | shift | radix       | offset | q_step | q_last |
//! |---------|---------|-------|---------|-------|-------|-------|-------|-------------|--------|--------|--------|
//! | x       | l_0     | top   | l_1     | top   | t_0   | t_1   | 2^t_0 | 2^(t_0+t_1) | c      | 1      | 0      |
//! | z_1     | l_2     | top   | l_3     | top   | t_2   | t_3   | 2^t_2 | 2^(t_2+t_3) | 0      | 1      | 0      |
//! | ...     |         |       |         |       |       |       |       |             |        |        |        |
//! | z_last  | l_{L-2} | top   | l_{L-1} | top   |       |       |       |             | 0      | 0      | 1      |
//! ```
//!
//! (`q_limb` is on in every row; an odd count leaves the last row's lane 1 a zero-width limb.)
//! Widths are `8, 8, …, n mod 8` for `n` bits (`n = 0` is one limb of width 0). An unsigned
//! check decomposes `x` (`c = 0`); a signed check of `n` bits decomposes `x + 2^(n-1)` as `n`
//! unsigned bits (`c = 2^(n-1)`), and the *top bit* of the top limb, which the table returns
//! in that lane's `out`, is the sign bit.
//!
//! # Constraints
//! - `q_step · (z + offset − limb_0 − shift · limb_1 − radix · z_next) = 0`
//!   ("z + offset = limb_0 + shift * limb_1 + radix * z_next")
//! - `q_last · (z + offset − limb_0 − shift · limb_1) = 0` ("z + offset = last limbs")
//! - per lane `j`, lookup `(q_limb · tag_j, q_limb · limb_j, q_limb · out_j) ∈ {(t, v, v >> (t−1))
//!   : 1 <= t <= 8, 0 <= v < 2^t} ∪ {(0, 0, 0)} ∪ {function rows}` ("range limb in table,
//!   lane j"). The function rows (tags above 8, see [`crate::function`]) share these lookups.
//!
//! # Soundness
//! Each limb is an integer in `[0, 2^t_i)` by the lookup, so the running sum proves
//! `x + c = Σ l_i · 2^(t_0 + … + t_{i-1})` as an identity of *integers*: the right-hand side is
//! below `2^n <= 2^62`, far below the field modulus (`~2^254`), so no multiple of `p` can
//! hide in it. Hence `x ≡ s − c` for an integer `s ∈ [0, 2^n)`, and `s` has exactly one
//! decomposition, so each `out` is a function of `x`. For the signed check the top limb's
//! `out` is bit `n − 1` of `s = x + 2^(n-1)`: `1` iff `x >= 0`. The sign of zero is not free:
//! `x = 0` gives `s = 2^(n-1)`, whose top bit is `1`.
//!
//! # Side effects
//! `z`, the limbs and the outs are equality-enabled (inputs are copied into `z`; the sign bit
//! is copied out of an `out`; [`crate::function`] copies into limbs and out of outs). The
//! table must be loaded once per circuit with [`RangeTableConfig::load`]. The all-zero tuple
//! that a disabled `q_limb` produces is the table row `(0, 0, 0)`.
//!
//! # Panics
//! If asked for more than [`MAX_RANGE_BITS`] bits (a static misuse).
//!
//! # Cost
//! `max(1, ceil(ceil(n / 8) / 2))` rows for `n` bits, signed or unsigned (one row up to 16
//! bits), two lookups per row.

use ff::PrimeField;
use halo2_proofs::{
    circuit::{Layouter, Region, Value},
    plonk::{Advice, Column, ConstraintSystem, Error, Fixed, Selector, TableColumn, VirtualCells},
    poly::Rotation,
};

pub use crate::cells::{Sign, SignedCell, UnsignedCell};
use crate::value::{low_u64, pow2};
use crate::Cell;

/// Width of one limb, and so the size of the table: `2^(LIMB_BITS + 1) - 1` rows.
pub const LIMB_BITS: u32 = 8;

/// The widest range this chip checks. Far below the field size so that sums of limbs never
/// wrap around the modulus, and so values fit in `i64` in the integer forward pass.
pub const MAX_RANGE_BITS: u32 = 62;

/// The lookup table `{(t, v) : 0 <= t <= LIMB_BITS, 0 <= v < 2^t}`, shared by every gadget.
#[derive(Clone, Copy, Debug)]
pub struct RangeTableConfig {
    tag: TableColumn,
    value: TableColumn,
    output: TableColumn,
}

/// A function tabulated over a finite domain, appended to the shared table under its own
/// tag (see [`crate::function`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionTable<F: PrimeField> {
    /// The tag, at least [`FIRST_FUNCTION_TAG`] and distinct from other functions'.
    pub tag: u64,
    /// `(input, output)` pairs.
    pub entries: Vec<(F, F)>,
}

/// Tags `0..=LIMB_BITS` are limb widths; functions take the tags after them.
pub const FIRST_FUNCTION_TAG: u64 = LIMB_BITS as u64 + 1;

impl RangeTableConfig {
    /// Rows of the range part; the circuit's `2^k` must exceed this (plus function rows and
    /// blinding rows).
    pub const ROWS: usize = (1 << (LIMB_BITS + 1)) - 1;

    /// Allocates the three table columns.
    pub fn configure<F: PrimeField>(meta: &mut ConstraintSystem<F>) -> Self {
        Self {
            tag: meta.lookup_table_column(),
            value: meta.lookup_table_column(),
            output: meta.lookup_table_column(),
        }
    }

    /// Fills the range part only. Call once per synthesis.
    pub fn load<F: PrimeField>(&self, layouter: &mut impl Layouter<F>) -> Result<(), Error> {
        self.load_with(layouter, &[])
    }

    /// Fills the table: `(t, v, top_bit(t, v))` for every limb width `t <= LIMB_BITS` and
    /// `v < 2^t`, then `(tag, x, f(x))` for every function entry. Row `(0, 0, 0)` is the
    /// tuple a disabled selector looks up, and it means "a zero-width limb of value 0":
    /// harmless.
    pub fn load_with<F: PrimeField>(
        &self,
        layouter: &mut impl Layouter<F>,
        functions: &[FunctionTable<F>],
    ) -> Result<(), Error> {
        layouter.assign_table(
            || "range and function table",
            |mut table| {
                let mut row = 0;
                let mut put = |tag: F, v: F, out: F| -> Result<(), Error> {
                    table.assign_cell(|| "tag", self.tag, row, || Value::known(tag))?;
                    table.assign_cell(|| "value", self.value, row, || Value::known(v))?;
                    table.assign_cell(|| "output", self.output, row, || Value::known(out))?;
                    row += 1;
                    Ok(())
                };
                for tag in 0..=LIMB_BITS {
                    for v in 0..(1u64 << tag) {
                        put(
                            F::from(u64::from(tag)),
                            F::from(v),
                            F::from(top_bit_of(tag, v)),
                        )?;
                    }
                }
                for f in functions {
                    assert!(
                        f.tag >= FIRST_FUNCTION_TAG,
                        "function tag {} is a limb tag",
                        f.tag
                    );
                    for (x, y) in &f.entries {
                        put(F::from(f.tag), *x, *y)?;
                    }
                }
                Ok(())
            },
        )
    }
}

/// Bit `t − 1` of a `t`-bit limb `v` (0 for a zero-width limb): the table's output on range
/// rows.
fn top_bit_of(t: u32, v: u64) -> u64 {
    if t == 0 {
        0
    } else {
        (v >> (t - 1)) & 1
    }
}

/// Limbs per row: each lane is a limb column, an output column and a tag, with its own lookup.
pub const LANES: usize = 2;

/// Columns and selectors of the running-sum range check.
#[derive(Clone, Debug)]
pub struct LookupRangeConfig {
    pub(crate) z: Column<Advice>,
    pub(crate) limbs: [Column<Advice>; LANES],
    pub(crate) outs: [Column<Advice>; LANES],
    pub(crate) tags: [Column<Fixed>; LANES],
    shift: Column<Fixed>,
    radix: Column<Fixed>,
    offset: Column<Fixed>,
    q_step: Selector,
    q_last: Selector,
    pub(crate) q_limb: Selector,
    table: RangeTableConfig,
}

impl LookupRangeConfig {
    /// Name of the gate, as MockProver failures print it.
    pub const GATE: &'static str = "range running sum";
    /// Name of the gate on the last row.
    pub const LAST_GATE: &'static str = "range last limbs";
    /// Name of the step constraint.
    pub const STEP: &'static str = "z + offset = limb_0 + shift * limb_1 + radix * z_next";
    /// Name of the last-row constraint.
    pub const LAST: &'static str = "z + offset = last limbs";
    /// What every lane's lookup name starts with (halo2 0.4 does not name lookups; these
    /// are ours).
    pub const LOOKUP: &'static str = "range limb in table";
    /// Every gate constraint, as `(gate, constraint)` names: what the coverage test expects
    /// a malicious test to break (with the lookups, [`Self::LOOKUP_NAMES`]).
    pub const CONSTRAINTS: &'static [(&'static str, &'static str)] =
        &[(Self::GATE, Self::STEP), (Self::LAST_GATE, Self::LAST)];
    /// The lookups' names, in creation order.
    pub const LOOKUP_NAMES: [&'static str; LANES] =
        ["range limb in table, lane 0", "range limb in table, lane 1"];

    /// Creates the gates and the lookups over caller-allocated columns: advice
    /// `[z, limb_0, out_0, limb_1, out_1]` (all become equality-enabled; `out` carries
    /// function outputs and sign bits) and fixed `[tag_0, tag_1, shift, radix, offset]`.
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        advice: [Column<Advice>; 5],
        fixed: [Column<Fixed>; 5],
        table: RangeTableConfig,
    ) -> Self {
        let [z, limb_0, out_0, limb_1, out_1] = advice;
        let [tag_0, tag_1, shift, radix, offset] = fixed;
        for column in advice {
            meta.enable_equality(column);
        }
        let q_step = meta.selector();
        let q_last = meta.selector();
        let q_limb = meta.complex_selector();

        // z + offset − limb_0 − shift · limb_1: what the row's limbs leave over.
        let rest = |meta: &mut VirtualCells<'_, F>| {
            meta.query_advice(z, Rotation::cur()) + meta.query_fixed(offset)
                - meta.query_advice(limb_0, Rotation::cur())
                - meta.query_fixed(shift) * meta.query_advice(limb_1, Rotation::cur())
        };
        meta.create_gate(Self::GATE, |meta| {
            let q_step = meta.query_selector(q_step);
            let rest = rest(meta);
            let z_next = meta.query_advice(z, Rotation::next());
            let radix = meta.query_fixed(radix);
            vec![(Self::STEP, q_step * (rest - radix * z_next))]
        });
        meta.create_gate(Self::LAST_GATE, |meta| {
            let q_last = meta.query_selector(q_last);
            vec![(Self::LAST, q_last * rest(meta))]
        });

        for (tag, limb, out) in [(tag_0, limb_0, out_0), (tag_1, limb_1, out_1)] {
            meta.lookup(|meta| {
                let q = meta.query_selector(q_limb);
                let tag = meta.query_fixed(tag);
                let limb = meta.query_advice(limb, Rotation::cur());
                let out = meta.query_advice(out, Rotation::cur());
                vec![
                    (q.clone() * tag, table.tag),
                    (q.clone() * limb, table.value),
                    (q * out, table.output),
                ]
            });
        }

        Self {
            z,
            limbs: [limb_0, limb_1],
            outs: [out_0, out_1],
            tags: [tag_0, tag_1],
            shift,
            radix,
            offset,
            q_step,
            q_last,
            q_limb,
            table,
        }
    }

    /// The shared table, for loading.
    pub fn table(&self) -> RangeTableConfig {
        self.table
    }
}

/// Range checks on cells.
pub trait RangeInstructions<F: PrimeField> {
    /// Assigns `values` and proves each in the signed range of `bits` bits.
    fn witness_signed(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        values: &[Value<F>],
        bits: u32,
    ) -> Result<Vec<SignedCell<F>>, Error>;

    /// Copies `cells` in and proves each in the signed range of `bits` bits.
    fn check_signed(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        cells: &[Cell<F>],
        bits: u32,
    ) -> Result<Vec<SignedCell<F>>, Error>;

    /// Copies `cells` in and proves each in `[0, 2^bits)`.
    fn check_unsigned(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        cells: &[Cell<F>],
        bits: u32,
    ) -> Result<Vec<UnsignedCell<F>>, Error>;

    /// Copies `cells` in and proves each in `[0, bound)` for any `bound >= 1`: with
    /// `b = ceil(log2 bound)`, both `x` and `x + 2^b − bound` lie in `[0, 2^b)` (the second
    /// check is skipped when `bound` is a power of two). Both sides are checked: a value of
    /// `bound` or `-1` fails.
    fn check_below(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        cells: &[Cell<F>],
        bound: u64,
    ) -> Result<Vec<UnsignedCell<F>>, Error>;
}

/// The running-sum range check over the shared lookup table.
#[derive(Clone, Debug)]
pub struct LookupRangeChip<F: PrimeField> {
    config: LookupRangeConfig,
    _field: std::marker::PhantomData<F>,
}

/// Where the value being decomposed comes from.
#[derive(Clone, Copy)]
enum Source<'a, F: PrimeField> {
    Copy(&'a Cell<F>),
    Witness(Value<F>),
}

/// The decomposition's first cell and the top bit of its top limb.
struct Decomposed<F: PrimeField> {
    z0: Cell<F>,
    top_bit: Cell<F>,
}

impl<F: PrimeField> LookupRangeChip<F> {
    /// A chip over a configured range check.
    pub fn construct(config: LookupRangeConfig) -> Self {
        Self {
            config,
            _field: std::marker::PhantomData,
        }
    }

    /// Rows one unsigned check of `bits` bits occupies.
    pub fn unsigned_rows(bits: u32) -> usize {
        limb_widths(bits).len().div_ceil(LANES).max(1)
    }

    /// Rows one signed check of `bits` bits occupies.
    pub fn signed_rows(bits: u32) -> usize {
        Self::unsigned_rows(bits)
    }

    /// Rows one [`RangeInstructions::check_below`] of `bound` occupies.
    pub fn below_rows(bound: u64) -> usize {
        let rows = Self::unsigned_rows(bits_below(bound));
        if bound.is_power_of_two() {
            rows
        } else {
            2 * rows
        }
    }

    fn decompose_all(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        sources: &[Source<'_, F>],
        offset: F,
        bits: u32,
    ) -> Result<Vec<Decomposed<F>>, Error> {
        let rows = row_widths(bits);
        layouter.assign_region(
            || format!("range check {name}"),
            |mut region| {
                sources
                    .iter()
                    .enumerate()
                    .map(|(i, source)| {
                        self.decompose(&mut region, i * rows.len(), *source, offset, &rows)
                    })
                    .collect()
            },
        )
    }

    /// Decomposes one value over `rows.len()` rows starting at `row`.
    fn decompose(
        &self,
        region: &mut Region<'_, F>,
        row: usize,
        source: Source<'_, F>,
        offset: F,
        rows: &[[u32; LANES]],
    ) -> Result<Decomposed<F>, Error> {
        let c = &self.config;
        let z0 = match source {
            Source::Copy(cell) => cell.copy_advice(|| "z", region, c.z, row)?,
            Source::Witness(v) => region.assign_advice(|| "z", c.z, row, || v)?,
        };
        let fixed = |region: &mut Region<'_, F>, column, r, v: F| {
            region.assign_fixed(|| "range fixed", column, r, || Value::known(v))
        };
        // `rest` is the integer still to decompose: (x + offset - lower limbs) / 2^(lower widths).
        let mut rest = z0.value().copied() + Value::known(offset);
        let mut top_bit = None;
        for (i, &[t0, t1]) in rows.iter().enumerate() {
            let r = row + i;
            let is_last = i + 1 == rows.len();
            fixed(region, c.tags[0], r, F::from(u64::from(t0)))?;
            fixed(region, c.tags[1], r, F::from(u64::from(t1)))?;
            fixed(region, c.shift, r, pow2(t0))?;
            fixed(region, c.radix, r, pow2(t0 + t1))?;
            fixed(region, c.offset, r, if i == 0 { offset } else { F::ZERO })?;
            if i > 0 {
                region.assign_advice(|| "z", c.z, r, || rest)?;
            }
            c.q_limb.enable(region, r)?;
            // The top limb takes all that is left, so an out-of-range value fails the lookup
            // (not a gate): the running sum itself always balances.
            let low = |v: &F, t: u32| F::from(low_u64(v) & ((1u64 << t) - 1));
            let l0 = if is_last && t1 == 0 {
                rest
            } else {
                rest.map(|v| low(&v, t0))
            };
            let above = (rest - l0) * Value::known(F::TWO_INV.pow_vartime([u64::from(t0)]));
            let l1 = if is_last {
                above
            } else {
                above.map(|v| low(&v, t1))
            };
            let mut outs = Vec::with_capacity(LANES);
            for (lane, (limb, width)) in [(l0, t0), (l1, t1)].into_iter().enumerate() {
                region.assign_advice(|| "limb", c.limbs[lane], r, || limb)?;
                let top = limb.map(|v| F::from(top_bit_of(width, low_u64(&v))));
                outs.push(region.assign_advice(|| "out", c.outs[lane], r, || top)?);
            }
            if is_last {
                c.q_last.enable(region, r)?;
                top_bit = outs.into_iter().nth(if t1 == 0 { 0 } else { 1 });
            } else {
                c.q_step.enable(region, r)?;
                rest = (above - l1) * Value::known(F::TWO_INV.pow_vartime([u64::from(t1)]));
            }
        }
        let top_bit = top_bit.ok_or(Error::Synthesis)?;
        Ok(Decomposed { z0, top_bit })
    }

    fn signed(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        sources: &[Source<'_, F>],
        bits: u32,
    ) -> Result<Vec<SignedCell<F>>, Error> {
        assert!(
            (1..=MAX_RANGE_BITS).contains(&bits),
            "signed range of {bits} bits"
        );
        let rows = self.decompose_all(layouter, name, sources, pow2(bits - 1), bits)?;
        Ok(rows
            .into_iter()
            .map(|d| SignedCell::proven(d.z0, Sign::Bit(d.top_bit), bits))
            .collect())
    }
}

impl<F: PrimeField> RangeInstructions<F> for LookupRangeChip<F> {
    fn witness_signed(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        values: &[Value<F>],
        bits: u32,
    ) -> Result<Vec<SignedCell<F>>, Error> {
        let sources: Vec<_> = values.iter().map(|v| Source::Witness(*v)).collect();
        self.signed(layouter, name, &sources, bits)
    }

    fn check_signed(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        cells: &[Cell<F>],
        bits: u32,
    ) -> Result<Vec<SignedCell<F>>, Error> {
        let sources: Vec<_> = cells.iter().map(Source::Copy).collect();
        self.signed(layouter, name, &sources, bits)
    }

    fn check_unsigned(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        cells: &[Cell<F>],
        bits: u32,
    ) -> Result<Vec<UnsignedCell<F>>, Error> {
        assert!(bits <= MAX_RANGE_BITS, "unsigned range of {bits} bits");
        let sources: Vec<_> = cells.iter().map(Source::Copy).collect();
        let rows = self.decompose_all(layouter, name, &sources, F::ZERO, bits)?;
        Ok(rows
            .into_iter()
            .map(|d| UnsignedCell::proven(d.z0, bits))
            .collect())
    }

    fn check_below(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        cells: &[Cell<F>],
        bound: u64,
    ) -> Result<Vec<UnsignedCell<F>>, Error> {
        assert!(bound >= 1, "empty range [0, 0)");
        let bits = bits_below(bound);
        let checked = self.check_unsigned(layouter, name, cells, bits)?;
        if !bound.is_power_of_two() {
            let sources: Vec<_> = cells.iter().map(Source::Copy).collect();
            let offset = pow2::<F>(bits) - F::from(bound);
            self.decompose_all(layouter, &format!("{name} upper"), &sources, offset, bits)?;
        }
        Ok(checked)
    }
}

/// `ceil(log2 bound)`: the width whose unsigned range `[0, 2^b)` first covers `[0, bound)`.
pub fn bits_below(bound: u64) -> u32 {
    64 - bound.saturating_sub(1).leading_zeros()
}

/// Limb widths covering `bits` bits: full limbs, then the remainder; empty for zero bits.
fn limb_widths(bits: u32) -> Vec<u32> {
    let mut widths = vec![LIMB_BITS; (bits / LIMB_BITS) as usize];
    if !bits.is_multiple_of(LIMB_BITS) {
        widths.push(bits % LIMB_BITS);
    }
    widths
}

/// The limb widths of `bits` bits packed into rows of [`LANES`], lowest first; an odd count
/// leaves a zero-width lane in the last row, and zero bits is one row of zero-width lanes.
fn row_widths(bits: u32) -> Vec<[u32; LANES]> {
    let widths = limb_widths(bits);
    let mut rows: Vec<[u32; LANES]> = widths
        .chunks(LANES)
        .map(|c| [c[0], c.get(1).copied().unwrap_or(0)])
        .collect();
    if rows.is_empty() {
        rows.push([0, 0]);
    }
    rows
}

#[cfg(test)]
#[path = "range_tests.rs"]
pub(crate) mod tests;
