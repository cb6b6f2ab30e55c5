//! `Gather`: rows of a constant table selected by the activation's ids (an embedding), or
//! constant indices into an activation (wiring).

use super::proto::{attr_i, len};
use super::wiring::{checked_len, strides, unravel};
use super::{Act, Ctx, Importer};
use crate::error::IrError;
use crate::graph::ir::{FloatGather, FloatOp, Source, Wiring};

impl Importer {
    pub(super) fn gather(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let (data, indices) = (cx.input(0)?, cx.input(1)?);
        let axis = attr_i(cx.node, "axis", 0);
        match (
            self.acts.get(data).cloned(),
            self.acts.get(indices).cloned(),
        ) {
            (None, Some(ids)) => {
                let table = self.matrix(cx, 0)?;
                if axis != 0 && axis != -2 {
                    return Err(cx.unsupported(format!(
                        ": axis {axis} of an embedding table (rows, axis 0, are supported)"
                    )));
                }
                let mut shape = ids.shape.clone();
                shape.push(table.ncols());
                checked_len(cx, &shape)?;
                Ok(self.push(
                    cx,
                    FloatOp::Gather(FloatGather { table }),
                    vec![ids.id],
                    shape,
                ))
            }
            (Some(x), None) => self.select(cx, &x, indices, axis),
            (Some(_), Some(_)) => Err(cx.unsupported(": indices computed from activations")),
            (None, None) => Err(IrError::UnknownTensor {
                node: cx.name.clone(),
                tensor: data.to_string(),
            }),
        }
    }

    /// Constant indices along `axis` of an activation: wiring (no rows).
    fn select(&mut self, cx: &Ctx<'_>, x: &Act, indices: &str, axis: i64) -> Result<Act, IrError> {
        let rank = x.shape.len() as i64;
        let axis = usize::try_from(if axis < 0 { axis + rank } else { axis })
            .ok()
            .filter(|a| (*a as i64) < rank)
            .ok_or_else(|| cx.shape("an axis within the rank", format!("{axis}")))?;
        let values = self
            .ints
            .get(indices)
            .ok_or_else(|| cx.unsupported(": the indices must be an int64 constant"))?;
        let index_shape: Vec<usize> = self
            .protos
            .get(indices)
            .map(|t| t.dims.iter().map(|d| (*d).max(0) as usize).collect())
            .unwrap_or_else(|| vec![values.len()]);
        let dim = x.shape[axis];
        let picks = values
            .iter()
            .map(|&i| {
                let j = if i < 0 { i + dim as i64 } else { i };
                usize::try_from(j)
                    .ok()
                    .filter(|j| *j < dim)
                    .ok_or_else(|| cx.shape(format!("indices within 0..{dim}"), i.to_string()))
            })
            .collect::<Result<Vec<usize>, _>>()?;
        let mut shape = x.shape[..axis].to_vec();
        shape.extend_from_slice(&index_shape);
        shape.extend_from_slice(&x.shape[axis + 1..]);
        checked_len(cx, &shape)?;
        let in_strides = strides(&x.shape);
        let k = index_shape.len();
        let sources = (0..len(&shape))
            .map(|o| {
                let coord = unravel(o, &shape);
                let pick = picks[flat(&coord[axis..axis + k], &index_shape)];
                let index = (0..axis)
                    .map(|a| coord[a] * in_strides[a])
                    .chain(std::iter::once(pick * in_strides[axis]))
                    .chain((axis + 1..x.shape.len()).map(|a| coord[a + k - 1] * in_strides[a]))
                    .sum();
                Source::Element { input: 0, index }
            })
            .collect();
        Ok(self.push(cx, FloatOp::Wiring(Wiring(sources)), vec![x.id], shape))
    }
}

/// The row-major flat index of `coord` in `shape`.
fn flat(coord: &[usize], shape: &[usize]) -> usize {
    coord.iter().zip(strides(shape)).map(|(c, s)| c * s).sum()
}
