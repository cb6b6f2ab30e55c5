//! Dot products with the weights in fixed columns.
//!
//! # Purpose
//! `acc = b + Σ_i x_i · w_i` for cells `x_i` copied in from elsewhere and constants `w_i`, `b`
//! that live in fixed columns. The verifying key commits to the fixed columns, so the weights
//! are part of the model's identity and cost no advice cells and no copy constraints (the
//! measured layout in DESIGN.md: wide rows beat tall ones by about 4x per multiply).
//!
//! # Layout
//! A dot product of length `n` takes `R = max(1, ceil(n / W))` rows for a chip of width `W`:
//!
//! ```text
//! | x_0 .. x_{W-1} | w_0 .. w_{W-1} (f) | bias (f) | acc     | q_first | q_next |
//! |----------------|--------------------|----------|---------|---------|--------|
//! | x[0..W]        | w[0..W]            | b        | s_0     | 1       | 0      |
//! | x[W..2W]       | w[W..2W]           | 0        | s_1     | 0       | 1      |
//! | ...            |                    |          | s_{R-1} | 0       | 1      |
//! ```
//!
//! Slots past `n` in the last row hold `x = 0`, `w = 0`.
//!
//! # Constraints
//! - `q_first · (acc − bias − Σ x_i w_i) = 0` ("acc = bias + sum x * w")
//! - `q_next · (acc − acc_prev − Σ x_i w_i) = 0` ("acc = acc_prev + sum x * w")
//!
//! # Soundness
//! Every `x_i` is a copy (equality constraint) of a cell the caller produced, never a fresh
//! witness, so a prover cannot feed the gate a different value. The result `s_{R-1}` is
//! uniquely determined by the inputs and the constants. Whether it can wrap the modulus is the
//! caller's bound: with `|x| < 2^a`, `|w| < 2^c` and `n` terms, `|acc| < n · 2^(a+c) + |b|`,
//! which the caller keeps far below `p / 2` and then range-checks through a rescale.
//!
//! # Witness
//! The chip derives each row's accumulator from the values of the cells it copied in and the
//! constants, so callers supply no intermediate sums (and no layout width leaks into the
//! integer graph).
//!
//! # Side effects
//! `x_*` and `acc` are equality-enabled.
//!
//! # Panics
//! `configure` panics if the `x` and `w` column lists differ in length or are empty.
//!
//! # Cost
//! `1 / W` rows per multiply; `n` copy constraints per dot product.

use ff::PrimeField;
use halo2_proofs::{
    circuit::{Layouter, Region, Value},
    plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector, VirtualCells},
    poly::Rotation,
};

use crate::Cell;

/// Columns and selectors of the dot-product gate.
#[derive(Clone, Debug)]
pub struct FixedDotConfig {
    x: Vec<Column<Advice>>,
    w: Vec<Column<Fixed>>,
    acc: Column<Advice>,
    bias: Column<Fixed>,
    q_first: Selector,
    q_next: Selector,
}

impl FixedDotConfig {
    /// Name of the gate.
    pub const GATE: &'static str = "dot product";
    /// Name of the gate on continuation rows.
    pub const NEXT_GATE: &'static str = "dot product continued";
    /// Name of the first-row constraint.
    pub const FIRST: &'static str = "acc = bias + sum x * w";
    /// Name of the continuation constraint.
    pub const NEXT: &'static str = "acc = acc_prev + sum x * w";
    /// Every gate constraint, as `(gate, constraint)` names: what the coverage test expects
    /// a malicious test to break.
    pub const CONSTRAINTS: &'static [(&'static str, &'static str)] =
        &[(Self::GATE, Self::FIRST), (Self::NEXT_GATE, Self::NEXT)];

    /// Creates the gate over caller-allocated columns; `x` and `acc` become equality-enabled.
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        x: Vec<Column<Advice>>,
        w: Vec<Column<Fixed>>,
        acc: Column<Advice>,
        bias: Column<Fixed>,
    ) -> Self {
        assert!(
            !x.is_empty() && x.len() == w.len(),
            "dot product needs as many weight columns as input columns"
        );
        for column in &x {
            meta.enable_equality(*column);
        }
        meta.enable_equality(acc);
        let q_first = meta.selector();
        let q_next = meta.selector();
        let sum = |meta: &mut VirtualCells<'_, F>| {
            x.iter()
                .zip(&w)
                .map(|(x, w)| meta.query_advice(*x, Rotation::cur()) * meta.query_fixed(*w))
                .fold(Expression::Constant(F::ZERO), |a, b| a + b)
        };
        meta.create_gate(Self::GATE, |meta| {
            let q_first = meta.query_selector(q_first);
            let acc = meta.query_advice(acc, Rotation::cur());
            let bias = meta.query_fixed(bias);
            vec![(Self::FIRST, q_first * (acc - bias - sum(meta)))]
        });
        meta.create_gate(Self::NEXT_GATE, |meta| {
            let q_next = meta.query_selector(q_next);
            let acc_cur = meta.query_advice(acc, Rotation::cur());
            let acc_prev = meta.query_advice(acc, Rotation::prev());
            vec![(Self::NEXT, q_next * (acc_cur - acc_prev - sum(meta)))]
        });
        Self {
            x,
            w,
            acc,
            bias,
            q_first,
            q_next,
        }
    }

    /// Pairs per row.
    pub fn width(&self) -> usize {
        self.x.len()
    }
}

