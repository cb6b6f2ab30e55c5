//! Division by a proven cell (softmax's normalisation): `q = floor(n · c / d)` for cells `n`
//! and `d > 0` and a constant scale `c`.
//!
//! # Purpose
//! The prover supplies `q` and `r`; the chip proves `n · c = q · d + r` with `0 <= r < d`
//! (both sides: `r` and `u = d − 1 − r` are range-checked non-negative) and `q` in its
//! declared unsigned range.
//!
//! # Layout
//! ```text
//! | n (copy) | d (copy) | q | r | u         | scale (f) | q_vdiv |
//! |----------|----------|---|---|-----------|-----------|--------|
//! | n        | d        | q | r | d − 1 − r | c         | 1      |
//! ```
//!
//! # Constraints
//! - `q_vdiv · (n · scale − q · d − r) = 0` ("n * c = q * d + r")
//! - `q_vdiv · (u − (d − 1 − r)) = 0` ("u = d - 1 - r")
//! - `q ∈ [0, 2^qb)`, `r, u ∈ [0, 2^db)` by [`crate::range::LookupRangeChip`].
//!
//! # Soundness
//! The caller guarantees `0 <= n · c < 2^124` and `d < 2^db` for honest values (`n` and `d`
//! are range-bounded cells). With `r, u >= 0` and `r + u = d − 1`, `0 <= r < d`, which also
//! proves `d >= 1`: a zero denominator makes `u = −1 − r` negative. Then `q · d + r` is an
//! integer below `2^(qb + db + 1)`, far below `p`, so the identity holds over the integers and
//! `q` is the floor quotient. A denominator off by one changes the identity's right side by
//! `q`, which no range-valid `r` absorbs unless the quotient is honest for that denominator.
//!
//! # Side effects
//! `n`, `d`, `q`, `r`, `u` are equality-enabled; the range table must be loaded.
//!
//! # Panics
//! None.
//!
//! # Cost
//! One row, plus one range check of `qb` bits and two of `db` bits per element
//! ([`crate::range::LookupRangeChip::unsigned_rows`]).

use ff::PrimeField;
use halo2_proofs::{
    circuit::{Layouter, Value},
    plonk::{Advice, Column, ConstraintSystem, Error, Fixed, Selector},
    poly::Rotation,
};

use crate::range::{LookupRangeChip, RangeInstructions, SignedCell};
use crate::Cell;

/// Columns and selector of the variable-division gate.
#[derive(Clone, Debug)]
pub struct VarDivConfig {
    n: Column<Advice>,
    d: Column<Advice>,
    q: Column<Advice>,
    r: Column<Advice>,
    u: Column<Advice>,
    scale: Column<Fixed>,
    q_vdiv: Selector,
}

impl VarDivConfig {
    /// Name of the gate.
    pub const GATE: &'static str = "variable division";
    /// The division identity.
    pub const IDENTITY: &'static str = "n * c = q * d + r";
    /// The complement of the remainder.
    pub const COMPLEMENT: &'static str = "u = d - 1 - r";
    /// Every gate constraint, as `(gate, constraint)` names: what the coverage test expects
    /// a malicious test to break.
    pub const CONSTRAINTS: &'static [(&'static str, &'static str)] =
        &[(Self::GATE, Self::IDENTITY), (Self::GATE, Self::COMPLEMENT)];

    /// Creates the gate over caller-allocated columns, which become equality-enabled.
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        [n, d, q, r, u]: [Column<Advice>; 5],
        scale: Column<Fixed>,
    ) -> Self {
        for column in [n, d, q, r, u] {
            meta.enable_equality(column);
        }
        let q_vdiv = meta.selector();
        meta.create_gate(Self::GATE, |meta| {
            let s = meta.query_selector(q_vdiv);
            let [n, d, q, r, u] = [n, d, q, r, u].map(|c| meta.query_advice(c, Rotation::cur()));
            let c = meta.query_fixed(scale);
            let one = halo2_proofs::plonk::Expression::Constant(F::ONE);
            vec![
                (
                    Self::IDENTITY,
                    s.clone() * (n * c - q * d.clone() - r.clone()),
                ),
                (Self::COMPLEMENT, s * (u - (d - one - r))),
            ]
        });
        Self {
            n,
            d,
            q,
            r,
            u,
            scale,
            q_vdiv,
        }
    }
}

