//! The shared range table and the running-sum range check built on it.
//!
//! # Purpose
//! Prove `0 <= x < 2^n` (unsigned) or `-2^(n-1) <= x < 2^(n-1)` (signed) for cells that a
//! prover supplied. Every other chip's soundness rests on this one: quotients, remainders,
//! inputs and outputs all pass through it. A signed check also yields the *sign bit*
//! (`1` iff `x >= 0`), which [`crate::relu::ReluChip`] uses.
//!
//! # Layout
//! One decomposition of `x` into limbs `l_0 .. l_{L-1}` of widths `t_0 .. t_{L-1}`:
//!
//! ```text
//! | z       | limb    | tag (f) | radix (f) | offset (f) | q_step | q_last | q_limb |
//! |---------|---------|---------|-----------|------------|--------|--------|--------|
//! | x       | l_0     | t_0     | 2^t_0     | c          | 1      | 0      | 1      |
//! | z_1     | l_1     | t_1     | 2^t_1     | 0          | 1      | 0      | 1      |
//! | ...     |         |         |           |            |        |        |        |
//! | z_{L-1} | l_{L-1} | t_{L-1} | 2^t_{L-1} | 0          | 0      | 1      | 1      |
//! ```
//!
//! Unsigned `n` bits: widths are `8, 8, …, n mod 8` (`c = 0`; `n = 0` is one limb of width 0).
//! Signed `n` bits: the widths of `n - 1` unsigned bits, then one limb of width 1, with
//! `c = 2^(n-1)`; that last limb is the sign bit.
//!
//! # Constraints
//! - `q_step · (z + offset − limb − radix · z_next) = 0` ("z + offset = limb + radix * z_next")
//! - `q_last · (z + offset − limb) = 0` ("z + offset = last limb")
//! - lookup `(q_limb · tag, q_limb · limb, q_limb · out) ∈ {(t, v, 0) : 0 <= t <= 8,
//!   0 <= v < 2^t} ∪ {function rows}` ("range limb in table"). The function rows (tags above
//!   8, see [`crate::function`]) share this one lookup argument; a range row's `out` is
//!   forced to zero by its limb tag.
//!
//! # Soundness
//! Each limb is an integer in `[0, 2^t_i)` by the lookup, so the running sum proves
//! `x + c = Σ l_i · 2^(t_0 + … + t_{i-1})` as an identity of *integers*: the right-hand side is
//! below `2^n <= 2^62`, far below the field modulus (`~2^254`), so no multiple of `p` can
//! hide in it. Hence `x ≡ s − c` for an integer `s ∈ [0, 2^n)`. For the signed check,
//! `x + 2^(n-1) = low + b · 2^(n-1)` with `low < 2^(n-1)` and `b ∈ {0, 1}` has exactly one
//! solution, so the sign of zero is not free: `x = 0` forces `b = 1`.
//!
//! # Side effects
//! `z` and `limb` are equality-enabled (inputs are copied into `z`; the sign bit is copied out
//! of `limb`). The table must be loaded once per circuit with [`RangeTableConfig::load`].
//! The all-zero tuple that a disabled `q_limb` produces is the table row `(0, 0)`.
//!
//! # Panics
//! If asked for more than [`MAX_RANGE_BITS`] bits (a static misuse).
//!
//! # Cost
//! `max(1, ceil(n / 8))` rows for unsigned, `ceil((n - 1) / 8) + 1` for signed, one lookup per row.

use ff::PrimeField;
use halo2_proofs::{
    circuit::{Layouter, Region, Value},
    plonk::{Advice, Column, ConstraintSystem, Error, Fixed, Selector, TableColumn},
    poly::Rotation,
};

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

    /// Fills the table: `(t, v, 0)` for every limb width `t <= LIMB_BITS` and `v < 2^t`,
    /// then `(tag, x, f(x))` for every function entry. Row `(0, 0, 0)` is the tuple a
    /// disabled selector looks up, and it means "a zero-width limb of value 0": harmless.
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
                        put(F::from(u64::from(tag)), F::from(v), F::ZERO)?;
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

