//! Gather (an embedding): each output is the table entry at key `id · dim + j`, proven by
//! a lookup of `(key, value)` in the node's table.
//!
//! The key is a one-tap dot product of the id cell (weight `dim`, bias `j`). The table holds
//! exactly the keys `0..vocab · dim`, so an id outside the vocabulary (or a key that is not
//! `id · dim + j` for an integer id, which the id's range check rules out) has no row.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{
    DotInstructions, DotTask, FixedDotChip, FunctionChip, FunctionInstructions, LookupRangeChip,
    SignedCell,
};

use super::cells::values;
use super::{CircuitOp, Outputs, SynthContext};
use crate::circuit::rows::{OpRows, RowContext};
use crate::error::CompileError;
use crate::graph::qgraph::Gather;

impl CircuitOp for Gather {
    type Record<'w> = Outputs<'w>;

    /// One key per output (a one-tap dot product), one lookup per output, a sign check when the
    /// table has negative values; the table's rows join the shared table.
    fn rows(&self, cx: &RowContext<'_>) -> Result<OpRows, CompileError> {
        let gather = self;
        let out = &cx.node.output;
        let nonnegative = gather.table.outputs.iter().all(|y| *y >= 0);
        let sign = if nonnegative {
            0
        } else {
            LookupRangeChip::<Fp>::signed_rows(out.bits)
        };
        Ok(OpRows {
            dot: out.len * FixedDotChip::rows(1, cx.dot_width),
            range: out.len * sign + FunctionChip::rows(out.len),
            table: gather.table.outputs.len(),
            nonnegative,
            ..OpRows::default()
        })
    }

    /// Keys by dot products, values by lookup.
    fn synthesize(
        &self,
        cx: &SynthContext<'_>,
        layouter: &mut impl Layouter<Fp>,
        ins: &[&[SignedCell<Fp>]],
        record: Option<Outputs<'_>>,
    ) -> Result<Vec<SignedCell<Fp>>, Error> {
        let (config, node, gather, table) = (cx.config, cx.node, self, cx.table()?);
        let outputs = record.map(|r| r.0);
        let ids = ins.first().ok_or(Error::Synthesis)?;
        let dim = gather.dim;
        let weight = [Fp::from(dim as u64)];
        let mut tasks: Vec<DotTask<'_, Fp>> = Vec::with_capacity(ids.len() * dim);
        for id in ids.iter() {
            for j in 0..dim {
                tasks.push(DotTask {
                    inputs: vec![id.cell()],
                    weights: &weight,
                    bias: Fp::from(j as u64),
                });
            }
        }
        let dot = FixedDotChip::construct(config.dot.clone());
        let keys = dot.dot_products(layouter, &format!("{} keys", node.name), &tasks)?;
        FunctionChip::construct(config.range.clone()).apply_signed(
            layouter,
            &node.name,
            table,
            node.output.bits,
            &keys,
            &values(keys.len(), outputs),
        )
    }
}
