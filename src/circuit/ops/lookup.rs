//! Table activations: the input reduced to the table's precision, then looked up.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{
    DivChip, DivInstructions, DivSpec, FunctionChip, FunctionInstructions, FunctionTable,
    LookupRangeChip, SignedCell,
};

use super::super::ModelConfig;
use super::values;
use crate::graph::qgraph::{Lookup, QNode};
use crate::graph::witness::NodeWitness;

use crate::circuit::layout::{OpRows, RowContext};

/// Reduce the input's precision (a floor division by `2^shift`), then look the reduced
/// value up in the node's table.
pub(in crate::circuit) fn synthesize_lookup(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    node: &QNode,
    lookup: &Lookup,
    table: &FunctionTable<Fp>,
    ins: &[&[SignedCell<Fp>]],
    record: Option<&NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let (reduced, remainders, outputs) = match record {
        Some(NodeWitness::Lookup {
            reduced,
            remainders,
            outputs,
        }) => (
            Some(reduced.as_slice()),
            Some(remainders.as_slice()),
            Some(outputs.as_slice()),
        ),
        Some(_) => return Err(Error::Synthesis),
        None => (None, None, None),
    };
    let x: Vec<_> = ins
        .first()
        .ok_or(Error::Synthesis)?
        .iter()
        .map(|c| c.cell().clone())
        .collect();
    let n = x.len();
    let spec = DivSpec {
        divisor: 1 << lookup.table.shift,
        offset: Fp::zero(),
    };
    let div = DivChip::construct(
        config.div.clone(),
        LookupRangeChip::construct(config.range.clone()),
    );
    let reduced = div.divide(
        layouter,
        &format!("{} reduce", node.name),
        &x,
        &vec![spec; n],
        lookup.table.input_bits,
        &values(n, reduced),
        &values(n, remainders),
    )?;
    let reduced: Vec<_> = reduced.iter().map(|c| c.cell().clone()).collect();
    FunctionChip::construct(config.range.clone()).apply_signed(
        layouter,
        &node.name,
        table,
        node.output.bits,
        &reduced,
        &values(n, outputs),
    )
}

/// A table function: the input's reduction (a division), the lookup, and a sign check of
/// the output unless the table is non-negative; the table's rows join the shared table.
pub(in crate::circuit) fn rows(cx: &RowContext<'_>, lookup: &Lookup) -> OpRows {
    let out = &cx.node.output;
    let t = &lookup.table;
    let nonnegative = t.outputs.iter().all(|y| *y >= 0);
    let sign = if nonnegative {
        0
    } else {
        LookupRangeChip::<Fp>::signed_rows(out.bits)
    };
    OpRows {
        elementwise: out.len,
        range: out.len * (DivChip::<Fp>::range_rows(1 << t.shift, t.input_bits) + sign)
            + FunctionChip::rows(out.len),
        table: t.outputs.len(),
        nonnegative,
        ..OpRows::default()
    }
}
