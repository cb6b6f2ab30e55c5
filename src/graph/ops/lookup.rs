//! A tabulated function: the input divided by `2^shift` (floor), then looked up.

use super::{unzip3, Inputs};
use crate::error::WitnessError;
use crate::graph::qgraph::{Lookup, QTensor};
use crate::graph::witness::NodeWitness;
use crate::par;

pub(in crate::graph) fn output_len(
    lookup: &Lookup,
    x: &QTensor,
    out: &QTensor,
) -> Result<usize, String> {
    let table = &lookup.table;
    let b = table.input_bits;
    if b == 0
        || b.checked_add(table.shift) != Some(x.bits)
        || table.first != -(1i64 << (b - 1))
        || table.outputs.len() != 1 << b
    {
        return Err(format!(
            "table of {} entries over {b} bits (shift {}) does not cover a {}-bit input",
            table.outputs.len(),
            table.shift,
            x.bits
        ));
    }
    if let Some(y) = table
        .outputs
        .iter()
        .find(|y| **y < out.min() || **y > out.max())
    {
        return Err(format!("table output {y} outside the output's range"));
    }
    Ok(x.len)
}

pub(in crate::graph) fn eval(
    lookup: &Lookup,
    out: &QTensor,
    inputs: Inputs<'_>,
) -> Result<NodeWitness, WitnessError> {
    let table = &lookup.table;
    let divisor = 1i64 << table.shift;
    let x = inputs.first();
    let rows = par::try_map(x.len(), |i| {
        let v = x[i].div_euclid(divisor);
        let y = table.get(v).ok_or_else(|| WitnessError::OutOfRange {
            node: inputs.node.to_string(),
            tensor: format!("{} table input", out.name),
            index: i,
            value: i128::from(v),
            min: -(1i64 << (table.input_bits - 1)),
            max: (1i64 << (table.input_bits - 1)) - 1,
        })?;
        Ok((v, x[i].rem_euclid(divisor), y))
    })?;
    let (reduced, remainders, outputs) = unzip3(rows);
    Ok(NodeWitness::Lookup {
        reduced,
        remainders,
        outputs,
    })
}
