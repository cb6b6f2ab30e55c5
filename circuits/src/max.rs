//! The maximum of a window of range-checked values (MaxPool).
//!
//! # Purpose
//! `m = max(x_0, …, x_{n-1})` with `m` supplied by the prover. Two facts make it the max:
//! `m` is not below any input (`d_j = m − x_j` is range-checked non-negative) and `m` is one of
//! the inputs (`Π d_j = 0`). Ties and duplicates are harmless: several `d_j` are then zero.
//!
//! # Layout
//! One row per input of a window:
//!
//! ```text
//! | x (copy) | m   | d         | p               | q_first | q_next | q_last |
//! |----------|-----|-----------|-----------------|---------|--------|--------|
//! | x_0      | m   | m − x_0   | d_0             | 1       | 0      | 0      |
//! | x_1      | m   | m − x_1   | p_0 · d_1       | 0       | 1      | 0      |
//! | …        |     |           |                 |         |        |        |
//! | x_{n-1}  | m   | m − x_n-1 | p_{n-2} · d_n-1 | 0       | 1      | 1      |
//! ```
//! then an unsigned range check of every `d_j` over the inputs' width `b`.
//!
//! # Constraints
//! - `q_first · (d − (m − x)) = 0` and `q_next · (d − (m − x)) = 0` ("d = m - x")
//! - `q_first · (p − d) = 0` ("product starts at d")
//! - `q_next · (m − m_prev) = 0` ("m is the same on every row")
//! - `q_next · (p − p_prev · d) = 0` ("product accumulates d")
//! - `q_last · p = 0` ("max equals an input")
//!
//! # Soundness
//! The inputs are signed `b`-bit values. The last product is zero, and the field has no zero
//! divisors, so some `d_k = 0`: `m = x_k`, itself in range. Each `d_j` is then the integer
//! `x_k − x_j ∈ (−2^b, 2^b)`; the range check admits only `[0, 2^b)`, since a negative
//! difference is a field element near `p`. So `m >= x_j` for all `j` and `m` is attained: the
//! max. A claimed max that is not among the inputs fails "max equals an input"; one below an
//! input fails that `d`'s range check.
//!
//! # Side effects
//! `x` and `m` are equality-enabled; the range table must be loaded.
//!
//! # Panics
//! None.
//!
//! # Cost
//! `n` rows per window, `n` unsigned range checks of `b` bits
//! ([`LookupRangeChip::unsigned_rows`]), plus a signed check of `m` when the inputs are not
//! all known non-negative (to give `m` a sign bit for a following ReLU).

use ff::PrimeField;
use halo2_proofs::{
    circuit::{Layouter, Value},
    plonk::{Advice, Column, ConstraintSystem, Error, Selector},
    poly::Rotation,
};

use crate::range::{LookupRangeChip, RangeInstructions, Sign, SignedCell};
use crate::Cell;

/// Columns and selectors of the max gate.
#[derive(Clone, Debug)]
pub struct MaxConfig {
    x: Column<Advice>,
    m: Column<Advice>,
    d: Column<Advice>,
    p: Column<Advice>,
    q_first: Selector,
    q_next: Selector,
    q_last: Selector,
}

impl MaxConfig {
    /// Name of the gate on a window's first row.
    pub const GATE: &'static str = "max first";
    /// Name of the gate on every further row.
    pub const NEXT_GATE: &'static str = "max next";
    /// Name of the gate on a window's last row.
    pub const LAST_GATE: &'static str = "max attained";
    /// `d` is the gap between the max and the row's input.
    pub const GAP: &'static str = "d = m - x";
    /// The running product starts at the first gap.
    pub const START: &'static str = "product starts at d";
    /// The claimed max does not change along the window.
    pub const SAME: &'static str = "m is the same on every row";
    /// The running product multiplies in each gap.
    pub const PRODUCT: &'static str = "product accumulates d";
    /// Some gap is zero.
    pub const ATTAINED: &'static str = "max equals an input";
    /// Every gate constraint, as `(gate, constraint)` names: what the coverage test expects
    /// a malicious test to break.
    pub const CONSTRAINTS: &'static [(&'static str, &'static str)] = &[
        (Self::GATE, Self::GAP),
        (Self::GATE, Self::START),
        (Self::NEXT_GATE, Self::GAP),
        (Self::NEXT_GATE, Self::SAME),
        (Self::NEXT_GATE, Self::PRODUCT),
        (Self::LAST_GATE, Self::ATTAINED),
    ];

    /// Creates the gate over caller-allocated columns; `x` and `m` become equality-enabled.
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        [x, m, d, p]: [Column<Advice>; 4],
    ) -> Self {
        meta.enable_equality(x);
        meta.enable_equality(m);
        meta.enable_equality(d);
        let [q_first, q_next, q_last] = [(); 3].map(|_| meta.selector());
        // Three gates, so that rows without a predecessor never query one.
        meta.create_gate(Self::GATE, |meta| {
            let first = meta.query_selector(q_first);
            let x = meta.query_advice(x, Rotation::cur());
            let m = meta.query_advice(m, Rotation::cur());
            let d = meta.query_advice(d, Rotation::cur());
            let p = meta.query_advice(p, Rotation::cur());
            vec![
                (Self::GAP, first.clone() * (d.clone() - (m - x))),
                (Self::START, first * (p - d)),
            ]
        });
        meta.create_gate(Self::NEXT_GATE, |meta| {
            let next = meta.query_selector(q_next);
            let x = meta.query_advice(x, Rotation::cur());
            let m_cur = meta.query_advice(m, Rotation::cur());
            let m_prev = meta.query_advice(m, Rotation::prev());
            let d = meta.query_advice(d, Rotation::cur());
            let p_cur = meta.query_advice(p, Rotation::cur());
            let p_prev = meta.query_advice(p, Rotation::prev());
            vec![
                (Self::GAP, next.clone() * (d.clone() - (m_cur.clone() - x))),
                (Self::SAME, next.clone() * (m_cur - m_prev)),
                (Self::PRODUCT, next * (p_cur - p_prev * d)),
            ]
        });
        meta.create_gate(Self::LAST_GATE, |meta| {
            let last = meta.query_selector(q_last);
            let p = meta.query_advice(p, Rotation::cur());
            vec![(Self::ATTAINED, last * p)]
        });
        Self {
            x,
            m,
            d,
            p,
            q_first,
            q_next,
            q_last,
        }
    }
}

