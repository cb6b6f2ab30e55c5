//! MaxPool: each window's maximum, not below any input and equal to one of them.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{LookupRangeChip, MaxChip, MaxInstructions, SignedCell};

use super::super::ModelConfig;
use super::{cell_at, recorded_values, values};
use crate::graph::qgraph::{QNode, QOp};
use crate::graph::window::pool_taps;
use crate::graph::witness::NodeWitness;

use crate::circuit::layout::{OpRows, RowContext};
use crate::graph::window::Window;

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

/// MaxPool: per output, a max over its window's taps.
pub(in crate::circuit) fn rows(cx: &RowContext<'_>, window: &Window) -> OpRows {
    let out = &cx.node.output;
    let mut rows = OpRows {
        nonnegative: cx.input_nonneg(0),
        ..OpRows::default()
    };
    for o in 0..out.len {
        let n = pool_taps(window, o).len();
        rows.elementwise += n;
        rows.range += MaxChip::<Fp>::range_rows(n, out.bits, cx.input_nonneg(0));
    }
    rows
}
