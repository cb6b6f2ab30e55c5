//! Dot products of two vectors of cells (advice × advice): the products of two activations
//! in attention, Q·Kᵀ and P·V.
//!
//! # Purpose
//! `acc = Σ_i a_i · b_i` for cells `a_i`, `b_i` copied in from where other chips produced
//! them. Summing before one rescale (the caller divides `acc` once) costs one division per
//! output instead of one per product.
//!
//! # Layout
//! Over the fixed-weight dot chip's input columns, split in two halves: `P = W / 2` pairs per
//! row, `R = max(1, ceil(n / P))` rows for `n` pairs, and the same accumulator column:
//!
//! ```text
//! | a_0 .. a_{P-1} | b_0 .. b_{P-1} | acc     | q_first | q_next |
//! |----------------|----------------|---------|---------|--------|
//! | a[0..P]        | b[0..P]        | s_0     | 1       | 0      |
//! | a[P..2P]       | b[P..2P]       | s_1     | 0       | 1      |
//! ```
//!
//! # Constraints
//! - `q_first · (acc − Σ a_i b_i) = 0` ("acc = sum a * b")
//! - `q_next · (acc − acc_prev − Σ a_i b_i) = 0` ("acc = acc_prev + sum a * b")
//!
//! # Soundness
//! Every `a_i` and `b_i` is a copy (equality constraint) of a cell the caller produced. The
//! slots past `n` in the last row have no weight to cancel them, so each padding `a` is
//! pinned to 0 through the constant column (its `b` is then irrelevant): a prover cannot
//! slip an extra term into the sum. Whether `acc` can wrap the modulus is the caller's bound
//! (`n · 2^(bits_a + bits_b)`, far below `p / 2` for range-checked operands), which it then
//! range-checks through a rescale.
//!
//! # Side effects
//! The input columns and `acc` are equality-enabled (by the fixed-weight dot chip).
//!
//! # Panics
//! `configure` panics if the halves differ in length or are empty.
//!
//! # Cost
//! `1 / P` rows per product; `2n` copy constraints per dot product, one pinned zero per
//! padding slot.

use ff::PrimeField;
use halo2_proofs::{
    circuit::{Layouter, Region, Value},
    plonk::{Advice, Column, ConstraintSystem, Error, Expression, Selector, VirtualCells},
    poly::Rotation,
};

use crate::Cell;

/// Columns and selectors of the pair dot-product gate.
#[derive(Clone, Debug)]
pub struct PairDotConfig {
    a: Vec<Column<Advice>>,
    b: Vec<Column<Advice>>,
    acc: Column<Advice>,
    q_first: Selector,
    q_next: Selector,
}

impl PairDotConfig {
    /// Name of the gate.
    pub const GATE: &'static str = "pair dot product";
    /// Name of the gate on continuation rows.
    pub const NEXT_GATE: &'static str = "pair dot product continued";
    /// Name of the first-row constraint.
    pub const FIRST: &'static str = "acc = sum a * b";
    /// Name of the continuation constraint.
    pub const NEXT: &'static str = "acc = acc_prev + sum a * b";
    /// Every gate constraint, as `(gate, constraint)` names.
    pub const CONSTRAINTS: &'static [(&'static str, &'static str)] =
        &[(Self::GATE, Self::FIRST), (Self::NEXT_GATE, Self::NEXT)];

    /// Creates the gate over equality-enabled columns the caller allocated.
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        a: Vec<Column<Advice>>,
        b: Vec<Column<Advice>>,
        acc: Column<Advice>,
    ) -> Self {
        assert!(
            !a.is_empty() && a.len() == b.len(),
            "a pair dot product needs as many b columns as a columns"
        );
        let q_first = meta.selector();
        let q_next = meta.selector();
        let sum = |meta: &mut VirtualCells<'_, F>| {
            a.iter()
                .zip(&b)
                .map(|(a, b)| {
                    meta.query_advice(*a, Rotation::cur()) * meta.query_advice(*b, Rotation::cur())
                })
                .fold(Expression::Constant(F::ZERO), |s, t| s + t)
        };
        meta.create_gate(Self::GATE, |meta| {
            let q = meta.query_selector(q_first);
            let acc = meta.query_advice(acc, Rotation::cur());
            vec![(Self::FIRST, q * (acc - sum(meta)))]
        });
        meta.create_gate(Self::NEXT_GATE, |meta| {
            let q = meta.query_selector(q_next);
            let cur = meta.query_advice(acc, Rotation::cur());
            let prev = meta.query_advice(acc, Rotation::prev());
            vec![(Self::NEXT, q * (cur - prev - sum(meta)))]
        });
        Self {
            a,
            b,
            acc,
            q_first,
            q_next,
        }
    }

    /// Pairs per row.
    pub fn width(&self) -> usize {
        self.a.len()
    }
}

