//! Max pooling, and the pooling windows' validation it shares with average pooling (which
//! is linear: [`super::linear`]).

use serde::{Deserialize, Serialize};

use super::{EvalContext, IntegerOp};
use crate::error::WitnessError;
use crate::graph::qtensor::QTensor;
use crate::graph::record::NodeWitness;
use crate::graph::window::{pool_taps, Window};
use crate::par;

/// Maximum of each window (padding ignored), same scale and width. Serialised as its window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MaxPool(pub Window);

/// The outputs of a pooling `window` over `x`, once the window fits it.
pub(super) fn output_len(window: &Window, x: &QTensor) -> Result<usize, String> {
    window.validate()?;
    if window.channels * window.input_positions() != x.len {
        return Err(format!(
            "window over {} values, input has {}",
            window.channels * window.input_positions(),
            x.len
        ));
    }
    Ok(window.channels * window.positions())
}

impl IntegerOp for MaxPool {
    fn kind(&self) -> &'static str {
        "MaxPool"
    }

    fn output_len(&self, ins: &[&QTensor], _out: &QTensor) -> Result<usize, String> {
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
