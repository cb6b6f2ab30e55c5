//! Division by a constant with a range-checked quotient and remainder: rescales by `2^s`,
//! average-pool divisions by a window size, and any other constant divisor.
//!
//! # Purpose
//! `q = floor((x + c) / d)` for a cell `x`, a constant offset `c` (the rounding mode: `0`
//! floors, `floor(d / 2)` rounds half up) and a constant divisor `d >= 1`, both chosen per
//! element. The prover supplies `q` and `r`; the chip proves `x + c = q · d + r` with
//! `0 <= r < d` (both sides, also when `d` is not a power of two) and `q` inside its
//! declared signed range, all through the shared range table.
//!
//! # Layout
//! ```text
//! | x (copy) | q | r | offset (f) | divisor (f) | q_div |
//! |----------|---|---|------------|-------------|-------|
//! | x        | q | r | c          | d           | 1     |
//! ```
//! then one signed range check of `q` (`b` bits) and one [`RangeInstructions::check_below`]
//! of `r` against `d`.
//!
//! # Constraints
//! - `q_div · (x + offset − q · divisor − r) = 0` ("x + offset = q * d + r")
//! - `q ∈ [-2^(b-1), 2^(b-1))`, `r ∈ [0, d)` by [`crate::range::LookupRangeChip`].
//!
//! # Soundness
//! With both ranges enforced, `q · d + r` is an integer in `[-2^(b-1) · d, 2^(b-1) · d)`.
//! The caller guarantees `|x + c|` lies in that range for honest values and that
//! `b + log2(d) <= 124`, so both sides lie in `(-p/2, p/2)` and congruence mod `p` is equality
//! of integers: `q` and `r` are the unique floor quotient and remainder. A quotient shifted
//! by a multiple of `p / d` (the field wrap-around forgery) is a ~250-bit element and fails
//! the quotient's range check; a remainder of `d` or `-1` fails the remainder's.
//!
//! # Side effects
//! `x`, `q`, `r` are equality-enabled; the range table must be loaded.
//!
//! # Panics
//! If `b` exceeds [`crate::range::MAX_RANGE_BITS`] or a divisor is zero (static misuse).
//!
//! # Cost
//! One row, plus [`LookupRangeChip::signed_rows`] quotient rows and [`LookupRangeChip::below_rows`]
//! remainder rows per element.

use std::collections::BTreeMap;

use ff::PrimeField;
use halo2_proofs::{
    circuit::{Layouter, Value},
    plonk::{Advice, Column, ConstraintSystem, Error, Fixed, Selector},
    poly::Rotation,
};

use crate::range::{LookupRangeChip, RangeInstructions, SignedCell};
use crate::Cell;

/// Columns and selector of the division gate.
#[derive(Clone, Debug)]
pub struct DivConfig {
    x: Column<Advice>,
    q: Column<Advice>,
    r: Column<Advice>,
    offset: Column<Fixed>,
    divisor: Column<Fixed>,
    q_div: Selector,
}

impl DivConfig {
    /// Name of the gate.
    pub const GATE: &'static str = "division";
    /// Name of its constraint.
    pub const IDENTITY: &'static str = "x + offset = q * d + r";
    /// Every gate constraint, as `(gate, constraint)` names: what the coverage test expects
    /// a malicious test to break.
    pub const CONSTRAINTS: &'static [(&'static str, &'static str)] =
        &[(Self::GATE, Self::IDENTITY)];

    /// Creates the gate over caller-allocated columns, which become equality-enabled.
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        [x, q, r]: [Column<Advice>; 3],
        [offset, divisor]: [Column<Fixed>; 2],
    ) -> Self {
        for column in [x, q, r] {
            meta.enable_equality(column);
        }
        let q_div = meta.selector();
        meta.create_gate(Self::GATE, |meta| {
            let s = meta.query_selector(q_div);
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
            q_div,
        }
    }
}

/// The constants of one division.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DivSpec<F: PrimeField> {
    /// `d >= 1`.
    pub divisor: u64,
    /// `c`: added before dividing (the rounding mode).
    pub offset: F,
}

/// Division by constants.
pub trait DivInstructions<F: PrimeField> {
    /// Proves `q_i = floor((x_i + c_i) / d_i)` for every input, with `q_i` and `r_i` supplied
    /// by the prover, and returns the quotients, range-checked to `quotient_bits` signed bits.
    #[allow(clippy::too_many_arguments)]
    fn divide(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        inputs: &[Cell<F>],
        specs: &[DivSpec<F>],
        quotient_bits: u32,
        quotients: &[Value<F>],
        remainders: &[Value<F>],
    ) -> Result<Vec<SignedCell<F>>, Error>;
}

/// The division chip: one gate row per element plus range checks through the shared table.
#[derive(Clone, Debug)]
pub struct DivChip<F: PrimeField> {
    config: DivConfig,
    range: LookupRangeChip<F>,
}

impl<F: PrimeField> DivChip<F> {
    /// A chip over a configured gate and the shared range check.
    pub fn construct(config: DivConfig, range: LookupRangeChip<F>) -> Self {
        Self { config, range }
    }

    /// Range rows one division occupies.
    pub fn range_rows(divisor: u64, quotient_bits: u32) -> usize {
        LookupRangeChip::<F>::signed_rows(quotient_bits) + LookupRangeChip::<F>::below_rows(divisor)
    }
}

impl<F: PrimeField> DivInstructions<F> for DivChip<F> {
    fn divide(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        inputs: &[Cell<F>],
        specs: &[DivSpec<F>],
        quotient_bits: u32,
        quotients: &[Value<F>],
        remainders: &[Value<F>],
    ) -> Result<Vec<SignedCell<F>>, Error> {
        let n = inputs.len();
        if quotients.len() != n || remainders.len() != n || specs.len() != n {
            return Err(Error::Synthesis);
        }
        assert!(specs.iter().all(|s| s.divisor >= 1), "division by zero");
        let c = &self.config;
        let (qs, rs): (Vec<_>, Vec<_>) = layouter
            .assign_region(
                || format!("divide {name}"),
                |mut region| {
                    (0..n)
                        .map(|i| {
                            inputs[i].copy_advice(|| "x", &mut region, c.x, i)?;
                            let q = region.assign_advice(|| "q", c.q, i, || quotients[i])?;
                            let r = region.assign_advice(|| "r", c.r, i, || remainders[i])?;
                            let spec = specs[i];
                            region.assign_fixed(
                                || "offset",
                                c.offset,
                                i,
                                || Value::known(spec.offset),
                            )?;
                            region.assign_fixed(
                                || "d",
                                c.divisor,
                                i,
                                || Value::known(F::from(spec.divisor)),
                            )?;
                            c.q_div.enable(&mut region, i)?;
                            Ok((q, r))
                        })
                        .collect::<Result<Vec<_>, Error>>()
                },
            )?
            .into_iter()
            .unzip();
        // One remainder check per distinct divisor (a pool's border windows differ).
        let mut by_divisor: BTreeMap<u64, Vec<Cell<F>>> = BTreeMap::new();
        for (r, spec) in rs.into_iter().zip(specs) {
            by_divisor.entry(spec.divisor).or_default().push(r);
        }
        for (divisor, cells) in &by_divisor {
            self.range
                .check_below(layouter, &format!("{name} remainder"), cells, *divisor)?;
        }
        self.range
            .check_signed(layouter, &format!("{name} quotient"), &qs, quotient_bits)
    }
}

#[cfg(test)]
#[path = "div_tests.rs"]
pub(crate) mod tests;
