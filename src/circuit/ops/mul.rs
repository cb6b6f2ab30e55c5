//! The product of two tensors, then a rescale.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{
    value::felt, DivChip, DivInstructions, DivSpec, LookupRangeChip, MulChip, MulInstructions,
    SignedCell,
};

use super::super::ModelConfig;
use super::values;
use crate::graph::qgraph::{QGraph, QNode};
use crate::graph::witness::NodeWitness;

use crate::circuit::layout::{OpRows, RowContext};

/// The product of the two inputs, then a rescale.
pub(in crate::circuit) fn synthesize_mul(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    graph: &QGraph,
    node: &QNode,
    shift: u32,
    ins: &[&[SignedCell<Fp>]],
    record: Option<&NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let (products, quotients, remainders) = match record {
        Some(NodeWitness::Product {
            products,
            quotients,
            remainders,
        }) => (
            Some(products.as_slice()),
            Some(quotients.as_slice()),
            Some(remainders.as_slice()),
        ),
        Some(_) => return Err(Error::Synthesis),
        None => (None, None, None),
    };
    let cells = |slot: usize| -> Result<Vec<_>, Error> {
        Ok(ins
            .get(slot)
            .ok_or(Error::Synthesis)?
            .iter()
            .map(|c| c.cell().clone())
            .collect())
    };
    let (a, b) = (cells(0)?, cells(1)?);
    let n = a.len();
    let p = MulChip::construct(config.mul.clone()).mul(
        layouter,
        &node.name,
        &a,
        &b,
        &values(n, products),
    )?;
    let spec = DivSpec {
        divisor: 1 << shift,
        offset: felt(graph.rounding.offset(1 << shift)),
    };
    DivChip::construct(
        config.div.clone(),
        LookupRangeChip::construct(config.range.clone()),
    )
    .divide(
        layouter,
        &node.name,
        &p,
        &vec![spec; n],
        node.output.bits,
        &values(n, quotients),
        &values(n, remainders),
    )
}

/// A product of two activations: a product row and a division row per value.
pub(in crate::circuit) fn rows(cx: &RowContext<'_>, shift: u32) -> OpRows {
    let out = &cx.node.output;
    OpRows {
        elementwise: 2 * out.len,
        range: out.len * DivChip::<Fp>::range_rows(1 << shift, out.bits),
        ..OpRows::default()
    }
}
