//! A tabulated function: the input divided by `2^shift` (floor), then looked up. The
//! functions ([`Activation`]) are listed here once; every match over them names each one.
#![deny(clippy::wildcard_enum_match_arm)]

use serde::{Deserialize, Serialize};

use super::{
    arg, check_in_range, len_of, operand, unzip3, EvalContext, FloatKernel, IntegerOp, Mismatch,
    Operand, Quantised, Quantiser, Splitting,
};
use crate::error::{Error, StructureError, WitnessError};
use crate::graph::activation::{Domain, Table};
use crate::graph::qtensor::QTensor;
use crate::graph::record::NodeWitness;
use crate::par;

/// A tabulated elementwise function.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// GELU's tanh form, `x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))` (ONNX `Gelu` with
    /// `approximate = "tanh"`; `gelu_new` in `transformers`).
    GeluTanh,
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
    /// `x · max(0, min(1, x/6 + 1/2))` (ONNX `HardSwish`, MobileNetV3's activation).
    HardSwish,
    /// A chain of elementwise ops of one input, fused into one table
    /// ([`crate::graph::fuse`]): tanh-GELU, erf-GELU, `x · sigmoid(x)`, ... as exported.
    Composite(Composite),
}

/// An elementwise function of one input `x`, as a straight-line program: value 0 is `x`,
/// value `i + 1` is step `i`'s result, and the function is the last step's. Each step is
/// evaluated exactly as the float op it replaces ([`crate::graph::ir::FloatOp`]'s `eval`
/// on one element), so the composite equals the chain it was fused from, in `f64`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Composite {
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// One step of a [`Composite`]: its operands are earlier values (0 is the input).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Step {
    /// A tabulated function of one value (not itself a composite, nor a floored `Ln` or
    /// `Rsqrt`, whose floors depend on the table's step).
    Function(Activation, usize),
    /// `scale · a + bias`.
    Affine {
        /// The factor.
        scale: f32,
        /// The offset.
        bias: f32,
        /// The operand.
        arg: usize,
    },
    /// `max(a, 0)`.
    Relu(usize),
    /// `a + b`.
    Add(usize, usize),
    /// `a · b`.
    Mul(usize, usize),
    /// `max(a, b)`.
    Max(usize, usize),
}

impl Composite {
    /// The most steps a composite may have (an untrusted file's bound).
    pub const MAX_STEPS: usize = 64;

    /// The function at `x`.
    pub fn eval(&self, x: f64) -> f64 {
        let mut values = Vec::with_capacity(self.steps.len() + 1);
        values.push(x);
        for step in &self.steps {
            let v = |i: usize| values.get(i).copied().unwrap_or(f64::NAN);
            let y = match *step {
                Step::Function(ref f, a) => f.eval(v(a)),
                Step::Affine { scale, bias, arg } => f64::from(scale) * v(arg) + f64::from(bias),
                Step::Relu(a) => v(a).max(0.0),
                Step::Add(a, b) => v(a) + v(b),
                Step::Mul(a, b) => v(a) * v(b),
                Step::Max(a, b) => v(a).max(v(b)),
            };
            values.push(y);
        }
        values.last().copied().unwrap_or(x)
    }

    /// The named function this composite computes, if it is one of those an exporter
    /// writes as a chain (erf-GELU, tanh-GELU), to within `1e-6 · (1 + |y|)` at every
    /// multiple of 1/64 in [-16, 16] (well inside an `f32` rounding of their constants, well
    /// outside a changed constant: `0.0447` for `0.044715` is off by `1e-5` at `x = 2`).
    /// For reports only: the composite's own [`Composite::eval`] is what is tabulated, so a
    /// chain that is not recognised still means exactly what its ops compute.
    pub fn recognised(&self) -> Option<Activation> {
        [Activation::Gelu, Activation::GeluTanh]
            .into_iter()
            .find(|f| {
                (-1024..=1024).all(|i| {
                    let x = f64::from(i) / 64.0;
                    let (y, want) = (self.eval(x), f.eval(x));
                    (y - want).abs() <= 1e-6 * (1.0 + want.abs())
                })
            })
    }

    /// Every constant of every step.
    fn parameters(&self) -> Vec<f32> {
        let mut out = Vec::new();
        for step in &self.steps {
            match step {
                Step::Function(f, _) => out.extend(f.parameters()),
                Step::Affine { scale, bias, .. } => out.extend([*scale, *bias]),
                Step::Relu(_) | Step::Add(..) | Step::Mul(..) | Step::Max(..) => {}
            }
        }
        out
    }

