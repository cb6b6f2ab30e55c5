//! The product of two activations as matrices: per output, a dot product over cell pairs
//! (the pair dot chip), then one rescale.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{
    value::felt, DivChip, DivInstructions, DivSpec, LookupRangeChip, PairDotChip,
    PairDotInstructions, PairTask, SignedCell,
};

use super::super::ModelConfig;
use super::values;
use crate::circuit::layout::{OpRows, RowContext};
use crate::graph::qgraph::{MatMul, QGraph, QNode};
use crate::graph::witness::NodeWitness;

/// Output `(t, i, j)` is `Σ_l a[t, i, l] · b[t, l, j]`, both operands copied from where they
/// were produced, divided once by `2^shift` with the graph's rounding.
pub(in crate::circuit) fn synthesize_matmul(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    graph: &QGraph,
    node: &QNode,
    mm: &MatMul,
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
    let (a, b) = match ins {
        [a, b] => (*a, *b),
        _ => return Err(Error::Synthesis),
    };
    let (m, k, n) = (mm.m, mm.k, mm.n);
    let len = node.output.len;
    fn cell(x: &[SignedCell<Fp>], index: usize) -> Result<&zkinfer_circuits::Cell<Fp>, Error> {
        x.get(index).map(SignedCell::cell).ok_or(Error::Synthesis)
    }
    let tasks = (0..len)
        .map(|o| {
            let (t, i, j) = (o / (m * n), (o / n) % m, o % n);
            Ok(PairTask {
                a: (0..k)
                    .map(|l| cell(a, (t * m + i) * k + l))
                    .collect::<Result<_, _>>()?,
                b: (0..k)
                    .map(|l| cell(b, (t * k + l) * n + j))
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let sums = PairDotChip::construct(config.pair.clone())
        .pair_dot_products(layouter, &node.name, &tasks)?;
    let spec = DivSpec {
        divisor: 1 << mm.shift,
        offset: felt(graph.rounding.offset(1 << mm.shift)),
    };
    DivChip::construct(
        config.div.clone(),
        LookupRangeChip::construct(config.range.clone()),
    )
    .divide(
        layouter,
        &format!("{} rescale", node.name),
        &sums,
        &vec![spec; len],
        node.output.bits,
        &values(len, quotients),
        &values(len, remainders),
    )
}

/// Per output: the pair dot product's rows (half the dot width in pairs per row), a
/// division row and its range checks.
pub(in crate::circuit) fn rows(cx: &RowContext<'_>, mm: &MatMul) -> OpRows {
    let out = &cx.node.output;
    OpRows {
        dot: out.len * PairDotChip::rows(mm.k, cx.dot_width / 2),
        elementwise: out.len,
        range: out.len * DivChip::<Fp>::range_rows(1 << mm.shift, out.bits),
        ..OpRows::default()
    }
}
