//! Pooling windows: their validation (average and max pools) and max pooling's evaluation
//! (average pooling is linear: [`super::linear`]).

use super::Inputs;
use crate::error::WitnessError;
use crate::graph::qgraph::QTensor;
use crate::graph::window::{pool_taps, Window};
use crate::graph::witness::NodeWitness;
use crate::par;

pub(in crate::graph) fn output_len(window: &Window, x: &QTensor) -> Result<usize, String> {
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

/// Max pooling: the largest tap of each window.
pub(in crate::graph) fn eval_max(
    window: &Window,
    out: &QTensor,
    inputs: Inputs<'_>,
) -> Result<NodeWitness, WitnessError> {
    let outputs = par::try_map(out.len, |o| {
        pool_taps(window, o)
            .into_iter()
            .map(|i| inputs.get(0, i))
            .try_fold(i64::MIN, |m, v| v.map(|v| m.max(v)))
    })?;
    Ok(NodeWitness::Values { outputs })
}
