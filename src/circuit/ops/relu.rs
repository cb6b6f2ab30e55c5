//! ReLU: the sign bit of each value's own decomposition selects it or zero.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{ReluChip, ReluInstructions, SignedCell};

use super::super::ModelConfig;
use super::{recorded_values, values};
use crate::graph::qgraph::QNode;
use crate::graph::witness::NodeWitness;

use crate::circuit::layout::{OpRows, RowContext};

pub(in crate::circuit) fn synthesize_relu(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    node: &QNode,
    ins: &[&[SignedCell<Fp>]],
    record: Option<&NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let x = ins.first().ok_or(Error::Synthesis)?;
    ReluChip::construct(config.relu.clone()).relu(
        layouter,
        &node.name,
        x,
        &values(x.len(), recorded_values(record)?),
    )
}

/// ReLU: one row per value, none when its input is non-negative by construction.
pub(in crate::circuit) fn rows(cx: &RowContext<'_>) -> OpRows {
    let free = cx.input_nonneg(0);
    OpRows {
        elementwise: if free { 0 } else { cx.node.output.len },
        nonnegative: true,
        ..OpRows::default()
    }
}
