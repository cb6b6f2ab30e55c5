//! Table activations: the input reduced to the table's precision, then looked up.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{
    DivChip, DivInstructions, DivSpec, FunctionChip, FunctionInstructions, LookupRangeChip,
    SignedCell,
};

use super::cells::values;
use super::{CircuitOp, Lookups, SynthContext};
use crate::graph::qgraph::Lookup;

use crate::circuit::rows::{OpRows, RowContext};
use crate::error::CompileError;

impl CircuitOp for Lookup {
    type Record<'w> = Lookups<'w>;

    /// A table function: the input's reduction (a division), the lookup, and a sign check of
    /// the output unless the table is non-negative; the table's rows join the shared table.
    fn rows(&self, cx: &RowContext<'_>) -> Result<OpRows, CompileError> {
        let lookup = self;
        let out = &cx.node.output;
        let t = &lookup.table;
        let nonnegative = t.outputs.iter().all(|y| *y >= 0);
        let sign = if nonnegative {
            0
        } else {
            LookupRangeChip::<Fp>::signed_rows(out.bits)
        };
        Ok(OpRows {
            elementwise: out.len,
            range: out.len * (DivChip::<Fp>::range_rows(1 << t.shift, t.input_bits) + sign)
                + FunctionChip::rows(out.len),
            table: t.outputs.len(),
            nonnegative,
            ..OpRows::default()
        })
    }

    /// Reduce the input's precision (a floor division by `2^shift`), then look the reduced
    /// value up in the node's table.
    fn synthesize(
        &self,
        cx: &SynthContext<'_>,
        layouter: &mut impl Layouter<Fp>,
        ins: &[&[SignedCell<Fp>]],
        record: Option<Lookups<'_>>,
    ) -> Result<Vec<SignedCell<Fp>>, Error> {
        let (config, node, lookup, table) = (cx.config, cx.node, self, cx.table()?);
        let (reduced, remainders, outputs) = match record {
            Some(r) => (Some(r.reduced), Some(r.remainders), Some(r.outputs)),
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
}
