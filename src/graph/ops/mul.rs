//! The product of two activations, rescaled by `2^shift`.

use super::{check_range, to_i64, unzip3, Inputs};
use crate::error::WitnessError;
use crate::graph::qgraph::{QTensor, Rounding};
use crate::graph::witness::NodeWitness;
use crate::par;

pub(in crate::graph) fn output_len(shift: u32, x: &QTensor, y: &QTensor) -> Result<usize, String> {
    if y.len != x.len || shift >= 62 || x.bits + y.bits > 62 {
        return Err(format!(
            "multiplies {} by {} values with shift {shift}",
            x.len, y.len
        ));
    }
    Ok(x.len)
}

pub(in crate::graph) fn eval(
    shift: u32,
    rounding: Rounding,
    out: &QTensor,
    inputs: Inputs<'_>,
) -> Result<NodeWitness, WitnessError> {
    let name = inputs.node;
    let divisor = 1i128 << shift;
    let offset = i128::from(rounding.offset(1 << shift));
    let rows = par::try_map(out.len, |i| {
        let p = i128::from(inputs.get(0, i)?) * i128::from(inputs.get(1, i)?);
        let q = check_range(name, out, i, (p + offset).div_euclid(divisor))?;
        let r = to_i64(name, "remainder", i, (p + offset).rem_euclid(divisor))?;
        Ok((to_i64(name, "product", i, p)?, q, r))
    })?;
    let (products, quotients, remainders) = unzip3(rows);
    Ok(NodeWitness::Product {
        products,
        quotients,
        remainders,
    })
}