/// One dot product of two cell vectors of one length.
#[derive(Clone, Debug)]
pub struct PairTask<'a, F: PrimeField> {
    /// The left operands.
    pub a: Vec<&'a Cell<F>>,
    /// The right operands.
    pub b: Vec<&'a Cell<F>>,
}

/// Dot products of cell pairs.
pub trait PairDotInstructions<F: PrimeField> {
    /// Lays out every task in one region and returns each task's sum.
    fn pair_dot_products(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        tasks: &[PairTask<'_, F>],
    ) -> Result<Vec<Cell<F>>, Error>;
}

/// The pair dot-product chip.
#[derive(Clone, Debug)]
pub struct PairDotChip {
    config: PairDotConfig,
}

/// What a malicious-witness test forces into a task's layout.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Forgery<'a, F> {
    /// Running sums, one per row.
    pub sums: Option<&'a [Value<F>]>,
    /// The values of every padding pair `(a, b)` (honestly `(0, 0)`).
    pub padding: Option<(F, F)>,
}

impl PairDotChip {
    /// A chip over a configured gate.
    pub fn construct(config: PairDotConfig) -> Self {
        Self { config }
    }

    /// Rows a dot product of `len` pairs occupies at `width` pairs per row.
    pub fn rows(len: usize, width: usize) -> usize {
        len.div_ceil(width.max(1)).max(1)
    }

    fn assign_task<F: PrimeField>(
        &self,
        region: &mut Region<'_, F>,
        start: usize,
        task: &PairTask<'_, F>,
        forgery: Forgery<'_, F>,
    ) -> Result<Cell<F>, Error> {
        let c = &self.config;
        let width = c.width();
        let n = task.a.len();
        let rows = Self::rows(n, width);
        if task.b.len() != n || forgery.sums.is_some_and(|s| s.len() != rows) {
            return Err(Error::Synthesis);
        }
        let mut sum = Value::known(F::ZERO);
        let mut acc = None;
        for row in 0..rows {
            let offset = start + row;
            for slot in 0..width {
                let i = row * width + slot;
                match (task.a.get(i), task.b.get(i)) {
                    (Some(a), Some(b)) => {
                        let a = a.copy_advice(|| "a", region, c.a[slot], offset)?;
                        let b = b.copy_advice(|| "b", region, c.b[slot], offset)?;
                        sum = sum + a.value().copied() * b.value().copied();
                    }
                    _ => {
                        let (a, b) = forgery.padding.unwrap_or((F::ZERO, F::ZERO));
                        let (a, b) = (Value::known(a), Value::known(b));
                        let pad = region.assign_advice(|| "a pad", c.a[slot], offset, || a)?;
                        region.constrain_constant(pad.cell(), F::ZERO)?;
                        region.assign_advice(|| "b pad", c.b[slot], offset, || b)?;
                        sum = sum + a * b;
                    }
                }
            }
            if row == 0 {
                c.q_first.enable(region, offset)?;
            } else {
                c.q_next.enable(region, offset)?;
            }
            let value = forgery.sums.map_or(sum, |s| s[row]);
            acc = Some(region.assign_advice(|| "acc", c.acc, offset, || value)?);
        }
        acc.ok_or(Error::Synthesis)
    }

    pub(crate) fn lay_out<F: PrimeField>(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        tasks: &[PairTask<'_, F>],
        forgery: Forgery<'_, F>,
    ) -> Result<Vec<Cell<F>>, Error> {
        let width = self.config.width();
        layouter.assign_region(
            || format!("pair dot products {name}"),
            |mut region| {
                let mut start = 0;
                tasks
                    .iter()
                    .map(|task| {
                        let out = self.assign_task(&mut region, start, task, forgery);
                        start += Self::rows(task.a.len(), width);
                        out
                    })
                    .collect()
            },
        )
    }
}

impl<F: PrimeField> PairDotInstructions<F> for PairDotChip {
    fn pair_dot_products(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        tasks: &[PairTask<'_, F>],
    ) -> Result<Vec<Cell<F>>, Error> {
        self.lay_out(layouter, name, tasks, Forgery::default())
    }
}

#[cfg(test)]
#[path = "pairdot_tests.rs"]
pub(crate) mod tests;