/// Division by cells.
pub trait VarDivInstructions<F: PrimeField> {
    /// Proves `quotients[i] = floor(numerators[i] · scale / denominators[i])` with
    /// denominators below `2^denominator_bits`, and returns the quotients as non-negative
    /// cells of `quotient_bits` unsigned bits (signed width `quotient_bits + 1`).
    #[allow(clippy::too_many_arguments)]
    fn divide_by_cells(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        numerators: &[Cell<F>],
        denominators: &[Cell<F>],
        scale: F,
        quotient_bits: u32,
        denominator_bits: u32,
        quotients: &[Value<F>],
    ) -> Result<Vec<SignedCell<F>>, Error>;
}

/// The variable-division chip.
#[derive(Clone, Debug)]
pub struct VarDivChip<F: PrimeField> {
    config: VarDivConfig,
    range: LookupRangeChip<F>,
}

impl<F: PrimeField> VarDivChip<F> {
    /// A chip over a configured gate and the shared range check.
    pub fn construct(config: VarDivConfig, range: LookupRangeChip<F>) -> Self {
        Self { config, range }
    }

    /// Range rows of one division.
    pub fn range_rows(quotient_bits: u32, denominator_bits: u32) -> usize {
        LookupRangeChip::<F>::unsigned_rows(quotient_bits)
            + 2 * LookupRangeChip::<F>::unsigned_rows(denominator_bits)
    }
}

impl<F: PrimeField> VarDivInstructions<F> for VarDivChip<F> {
    fn divide_by_cells(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        numerators: &[Cell<F>],
        denominators: &[Cell<F>],
        scale: F,
        quotient_bits: u32,
        denominator_bits: u32,
        quotients: &[Value<F>],
    ) -> Result<Vec<SignedCell<F>>, Error> {
        let count = numerators.len();
        if denominators.len() != count || quotients.len() != count {
            return Err(Error::Synthesis);
        }
        let c = &self.config;
        let rows = layouter.assign_region(
            || format!("variable division {name}"),
            |mut region| {
                (0..count)
                    .map(|i| {
                        let n = numerators[i].copy_advice(|| "n", &mut region, c.n, i)?;
                        let d = denominators[i].copy_advice(|| "d", &mut region, c.d, i)?;
                        let q = region.assign_advice(|| "q", c.q, i, || quotients[i])?;
                        let r = n.value().copied() * Value::known(scale)
                            - q.value().copied() * d.value().copied();
                        let u = d.value().copied() - Value::known(F::ONE) - r;
                        let r = region.assign_advice(|| "r", c.r, i, || r)?;
                        let u = region.assign_advice(|| "u", c.u, i, || u)?;
                        region.assign_fixed(|| "scale", c.scale, i, || Value::known(scale))?;
                        c.q_vdiv.enable(&mut region, i)?;
                        Ok((q, r, u))
                    })
                    .collect::<Result<Vec<_>, Error>>()
            },
        )?;
        let (mut qs, mut rest) = (Vec::with_capacity(count), Vec::with_capacity(2 * count));
        for (q, r, u) in rows {
            qs.push(q);
            rest.push(r);
            rest.push(u);
        }
        self.range.check_unsigned(
            layouter,
            &format!("{name} remainder"),
            &rest,
            denominator_bits,
        )?;
        let qs =
            self.range
                .check_unsigned(layouter, &format!("{name} quotient"), &qs, quotient_bits)?;
        Ok(qs
            .into_iter()
            .map(|q| SignedCell::nonnegative_by_construction(q.cell().clone(), quotient_bits + 1))
            .collect())
    }
}

#[cfg(test)]
#[path = "vardiv_tests.rs"]
pub(crate) mod tests;
