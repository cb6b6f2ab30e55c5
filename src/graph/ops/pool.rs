//! Max pooling, and the pooling windows' validation it shares with average pooling (which
//! is linear: [`super::linear`]).

use serde::{Deserialize, Serialize};

use super::{
    arg, check_len, len_of, need_len, operand, EvalContext, FloatKernel, IntegerOp, Mismatch,
    Operand, Quantised, Quantiser,
};
use crate::error::{Error, StructureError, WitnessError};
use crate::graph::qtensor::QTensor;
use crate::graph::record::NodeWitness;
use crate::graph::window::{pool_taps, Window};
use crate::par;

/// Maximum of each window (padding ignored), same scale and width. Serialised as its window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MaxPool(pub Window);

/// The outputs of a pooling `window` over `x`, once the window fits it.
pub(super) fn output_len(window: &Window, x: &QTensor) -> Result<usize, StructureError> {
    window.validate()?;
    check_len(
        "the input",
        x.len,
        window.channels * window.input_positions(),
    )?;
    Ok(window.channels * window.positions())
}

impl IntegerOp for MaxPool {
    fn kind(&self) -> &'static str {
        "MaxPool"
    }

    fn output_len(&self, ins: &[&QTensor], _out: &QTensor) -> Result<usize, StructureError> {
        output_len(&self.0, ins[0])
    }

    /// The largest tap of each window.
    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
        let outputs = par::try_map(cx.out.len, |o| {
            pool_taps(&self.0, o)
                .into_iter()
                .map(|i| cx.inputs.get(0, i))
                .try_fold(i64::MIN, |m, v| v.map(|v| m.max(v)))
        })?;
        Ok(NodeWitness::Values { outputs })
    }

    fn preserves_range(&self) -> bool {
        true
    }

    fn params(&self) -> Option<[Vec<i64>; 2]> {
        None
    }
}

impl FloatKernel for MaxPool {
    type Integer = MaxPool;

    fn kind(&self) -> &'static str {
        "MaxPool"
    }

    fn output_len(&self, _lens: &[usize]) -> usize {
        self.0.channels * self.0.positions()
    }

    fn check(&self, lens: &[usize]) -> Result<(), Mismatch> {
        self.0
            .validate()
            .map_err(|e| Mismatch::new("a valid window", e))?;
        need_len(len_of(lens, 0), self.0.channels * self.0.input_positions())
    }

    fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        let x = arg(xs, 0);
        (0..self.0.channels * self.0.positions())
            .map(|o| {
                pool_taps(&self.0, o)
                    .iter()
                    .map(|&i| x[i])
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect()
    }

    /// The same windows at the input's scale: the maximum is one of its values.
    fn quantise(
        &self,
        _q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        _calibrated: i32,
    ) -> Result<Quantised<MaxPool>, Error> {
        let x = operand(name, ins, 0)?;
        Ok(Quantised {
            op: self.clone(),
            inputs: vec![x.id],
            len: self.0.channels * self.0.positions(),
            scale_exp: x.tensor.scale_exp,
        })
    }
}
