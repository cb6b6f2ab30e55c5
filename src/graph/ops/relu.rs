//! ReLU: `max(0, x)`, same scale and width.

use super::{EvalContext, IntegerOp, Splitting};
use crate::error::WitnessError;
use crate::graph::qtensor::QTensor;
use crate::graph::record::NodeWitness;

/// `max(x, 0)` (the unit variant [`crate::graph::qgraph::QOp::Relu`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relu;

impl IntegerOp for Relu {
    fn kind(&self) -> &'static str {
        "Relu"
    }

    fn output_len(&self, ins: &[&QTensor], _out: &QTensor) -> Result<usize, String> {
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
