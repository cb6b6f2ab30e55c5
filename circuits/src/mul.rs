//! The product of two cells (elementwise Mul of two activations: gating, the GELU that
//! PyTorch exports as `x · (1 + erf(x/√2)) / 2`).
//!
//! # Purpose
//! `p = a · b` for range-checked cells `a` and `b`; the caller rescales `p` with
//! [`crate::div::DivChip`]. The product of two `n`-bit signed values has at most `2n − 1`
//! bits, far below the field size, so the field product is the integer product.
//!
//! # Layout
//! ```text
//! | a (copy) | b (copy) | p     | q_mul |
//! |----------|----------|-------|-------|
//! | a        | b        | a · b | 1     |
//! ```
//!
//! # Constraints
//! - `q_mul · (p − a · b) = 0` ("p = a * b")
//!
//! # Soundness
//! The gate determines `p` from the copied inputs; it needs no range check of its own (the
//! division that follows range-checks its quotient and remainder).
//!
//! # Side effects
//! All three columns are equality-enabled.
//!
//! # Panics
//! None.
//!
//! # Cost
//! One row per element.

use ff::PrimeField;
use halo2_proofs::{
    circuit::{Layouter, Value},
    plonk::{Advice, Column, ConstraintSystem, Error, Selector},
    poly::Rotation,
};

use crate::Cell;

/// Columns and selector of the product gate.
#[derive(Clone, Debug)]
pub struct MulConfig {
    a: Column<Advice>,
    b: Column<Advice>,
    p: Column<Advice>,
    q_mul: Selector,
}

impl MulConfig {
    /// Name of the gate.
    pub const GATE: &'static str = "product";
    /// Name of the constraint.
    pub const IDENTITY: &'static str = "p = a * b";
    /// Every gate constraint, as `(gate, constraint)` names: what the coverage test expects
    /// a malicious test to break.
    pub const CONSTRAINTS: &'static [(&'static str, &'static str)] =
        &[(Self::GATE, Self::IDENTITY)];

    /// Creates the gate over caller-allocated columns, which become equality-enabled.
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        [a, b, p]: [Column<Advice>; 3],
    ) -> Self {
        for column in [a, b, p] {
            meta.enable_equality(column);
        }
        let q_mul = meta.selector();
        meta.create_gate(Self::GATE, |meta| {
            let s = meta.query_selector(q_mul);
            let [a, b, p] = [a, b, p].map(|c| meta.query_advice(c, Rotation::cur()));
            vec![(Self::IDENTITY, s * (p - a * b))]
        });
        Self { a, b, p, q_mul }
    }
}

/// Elementwise products.
pub trait MulInstructions<F: PrimeField> {
    /// Proves `products[i] = a[i] · b[i]` (the prover supplies the products) and returns
    /// the product cells.
    fn mul(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        a: &[Cell<F>],
        b: &[Cell<F>],
        products: &[Value<F>],
    ) -> Result<Vec<Cell<F>>, Error>;
}

/// The product chip.
#[derive(Clone, Debug)]
pub struct MulChip {
    config: MulConfig,
}

impl MulChip {
    /// A chip over a configured gate.
    pub fn construct(config: MulConfig) -> Self {
        Self { config }
    }
}

impl<F: PrimeField> MulInstructions<F> for MulChip {
    fn mul(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        a: &[Cell<F>],
        b: &[Cell<F>],
        products: &[Value<F>],
    ) -> Result<Vec<Cell<F>>, Error> {
        if a.len() != b.len() || a.len() != products.len() {
            return Err(Error::Synthesis);
        }
        let c = &self.config;
        layouter.assign_region(
            || format!("product {name}"),
            |mut region| {
                a.iter()
                    .zip(b)
                    .enumerate()
                    .map(|(row, (x, y))| {
                        x.copy_advice(|| "a", &mut region, c.a, row)?;
                        y.copy_advice(|| "b", &mut region, c.b, row)?;
                        c.q_mul.enable(&mut region, row)?;
                        region.assign_advice(|| "p", c.p, row, || products[row])
                    })
                    .collect()
            },
        )
    }
}

#[cfg(test)]
#[path = "mul_tests.rs"]
pub(crate) mod tests;
