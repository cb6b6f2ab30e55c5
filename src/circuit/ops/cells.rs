//! Cells shared by the ops' syntheses: inputs read with bounds checks, groups of cells,
//! pinned constants, recorded values as witness values, and exposure in the instance column.

use halo2_proofs::{
    circuit::{Layouter, Value},
    plonk::{Column, Error, Instance},
};
use pasta_curves::Fp;
use zkinfer_circuits::{value::felt, LookupRangeChip, RangeInstructions, SignedCell};

use crate::graph::window::Axis;

/// Cell `index` of input `input` (a synthesis error when the graph does not have it).
pub(in crate::circuit) fn cell_at<'c>(
    ins: &[&'c [SignedCell<Fp>]],
    input: usize,
    index: usize,
) -> Result<&'c SignedCell<Fp>, Error> {
    ins.get(input)
        .and_then(|x| x.get(index))
        .ok_or(Error::Synthesis)
}
/// The cells of each group along `axis`.
pub(in crate::circuit) fn groups(
    axis: &Axis,
    x: &[SignedCell<Fp>],
) -> Result<Vec<Vec<SignedCell<Fp>>>, Error> {
    let indices: Vec<Vec<usize>> = (0..axis.groups()).map(|g| axis.group(g)).collect();
    cells_of(&indices, x)
}

/// The cells of `x` at each group's indices.
pub(in crate::circuit) fn cells_of(
    groups: &[Vec<usize>],
    x: &[SignedCell<Fp>],
) -> Result<Vec<Vec<SignedCell<Fp>>>, Error> {
    groups
        .iter()
        .map(|g| {
            g.iter()
                .map(|&i| x.get(i).cloned().ok_or(Error::Synthesis))
                .collect()
        })
        .collect()
}

/// A range-checked cell of `bits` bits pinned to `value` through the constant column, so
/// the verifying key fixes it.
pub(in crate::circuit) fn pinned(
    range: &LookupRangeChip<Fp>,
    layouter: &mut impl Layouter<Fp>,
    name: &str,
    value: i64,
    bits: u32,
) -> Result<SignedCell<Fp>, Error> {
    let value = felt::<Fp>(value);
    let mut cells = range.witness_signed(layouter, name, &[Value::known(value)], bits)?;
    let cell = cells.pop().ok_or(Error::Synthesis)?;
    layouter.assign_region(
        || format!("pin {name}"),
        |mut region| region.constrain_constant(cell.cell().cell(), value),
    )?;
    Ok(cell)
}
/// `n` witness values from recorded integers, or unknowns at key generation. A record of
/// the wrong length yields unknowns too, which fail synthesis when proving.
pub(in crate::circuit) fn values(n: usize, recorded: Option<&[i64]>) -> Vec<Value<Fp>> {
    match recorded {
        Some(r) if r.len() == n => r.iter().map(|v| Value::known(felt(*v))).collect(),
        _ => vec![Value::unknown(); n],
    }
}
/// Constrains `cells` to the instance column's rows from `first_row` on.
pub(in crate::circuit) fn expose(
    layouter: &mut impl Layouter<Fp>,
    instance: Column<Instance>,
    first_row: usize,
    cells: &[SignedCell<Fp>],
) -> Result<(), Error> {
    for (i, cell) in cells.iter().enumerate() {
        layouter.constrain_instance(cell.cell().cell(), instance, first_row + i)?;
    }
    Ok(())
}
