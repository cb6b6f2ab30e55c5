//! The index of the first maximum of a window (ONNX ArgMax, `select_last_index = 0`).
//!
//! # Purpose
//! Given the gaps `d_j = m − x_j` of a window, which [`crate::max::MaxChip`] proved
//! non-negative for the window's max `m`, prove that a claimed index `i` is the *first*
//! position where the max is attained: `d_i = 0` and `d_j >= 1` for every `j < i`.
//!
//! # Layout
//! One row per window position, with a one-hot bit `h` (1 at the claimed index), its prefix
//! sum `p`, a gap `g` that must be non-negative, and a running count `t`:
//!
//! ```text
//! | d (copy) | h   | p             | g                 | t                   | q_first | q_next | q_last |
//! |----------|-----|---------------|-------------------|---------------------|---------|--------|--------|
//! | d_0      | h_0 | h_0           | (1 − p_0)(d_0 − 1) | 1 − p_0            | 1       | 0      | 0      |
//! | d_j      | h_j | p_{j-1} + h_j | (1 − p_j)(d_j − 1) | t_{j-1} + 1 − p_j  | 0       | 1      | 0/1    |
//! ```
//! then an unsigned range check of every `g`. The index is `t` on the last row.
//!
//! # Constraints
//! - `h · (1 − h) = 0` ("one-hot bit is boolean")
//! - first row `p = h`, further rows `p = p_prev + h` ("prefix sum of the one-hot bits")
//! - `h · d = 0` ("the chosen element attains the max")
//! - `g = (1 − p) · (d − 1)` ("g is the gap minus one before the chosen element")
//! - first row `t = 1 − p`, further rows `t = t_prev + 1 − p` ("index counts the positions
//!   before the chosen element")
//! - last row `p = 1` ("exactly one element is chosen")
//! - `g ∈ [0, 2^b)` by the range check.
//!
//! # Soundness
//! `h` is boolean and its prefix sums end at 1, so exactly one `h_i = 1`; then `p_j = 0`
//! for `j < i` and `1` after. `h_i · d_i = 0` makes `x_i` a maximum. For `j < i`,
//! `g_j = d_j − 1` is range-checked non-negative, so `x_j < m`: no earlier maximum, which is
//! the tie rule. `t` counts the `j` with `p_j = 0`, which is exactly `i`. A later index at a
//! tie leaves an earlier `d_j = 0` with `g_j = −1`, a field element near `p` that fails the
//! range check; a non-maximal index fails "the chosen element attains the max".
//!
//! # Side effects
//! `d`, `g` and `t` are equality-enabled; the range table must be loaded.
//!
//! # Panics
//! None.
//!
//! # Cost
//! One row and one `b`-bit range check per window position.

use ff::PrimeField;
use halo2_proofs::{
    circuit::{Layouter, Value},
    plonk::{Advice, Column, ConstraintSystem, Error, Expression, Selector},
    poly::Rotation,
};

use crate::range::{bits_below, LookupRangeChip, RangeInstructions, SignedCell};
use crate::value::low_u64;
use crate::Cell;

/// Columns and selectors of the argmax gates.
#[derive(Clone, Debug)]
pub struct ArgMaxConfig {
    d: Column<Advice>,
    h: Column<Advice>,
    p: Column<Advice>,
    g: Column<Advice>,
    t: Column<Advice>,
    q_first: Selector,
    q_next: Selector,
    q_last: Selector,
}

impl ArgMaxConfig {
    /// Name of the gate on a window's first row.
    pub const FIRST_GATE: &'static str = "argmax first";
    /// Name of the gate on every further row.
    pub const NEXT_GATE: &'static str = "argmax next";
    /// Name of the gate on a window's last row.
    pub const LAST_GATE: &'static str = "argmax last";
    /// `h` is 0 or 1.
    pub const BOOLEAN: &'static str = "one-hot bit is boolean";
    /// `p` sums the one-hot bits so far.
    pub const PREFIX: &'static str = "prefix sum of the one-hot bits";
    /// The chosen element's gap is zero.
    pub const ATTAINS: &'static str = "the chosen element attains the max";
    /// Before the chosen element, gaps are at least one.
    pub const EARLIER: &'static str = "g is the gap minus one before the chosen element";
    /// `t` counts positions before the chosen element.
    pub const INDEX: &'static str = "index counts the positions before the chosen element";
    /// The one-hot bits sum to one.
    pub const ONE: &'static str = "exactly one element is chosen";
    /// Every gate constraint, as `(gate, constraint)` names: what the coverage test expects
    /// a malicious test to break.
    pub const CONSTRAINTS: &'static [(&'static str, &'static str)] = &[
        (Self::FIRST_GATE, Self::BOOLEAN),
        (Self::FIRST_GATE, Self::PREFIX),
        (Self::FIRST_GATE, Self::ATTAINS),
        (Self::FIRST_GATE, Self::EARLIER),
        (Self::FIRST_GATE, Self::INDEX),
        (Self::NEXT_GATE, Self::BOOLEAN),
        (Self::NEXT_GATE, Self::PREFIX),
        (Self::NEXT_GATE, Self::ATTAINS),
        (Self::NEXT_GATE, Self::EARLIER),
        (Self::NEXT_GATE, Self::INDEX),
        (Self::LAST_GATE, Self::ONE),
    ];

    /// Creates the gates over caller-allocated columns; `d`, `g` and `t` become
    /// equality-enabled.
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        [d, h, p, g, t]: [Column<Advice>; 5],
    ) -> Self {
        for column in [d, g, t] {
            meta.enable_equality(column);
        }
        let [q_first, q_next, q_last] = [(); 3].map(|_| meta.selector());
        let one = || Expression::Constant(F::ONE);
        // Shared constraints of a row, given the previous prefix sum and count.
        type Row<F> = [Expression<F>; 5];
        let body = |[d, h, p, g, t]: Row<F>, p_prev: Expression<F>, t_prev: Expression<F>| {
            vec![
                (Self::BOOLEAN, h.clone() * (one() - h.clone())),
                (Self::PREFIX, p.clone() - p_prev - h.clone()),
                (Self::ATTAINS, h * d.clone()),
                (Self::EARLIER, g - (one() - p.clone()) * (d - one())),
                (Self::INDEX, t - t_prev - (one() - p)),
            ]
        };
        let cur = |meta: &mut halo2_proofs::plonk::VirtualCells<'_, F>| -> Row<F> {
            [d, h, p, g, t].map(|c| meta.query_advice(c, Rotation::cur()))
        };
        meta.create_gate(Self::FIRST_GATE, |meta| {
            let s = meta.query_selector(q_first);
            let row = cur(meta);
            let zero = Expression::Constant(F::ZERO);
            body(row, zero.clone(), zero)
                .into_iter()
                .map(|(n, e)| (n, s.clone() * e))
                .collect::<Vec<_>>()
        });
        meta.create_gate(Self::NEXT_GATE, |meta| {
            let s = meta.query_selector(q_next);
            let row = cur(meta);
            let p_prev = meta.query_advice(p, Rotation::prev());
            let t_prev = meta.query_advice(t, Rotation::prev());
            body(row, p_prev, t_prev)
                .into_iter()
                .map(|(n, e)| (n, s.clone() * e))
                .collect::<Vec<_>>()
        });
        meta.create_gate(Self::LAST_GATE, |meta| {
            let s = meta.query_selector(q_last);
            let p = meta.query_advice(p, Rotation::cur());
            vec![(Self::ONE, s * (p - one()))]
        });
        Self {
            d,
            h,
            p,
            g,
            t,
            q_first,
            q_next,
            q_last,
        }
    }
}

