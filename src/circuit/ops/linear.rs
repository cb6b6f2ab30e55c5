//! Linear ops (Dense, Conv, AvgPool, Add, Affine): a dot product per output with the
//! weights in fixed columns and the inputs copied in, then a division with rounding.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{
    value::felt, DivChip, DivInstructions, DivSpec, DotInstructions, DotTask, FixedDotChip,
    LookupRangeChip, SignedCell,
};

use super::super::ModelConfig;
use super::{cell_at, values};
use crate::graph::qgraph::{LinearOutput, QGraph, QNode};
use crate::graph::witness::NodeWitness;

use crate::circuit::layout::{OpRows, RowContext};
use crate::error::CompileError;
use crate::graph::qgraph::QOp;

/// A dot product per output (weights in fixed columns, inputs copied in), then a division.
pub(in crate::circuit) fn synthesize_linear(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    graph: &QGraph,
    node: &QNode,
    ins: &[&[SignedCell<Fp>]],
    record: Option<&NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let (quotients, remainders) = match record {
        Some(NodeWitness::Linear {
            quotients,
            remainders,
        }) => (Some(quotients.as_slice()), Some(remainders.as_slice())),
        Some(_) => return Err(Error::Synthesis),
        None => (None, None),
    };
    let n = node.output.len;
    let outputs: Vec<LinearOutput> = (0..n)
        .map(|o| node.op.linear(o).ok_or(Error::Synthesis))
        .collect::<Result<_, _>>()?;
    let weights: Vec<Vec<Fp>> = outputs
        .iter()
        .map(|l| l.taps.iter().map(|t| felt(t.weight)).collect())
        .collect();
    let tasks = outputs
        .iter()
        .enumerate()
        .map(|(o, l)| {
            let inputs = l
                .taps
                .iter()
                .map(|t| cell_at(ins, t.input, t.index).map(SignedCell::cell))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(DotTask {
                inputs,
                weights: &weights[o],
                bias: felt(l.bias),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let accs =
        FixedDotChip::construct(config.dot.clone()).dot_products(layouter, &node.name, &tasks)?;
    let specs: Vec<DivSpec<Fp>> = outputs
        .iter()
        .map(|l| DivSpec {
            divisor: l.divisor,
            offset: felt(graph.rounding.offset(l.divisor)),
        })
        .collect();
    let div = DivChip::construct(
        config.div.clone(),
        LookupRangeChip::construct(config.range.clone()),
    );
    div.divide(
        layouter,
        &node.name,
        &accs,
        &specs,
        node.output.bits,
        &values(n, quotients),
        &values(n, remainders),
    )
}

/// A linear op (dense, conv, average pool, add, affine): per output, a dot product over its
/// taps and a division by its divisor.
pub(in crate::circuit) fn rows(cx: &RowContext<'_>, op: &QOp) -> Result<OpRows, CompileError> {
    let out = &cx.node.output;
    let mut rows = OpRows::default();
    for o in 0..out.len {
        let lin = op.linear(o).ok_or_else(|| CompileError::Invalid {
            node: cx.node.name.clone(),
            reason: format!("no linear output {o}"),
        })?;
        rows.dot += FixedDotChip::rows(lin.taps.len(), cx.dot_width);
        rows.elementwise += 1;
        rows.range += DivChip::<Fp>::range_rows(lin.divisor, out.bits);
    }
    Ok(rows)
}
