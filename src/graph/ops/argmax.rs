//! ArgMax along an axis: the first index of each group's largest value.

use serde::{Deserialize, Serialize};

use super::{EvalContext, IntegerOp};
use crate::error::WitnessError;
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

    fn output_len(&self, ins: &[&QTensor], out: &QTensor) -> Result<usize, String> {
        let (axis, x) = (&self.0, ins[0]);
        if axis.size() != x.len || axis.len == 0 {
            return Err(format!(
                "axis over {} values, input has {}",
                axis.size(),
                x.len
            ));
        }
        if out.scale_exp != 0 || out.max() < axis.len as i64 {
            return Err("indices need scale 2^0 and room for the axis length".into());
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
