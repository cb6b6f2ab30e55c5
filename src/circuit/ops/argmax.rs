//! ArgMax: the first index of each group's maximum.

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{
    ArgMaxChip, ArgMaxInstructions, LookupRangeChip, MaxChip, MaxInstructions, SignedCell,
};

use super::super::ModelConfig;
use super::{groups, values};
use crate::graph::qgraph::QNode;
use crate::graph::window::Axis;
use crate::graph::witness::NodeWitness;

use crate::circuit::layout::{OpRows, RowContext};

/// The max of each group (with its gaps), then the first index where the gap is zero.
pub(in crate::circuit) fn synthesize_argmax(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    node: &QNode,
    axis: &Axis,
    ins: &[&[SignedCell<Fp>]],
    record: Option<&NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let (maxima, indices) = match record {
        Some(NodeWitness::ArgMax { maxima, indices }) => {
            (Some(maxima.as_slice()), Some(indices.as_slice()))
        }
        Some(_) => return Err(Error::Synthesis),
        None => (None, None),
    };
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

/// ArgMax: per group, the max of its values and the first index that attains it.
pub(in crate::circuit) fn rows(cx: &RowContext<'_>, axis: &Axis) -> OpRows {
    let (n, bits) = (axis.len, cx.input_bits(0));
    OpRows {
        elementwise: 2 * n * axis.groups(),
        range: axis.groups()
            * (MaxChip::<Fp>::range_rows(n, bits, cx.input_nonneg(0))
                + ArgMaxChip::<Fp>::range_rows(n, bits)),
        nonnegative: true,
        ..OpRows::default()
    }
}
