//! ArgMax: the first index of each group's maximum.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{
    ArgMaxChip, ArgMaxInstructions, LookupRangeChip, MaxChip, MaxInstructions, SignedCell,
};

use super::cells::{groups, values};
use super::{ArgMaxima, CircuitOp, SynthContext};
use crate::graph::qgraph::ArgMax;

use crate::circuit::rows::{OpRows, RowContext};
use crate::error::CompileError;

impl CircuitOp for ArgMax {
    type Record<'w> = ArgMaxima<'w>;

    /// ArgMax: per group, the max of its values and the first index that attains it.
    fn rows(&self, cx: &RowContext<'_>) -> Result<OpRows, CompileError> {
        let axis = &self.0;
        let (n, bits) = (axis.len, cx.input_bits(0));
        Ok(OpRows {
            elementwise: 2 * n * axis.groups(),
            range: axis.groups()
                * (MaxChip::<Fp>::range_rows(n, bits, cx.input_nonneg(0))
                    + ArgMaxChip::<Fp>::range_rows(n, bits)),
            nonnegative: true,
            ..OpRows::default()
        })
    }

    /// The max of each group (with its gaps), then the first index where the gap is zero.
    fn synthesize(
        &self,
        cx: &SynthContext<'_>,
        layouter: &mut impl Layouter<Fp>,
        ins: &[&[SignedCell<Fp>]],
        record: Option<ArgMaxima<'_>>,
    ) -> Result<Vec<SignedCell<Fp>>, Error> {
        let (config, node, axis) = (cx.config, cx.node, &self.0);
        let (maxima, indices) = record.map(|r| (r.maxima, r.indices)).unzip();
        let x = ins.first().ok_or(Error::Synthesis)?;
        let windows = groups(axis, x)?;
        let bits = x.iter().map(SignedCell::bits).max().unwrap_or(1);
        let range = LookupRangeChip::construct(config.range.clone());
        let max = MaxChip::construct(config.max.clone(), range.clone());
        let n = axis.groups();
        let (_, gaps) = max.max_with_gaps(layouter, &node.name, &windows, &values(n, maxima))?;
        ArgMaxChip::construct(config.argmax.clone(), range).argmax(
            layouter,
            &node.name,
            &gaps,
            bits,
            &values(n, indices),
        )
    }
}
