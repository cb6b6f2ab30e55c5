//! The product of two tensors, then a rescale.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{
    value::felt, DivChip, DivInstructions, DivSpec, LookupRangeChip, MulChip, MulInstructions,
    SignedCell,
};

use super::cells::values;
use super::{CircuitOp, Products, SynthContext};
use crate::graph::qgraph::Mul;

use crate::circuit::rows::{OpRows, RowContext};
use crate::error::CompileError;

impl CircuitOp for Mul {
    type Record<'w> = Products<'w>;

    /// A product of two activations: a product row and a division row per value.
    fn rows(&self, cx: &RowContext<'_>) -> Result<OpRows, CompileError> {
        let shift = self.shift;
        let out = &cx.node.output;
        Ok(OpRows {
            elementwise: 2 * out.len,
            range: out.len * DivChip::<Fp>::range_rows(1 << shift, out.bits),
            ..OpRows::default()
        })
    }

    /// The product of the two inputs, then a rescale.
    fn synthesize(
        &self,
        cx: &SynthContext<'_>,
        layouter: &mut impl Layouter<Fp>,
        ins: &[&[SignedCell<Fp>]],
        record: Option<Products<'_>>,
    ) -> Result<Vec<SignedCell<Fp>>, Error> {
        let (config, node, graph, shift) = (cx.config, cx.node, cx.graph, self.shift);
        let (products, quotients, remainders) = match record {
            Some(r) => (Some(r.products), Some(r.quotients), Some(r.remainders)),
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
}
