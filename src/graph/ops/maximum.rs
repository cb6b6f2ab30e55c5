//! The elementwise maximum of two tensors (ONNX `Max`): `y_i = max(a_i, b_i)`.
//!
//! **Semantics**: exact, no rounding; both inputs and the output share one scale (the
//! quantiser aligns them), so every output is one of its inputs' values and needs no range
//! check of its own. **Shapes**: two inputs of one length, an output of that length.

use serde::{Deserialize, Serialize};

use super::{
    align, arg, check_len, len_of, operand, same_lengths, second, EvalContext, FloatKernel,
    IntegerOp, Mismatch, Operand, Quantised, Quantiser, Splitting,
};
use crate::error::{Error, StructureError, WitnessError};
use crate::graph::qtensor::QTensor;
use crate::graph::record::NodeWitness;
use crate::par;

/// `max(a, b)` elementwise, same scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Max;

impl IntegerOp for Max {
    fn kind(&self) -> &'static str {
        "Max"
    }

    fn arity(&self) -> Option<usize> {
        Some(2)
    }

    fn output_len(&self, ins: &[&QTensor], out: &QTensor) -> Result<usize, StructureError> {
        let (a, b) = (ins[0], second(ins)?);
        check_len("the second input", b.len, a.len)?;
        for (what, t) in [("the second input", b), ("the output", out)] {
            if t.scale_exp != a.scale_exp {
                return Err(StructureError::Scale {
                    what,
                    expected: a.scale_exp,
                    got: t.scale_exp,
                });
            }
        }
        Ok(a.len)
    }

    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
        let outputs = par::try_map(cx.out.len, |i| {
            Ok(cx.inputs.get(0, i)?.max(cx.inputs.get(1, i)?))
        })?;
        Ok(NodeWitness::Values { outputs })
    }

    fn preserves_range(&self) -> bool {
        true
    }

    fn params(&self) -> Option<[Vec<i64>; 2]> {
        None
    }

    fn splitting(&self) -> Splitting {
        Splitting::Elementwise
    }
}

impl FloatKernel for Max {
    type Integer = Max;

    fn kind(&self) -> &'static str {
        "Max"
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
            .map(|(a, b)| a.max(*b))
            .collect()
    }

    /// The maximum is one of its inputs: they share one scale, and so does it.
    fn quantise(
        &self,
        q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        _calibrated: i32,
    ) -> Result<Quantised<Max>, Error> {
        let x = operand(name, ins, 0)?;
        let (inputs, e) = align(q, name, ins, x.tensor.scale_exp)?;
        Ok(Quantised {
            op: Max,
            inputs,
            len: x.tensor.len,
            scale_exp: e,
        })
    }
}
