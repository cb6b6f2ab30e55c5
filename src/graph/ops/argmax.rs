//! ArgMax along an axis: the first index of each group's largest value.

use serde::{Deserialize, Serialize};

use super::{
    arg, check_len, len_of, need_len, operand, EvalContext, FloatKernel, IntegerOp, Mismatch,
    Operand, Quantised, Quantiser,
};
use crate::error::{Error, StructureError, WitnessError};
use crate::graph::qtensor::QTensor;
use crate::graph::record::NodeWitness;
use crate::graph::window::Axis;

/// Index of the first maximum along an axis; output at scale `2^0`. Serialised as its axis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ArgMax(pub Axis);

impl IntegerOp for ArgMax {
    fn kind(&self) -> &'static str {
        "ArgMax"
    }

    fn output_len(&self, ins: &[&QTensor], out: &QTensor) -> Result<usize, StructureError> {
        let (axis, x) = (&self.0, ins[0]);
        check_len("the input", x.len, axis.size())?;
        if axis.len == 0 {
            return Err(StructureError::Empty { what: "the axis" });
        }
        if out.scale_exp != 0 {
            return Err(StructureError::Scale {
                what: "the indices",
                expected: 0,
                got: out.scale_exp,
            });
        }
        if out.max() < axis.len as i64 {
            return Err(StructureError::OutOfRange {
                what: "the axis length",
                value: axis.len as i64,
                min: out.min(),
                max: out.max(),
            });
        }
        Ok(axis.groups())
    }

    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
        let (axis, inputs) = (&self.0, cx.inputs);
        let x = inputs.first();
        let (mut maxima, mut indices) = (Vec::new(), Vec::new());
        for g in 0..axis.groups() {
            let group = axis.group(g);
            let mut best = 0;
            for (j, &i) in group.iter().enumerate() {
                if inputs.get(0, i)? > x[group[best]] {
                    best = j;
                }
            }
            maxima.push(x[group[best]]);
            indices.push(best as i64);
        }
        Ok(NodeWitness::ArgMax { maxima, indices })
    }

    fn preserves_range(&self) -> bool {
        false
    }

    fn params(&self) -> Option<[Vec<i64>; 2]> {
        None
    }
}

impl FloatKernel for ArgMax {
    type Integer = ArgMax;

    fn kind(&self) -> &'static str {
        "ArgMax"
    }

    fn output_len(&self, _lens: &[usize]) -> usize {
        self.0.groups()
    }

    fn check(&self, lens: &[usize]) -> Result<(), Mismatch> {
        need_len(len_of(lens, 0), self.0.size())?;
        if self.0.len == 0 {
            return Err(Mismatch::new("a non-empty axis", 0));
        }
        Ok(())
    }

    fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        let x = arg(xs, 0);
        (0..self.0.groups())
            .map(|g| {
                let group = self.0.group(g);
                let mut best = 0;
                for (j, &i) in group.iter().enumerate() {
                    if x[i] > x[group[best]] {
                        best = j;
                    }
                }
                best as f64
            })
            .collect()
    }

    /// Indices, at scale `2^0`.
    fn quantise(
        &self,
        _q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        _calibrated: i32,
    ) -> Result<Quantised<ArgMax>, Error> {
        let x = operand(name, ins, 0)?;
        Ok(Quantised {
            op: self.clone(),
            inputs: vec![x.id],
            len: self.0.groups(),
            scale_exp: 0,
        })
    }
}