    /// Its structure: at least one and at most [`Composite::MAX_STEPS`] steps, each reading
    /// earlier values only, and no step a composite or a floored function.
    fn check(&self) -> Result<(), Mismatch> {
        if self.steps.is_empty() || self.steps.len() > Self::MAX_STEPS {
            return Err(Mismatch::new(
                format!("a composite of 1 to {} steps", Self::MAX_STEPS),
                self.steps.len(),
            ));
        }
        for (i, step) in self.steps.iter().enumerate() {
            let (args, nested): (Vec<usize>, Option<&Activation>) = match step {
                Step::Function(f, a) => (vec![*a], Some(f)),
                Step::Affine { arg, .. } | Step::Relu(arg) => (vec![*arg], None),
                Step::Add(a, b) | Step::Mul(a, b) | Step::Max(a, b) => (vec![*a, *b], None),
            };
            if let Some(&a) = args.iter().find(|&&a| a > i) {
                return Err(Mismatch::new(format!("step {i} reading values 0..={i}"), a));
            }
            if let Some(f) = nested {
                if !f.composable() {
                    return Err(Mismatch::new(
                        format!("step {i} a function other than a composite, Ln or Rsqrt"),
                        f.name(),
                    ));
                }
                f.check(&[])?;
            }
        }
        Ok(())
    }
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
            Self::GeluTanh => "GeluTanh",
            Self::Softplus => "Softplus",
            Self::LeakyRelu { .. } => "LeakyRelu",
            Self::Clip { .. } => "Clip",
            Self::HardSigmoid { .. } => "HardSigmoid",
            Self::HardSwish => "HardSwish",
            Self::Elu { .. } => "Elu",
            Self::Ln { .. } => "Ln",
            Self::Sqrt => "Sqrt",
            Self::Rsqrt { .. } => "Rsqrt",
            Self::Composite(ref c) => match c.recognised() {
                Some(Self::Gelu) => "Gelu (fused chain)",
                Some(Self::GeluTanh) => "GeluTanh (fused chain)",
                Some(_) | None => "Composite",
            },
        }
    }

    /// Whether it may be a step of a [`Composite`]: not a composite itself, and not `Ln` or
    /// `Rsqrt`, whose floors are raised to the table's step ([`Activation::for_step`]).
    pub fn composable(&self) -> bool {
        match self {
            Self::Composite(_) | Self::Ln { .. } | Self::Rsqrt { .. } => false,
            Self::Sigmoid
            | Self::Tanh
            | Self::Exp
            | Self::Erf
            | Self::Gelu
            | Self::GeluTanh
            | Self::Softplus
            | Self::LeakyRelu { .. }
            | Self::Clip { .. }
            | Self::HardSigmoid { .. }
            | Self::HardSwish
            | Self::Elu { .. }
            | Self::Sqrt => true,
        }
    }

    /// The function's constants (slopes, bounds, floors), which must be finite.
    pub fn parameters(&self) -> Vec<f32> {
        match *self {
            Self::LeakyRelu { alpha } | Self::Elu { alpha } => vec![alpha],
            Self::Ln { floor } | Self::Rsqrt { floor } => vec![floor],
            Self::Clip { min, max } => vec![min, max],
            Self::HardSigmoid { alpha, beta } => vec![alpha, beta],
            Self::Composite(ref c) => c.parameters(),
            Self::Sigmoid
            | Self::Tanh
            | Self::Exp
            | Self::Erf
            | Self::Gelu
            | Self::GeluTanh
            | Self::Softplus
            | Self::Sqrt
            | Self::HardSwish => Vec::new(),
        }
    }

    /// The function as tabulated over intervals of width `step`: a reciprocal root's floor
    /// rises to half a step, since inputs below it share the first interval. The table's
    /// largest entry (which sets its output scale) is then that interval's, not `1/√ε` of an
    /// input no variance reaches. Other functions are unchanged.
    pub fn for_step(self, step: f64) -> Self {
        if let Self::Rsqrt { floor } = self {
            return Self::Rsqrt {
                floor: floor.max((step / 2.0) as f32),
            };
        }
        self
    }

    /// The float function.
    pub fn eval(&self, x: f64) -> f64 {
        match *self {
            Self::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Self::Tanh => x.tanh(),
            Self::Exp => x.exp(),
            Self::Erf => libm::erf(x),
            Self::Gelu => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
            Self::GeluTanh => {
                let c = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * x * (1.0 + (c * (x + 0.044_715 * x * x * x)).tanh())
            }
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
            Self::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
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
            Self::Composite(ref c) => c.eval(x),
        }
    }
}

