//! Elementwise nonlinear functions proven by table lookup, and how their tables are built.
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

/// A tabulated elementwise function.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Activation {
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh x`.
    Tanh,
    /// `e^x`.
    Exp,
    /// The error function.
    Erf,
    /// `x · Φ(x)` (exact form, `x/2 · (1 + erf(x/√2))`).
    Gelu,
    /// `ln(1 + e^x)`.
    Softplus,
    /// `x` for `x >= 0`, else `alpha · x`.
    LeakyRelu {
        /// Slope below zero.
        alpha: f32,
    },
    /// `min(max(x, min), max)` (also Relu6).
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
    /// `x` for `x > 0`, else `alpha · (e^x − 1)`.
    Elu {
        /// Scale of the negative part.
        alpha: f32,
    },
    /// `ln(max(x, floor))`: the natural logarithm, clamped below at `floor > 0` so that the
    /// table is finite (LogSoftmax takes the log of a sum that is at least 1).
    Ln {
        /// The smallest input the logarithm is taken of.
        floor: f32,
    },
    /// `√max(x, 0)`.
    Sqrt,
    /// `1 / √max(x, floor)`: the reciprocal square root, clamped below at `floor > 0` so
    /// that the table is finite (a layer normalisation's `Div` by `Sqrt(variance + ε)`).
    Rsqrt {
        /// The smallest input the root is taken of.
        floor: f32,
    },
    /// `max(0, min(1, alpha · x + beta))`.
    HardSigmoid {
        /// Slope.
        alpha: f32,
        /// Offset.
        beta: f32,
    },
}

impl Activation {
    /// The ONNX-style name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sigmoid => "Sigmoid",
            Self::Tanh => "Tanh",
            Self::Exp => "Exp",
            Self::Erf => "Erf",
            Self::Gelu => "Gelu",
            Self::Softplus => "Softplus",
            Self::LeakyRelu { .. } => "LeakyRelu",
            Self::Clip { .. } => "Clip",
            Self::HardSigmoid { .. } => "HardSigmoid",
            Self::Elu { .. } => "Elu",
            Self::Ln { .. } => "Ln",
            Self::Sqrt => "Sqrt",
            Self::Rsqrt { .. } => "Rsqrt",
        }
    }

    /// The function's constants (slopes, bounds, floors), which must be finite.
    pub fn parameters(&self) -> Vec<f32> {
        match *self {
            Self::LeakyRelu { alpha } | Self::Elu { alpha } => vec![alpha],
            Self::Ln { floor } | Self::Rsqrt { floor } => vec![floor],
            Self::Clip { min, max } => vec![min, max],
            Self::HardSigmoid { alpha, beta } => vec![alpha, beta],
            Self::Sigmoid
            | Self::Tanh
            | Self::Exp
            | Self::Erf
            | Self::Gelu
            | Self::Softplus
            | Self::Sqrt => Vec::new(),
        }
    }

    /// The function as tabulated over intervals of width `step`: a reciprocal root's floor
    /// rises to half a step, since inputs below it share the first interval. The table's
    /// largest entry (which sets its output scale) is then that interval's, not `1/√ε` of an
    /// input no variance reaches. Other functions are unchanged.
    pub fn for_step(self, step: f64) -> Self {
        match self {
            Self::Rsqrt { floor } => Self::Rsqrt {
                floor: floor.max((step / 2.0) as f32),
            },
            f => f,
        }
    }

    /// The float function.
    pub fn eval(&self, x: f64) -> f64 {
        match *self {
            Self::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Self::Tanh => x.tanh(),
            Self::Exp => x.exp(),
            Self::Erf => libm::erf(x),
            Self::Gelu => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
            // ln(1 + e^x) without overflow for large x.
            Self::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
            Self::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    f64::from(alpha) * x
                }
            }
            Self::Clip { min, max } => x.max(f64::from(min)).min(f64::from(max)),
            Self::HardSigmoid { alpha, beta } => {
                (f64::from(alpha) * x + f64::from(beta)).clamp(0.0, 1.0)
            }
            Self::Elu { alpha } => {
                if x > 0.0 {
                    x
                } else {
                    f64::from(alpha) * x.exp_m1()
                }
            }
            Self::Ln { floor } => x.max(f64::from(floor)).ln(),
            Self::Sqrt => x.max(0.0).sqrt(),
            Self::Rsqrt { floor } => 1.0 / x.max(f64::from(floor)).sqrt(),
        }
    }
}

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
        f: Activation,
        input_scale: i32,
        input_bits: u32,
        table_bits: u32,
        output_bits: u32,
        max_frac_bits: i32,
    ) -> (Self, i32) {
        let domain = Domain::signed(input_scale, input_bits, table_bits);
        Self::tabulate(&|x| f.eval(x), &domain, output_bits, max_frac_bits, true)
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
        let (t, e_y) = Table::build(Activation::Tanh, 4, 8, 8, 16, 12);
        assert_eq!(t.shift, 0);
        assert!(t.error_bound <= 0.5 / 2f64.powi(e_y) + 1e-12);
    }

    #[test]
    fn reduced_tables_bound_the_error_everywhere() {
        let (t, e_y) = Table::build(Activation::Sigmoid, 10, 16, 10, 16, 12);
        assert_eq!((t.shift, t.input_bits, t.outputs.len()), (6, 10, 1024));
        // Check every 16-bit input against the bound.
        for x in -(1i64 << 15)..(1i64 << 15) {
            let y = t.get(x.div_euclid(1 << t.shift)).unwrap() as f64 / 2f64.powi(e_y);
            let f = Activation::Sigmoid.eval(x as f64 / 1024.0);
            assert!((y - f).abs() <= t.error_bound + 1e-12, "x = {x}");
        }
        // Lipschitz 1/4, step 2^-4: about 1/128 plus rounding.
        assert!(t.error_bound < 0.01, "{}", t.error_bound);
    }

    #[test]
    fn functions_match_their_definitions() {
        assert!((Activation::Gelu.eval(1.0) - 0.841_344_746).abs() < 1e-6);
        assert!((Activation::Softplus.eval(800.0) - 800.0).abs() < 1e-9);
        assert_eq!(Activation::Clip { min: 0.0, max: 6.0 }.eval(7.5), 6.0);
        assert!((Activation::LeakyRelu { alpha: 0.1 }.eval(-2.0) + 0.2).abs() < 1e-6);
        assert_eq!(
            Activation::HardSigmoid {
                alpha: 0.2,
                beta: 0.5
            }
            .eval(10.0),
            1.0
        );
    }
}
