//! The product of two activations, rescaled by `2^shift`.

use serde::{Deserialize, Serialize};

use super::{
    arg, check_len, check_range, len_of, operand, same_lengths, second, to_i64, unzip3,
    EvalContext, FloatKernel, IntegerOp, Mismatch, Operand, Quantised, Quantiser, Splitting,
};
use crate::error::{Error, StructureError, WitnessError};
use crate::graph::qtensor::QTensor;
use crate::graph::quant::scale::shift;
use crate::graph::record::NodeWitness;
use crate::par;

/// Product of two tensors, rescaled: `floor((a · b + c) / 2^shift)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mul {
    /// Right shift from the product's scale to the output's.
    pub shift: u32,
}

impl IntegerOp for Mul {
    fn kind(&self) -> &'static str {
        "Mul"
    }

    fn arity(&self) -> Option<usize> {
        Some(2)
    }

    fn output_len(&self, ins: &[&QTensor], _out: &QTensor) -> Result<usize, StructureError> {
        let (x, y, shift) = (ins[0], second(ins)?, self.shift);
        check_len("the second input", y.len, x.len)?;
        if x.bits + y.bits > 62 {
            return Err(StructureError::Width {
                what: "the product",
                needed: x.bits + y.bits,
                max: 62,
            });
        }
        if shift >= 62 {
            return Err(StructureError::Width {
                what: "the shift",
                needed: shift,
                max: 61,
            });
        }
        Ok(x.len)
    }

    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
        let (inputs, out) = (cx.inputs, cx.out);
        let name = inputs.node;
        let divisor = 1i128 << self.shift;
        let offset = i128::from(cx.rounding.offset(1 << self.shift));
        let rows = par::try_map(out.len, |i| {
            let p = i128::from(inputs.get(0, i)?) * i128::from(inputs.get(1, i)?);
            let q = check_range(name, out, i, (p + offset).div_euclid(divisor))?;
            let r = to_i64(name, "remainder", i, (p + offset).rem_euclid(divisor))?;
            Ok((to_i64(name, "product", i, p)?, q, r))
        })?;
        let (products, quotients, remainders) = unzip3(rows);
        Ok(NodeWitness::Product {
            products,
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

    fn splitting(&self) -> Splitting {
        Splitting::Elementwise
    }
}

/// The elementwise product of two tensors of one length (gating; the erf form of GELU).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloatMul;

impl FloatKernel for FloatMul {
    type Integer = Mul;

    fn kind(&self) -> &'static str {
        "Mul"
    }

    fn arity(&self) -> Option<usize> {
        Some(2)
    }

    fn output_len(&self, lens: &[usize]) -> usize {
        len_of(lens, 0)
    }

    fn check(&self, lens: &[usize]) -> Result<(), Mismatch> {
        same_lengths(lens)
    }

    fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        arg(xs, 0)
            .iter()
            .zip(arg(xs, 1))
            .map(|(a, b)| a * b)
            .collect()
    }

    /// The product at the sum of the exponents, shifted down to the calibrated one.
    fn quantise(
        &self,
        _q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        calibrated: i32,
    ) -> Result<Quantised<Mul>, Error> {
        let (x, y) = (operand(name, ins, 0)?, operand(name, ins, 1)?);
        let e_acc = x.tensor.scale_exp + y.tensor.scale_exp;
        let e_y = calibrated.min(e_acc);
        Ok(Quantised {
            op: Mul {
                shift: shift(name, e_acc - e_y)?,
            },
            inputs: vec![x.id, y.id],
            len: x.tensor.len,
            scale_exp: e_y,
        })
    }
}
