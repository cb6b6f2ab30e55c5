//! The product of two activations as matrices, `[t, M, K] × [t, K, N]`: each output a dot
//! product of `K` pairs, then one rescale by `2^shift`.

use serde::{Deserialize, Serialize};

use super::{
    arg, check_range, len_of, operand, second, to_i64, EvalContext, FloatKernel, IntegerOp,
    Mismatch, Operand, Quantised, Quantiser,
};
use crate::error::{Error, StructureError, WitnessError};
use crate::graph::qtensor::{matmul_batches, QTensor};
use crate::graph::quant::scale::shift;
use crate::graph::record::NodeWitness;
use crate::par;

/// The product of two activations as matrices: input 0 is `[t, M, K]`, input 1 is
/// `[t, K, N]` (row-major, `t` from the lengths), output `[t, M, N]`, each output
/// `floor((Σ_l a · b + c) / 2^shift)`. Proven by dot products over cell pairs, summed before
/// one rescale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatMul {
    /// Rows of the left matrix.
    pub m: usize,
    /// The summed dimension.
    pub k: usize,
    /// Columns of the right matrix.
    pub n: usize,
    /// Right shift from the product's scale to the output's.
    pub shift: u32,
}

impl IntegerOp for MatMul {
    fn kind(&self) -> &'static str {
        "MatMul"
    }

    fn arity(&self) -> Option<usize> {
        Some(2)
    }

    fn output_len(&self, ins: &[&QTensor], _out: &QTensor) -> Result<usize, StructureError> {
        let (mm, a, b) = (self, ins[0], second(ins)?);
        let (m, k, n) = (mm.m, mm.k, mm.n);
        let batches =
            matmul_batches(m, k, n, a.len, b.len).ok_or_else(|| StructureError::Shape {
                what: "the inputs",
                expected: format!("[t, {m}, {k}] × [t, {k}, {n}]"),
                got: format!("{} and {} values", a.len, b.len),
            })?;
        // |Σ a · b| < K · 2^(bits_a − 1) · 2^(bits_b − 1), plus the rounding offset, in 62 bits.
        let k_bits = usize::BITS - k.saturating_sub(1).leading_zeros();
        let needed = (a.bits + b.bits).saturating_sub(2) + k_bits + 1;
        if needed > 61 {
            return Err(StructureError::Width {
                what: "the sum of products",
                needed,
                max: 61,
            });
        }
        if mm.shift >= 62 {
            return Err(StructureError::Width {
                what: "the shift",
                needed: mm.shift,
                max: 61,
            });
        }
        Ok(batches * m * n)
    }

    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
        let (mm, rounding, inputs, out) = (self, cx.rounding, cx.inputs, cx.out);
        let name = inputs.node;
        let (m, k, n) = (mm.m, mm.k, mm.n);
        let divisor = 1i128 << mm.shift;
        let offset = i128::from(rounding.offset(1 << mm.shift));
        let rows = par::try_map(out.len, |o| {
            let (t, i, j) = (o / (m * n), (o / n) % m, o % n);
            let mut acc = 0i128;
            for l in 0..k {
                let x = inputs.get(0, (t * m + i) * k + l)?;
                let y = inputs.get(1, (t * k + l) * n + j)?;
                acc += i128::from(x) * i128::from(y);
            }
            let q = check_range(name, out, o, (acc + offset).div_euclid(divisor))?;
            let r = to_i64(name, "remainder", o, (acc + offset).rem_euclid(divisor))?;
            Ok((q, r))
        })?;
        let (quotients, remainders) = rows.into_iter().unzip();
        Ok(NodeWitness::Linear {
            quotients,
            remainders,
        })
    }

    fn preserves_range(&self) -> bool {
        false
    }

    fn params(&self) -> Option<[Vec<i64>; 2]> {
        None
    }

    fn shift(&self) -> u32 {
        self.shift
    }
}

/// The product of two activations as matrices: input 0 `[t, m, k]`, input 1 `[t, k, n]`
/// (row-major; `t` from the lengths), output `[t, m, n]` (attention's Q·Kᵀ and P·V).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloatMatMul {
    /// Rows of the left matrix.
    pub m: usize,
    /// The summed dimension.
    pub k: usize,
    /// Columns of the right matrix.
    pub n: usize,
}

impl FloatKernel for FloatMatMul {
    type Integer = MatMul;

    fn kind(&self) -> &'static str {
        "MatMul"
    }

    fn arity(&self) -> Option<usize> {
        Some(2)
    }

    fn output_len(&self, lens: &[usize]) -> usize {
        let (m, k, n) = (self.m, self.k, self.n);
        len_of(lens, 0) / (m * k).max(1) * m * n
    }

    fn check(&self, lens: &[usize]) -> Result<(), Mismatch> {
        let (m, k, n) = (self.m, self.k, self.n);
        match matmul_batches(m, k, n, len_of(lens, 0), len_of(lens, 1)) {
            Some(_) => Ok(()),
            None => Err(Mismatch::new(
                format!("[t, {m}, {k}] × [t, {k}, {n}]"),
                format!("{} and {} values", len_of(lens, 0), len_of(lens, 1)),
            )),
        }
    }

    fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        let (m, k, n) = (self.m, self.k, self.n);
        let (x, y) = (arg(xs, 0), arg(xs, 1));
        let batches = x.len() / (m * k).max(1);
        (0..batches * m * n)
            .map(|o| {
                let (t, i, j) = (o / (m * n), (o / n) % m, o % n);
                (0..k)
                    .map(|l| x[(t * m + i) * k + l] * y[(t * k + l) * n + j])
                    .sum()
            })
            .collect()
    }

    fn quantise(
        &self,
        _q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        calibrated: i32,
    ) -> Result<Quantised<MatMul>, Error> {
        let (x, y) = (operand(name, ins, 0)?, operand(name, ins, 1)?);
        let e_acc = x.tensor.scale_exp + y.tensor.scale_exp;
        let e_y = calibrated.min(e_acc);
        let (m, k, n) = (self.m, self.k, self.n);
        Ok(Quantised {
            op: MatMul {
                m,
                k,
                n,
                shift: shift(name, e_acc - e_y)?,
            },
            inputs: vec![x.id, y.id],
            len: self.output_len(&[x.tensor.len]),
            scale_exp: e_y,
        })
    }
}
