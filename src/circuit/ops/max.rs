//! MaxPool: each window's maximum, not below any input and equal to one of them.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{LookupRangeChip, MaxChip, MaxInstructions, SignedCell};

use super::super::ModelConfig;
use super::{cell_at, recorded_values, values};
use crate::graph::qgraph::{QNode, QOp};
use crate::graph::window::pool_taps;
use crate::graph::witness::NodeWitness;

pub(in crate::circuit) fn synthesize_max(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    node: &QNode,
    ins: &[&[SignedCell<Fp>]],
    record: Option<&NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let QOp::MaxPool(window) = &node.op else {
        return Err(Error::Synthesis);
    };
    let windows = (0..node.output.len)
        .map(|o| {
            pool_taps(window, o)
                .into_iter()
                .map(|i| cell_at(ins, 0, i).cloned())
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let chip = MaxChip::construct(
        config.max.clone(),
        LookupRangeChip::construct(config.range.clone()),
    );
    chip.max(
        layouter,
        &node.name,
        &windows,
        &values(node.output.len, recorded_values(record)?),
    )
}
