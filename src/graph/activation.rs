//! How elementwise nonlinear functions are tabulated for lookup (the functions themselves,
//! [`Activation`](crate::graph::ir::Activation), live with the lookup op).
//!
//! # Scheme
//! An input `x` (signed `B` bits at scale `2^e_x`) is first reduced to `b` bits,
//! `v = floor(x / 2^s)` with `s = B − b` (a division with range-checked remainder), so the
//! table has `2^b` rows whatever the activation width. `v` stands for the input interval
//! `[v · h, (v + 1) · h)` with step `h = 2^(s − e_x)`; the table maps it to
//! `round(f(m_v) · 2^e_y)` where `m_v` is the interval's midpoint (its only point when
//! `s = 0`). `e_y` is the largest scale at which the largest output fits `B` bits.
//!
//! # Error bound
//! For an input integer `x` of the domain, `|table(v) / 2^e_y − f(x / 2^e_x)|` is at most
//! `L · h / 2 + 2^-(e_y + 1)` for an `L`-Lipschitz `f`. The compiler measures the bound it
//! reports (and `inspect` prints) directly: the largest such difference over every integer
//! input of the domain (for reductions beyond 8 bits, 256 evenly spread inputs per
//! interval), so no Lipschitz constant is assumed. The input's own quantisation error comes
//! on top, as for every op.
//!
//! The tables are computed once, at compile time, and stored in the model file: the verifying
//! key commits to them, so a verifier on another machine (another `libm`) rebuilds the
//! same key.

use serde::{Deserialize, Serialize};

/// A function tabulated over a reduced-precision input domain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// `s`: the input is divided by `2^s` (floor) before the lookup.
    pub shift: u32,
    /// `b`: the reduced input is a `b`-bit integer, signed or not (see `first`).
    pub input_bits: u32,
    /// The domain's first value: `-2^(b-1)` for signed inputs, `0` for unsigned ones.
    pub first: i64,
    /// Output for reduced input `v` at index `v - first`.
    pub outputs: Vec<i64>,
    /// Largest |table value − f(x)| over the domain, in real units (see the module docs).
    pub error_bound: f64,
}

impl Table {
    /// Tabulates `f` for signed inputs of `input_bits` bits at scale `2^input_scale`,
    /// reduced to `table_bits` bits, with outputs of `output_bits` bits; returns the table
    /// and the output scale exponent (at most `max_frac_bits`).
    pub fn build(
        f: &dyn Fn(f64) -> f64,
        input_scale: i32,
        input_bits: u32,
        table_bits: u32,
        output_bits: u32,
        max_frac_bits: i32,
    ) -> (Self, i32) {
        let domain = Domain::signed(input_scale, input_bits, table_bits);
        Self::tabulate(f, &domain, output_bits, max_frac_bits, true)
    }

    /// Tabulates `f` over `domain`; each entry is `f` at its interval's midpoint when
    /// `midpoint` is set, else at its left end (so the domain's first input is exact).
    pub fn tabulate(
        f: &dyn Fn(f64) -> f64,
        domain: &Domain,
        output_bits: u32,
        max_frac_bits: i32,
        midpoint: bool,
    ) -> (Self, i32) {
        let (b, shift) = domain.reduction();
        let input_scale = domain.input_scale;
        let step = domain.step();
        let first = if domain.signed { -(1i64 << (b - 1)) } else { 0 };
        let end = first + (1i64 << b);
        let point = |v: i64| {
            if shift == 0 || !midpoint {
                v as f64 * step
            } else {
                (v as f64 + 0.5) * step
            }
        };
        let largest = (first..end).fold(0f64, |m, v| m.max(f(point(v)).abs()));
        let limit = 2f64.powi(i32::try_from(output_bits).unwrap_or(2) - 1) - 1.0;
        let e_y = if largest > 0.0 {
            ((limit / largest).log2().floor() as i32).min(max_frac_bits)
        } else {
            max_frac_bits
        };
        let scale = 2f64.powi(e_y);
        let outputs: Vec<i64> = (first..end)
            .map(|v| (f(point(v)) * scale).round() as i64)
            .collect();
        // Every integer input of an interval (up to 256 of them; evenly spread beyond).
        let width = 1i64 << shift;
        let samples = width.min(256);
        let unit = 2f64.powi(-input_scale);
        let mut error_bound = 0f64;
        for (v, q) in (first..end).zip(&outputs) {
            let y = *q as f64 / scale;
            for i in 0..samples {
                let j = if samples == width {
                    i
                } else {
                    i * (width - 1) / (samples - 1)
                };
                let x = (v * width + j) as f64 * unit;
                error_bound = error_bound.max((f(x) - y).abs());
            }
        }
        let table = Self {
            shift,
            input_bits: b,
            first,
            outputs,
            error_bound,
        };
        (table, e_y)
    }

    /// The output for reduced input `v`, if `v` is in the domain.
    pub fn get(&self, v: i64) -> Option<i64> {
        let index = v.checked_sub(self.first)?;
        usize::try_from(index)
            .ok()
            .and_then(|i| self.outputs.get(i).copied())
    }

    /// `(v, output)` for every `v` of the domain.
    pub fn entries(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        (self.first..).zip(self.outputs.iter().copied())
    }
}

/// The input side of a table: integers of `input_bits` bits (signed or not) at scale
/// `2^input_scale`, reduced to `table_bits` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Domain {
    /// Scale exponent of the input.
    pub input_scale: i32,
    /// Width of the input.
    pub input_bits: u32,
    /// Whether the input is signed.
    pub signed: bool,
    /// Width of the reduced input, the table's index.
    pub table_bits: u32,
}

impl Domain {
    /// The signed domain of an activation's input at scale `2^input_scale`.
    pub fn signed(input_scale: i32, input_bits: u32, table_bits: u32) -> Self {
        Self {
            input_scale,
            input_bits,
            signed: true,
            table_bits,
        }
    }

    /// The table's index width `b` and the input's reduction `s` (`input / 2^s`).
    pub fn reduction(&self) -> (u32, u32) {
        let b = self.table_bits.min(self.input_bits).max(1);
        (b, self.input_bits - b)
    }

    /// The width of one table interval in real units, `2^(s − input_scale)`.
    pub fn step(&self) -> f64 {
        2f64.powi(i32::try_from(self.reduction().1).unwrap_or(0) - self.input_scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_tables_have_only_rounding_error() {
        // 8-bit inputs at scale 2^4 tabulated in 8 bits: no reduction.
        let (t, e_y) = Table::build(&f64::tanh, 4, 8, 8, 16, 12);
        assert_eq!(t.shift, 0);
        assert!(t.error_bound <= 0.5 / 2f64.powi(e_y) + 1e-12);
    }

    #[test]
    fn reduced_tables_bound_the_error_everywhere() {
        let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        let (t, e_y) = Table::build(&sigmoid, 10, 16, 10, 16, 12);
        assert_eq!((t.shift, t.input_bits, t.outputs.len()), (6, 10, 1024));
        // Check every 16-bit input against the bound.
        for x in -(1i64 << 15)..(1i64 << 15) {
            let y = t.get(x.div_euclid(1 << t.shift)).unwrap() as f64 / 2f64.powi(e_y);
            let f = sigmoid(x as f64 / 1024.0);
            assert!((y - f).abs() <= t.error_bound + 1e-12, "x = {x}");
        }
        // Lipschitz 1/4, step 2^-4: about 1/128 plus rounding.
        assert!(t.error_bound < 0.01, "{}", t.error_bound);
    }
}