/// A tabulated function: `y = table[floor(x / 2^shift)]` (see [`crate::graph::activation`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lookup {
    /// The function (for reports; the table is the meaning).
    pub function: Activation,
    /// The table, its input reduction and its measured error bound.
    pub table: Table,
}

impl IntegerOp for Lookup {
    fn kind(&self) -> &'static str {
        self.function.name()
    }

    fn output_len(&self, ins: &[&QTensor], out: &QTensor) -> Result<usize, StructureError> {
        let (lookup, x) = (self, ins[0]);

        let table = &lookup.table;
        let b = table.input_bits;
        if b == 0
            || b.checked_add(table.shift) != Some(x.bits)
            || table.first != -(1i64 << (b - 1))
            || table.outputs.len() != 1 << b
        {
            return Err(StructureError::Shape {
                what: "the table",
                expected: format!("the signed domain of a {}-bit input", x.bits),
                got: format!(
                    "{} entries over {b} bits (shift {})",
                    table.outputs.len(),
                    table.shift
                ),
            });
        }
        check_in_range("table output", &table.outputs, out)?;
        Ok(x.len)
    }

    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
        let (inputs, out, table) = (cx.inputs, cx.out, &self.table);
        let divisor = 1i64 << table.shift;
        let x = inputs.first();
        let rows = par::try_map(x.len(), |i| {
            let v = x[i].div_euclid(divisor);
            let y = table.get(v).ok_or_else(|| WitnessError::OutOfRange {
                node: inputs.node.to_string(),
                tensor: format!("{} table input", out.name),
                index: i,
                value: i128::from(v),
                min: -(1i64 << (table.input_bits - 1)),
                max: (1i64 << (table.input_bits - 1)) - 1,
            })?;
            Ok((v, x[i].rem_euclid(divisor), y))
        })?;
        let (reduced, remainders, outputs) = unzip3(rows);
        Ok(NodeWitness::Lookup {
            reduced,
            remainders,
            outputs,
        })
    }

    fn preserves_range(&self) -> bool {
        false
    }

    fn params(&self) -> Option<[Vec<i64>; 2]> {
        None
    }

    fn table(&self) -> Option<&Table> {
        Some(&self.table)
    }

    fn splitting(&self) -> Splitting {
        Splitting::Elementwise
    }
}

impl FloatKernel for Activation {
    type Integer = Lookup;

    fn kind(&self) -> &'static str {
        self.name()
    }

    fn output_len(&self, lens: &[usize]) -> usize {
        len_of(lens, 0)
    }

    fn check(&self, _lens: &[usize]) -> Result<(), Mismatch> {
        match *self {
            Activation::Composite(ref c) => c.check(),
            Activation::Ln { floor } | Activation::Rsqrt { floor } if floor <= 0.0 => Err(
                Mismatch::new(format!("a positive floor for {}", self.name()), floor),
            ),
            Activation::Ln { .. }
            | Activation::Rsqrt { .. }
            | Activation::Sigmoid
            | Activation::Tanh
            | Activation::Exp
            | Activation::Erf
            | Activation::Gelu
            | Activation::GeluTanh
            | Activation::Softplus
            | Activation::LeakyRelu { .. }
            | Activation::Clip { .. }
            | Activation::Elu { .. }
            | Activation::Sqrt
            | Activation::HardSigmoid { .. }
            | Activation::HardSwish => Ok(()),
        }
    }

    fn constants(&self) -> Vec<f32> {
        self.parameters()
    }

    fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        arg(xs, 0)
            .iter()
            .map(|v| Activation::eval(self, *v))
            .collect()
    }

    /// A table over the input's signed domain, reduced to the table's bits.
    fn quantise(
        &self,
        q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        _calibrated: i32,
    ) -> Result<Quantised<Lookup>, Error> {
        let x = operand(name, ins, 0)?;
        let o = q.options();
        let (e_x, bits) = (x.tensor.scale_exp, x.tensor.bits);
        let domain = Domain::signed(e_x, bits, o.table_bits);
        let function = self.clone().for_step(domain.step());
        let (table, e_y) = Table::build(
            &|x| function.eval(x),
            e_x,
            bits,
            o.table_bits,
            o.activation_bits,
            o.max_frac_bits,
        );
        Ok(Quantised {
            op: Lookup { function, table },
            inputs: vec![x.id],
            len: x.tensor.len,
            scale_exp: e_y,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
