//! ReLU: the sign bit of each value's own decomposition selects it or zero.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{ReluChip, ReluInstructions, SignedCell};

use super::cells::values;
use super::{CircuitOp, Outputs, SynthContext};
use crate::circuit::rows::{OpRows, RowContext};
use crate::error::CompileError;
use crate::graph::qgraph::Relu;

impl CircuitOp for Relu {
    type Record<'w> = Outputs<'w>;

    /// One row per value, none when its input is non-negative by construction.
    fn rows(&self, cx: &RowContext<'_>) -> Result<OpRows, CompileError> {
        let free = cx.input_nonneg(0);
        Ok(OpRows {
            elementwise: if free { 0 } else { cx.node.output.len },
            nonnegative: true,
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
        let x = ins.first().ok_or(Error::Synthesis)?;
        ReluChip::construct(cx.config.relu.clone()).relu(
            layouter,
            &cx.node.name,
            x,
            &values(x.len(), record.map(|r| r.0)),
        )
    }
}
