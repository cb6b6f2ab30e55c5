//! Linear ops: dense, convolution, average pool, add and affine. Each output is a dot
//! product of its taps plus a bias, divided (rounded) by its divisor: the one integer form
//! that [`crate::graph::qgraph::QOp::linear`] gives every linear op.

use super::{check_range, to_i64, Inputs};
use crate::error::WitnessError;
use crate::graph::qgraph::{Affine, Conv, Dense, QNode, QTensor, Rounding};
use crate::graph::witness::NodeWitness;
use crate::par;

/// Dense: `weights` of `(outputs, inputs)` and one bias per output.
pub(in crate::graph) fn dense_len(d: &Dense, x: &QTensor) -> Result<usize, String> {
    let (rows, cols) = d.weights.dim();
    if cols != x.len || rows != d.bias.len() {
        return Err(format!(
            "weights {:?} and {} biases do not fit input {}",
            d.weights.dim(),
            d.bias.len(),
            x.len
        ));
    }
    Ok(rows)
}

/// Convolution: its geometry, weights and biases must fit the input.
pub(in crate::graph) fn conv_len(c: &Conv, x: &QTensor) -> Result<usize, String> {
    c.shape.validate()?;
    let w = &c.shape.window;
    if w.channels * w.input_positions() != x.len
        || c.weights.len() != c.shape.weights_len()
        || c.bias.len() != c.shape.out_channels
    {
        return Err("weights, biases or geometry do not fit the input".into());
    }
    Ok(c.shape.outputs())
}

/// Add of two tensors of one length.
pub(in crate::graph) fn add_len(x: &QTensor, y: &QTensor) -> Result<usize, String> {
    if y.len != x.len {
        return Err(format!("adds {} values to {}", y.len, x.len));
    }
    Ok(x.len)
}

/// Affine: one scale and one bias per value.
pub(in crate::graph) fn affine_len(a: &Affine, x: &QTensor) -> Result<usize, String> {
    if a.scale.len() != x.len || a.bias.len() != x.len {
        return Err("scale and bias must have one value per input".into());
    }
    Ok(x.len)
}

pub(in crate::graph) fn eval(
    rounding: Rounding,
    node: &QNode,
    inputs: Inputs<'_>,
) -> Result<NodeWitness, WitnessError> {
    let name = node.name.as_str();
    let rows = par::try_map(node.output.len, |o| {
        let lin = node
            .op
            .linear(o)
            .ok_or_else(|| WitnessError::Inconsistent {
                node: name.to_string(),
                reason: format!("has no linear output {o}"),
            })?;
        let mut acc = i128::from(lin.bias);
        for tap in &lin.taps {
            acc += i128::from(tap.weight) * i128::from(inputs.get(tap.input, tap.index)?);
        }
        to_i64(name, "accumulator", o, acc)?;
        let divisor = i128::from(lin.divisor);
        let shifted = acc + i128::from(rounding.offset(lin.divisor));
        let q = check_range(name, &node.output, o, shifted.div_euclid(divisor))?;
        Ok((
            q,
            to_i64(name, "remainder", o, shifted.rem_euclid(divisor))?,
        ))
    })?;
    let (mut quotients, mut remainders) = (Vec::new(), Vec::new());
    for (q, r) in rows {
        quotients.push(q);
        remainders.push(r);
    }
    Ok(NodeWitness::Linear {
        quotients,
        remainders,
    })
}
