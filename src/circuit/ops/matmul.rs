//! The product of two activations as matrices: per output, a dot product over cell pairs
//! (the pair dot chip), then one rescale.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{
    value::felt, DivChip, DivInstructions, DivSpec, LookupRangeChip, PairDotChip,
    PairDotInstructions, PairTask, SignedCell,
};

use super::cells::values;
use super::{CircuitOp, Quotients, SynthContext};
use crate::circuit::rows::{OpRows, RowContext};
use crate::error::CompileError;
use crate::graph::qgraph::MatMul;

impl CircuitOp for MatMul {
    type Record<'w> = Quotients<'w>;

    /// Per output: the pair dot product's rows (half the dot width in pairs per row), a
    /// division row and its range checks.
    fn rows(&self, cx: &RowContext<'_>) -> Result<OpRows, CompileError> {
        let mm = self;
        let out = &cx.node.output;
        Ok(OpRows {
            dot: out.len * PairDotChip::rows(mm.k, cx.dot_width / 2),
            elementwise: out.len,
            range: out.len * DivChip::<Fp>::range_rows(1 << mm.shift, out.bits),
            ..OpRows::default()
        })
    }

    /// Output `(t, i, j)` is `Σ_l a[t, i, l] · b[t, l, j]`, both operands copied from where they
    /// were produced, divided once by `2^shift` with the graph's rounding.
    fn synthesize(
        &self,
        cx: &SynthContext<'_>,
        layouter: &mut impl Layouter<Fp>,
        ins: &[&[SignedCell<Fp>]],
        record: Option<Quotients<'_>>,
    ) -> Result<Vec<SignedCell<Fp>>, Error> {
        let (config, node, graph, mm) = (cx.config, cx.node, cx.graph, self);
        let (quotients, remainders) = record.map(|r| (r.quotients, r.remainders)).unzip();
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
}