/// Each window's maximum, and its gap cells `m − x_j` (one per tap).
pub type MaxWithGaps<F> = (Vec<SignedCell<F>>, Vec<Vec<Cell<F>>>);

/// Maxima of windows.
pub trait MaxInstructions<F: PrimeField> {
    /// Proves `maxima[i] = max(windows[i])` for every window (none empty; all inputs of one
    /// window share a width) and returns the maxima.
    fn max(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        windows: &[Vec<SignedCell<F>>],
        maxima: &[Value<F>],
    ) -> Result<Vec<SignedCell<F>>, Error>;

    /// [`MaxInstructions::max`], also returning each window's gap cells `m − x_j`, proven
    /// non-negative (for [`crate::argmax`] and softmax).
    fn max_with_gaps(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        windows: &[Vec<SignedCell<F>>],
        maxima: &[Value<F>],
    ) -> Result<MaxWithGaps<F>, Error>;
}

/// The max chip.
#[derive(Clone, Debug)]
pub struct MaxChip<F: PrimeField> {
    config: MaxConfig,
    range: LookupRangeChip<F>,
}

impl<F: PrimeField> MaxChip<F> {
    /// A chip over a configured gate and the shared range check.
    pub fn construct(config: MaxConfig, range: LookupRangeChip<F>) -> Self {
        Self { config, range }
    }

    /// Range rows of one window of `n` inputs of `bits` bits.
    pub fn range_rows(n: usize, bits: u32, nonnegative: bool) -> usize {
        let sign = if nonnegative {
            0
        } else {
            LookupRangeChip::<F>::signed_rows(bits)
        };
        n * LookupRangeChip::<F>::unsigned_rows(bits) + sign
    }
}

impl<F: PrimeField> MaxInstructions<F> for MaxChip<F> {
    fn max(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        windows: &[Vec<SignedCell<F>>],
        maxima: &[Value<F>],
    ) -> Result<Vec<SignedCell<F>>, Error> {
        Ok(self.max_with_gaps(layouter, name, windows, maxima)?.0)
    }

    fn max_with_gaps(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        windows: &[Vec<SignedCell<F>>],
        maxima: &[Value<F>],
    ) -> Result<MaxWithGaps<F>, Error> {
        if maxima.len() != windows.len() || windows.iter().any(Vec::is_empty) {
            return Err(Error::Synthesis);
        }
        let bits = windows
            .iter()
            .flatten()
            .map(SignedCell::bits)
            .max()
            .unwrap_or(1);
        let c = &self.config;
        let (ms, gaps) = layouter.assign_region(
            || format!("max {name}"),
            |mut region| {
                let mut row = 0;
                let mut ms = Vec::with_capacity(windows.len());
                let mut gaps = Vec::new();
                for (window, m) in windows.iter().zip(maxima) {
                    let mut product = Value::known(F::ONE);
                    let mut first_m = None;
                    for (j, x) in window.iter().enumerate() {
                        let x = x.cell().copy_advice(|| "x", &mut region, c.x, row)?;
                        let m_cell = region.assign_advice(|| "m", c.m, row, || *m)?;
                        let d = *m - x.value().copied();
                        gaps.push(region.assign_advice(|| "d", c.d, row, || d)?);
                        product = if j == 0 { d } else { product * d };
                        region.assign_advice(|| "p", c.p, row, || product)?;
                        if j == 0 {
                            c.q_first.enable(&mut region, row)?;
                            first_m = Some(m_cell);
                        } else {
                            c.q_next.enable(&mut region, row)?;
                        }
                        if j + 1 == window.len() {
                            c.q_last.enable(&mut region, row)?;
                        }
                        row += 1;
                    }
                    ms.push(first_m.ok_or(Error::Synthesis)?);
                }
                Ok((ms, gaps))
            },
        )?;
        self.range
            .check_unsigned(layouter, &format!("{name} gap"), &gaps, bits)?;
        let mut rest = gaps.into_iter();
        let gaps: Vec<Vec<Cell<F>>> = windows
            .iter()
            .map(|w| rest.by_ref().take(w.len()).collect())
            .collect();
        let nonnegative = windows
            .iter()
            .flatten()
            .all(|x| matches!(x.sign(), Sign::NonNegative));
        let ms = if nonnegative {
            ms.into_iter()
                .map(|m| SignedCell::nonnegative_by_construction(m, bits))
                .collect()
        } else {
            self.range
                .check_signed(layouter, &format!("{name} max"), &ms, bits)?
        };
        Ok((ms, gaps))
    }
}

#[cfg(test)]
#[path = "max_tests.rs"]
pub(crate) mod tests;
