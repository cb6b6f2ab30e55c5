//! One module per op family of the integer graph: its rows in the layout (`rows`) and its
//! synthesis, and the helpers they share.
//! The model circuit's dispatch ([`super::ModelCircuit`]) matches every op exhaustively.

pub(super) mod argmax;
pub(super) mod gather;
pub(super) mod linear;
pub(super) mod lookup;
pub(super) mod matmul;
pub(super) mod max;
pub(super) mod mul;
pub(super) mod params;
pub(super) mod relu;
pub(super) mod softmax;
pub(super) mod wiring;

pub(super) use argmax::synthesize_argmax;
pub(super) use gather::synthesize_gather;
pub(super) use linear::synthesize_linear;
pub(super) use lookup::synthesize_lookup;
pub(super) use matmul::synthesize_matmul;
pub(super) use max::synthesize_max;
pub(super) use mul::synthesize_mul;
pub(super) use relu::synthesize_relu;
pub(super) use softmax::synthesize_softmax;
pub(super) use wiring::synthesize_wiring;

use halo2_proofs::{
    circuit::{Layouter, Value},
    plonk::{Column, Error, Instance},
};
use pasta_curves::Fp;
use zkinfer_circuits::{value::felt, LookupRangeChip, RangeInstructions, SignedCell};

use crate::graph::window::Axis;
use crate::graph::witness::NodeWitness;

pub(super) fn cell_at<'c>(
    ins: &[&'c [SignedCell<Fp>]],
    input: usize,
    index: usize,
) -> Result<&'c SignedCell<Fp>, Error> {
    ins.get(input)
        .and_then(|x| x.get(index))
        .ok_or(Error::Synthesis)
}
pub(super) fn recorded_values(record: Option<&NodeWitness>) -> Result<Option<&[i64]>, Error> {
    match record {
        Some(NodeWitness::Values { outputs }) => Ok(Some(outputs)),
        Some(_) => Err(Error::Synthesis),
        None => Ok(None),
    }
}
/// The cells of each group along `axis`.
pub(super) fn groups(axis: &Axis, x: &[SignedCell<Fp>]) -> Result<Vec<Vec<SignedCell<Fp>>>, Error> {
    let indices: Vec<Vec<usize>> = (0..axis.groups()).map(|g| axis.group(g)).collect();
    cells_of(&indices, x)
}

/// The cells of `x` at each group's indices.
pub(super) fn cells_of(
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
pub(super) fn pinned(
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
pub(super) fn values(n: usize, recorded: Option<&[i64]>) -> Vec<Value<Fp>> {
    match recorded {
        Some(r) if r.len() == n => r.iter().map(|v| Value::known(felt(*v))).collect(),
        _ => vec![Value::unknown(); n],
    }
}
pub(super) fn expose(
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