/// Columns and selectors of the running-sum range check.
#[derive(Clone, Debug)]
pub struct LookupRangeConfig {
    pub(crate) z: Column<Advice>,
    pub(crate) limb: Column<Advice>,
    pub(crate) out: Column<Advice>,
    pub(crate) tag: Column<Fixed>,
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
    /// Name of the gate on the last limb.
    pub const LAST_GATE: &'static str = "range last limb";
    /// Name of the step constraint.
    pub const STEP: &'static str = "z + offset = limb + radix * z_next";
    /// Name of the last-limb constraint.
    pub const LAST: &'static str = "z + offset = last limb";
    /// Name of the lookup (halo2 0.4 does not name lookups; this is ours).
    pub const LOOKUP: &'static str = "range limb in table";

    /// Creates the gate and the lookup over caller-allocated columns. `z`, `limb` and `out`
    /// become equality-enabled (`out` carries function outputs, see [`crate::function`]; on
    /// range rows the table forces it to zero).
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        [z, limb, out]: [Column<Advice>; 3],
        fixed: [Column<Fixed>; 3],
        table: RangeTableConfig,
    ) -> Self {
        let [tag, radix, offset] = fixed;
        meta.enable_equality(z);
        meta.enable_equality(limb);
        meta.enable_equality(out);
        let q_step = meta.selector();
        let q_last = meta.selector();
        let q_limb = meta.complex_selector();

        meta.create_gate(Self::GATE, |meta| {
            let q_step = meta.query_selector(q_step);
            let z_cur = meta.query_advice(z, Rotation::cur());
            let z_next = meta.query_advice(z, Rotation::next());
            let limb = meta.query_advice(limb, Rotation::cur());
            let radix = meta.query_fixed(radix);
            let offset = meta.query_fixed(offset);
            vec![(
                Self::STEP,
                q_step * (z_cur + offset - limb - radix * z_next),
            )]
        });
        meta.create_gate(Self::LAST_GATE, |meta| {
            let q_last = meta.query_selector(q_last);
            let z_cur = meta.query_advice(z, Rotation::cur());
            let limb = meta.query_advice(limb, Rotation::cur());
            let offset = meta.query_fixed(offset);
            vec![(Self::LAST, q_last * (z_cur + offset - limb))]
        });

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

        Self {
            z,
            limb,
            out,
            tag,
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

/// Whether a signed value is known to be non-negative, and how.
#[derive(Clone, Debug)]
pub enum Sign<F: PrimeField> {
    /// The sign bit from the value's decomposition: `1` iff the value is `>= 0`.
    Bit(Cell<F>),
    /// The value is non-negative by construction (for example a ReLU output).
    NonNegative,
}

/// A cell proven to hold an integer in `[-2^(bits-1), 2^(bits-1))`.
///
/// Only this module and the chips that preserve the range (ReLU) build one.
#[derive(Clone, Debug)]
pub struct SignedCell<F: PrimeField> {
    cell: Cell<F>,
    sign: Sign<F>,
    bits: u32,
}

impl<F: PrimeField> SignedCell<F> {
    /// The cell.
    pub fn cell(&self) -> &Cell<F> {
        &self.cell
    }
    /// The sign evidence.
    pub fn sign(&self) -> &Sign<F> {
        &self.sign
    }
    /// The proven width.
    pub fn bits(&self) -> u32 {
        self.bits
    }
    /// A non-negative cell whose range the caller has proven by other means (a ReLU output,
    /// bounded by its range-checked input).
    pub(crate) fn nonnegative_by_construction(cell: Cell<F>, bits: u32) -> Self {
        Self {
            cell,
            sign: Sign::NonNegative,
            bits,
        }
    }
}

/// A cell proven to hold an integer in `[0, 2^bits)`.
#[derive(Clone, Debug)]
pub struct UnsignedCell<F: PrimeField> {
    cell: Cell<F>,
    bits: u32,
}

impl<F: PrimeField> UnsignedCell<F> {
    /// The cell.
    pub fn cell(&self) -> &Cell<F> {
        &self.cell
    }
    /// The proven width.
    pub fn bits(&self) -> u32 {
        self.bits
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

/// The decomposition's first cell and its last limb.
struct Decomposed<F: PrimeField> {
    z0: Cell<F>,
    last_limb: Cell<F>,
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
        unsigned_widths(bits).len()
    }

    /// Rows one signed check of `bits` bits occupies.
    pub fn signed_rows(bits: u32) -> usize {
        signed_widths(bits).len()
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
        widths: &[u32],
    ) -> Result<Vec<Decomposed<F>>, Error> {
        layouter.assign_region(
            || format!("range check {name}"),
            |mut region| {
                sources
                    .iter()
                    .enumerate()
                    .map(|(i, source)| {
                        self.decompose(&mut region, i * widths.len(), *source, offset, widths)
                    })
                    .collect()
            },
        )
    }

    fn decompose(
        &self,
        region: &mut Region<'_, F>,
        row: usize,
        source: Source<'_, F>,
        offset: F,
        widths: &[u32],
    ) -> Result<Decomposed<F>, Error> {
        let c = &self.config;
        let z0 = match source {
            Source::Copy(cell) => cell.copy_advice(|| "z", region, c.z, row)?,
            Source::Witness(v) => region.assign_advice(|| "z", c.z, row, || v)?,
        };
        // `rest` is the integer still to decompose: (x + offset - lower limbs) / 2^(lower widths).
        let mut rest = z0.value().copied() + Value::known(offset);
        let mut last_limb = None;
        for (i, &width) in widths.iter().enumerate() {
            let r = row + i;
            let is_last = i + 1 == widths.len();
            region.assign_fixed(
                || "tag",
                c.tag,
                r,
                || Value::known(F::from(u64::from(width))),
            )?;
            region.assign_fixed(|| "radix", c.radix, r, || Value::known(pow2::<F>(width)))?;
            let row_offset = if i == 0 { offset } else { F::ZERO };
            region.assign_fixed(|| "offset", c.offset, r, || Value::known(row_offset))?;
            if i > 0 {
                region.assign_advice(|| "z", c.z, r, || rest)?;
            }
            c.q_limb.enable(region, r)?;
            // The last limb takes all that is left, so an out-of-range value fails the lookup
            // (not a gate): the running sum itself always balances.
            let limb = if is_last {
                rest
            } else {
                rest.map(|v| F::from(low_u64(&v) & ((1u64 << width) - 1)))
            };
            let cell = region.assign_advice(|| "limb", c.limb, r, || limb)?;
            region.assign_advice(|| "out", c.out, r, || Value::known(F::ZERO))?;
            if is_last {
                c.q_last.enable(region, r)?;
                last_limb = Some(cell);
            } else {
                c.q_step.enable(region, r)?;
                let inv = F::TWO_INV.pow_vartime([u64::from(width)]);
                rest = (rest - limb) * Value::known(inv);
            }
        }
        let last_limb = last_limb.ok_or(Error::Synthesis)?;
        Ok(Decomposed { z0, last_limb })
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
        let widths = signed_widths(bits);
        let rows = self.decompose_all(layouter, name, sources, pow2(bits - 1), &widths)?;
        Ok(rows
            .into_iter()
            .map(|d| SignedCell {
                cell: d.z0,
                sign: Sign::Bit(d.last_limb),
                bits,
            })
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
        let rows = self.decompose_all(layouter, name, &sources, F::ZERO, &unsigned_widths(bits))?;
        Ok(rows
            .into_iter()
            .map(|d| UnsignedCell { cell: d.z0, bits })
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
            let widths = unsigned_widths(bits);
            self.decompose_all(
                layouter,
                &format!("{name} upper"),
                &sources,
                offset,
                &widths,
            )?;
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

fn unsigned_widths(bits: u32) -> Vec<u32> {
    let widths = limb_widths(bits);
    if widths.is_empty() {
        vec![0]
    } else {
        widths
    }
}

fn signed_widths(bits: u32) -> Vec<u32> {
    let mut widths = limb_widths(bits.saturating_sub(1));
    widths.push(1);
    widths
}

#[cfg(test)]
#[path = "range_tests.rs"]
mod tests;
