//! ReLU: the sign bit of each value's own decomposition selects it or zero.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{ReluChip, ReluInstructions, SignedCell};

use super::super::ModelConfig;
use super::{recorded_values, values};
use crate::graph::qgraph::QNode;
use crate::graph::witness::NodeWitness;

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