/// First-maximum indices.
pub trait ArgMaxInstructions<F: PrimeField> {
    /// Proves `indices[w]` is the first position of window `w` whose gap is zero, given gaps
    /// of `bits` bits proven non-negative; returns the index cells.
    fn argmax(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        gaps: &[Vec<Cell<F>>],
        bits: u32,
        indices: &[Value<F>],
    ) -> Result<Vec<SignedCell<F>>, Error>;
}

/// The argmax chip.
#[derive(Clone, Debug)]
pub struct ArgMaxChip<F: PrimeField> {
    config: ArgMaxConfig,
    range: LookupRangeChip<F>,
}

impl<F: PrimeField> ArgMaxChip<F> {
    /// A chip over configured gates and the shared range check.
    pub fn construct(config: ArgMaxConfig, range: LookupRangeChip<F>) -> Self {
        Self { config, range }
    }

    /// Range rows of one window of `n` gaps of `bits` bits.
    pub fn range_rows(n: usize, bits: u32) -> usize {
        n * LookupRangeChip::<F>::unsigned_rows(bits)
    }

    /// Signed width of an index into a window of `n`.
    pub fn index_bits(n: usize) -> u32 {
        bits_below(n as u64) + 1
    }
}

impl<F: PrimeField> ArgMaxInstructions<F> for ArgMaxChip<F> {
    fn argmax(
        &self,
        layouter: &mut impl Layouter<F>,
        name: &str,
        gaps: &[Vec<Cell<F>>],
        bits: u32,
        indices: &[Value<F>],
    ) -> Result<Vec<SignedCell<F>>, Error> {
        if indices.len() != gaps.len() || gaps.iter().any(Vec::is_empty) {
            return Err(Error::Synthesis);
        }
        let c = &self.config;
        let (outs, gs) = layouter.assign_region(
            || format!("argmax {name}"),
            |mut region| {
                let mut row = 0;
                let (mut outs, mut gs) = (Vec::new(), Vec::new());
                for (window, index) in gaps.iter().zip(indices) {
                    let (mut p, mut t) = (Value::known(F::ZERO), Value::known(F::ZERO));
                    let mut last = None;
                    for (j, d) in window.iter().enumerate() {
                        let d = d.copy_advice(|| "d", &mut region, c.d, row)?;
                        let h = index.map(|i| F::from(u64::from(low_u64(&i) == j as u64)));
                        p = p + h;
                        let g = (Value::known(F::ONE) - p)
                            * (d.value().copied() - Value::known(F::ONE));
                        t = t + Value::known(F::ONE) - p;
                        region.assign_advice(|| "h", c.h, row, || h)?;
                        region.assign_advice(|| "p", c.p, row, || p)?;
                        gs.push(region.assign_advice(|| "g", c.g, row, || g)?);
                        last = Some(region.assign_advice(|| "t", c.t, row, || t)?);
                        if j == 0 {
                            c.q_first.enable(&mut region, row)?;
                        } else {
                            c.q_next.enable(&mut region, row)?;
                        }
                        row += 1;
                    }
                    c.q_last.enable(&mut region, row - 1)?;
                    outs.push(last.ok_or(Error::Synthesis)?);
                }
                Ok((outs, gs))
            },
        )?;
        self.range
            .check_unsigned(layouter, &format!("{name} earlier gap"), &gs, bits)?;
        Ok(outs
            .into_iter()
            .zip(gaps)
            .map(|(t, w)| SignedCell::nonnegative_by_construction(t, Self::index_bits(w.len())))
            .collect())
    }
}

#[cfg(test)]
#[path = "argmax_tests.rs"]
pub(crate) mod tests;
