//! The elementwise maximum of two tensors: per element, the max chip over the window
//! `[a_i, b_i]` (not below either, equal to one of them). No gate of its own.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{LookupRangeChip, MaxChip, MaxInstructions, SignedCell};

use super::cells::{cell_at, values};
use super::{CircuitOp, Outputs, SynthContext};
use crate::circuit::rows::{OpRows, RowContext};
use crate::error::CompileError;
use crate::graph::qgraph::Max;

impl CircuitOp for Max {
    type Record<'w> = Outputs<'w>;

    /// Two max rows per element and the gaps' range checks; its output is non-negative by
    /// construction when both inputs are (the max chip then skips the sign check).
    fn rows(&self, cx: &RowContext<'_>) -> Result<OpRows, CompileError> {
        let out = &cx.node.output;
        let nonnegative = cx.input_nonneg(0) && cx.input_nonneg(1);
        Ok(OpRows {
            elementwise: 2 * out.len,
            range: out.len * MaxChip::<Fp>::range_rows(2, out.bits, nonnegative),
            nonnegative,
            ..OpRows::default()
        })
    }

    fn synthesize(
        &self,
        cx: &SynthContext<'_>,
        layouter: &mut impl Layouter<Fp>,
        ins: &[&[SignedCell<Fp>]],
        record: Option<Outputs<'_>>,
    ) -> Result<Vec<SignedCell<Fp>>, Error> {
        let n = cx.node.output.len;
        let windows = (0..n)
            .map(|i| {
                Ok(vec![
                    cell_at(ins, 0, i)?.clone(),
                    cell_at(ins, 1, i)?.clone(),
                ])
            })
            .collect::<Result<Vec<_>, Error>>()?;
        MaxChip::construct(
            cx.config.max.clone(),
            LookupRangeChip::construct(cx.config.range.clone()),
        )
        .max(
            layouter,
            &cx.node.name,
            &windows,
            &values(n, record.map(|r| r.0)),
        )
    }
}
