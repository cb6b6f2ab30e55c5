//! ArgMax along an axis: the first index of each group's largest value.

use super::Inputs;
use crate::error::WitnessError;
use crate::graph::qgraph::QTensor;
use crate::graph::window::Axis;
use crate::graph::witness::NodeWitness;

pub(in crate::graph) fn output_len(
    axis: &Axis,
    x: &QTensor,
    out: &QTensor,
) -> Result<usize, String> {
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

pub(in crate::graph) fn eval(axis: &Axis, inputs: Inputs<'_>) -> Result<NodeWitness, WitnessError> {
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