/// One dot product to lay out.
#[derive(Clone, Debug)]
pub struct DotTask<'a, F: PrimeField> {
    /// Input cells, copied into the gate.
    pub inputs: Vec<&'a Cell<F>>,
    /// One constant per input.
    pub weights: &'a [F],
    /// The constant added once.
    pub bias: F,
}

/// Dot products against constants.
pub trait DotInstructions<F: PrimeField> {
    /// Lays out every task in one region and returns each task's result cell.
    fn dot_products(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        tasks: &[DotTask<'_, F>],
    ) -> Result<Vec<Cell<F>>, Error>;
}

/// The fixed-weight dot-product chip.
#[derive(Clone, Debug)]
pub struct FixedDotChip {
    config: FixedDotConfig,
}

impl FixedDotChip {
    /// A chip over a configured gate.
    pub fn construct(config: FixedDotConfig) -> Self {
        Self { config }
    }

    /// Rows a dot product of `len` terms occupies at `width` pairs per row.
    pub fn rows(len: usize, width: usize) -> usize {
        len.div_ceil(width).max(1)
    }

    /// Lays out one task from row `start`. The running sums are derived here from the
    /// copied cells and the constants (no caller supplies them), except that tests may
    /// force `forged` sums to show the gates reject them.
    fn assign_task<F: PrimeField>(
        &self,
        region: &mut Region<'_, F>,
        start: usize,
        task: &DotTask<'_, F>,
        forged: Option<&[Value<F>]>,
    ) -> Result<Cell<F>, Error> {
        let c = &self.config;
        let width = c.width();
        let rows = Self::rows(task.inputs.len(), width);
        if task.weights.len() != task.inputs.len() || forged.is_some_and(|f| f.len() != rows) {
            return Err(Error::Synthesis);
        }
        let mut sum = Value::known(task.bias);
        let mut acc = None;
        for row in 0..rows {
            let offset = start + row;
            for slot in 0..width {
                let i = row * width + slot;
                match task.inputs.get(i) {
                    Some(cell) => {
                        let x = cell.copy_advice(|| "x", region, c.x[slot], offset)?;
                        let w = task.weights[i];
                        sum = sum + x.value().map(|x| *x * w);
                        region.assign_fixed(
                            || "w",
                            c.w[slot],
                            offset,
                            || Value::known(task.weights[i]),
                        )?;
                    }
                    None => {
                        // Padding: a zero weight makes the padding input irrelevant.
                        region.assign_advice(
                            || "x pad",
                            c.x[slot],
                            offset,
                            || Value::known(F::ZERO),
                        )?;
                        region.assign_fixed(
                            || "w pad",
                            c.w[slot],
                            offset,
                            || Value::known(F::ZERO),
                        )?;
                    }
                }
            }
            let bias = if row == 0 { task.bias } else { F::ZERO };
            region.assign_fixed(|| "bias", c.bias, offset, || Value::known(bias))?;
            if row == 0 {
                c.q_first.enable(region, offset)?;
            } else {
                c.q_next.enable(region, offset)?;
            }
            let value = forged.map_or(sum, |f| f[row]);
            acc = Some(region.assign_advice(|| "acc", c.acc, offset, || value)?);
        }
        acc.ok_or(Error::Synthesis)
    }
}

impl FixedDotChip {
    fn lay_out<F: PrimeField>(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        tasks: &[DotTask<'_, F>],
        forged: Option<&[Value<F>]>,
    ) -> Result<Vec<Cell<F>>, Error> {
        let width = self.config.width();
        layouter.assign_region(
            || format!("dot products {name}"),
            |mut region| {
                let mut start = 0;
                tasks
                    .iter()
                    .map(|task| {
                        let out = self.assign_task(&mut region, start, task, forged);
                        start += Self::rows(task.inputs.len(), width);
                        out
                    })
                    .collect()
            },
        )
    }

    /// One task with its running sums forced to `sums` (one per row): malicious-witness
    /// tests only.
    #[cfg(test)]
    pub(crate) fn forged_dot_product<F: PrimeField>(
        &self,
        layouter: &mut impl Layouter<F>,
        task: &DotTask<'_, F>,
        sums: &[Value<F>],
    ) -> Result<Cell<F>, Error> {
        self.lay_out(layouter, "forged", std::slice::from_ref(task), Some(sums))?
            .pop()
            .ok_or(Error::Synthesis)
    }
}

impl<F: PrimeField> DotInstructions<F> for FixedDotChip {
    fn dot_products(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        tasks: &[DotTask<'_, F>],
    ) -> Result<Vec<Cell<F>>, Error> {
        self.lay_out(layouter, name, tasks, None)
    }
}

#[cfg(test)]
#[path = "dot_tests.rs"]
pub(crate) mod tests;
