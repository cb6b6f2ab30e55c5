//! Division by a power of two with a range-checked quotient and remainder.
//!
//! # Purpose
//! `q = floor((x + c) / 2^s)` for a cell `x`, a constant offset `c` (the rounding mode:
//! `0` floors, `2^(s-1)` rounds half up) and a constant shift `s`. The prover supplies `q`
//! and `r`; the chip proves `x + c = q · 2^s + r` with `0 <= r < 2^s` and `q` inside its
//! declared signed range, both through the shared range table.
//!
//! # Layout
//! ```text
//! | x (copy) | q | r | offset (f) | divisor (f) | q_rescale |
//! |----------|---|---|------------|-------------|-----------|
//! | x        | q | r | c          | 2^s         | 1         |
//! ```
//! then one signed range check of `q` (`b` bits) and one unsigned check of `r` (`s` bits).
//!
//! # Constraints
//! - `q_rescale · (x + offset − q · divisor − r) = 0` ("x + offset = q * 2^s + r")
//! - `q ∈ [-2^(b-1), 2^(b-1))`, `r ∈ [0, 2^s)` by [`crate::range::LookupRangeChip`].
//!
//! # Soundness
//! With both ranges enforced, `q · 2^s + r` is an integer in `[-2^(b+s-1), 2^(b+s-1))`.
//! The caller guarantees `|x + c| < 2^(b+s-1)` holds for honest values and that
//! `b + s <= 124`, so both sides lie in `(-p/2, p/2)` and congruence mod `p` is equality of
//! integers: `q` and `r` are the unique floor quotient and remainder. A quotient shifted by a
//! multiple of `p / 2^s` (the field wrap-around forgery) is a ~250-bit element and fails the
//! quotient's range check; a remainder of `2^s` or `-1` fails the remainder's.
//!
//! # Side effects
//! `x`, `q`, `r` are equality-enabled; the range table must be loaded.
//!
//! # Panics
//! If `s` or `b` exceed [`crate::range::MAX_RANGE_BITS`].
//!
//! # Cost
//! One row, plus `ceil((b-1)/8) + 1 + max(1, ceil(s/8))` range rows per element.

use ff::PrimeField;
use halo2_proofs::{
    circuit::{Layouter, Value},
    plonk::{Advice, Column, ConstraintSystem, Error, Fixed, Selector},
    poly::Rotation,
};

use crate::range::{LookupRangeChip, RangeInstructions, SignedCell};
use crate::value::pow2;
use crate::Cell;

/// Columns and selector of the rescale gate.
#[derive(Clone, Debug)]
pub struct RescaleConfig {
    x: Column<Advice>,
    q: Column<Advice>,
    r: Column<Advice>,
    offset: Column<Fixed>,
    divisor: Column<Fixed>,
    q_rescale: Selector,
}

impl RescaleConfig {
    /// Name of the gate.
    pub const GATE: &'static str = "rescale";
    /// Name of its constraint.
    pub const IDENTITY: &'static str = "x + offset = q * 2^s + r";

    /// Creates the gate over caller-allocated columns, which become equality-enabled.
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        [x, q, r]: [Column<Advice>; 3],
        [offset, divisor]: [Column<Fixed>; 2],
    ) -> Self {
        for column in [x, q, r] {
            meta.enable_equality(column);
        }
        let q_rescale = meta.selector();
        meta.create_gate(Self::GATE, |meta| {
            let s = meta.query_selector(q_rescale);
            let x = meta.query_advice(x, Rotation::cur());
            let q = meta.query_advice(q, Rotation::cur());
            let r = meta.query_advice(r, Rotation::cur());
            let offset = meta.query_fixed(offset);
            let divisor = meta.query_fixed(divisor);
            vec![(Self::IDENTITY, s * (x + offset - q * divisor - r))]
        });
        Self {
            x,
            q,
            r,
            offset,
            divisor,
            q_rescale,
        }
    }
}

/// One batch of rescales sharing a shift, offset and quotient range.
#[derive(Clone, Copy, Debug)]
pub struct RescaleSpec<F: PrimeField> {
    /// `s`: divide by `2^s`.
    pub shift: u32,
    /// `c`: added before dividing (the rounding mode).
    pub offset: F,
    /// `b`: the quotient's declared signed width.
    pub quotient_bits: u32,
}

/// Rescaling by a power of two.
pub trait RescaleInstructions<F: PrimeField> {
    /// Proves `q_i = floor((x_i + c) / 2^s)` for every input, with `q_i` and `r_i` supplied
    /// by the prover, and returns the range-checked quotients.
    fn rescale(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        inputs: &[Cell<F>],
        spec: RescaleSpec<F>,
        quotients: &[Value<F>],
        remainders: &[Value<F>],
    ) -> Result<Vec<SignedCell<F>>, Error>;
}

/// The rescale chip: one gate row per element plus range checks through the shared table.
#[derive(Clone, Debug)]
pub struct RescaleChip<F: PrimeField> {
    config: RescaleConfig,
    range: LookupRangeChip<F>,
}

impl<F: PrimeField> RescaleChip<F> {
    /// A chip over a configured gate and the shared range check.
    pub fn construct(config: RescaleConfig, range: LookupRangeChip<F>) -> Self {
        Self { config, range }
    }
}

impl<F: PrimeField> RescaleInstructions<F> for RescaleChip<F> {
    fn rescale(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        inputs: &[Cell<F>],
        spec: RescaleSpec<F>,
        quotients: &[Value<F>],
        remainders: &[Value<F>],
    ) -> Result<Vec<SignedCell<F>>, Error> {
        if quotients.len() != inputs.len() || remainders.len() != inputs.len() {
            return Err(Error::Synthesis);
        }
        let c = &self.config;
        let divisor = pow2::<F>(spec.shift);
        let (qs, rs): (Vec<_>, Vec<_>) = layouter
            .assign_region(
                || format!("rescale {name}"),
                |mut region| {
                    inputs
                        .iter()
                        .enumerate()
                        .map(|(i, x)| {
                            x.copy_advice(|| "x", &mut region, c.x, i)?;
                            let q = region.assign_advice(|| "q", c.q, i, || quotients[i])?;
                            let r = region.assign_advice(|| "r", c.r, i, || remainders[i])?;
                            region.assign_fixed(
                                || "offset",
                                c.offset,
                                i,
                                || Value::known(spec.offset),
                            )?;
                            region.assign_fixed(
                                || "2^s",
                                c.divisor,
                                i,
                                || Value::known(divisor),
                            )?;
                            c.q_rescale.enable(&mut region, i)?;
                            Ok((q, r))
                        })
                        .collect::<Result<Vec<_>, Error>>()
                },
            )?
            .into_iter()
            .unzip();
        self.range
            .check_unsigned(layouter, &format!("{name} remainder"), &rs, spec.shift)?;
        self.range.check_signed(
            layouter,
            &format!("{name} quotient"),
            &qs,
            spec.quotient_bits,
        )
    }
}

#[cfg(test)]
#[path = "rescale_tests.rs"]
mod tests;
