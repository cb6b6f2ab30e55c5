//! Linear ops (Dense, Conv, AvgPool, Add, Affine): a dot product per output with the
//! weights in fixed columns and the inputs copied in, then a division with rounding. With
//! hashed parameters, an op with trained parameters takes the pair dot chip instead: each
//! input cell times its weight's committed cell, and `1 ×` the bias's ([`super::params`]).

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{
    value::felt, Cell, ChipSet, DivChip, DivInstructions, DivSpec, DotInstructions, DotTask,
    FixedDotChip, LookupRangeChip, PairDotChip, PairDotInstructions, PairTask, SignedCell,
};

use super::cells::{cell_at, values};
use super::params::NodeParams;
use super::{CircuitOp, Quotients, SynthContext};
use crate::circuit::rows::{OpRows, RowContext};
use crate::error::{CompileError, StructureError};
use crate::graph::qgraph::{Add, Affine, AvgPool, Conv, Dense, LinearOutput, QNode};

/// Every linear op is proven alike, from its [`LinearOutput`]s.
macro_rules! linear_circuit {
    ($($op:ty),*) => {$(
        impl CircuitOp for $op {
            type Record<'w> = Quotients<'w>;

            fn rows(&self, cx: &RowContext<'_>) -> Result<OpRows, CompileError> {
                rows(cx)
            }

            fn synthesize(
                &self,
                cx: &SynthContext<'_>,
                layouter: &mut impl Layouter<Fp>,
                ins: &[&[SignedCell<Fp>]],
                record: Option<Quotients<'_>>,
            ) -> Result<Vec<SignedCell<Fp>>, Error> {
                synthesize(cx, layouter, ins, record)
            }
        }
    )*};
}

linear_circuit!(Dense, Conv, AvgPool, Add, Affine);

/// A dot product per output (weights in fixed columns, or the committed cells of `params`
/// when the parameters are hashed; inputs copied in), then a division.
fn synthesize(
    cx: &SynthContext<'_>,
    layouter: &mut impl Layouter<Fp>,
    ins: &[&[SignedCell<Fp>]],
    record: Option<Quotients<'_>>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let (config, graph, node) = (cx.config, cx.graph, cx.node);
    let (quotients, remainders) = record.map(|r| (r.quotients, r.remainders)).unzip();
    let n = node.output.len;
    let outputs: Vec<LinearOutput> = (0..n)
        .map(|o| node.op.linear(o).ok_or(Error::Synthesis))
        .collect::<Result<_, _>>()?;
    let accs = match &cx.params {
        Some(params) => committed_dots(config, layouter, node, params, &outputs, ins)?,
        None => fixed_dots(config, layouter, node, &outputs, ins)?,
    };
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

/// The dot products against weights in fixed columns.
fn fixed_dots(
    config: &ChipSet,
    layouter: &mut impl Layouter<Fp>,
    node: &QNode,
    outputs: &[LinearOutput],
    ins: &[&[SignedCell<Fp>]],
) -> Result<Vec<Cell<Fp>>, Error> {
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
    FixedDotChip::construct(config.dot.clone()).dot_products(layouter, &node.name, &tasks)
}

/// The dot products against committed parameter cells: per output, each input cell paired
/// with its weight's cell, and the pinned 1 with the bias's. Every tap of an op with
/// parameters names its weight, and a nonzero bias names its bias: anything else is a
/// synthesis error, never a constant slipped past the commitment.
fn committed_dots(
    config: &ChipSet,
    layouter: &mut impl Layouter<Fp>,
    node: &QNode,
    params: &NodeParams<'_>,
    outputs: &[LinearOutput],
    ins: &[&[SignedCell<Fp>]],
) -> Result<Vec<Cell<Fp>>, Error> {
    let tasks = outputs
        .iter()
        .map(|l| {
            let mut a = Vec::with_capacity(l.taps.len() + 1);
            let mut b = Vec::with_capacity(l.taps.len() + 1);
            for t in &l.taps {
                let weight = t.param.and_then(|p| params.weights.get(p));
                a.push(cell_at(ins, t.input, t.index)?.cell());
                b.push(weight.ok_or(Error::Synthesis)?.cell());
            }
            match l.bias_param {
                Some(p) => {
                    a.push(params.one.cell());
                    b.push(params.biases.get(p).ok_or(Error::Synthesis)?.cell());
                }
                None if l.bias != 0 => return Err(Error::Synthesis),
                None => {}
            }
            Ok(PairTask { a, b })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    PairDotChip::construct(config.pair.clone()).pair_dot_products(layouter, &node.name, &tasks)
}

/// A linear op (dense, conv, average pool, add, affine): per output, a dot product over its
/// taps and a division by its divisor.
fn rows(cx: &RowContext<'_>) -> Result<OpRows, CompileError> {
    let (op, out) = (&cx.node.op, &cx.node.output);
    let mut rows = OpRows::default();
    let committed = cx.hashed_params && op.has_params();
    for o in 0..out.len {
        let lin = op.linear(o).ok_or_else(|| CompileError::Structure {
            node: cx.node.name.clone(),
            source: StructureError::Length {
                what: "the op's linear outputs",
                expected: out.len,
                got: o,
            },
        })?;
        rows.dot += if committed {
            let pairs = lin.taps.len() + usize::from(lin.bias_param.is_some());
            PairDotChip::rows(pairs, cx.dot_width / 2)
        } else {
            FixedDotChip::rows(lin.taps.len(), cx.dot_width)
        };
        rows.elementwise += 1;
        rows.range += DivChip::<Fp>::range_rows(lin.divisor, out.bits);
    }
    Ok(rows)
}
