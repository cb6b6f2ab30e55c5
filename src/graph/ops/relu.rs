//! ReLU: `max(0, x)`, same scale and width.

use super::{
    arg, len_of, operand, EvalContext, FloatKernel, IntegerOp, Mismatch, Operand, Quantised,
    Quantiser, Splitting,
};
use crate::error::{Error, StructureError, WitnessError};
use crate::graph::qtensor::QTensor;
use crate::graph::record::NodeWitness;

/// `max(x, 0)` (the unit variant [`crate::graph::qgraph::QOp::Relu`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relu;

impl IntegerOp for Relu {
    fn kind(&self) -> &'static str {
        "Relu"
    }

    fn output_len(&self, ins: &[&QTensor], _out: &QTensor) -> Result<usize, StructureError> {
        Ok(ins[0].len)
    }

    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
        Ok(NodeWitness::Values {
            outputs: cx.inputs.first().iter().map(|v| (*v).max(0)).collect(),
        })
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

impl FloatKernel for Relu {
    type Integer = Relu;

    fn kind(&self) -> &'static str {
        "Relu"
    }

    fn output_len(&self, lens: &[usize]) -> usize {
        len_of(lens, 0)
    }

    fn check(&self, _lens: &[usize]) -> Result<(), Mismatch> {
        Ok(())
    }

    fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        arg(xs, 0).iter().map(|v| v.max(0.0)).collect()
    }

    fn quantise(
        &self,
        _q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        _calibrated: i32,
    ) -> Result<Quantised<Relu>, Error> {
        let x = operand(name, ins, 0)?;
        Ok(Quantised {
            op: Relu,
            inputs: vec![x.id],
            len: x.tensor.len,
            scale_exp: x.tensor.scale_exp,
        })
    }
}
