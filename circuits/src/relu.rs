//! ReLU from the sign bit of a range-checked value.
//!
//! # Purpose
//! `y = max(x, 0)` for a value `x` already proven in a signed range, whose decomposition
//! exposed the sign bit `b` (`1` iff `x >= 0`; see [`crate::range`]).
//!
//! # Layout
//! ```text
//! | x (copy) | b (copy) | y | q_relu |
//! |----------|----------|---|--------|
//! | x        | b        | y | 1      |
//! ```
//!
//! # Constraints
//! - `q_relu · (y − b · x) = 0` ("y = sign bit * x")
//!
//! # Soundness
//! `b` is a copy of the sign bit of `x`'s own decomposition, which is unique, so `b` cannot
//! be chosen: for `x >= 0` (zero included) `b = 1` and `y = x`; for `x < 0`, `b = 0` and
//! `y = 0`. At the range edges, `x = 2^(n-1) - 1` gives `y = x` and `x = -2^(n-1)` gives `0`;
//! values past the edges never got a decomposition. `y` inherits `x`'s range, so it needs no
//! check of its own, and is marked non-negative by construction.
//!
//! # Side effects
//! All three columns are equality-enabled.
//!
//! # Panics
//! None.
//!
//! # Cost
//! One row per element whose sign is not already known; none for known non-negative inputs.

use ff::PrimeField;
use halo2_proofs::{
    circuit::{Layouter, Value},
    plonk::{Advice, Column, ConstraintSystem, Error, Selector},
    poly::Rotation,
};

use crate::range::{Sign, SignedCell};

/// Columns and selector of the ReLU gate.
#[derive(Clone, Debug)]
pub struct ReluConfig {
    x: Column<Advice>,
    b: Column<Advice>,
    y: Column<Advice>,
    q_relu: Selector,
}

impl ReluConfig {
    /// Name of the gate.
    pub const GATE: &'static str = "relu";
    /// Name of its constraint.
    pub const IDENTITY: &'static str = "y = sign bit * x";
    /// Every gate constraint, as `(gate, constraint)` names: what the coverage test expects
    /// a malicious test to break.
    pub const CONSTRAINTS: &'static [(&'static str, &'static str)] =
        &[(Self::GATE, Self::IDENTITY)];

    /// Creates the gate over caller-allocated columns, which become equality-enabled.
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        [x, b, y]: [Column<Advice>; 3],
    ) -> Self {
        for column in [x, b, y] {
            meta.enable_equality(column);
        }
        let q_relu = meta.selector();
        meta.create_gate(Self::GATE, |meta| {
            let s = meta.query_selector(q_relu);
            let x = meta.query_advice(x, Rotation::cur());
            let b = meta.query_advice(b, Rotation::cur());
            let y = meta.query_advice(y, Rotation::cur());
            vec![(Self::IDENTITY, s * (y - b * x))]
        });
        Self { x, b, y, q_relu }
    }
}

/// Rectified linear units.
pub trait ReluInstructions<F: PrimeField> {
    /// `max(x, 0)` for every input, with the outputs supplied by the prover (the witness).
    fn relu(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        inputs: &[SignedCell<F>],
        outputs: &[Value<F>],
    ) -> Result<Vec<SignedCell<F>>, Error>;
}

/// The ReLU chip.
#[derive(Clone, Debug)]
pub struct ReluChip {
    config: ReluConfig,
}

impl ReluChip {
    /// A chip over a configured gate.
    pub fn construct(config: ReluConfig) -> Self {
        Self { config }
    }
}

impl<F: PrimeField> ReluInstructions<F> for ReluChip {
    fn relu(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        inputs: &[SignedCell<F>],
        outputs: &[Value<F>],
    ) -> Result<Vec<SignedCell<F>>, Error> {
        if outputs.len() != inputs.len() {
            return Err(Error::Synthesis);
        }
        let c = &self.config;
        layouter.assign_region(
            || format!("relu {name}"),
            |mut region| {
                let mut row = 0;
                inputs
                    .iter()
                    .zip(outputs)
                    .map(|(input, y)| match input.sign() {
                        // Already non-negative: ReLU is the identity and costs nothing.
                        Sign::NonNegative => Ok(input.clone()),
                        Sign::Bit(b) => {
                            input.cell().copy_advice(|| "x", &mut region, c.x, row)?;
                            b.copy_advice(|| "b", &mut region, c.b, row)?;
                            let y = region.assign_advice(|| "y", c.y, row, || *y)?;
                            c.q_relu.enable(&mut region, row)?;
                            row += 1;
                            Ok(SignedCell::nonnegative_by_construction(y, input.bits()))
                        }
                    })
                    .collect()
            },
        )
    }
}

#[cfg(test)]
#[path = "relu_tests.rs"]
pub(crate) mod tests;
