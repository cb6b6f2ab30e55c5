//! MaxPool: each window's maximum, not below any input and equal to one of them.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{LookupRangeChip, MaxChip, MaxInstructions, SignedCell};

use super::cells::{cell_at, values};
use super::{CircuitOp, Outputs, SynthContext};
use crate::circuit::rows::{OpRows, RowContext};
use crate::error::CompileError;
use crate::graph::qgraph::MaxPool;
use crate::graph::window::pool_taps;

impl CircuitOp for MaxPool {
    type Record<'w> = Outputs<'w>;

    /// Per output, a max over its window's taps.
    fn rows(&self, cx: &RowContext<'_>) -> Result<OpRows, CompileError> {
        let out = &cx.node.output;
        let mut rows = OpRows {
            nonnegative: cx.input_nonneg(0),
            ..OpRows::default()
        };
        for o in 0..out.len {
            let n = pool_taps(&self.0, o).len();
            rows.elementwise += n;
            rows.range += MaxChip::<Fp>::range_rows(n, out.bits, cx.input_nonneg(0));
        }
        Ok(rows)
    }

    fn synthesize(
        &self,
        cx: &SynthContext<'_>,
        layouter: &mut impl Layouter<Fp>,
        ins: &[&[SignedCell<Fp>]],
        record: Option<Outputs<'_>>,
    ) -> Result<Vec<SignedCell<Fp>>, Error> {
        let node = cx.node;
        let windows = (0..node.output.len)
            .map(|o| {
                pool_taps(&self.0, o)
                    .into_iter()
                    .map(|i| cell_at(ins, 0, i).cloned())
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let chip = MaxChip::construct(
            cx.config.max.clone(),
            LookupRangeChip::construct(cx.config.range.clone()),
        );
        chip.max(
            layouter,
            &node.name,
            &windows,
            &values(node.output.len, record.map(|r| r.0)),
        )
    }
}
