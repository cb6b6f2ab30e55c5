//! Elementwise functions by table lookup (Sigmoid, Tanh, Exp, …), sharing the range check's
//! lookup argument.
//!
//! # Purpose
//! `y = f(x)` for a cell `x` on a finite domain, where the caller tabulated `f` as a
//! [`FunctionTable`] of `(x, f(x))` pairs under its own tag. The chip proves that `(x, y)` is
//! a row of that table; it computes nothing itself.
//!
//! # Layout
//! Two elements per row, one in each lane of the range check's columns (so no new lookup
//! argument: each costs three commitments):
//!
//! ```text
//! | limb_0 (copy of x_i) | out_0 | limb_1 (copy of x_i+1) | out_1  | tag_0 | tag_1 | q_limb |
//! |----------------------|-------|------------------------|--------|-------|-------|--------|
//! | x_i                  | y_i   | x_i+1                  | y_i+1  | T     | T     | 1      |
//! ```
//!
//! An odd count leaves the last row's lane 1 as the zero-width limb `(0, 0, 0)`.
//!
//! # Constraints
//! - per lane, lookup `(q_limb · tag, q_limb · limb, q_limb · out)` in the shared table
//!   ("range limb in table, lane j"). The running-sum gates are off on these rows.
//!
//! # Soundness
//! The tag is a fixed column, so the circuit, not the prover, picks the table. Tags `0..=8`
//! are limb widths (their outputs are top bits); a function's tag is above them, so its
//! rows are exactly its `(x, f(x))` pairs: an `x` outside the domain or a `y` from another
//! row fails the lookup. The all-zero tuple of a disabled selector is the limb row
//! `(0, 0, 0)`, not a function row.
//!
//! # Side effects
//! Copies each `x` into a limb column; the outs are equality-enabled.
//!
//! # Panics
//! If `tag` is a limb tag (a static misuse).
//!
//! # Cost
//! Half a row ([`FunctionChip::rows`]) and one lookup per element; the table grows by the
//! domain's size.

use ff::PrimeField;
use halo2_proofs::circuit::{Layouter, Value};
use halo2_proofs::plonk::Error;

use crate::range::{
    FunctionTable, LookupRangeChip, LookupRangeConfig, RangeInstructions, SignedCell,
    FIRST_FUNCTION_TAG, LANES,
};
use crate::value::to_i64;
use crate::Cell;

/// Table lookups of elementwise functions.
pub trait FunctionInstructions<F: PrimeField> {
    /// Proves `(inputs[i], outputs[i])` is a row of the table tagged `tag` for every `i` and
    /// returns the output cells.
    fn apply(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        tag: u64,
        inputs: &[Cell<F>],
        outputs: &[Value<F>],
    ) -> Result<Vec<Cell<F>>, Error>;

    /// [`FunctionInstructions::apply`] with `table` (which must be loaded), returning the
    /// outputs as signed cells of `bits` bits. Their range follows from the table, which this
    /// checks: every output fits `bits` (else a synthesis error). A table with negative
    /// outputs also range-checks each output, to give it a sign bit.
    fn apply_signed(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        table: &FunctionTable<F>,
        bits: u32,
        inputs: &[Cell<F>],
        outputs: &[Value<F>],
    ) -> Result<Vec<SignedCell<F>>, Error>;
}

/// The function chip, over the range check's columns and lookup.
#[derive(Clone, Debug)]
pub struct FunctionChip {
    config: LookupRangeConfig,
}

impl FunctionChip {
    /// A chip over the configured range check.
    pub fn construct(config: LookupRangeConfig) -> Self {
        Self { config }
    }

    /// Rows that `n` elements occupy.
    pub fn rows(n: usize) -> usize {
        n.div_ceil(LANES)
    }

    fn range<F: PrimeField>(&self) -> LookupRangeChip<F> {
        LookupRangeChip::construct(self.config.clone())
    }
}

impl<F: PrimeField> FunctionInstructions<F> for FunctionChip {
    fn apply(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        tag: u64,
        inputs: &[Cell<F>],
        outputs: &[Value<F>],
    ) -> Result<Vec<Cell<F>>, Error> {
        assert!(tag >= FIRST_FUNCTION_TAG, "tag {tag} is a limb width");
        if inputs.len() != outputs.len() {
            return Err(Error::Synthesis);
        }
        let c = &self.config;
        layouter.assign_region(
            || format!("function {name}"),
            |mut region| {
                let mut cells = Vec::with_capacity(inputs.len());
                for row in 0..Self::rows(inputs.len()) {
                    c.q_limb.enable(&mut region, row)?;
                    for lane in 0..LANES {
                        let i = row * LANES + lane;
                        let tag = if i < inputs.len() { tag } else { 0 };
                        region.assign_fixed(
                            || "tag",
                            c.tags[lane],
                            row,
                            || Value::known(F::from(tag)),
                        )?;
                        match (inputs.get(i), outputs.get(i)) {
                            (Some(x), Some(y)) => {
                                x.copy_advice(|| "x", &mut region, c.limbs[lane], row)?;
                                cells.push(region.assign_advice(
                                    || "y",
                                    c.outs[lane],
                                    row,
                                    || *y,
                                )?);
                            }
                            _ => {
                                let zero = || Value::known(F::ZERO);
                                region.assign_advice(|| "pad", c.limbs[lane], row, zero)?;
                                region.assign_advice(|| "pad", c.outs[lane], row, zero)?;
                            }
                        }
                    }
                }
                Ok(cells)
            },
        )
    }

    fn apply_signed(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        table: &FunctionTable<F>,
        bits: u32,
        inputs: &[Cell<F>],
        outputs: &[Value<F>],
    ) -> Result<Vec<SignedCell<F>>, Error> {
        let half = 1i64 << (bits.clamp(1, 63) - 1);
        let mut nonnegative = true;
        for (_, y) in &table.entries {
            let y = to_i64(y).ok_or(Error::Synthesis)?;
            if !(-half..half).contains(&y) {
                return Err(Error::Synthesis);
            }
            nonnegative &= y >= 0;
        }
        let cells = self.apply(layouter, name, table.tag, inputs, outputs)?;
        if nonnegative {
            Ok(cells
                .into_iter()
                .map(|c| SignedCell::nonnegative_by_construction(c, bits))
                .collect())
        } else {
            self.range()
                .check_signed(layouter, &format!("{name} sign"), &cells, bits)
        }
    }
}

#[cfg(test)]
#[path = "function_tests.rs"]
mod tests;
