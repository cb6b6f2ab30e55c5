//! Ops that only move values (`Transpose`, `Concat`, `Pad`) and the row-major shape
//! arithmetic behind them and behind `Reshape`/`Squeeze`.

use super::proto::{attr, attr_f, attr_i, len};
use super::{Act, Ctx, Importer};
use crate::error::IrError;
use crate::graph::ir::{FloatOp, Source, Wiring};

impl Importer {
    /// `Shape`: shapes are static, so an activation's shape is a constant.
    pub(super) fn shape_of(&self, cx: &Ctx<'_>) -> Result<Vec<i64>, IrError> {
        let x = self.act(cx, 0)?;
        let rank = x.shape.len() as i64;
        let bound = |name: &str, default: i64| {
            let v = attr_i(cx.node, name, default);
            (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize
        };
        let (start, end) = (bound("start", 0), bound("end", rank));
        Ok(x.shape[start..end.max(start)]
            .iter()
            .map(|d| *d as i64)
            .collect())
    }

    /// `Flatten`: a new shape over the same tensor (no node).
    pub(super) fn flatten(&self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let x = self.act(cx, 0)?;
        let rank = x.shape.len() as i64;
        let axis = attr_i(cx.node, "axis", 1);
        let axis = usize::try_from(if axis < 0 { axis + rank } else { axis })
            .ok()
            .filter(|a| *a as i64 <= rank)
            .ok_or_else(|| cx.shape("an axis within the rank", format!("{axis}")))?;
        Ok(Act {
            id: x.id,
            shape: vec![len(&x.shape[..axis]), len(&x.shape[axis..])],
        })
    }

    /// `Reshape` to a constant shape (no node). `allowzero = 1` (what PyTorch's exporter
    /// writes on every `Reshape`) means the same as `0` when the target has no zero; a zero
    /// with it would ask for an empty tensor, and is refused.
    pub(super) fn reshape(&self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let x = self.act(cx, 0)?;
        let target = self
            .ints
            .get(cx.input(1)?)
            .ok_or_else(|| cx.unsupported(": the target shape must be a constant"))?;
        if attr_i(cx.node, "allowzero", 0) != 0 && target.contains(&0) {
            return Err(cx.unsupported(format!(
                ": allowzero = 1 with a 0 in the target shape {target:?} (an empty tensor)"
            )));
        }
        Ok(Act {
            id: x.id,
            shape: reshaped(cx, &x.shape, target)?,
        })
    }

    /// `Squeeze` / `Unsqueeze` by constant axes (an input from opset 13, an attribute before).
    pub(super) fn squeeze(&self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let x = self.act(cx, 0)?;
        let axes: Vec<i64> = match cx.node.input.get(1).filter(|s| !s.is_empty()) {
            Some(t) => self.ints.get(t).cloned().unwrap_or_default(),
            None => attr(cx.node, "axes")
                .map(|a| a.ints.clone())
                .unwrap_or_default(),
        };
        Ok(Act {
            id: x.id,
            shape: squeezed(cx, &x.shape, &axes)?,
        })
    }

    pub(super) fn transpose(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let x = self.act(cx, 0)?;
        let rank = x.shape.len();
        let perm = cx.ints("perm").unwrap_or_else(|| (0..rank).rev().collect());
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        if sorted != (0..rank).collect::<Vec<_>>() {
            return Err(cx.shape(format!("a permutation of 0..{rank}"), format!("{perm:?}")));
        }
        let out_shape: Vec<usize> = perm.iter().map(|&p| x.shape[p]).collect();
        let in_strides = strides(&x.shape);
        let sources = (0..len(&out_shape))
            .map(|o| {
                let coord = unravel(o, &out_shape);
                let index = perm
                    .iter()
                    .zip(&coord)
                    .map(|(&p, c)| c * in_strides[p])
                    .sum();
                Source::Element { input: 0, index }
            })
            .collect();
        Ok(self.push(cx, FloatOp::Wiring(Wiring(sources)), vec![x.id], out_shape))
    }

    /// `Concat` of activations and constants (a ViT's class token, a learned constant
    /// `Concat`ed before the patch embeddings): wiring, no rows, each constant element a
    /// constant of the output. At least one input must be an activation (a `Concat` of
    /// constants alone is folded before import).
    pub(super) fn concat(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        enum Part {
            Act(Act, usize),
            Constant(Vec<f32>, Vec<usize>),
        }
        let mut parts = Vec::with_capacity(cx.node.input.len());
        let mut ids = Vec::new();
        for i in 0..cx.node.input.len() {
            let name = cx.input(i)?;
            if let Some(x) = self.acts.get(name) {
                parts.push(Part::Act(x.clone(), ids.len()));
                ids.push(x.id);
            } else if let Some(c) = self.floats.get(name) {
                parts.push(Part::Constant(
                    c.iter().copied().collect(),
                    c.shape().to_vec(),
                ));
            } else {
                return Err(self
                    .act(cx, i)
                    .err()
                    .unwrap_or_else(|| cx.shape("inputs", name)));
            }
        }
        let shape_of = |p: &Part| match p {
            Part::Act(x, _) => x.shape.clone(),
            Part::Constant(_, shape) => shape.clone(),
        };
        let first = parts
            .iter()
            .find(|p| matches!(p, Part::Act(..)))
            .map(shape_of)
            .ok_or_else(|| cx.unsupported(": at least one input must be an activation"))?;
        let rank = first.len() as i64;
        let axis = attr_i(cx.node, "axis", 0);
        let axis = usize::try_from(if axis < 0 { axis + rank } else { axis })
            .ok()
            .filter(|a| (*a as i64) < rank)
            .ok_or_else(|| cx.shape("an axis within the rank", format!("{axis}")))?;
        let mut out_shape = first.clone();
        out_shape[axis] = 0;
        for part in &parts {
            let shape = shape_of(part);
            let same = shape.len() == first.len()
                && (0..first.len()).all(|a| a == axis || shape[a] == first[a]);
            if !same {
                return Err(cx.shape(
                    format!("shapes like {first:?} off axis {axis}"),
                    format!("{shape:?}"),
                ));
            }
            out_shape[axis] = out_shape[axis].saturating_add(shape[axis]);
        }
        checked_len(cx, &out_shape)?;
        let outer = len(&out_shape[..axis]);
        let mut sources = Vec::with_capacity(len(&out_shape));
        for o in 0..outer {
            for part in &parts {
                let block = len(&shape_of(part)[axis..]);
                let range = o * block..(o + 1) * block;
                match part {
                    Part::Act(_, input) => sources.extend(range.map(|index| Source::Element {
                        input: *input,
                        index,
                    })),
                    Part::Constant(values, _) => {
                        sources.extend(values[range].iter().map(|v| Source::Constant(*v)))
                    }
                }
            }
        }
        Ok(self.push(cx, FloatOp::Wiring(Wiring(sources)), ids, out_shape))
    }

    pub(super) fn pad(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let x = self.act(cx, 0)?;
        let mode = attr(cx.node, "mode")
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
            .unwrap_or_else(|| "constant".into());
        if !matches!(mode.as_str(), "constant" | "reflect" | "edge" | "wrap") {
            return Err(cx.unsupported(format!(": mode = {mode}")));
        }
        let rank = x.shape.len();
        let pads: Vec<i64> = match cx.node.input.get(1).filter(|s| !s.is_empty()) {
            Some(t) => self
                .ints
                .get(t)
                .cloned()
                .ok_or_else(|| cx.unsupported(": pads must be a constant"))?,
            None => attr(cx.node, "pads")
                .map(|a| a.ints.clone())
                .unwrap_or_default(),
        };
        if pads.len() != 2 * rank || pads.iter().any(|p| *p < 0) {
            return Err(cx.shape(
                format!("{} non-negative pads", 2 * rank),
                format!("{pads:?}"),
            ));
        }
        if cx.node.input.get(3).is_some_and(|s| !s.is_empty()) {
            return Err(cx.unsupported(": the axes input"));
        }
        let value = match cx.node.input.get(2).filter(|s| !s.is_empty()) {
            Some(t) => self.constant(cx, t)?.iter().copied().next().unwrap_or(0.0),
            None => attr_f(cx.node, "value", 0.0),
        };
        let pads: Vec<usize> = pads.iter().map(|p| *p as usize).collect();
        let out_shape: Vec<usize> = (0..rank)
            .map(|a| {
                x.shape[a]
                    .saturating_add(pads[a])
                    .saturating_add(pads[rank + a])
            })
            .collect();
        checked_len(cx, &out_shape)?;
        if mode == "reflect" {
            if let Some(a) =
                (0..rank).find(|&a| x.shape[a] > 1 && pads[a].max(pads[rank + a]) >= x.shape[a])
            {
                return Err(cx.shape(
                    format!(
                        "reflect pads below the axis length {} on axis {a}",
                        x.shape[a]
                    ),
                    format!("{pads:?}"),
                ));
            }
        }
        if mode != "constant" && (0..rank).any(|a| x.shape[a] == 0 && out_shape[a] > 0) {
            return Err(cx.shape("a non-empty axis to pad from", format!("{:?}", x.shape)));
        }
        let in_strides = strides(&x.shape);
        let sources = (0..len(&out_shape))
            .map(|o| {
                let coord = unravel(o, &out_shape);
                let mut index = 0;
                for a in 0..rank {
                    // Signed position in the input; outside [0, n) the mode decides.
                    let n = x.shape[a] as i64;
                    let i = coord[a] as i64 - pads[a] as i64;
                    let c = match mode.as_str() {
                        _ if (0..n).contains(&i) => i,
                        "edge" => i.clamp(0, n - 1),
                        "wrap" => i.rem_euclid(n),
                        "reflect" if n == 1 => 0,
                        "reflect" => {
                            let period = 2 * (n - 1);
                            let r = i.rem_euclid(period);
                            if r < n {
                                r
                            } else {
                                period - r
                            }
                        }
                        _ => return Source::Constant(value),
                    };
                    index += c as usize * in_strides[a];
                }
                Source::Element { input: 0, index }
            })
            .collect();
        Ok(self.push(cx, FloatOp::Wiring(Wiring(sources)), vec![x.id], out_shape))
    }
}

impl Importer {
    /// `Split` along an axis into the sizes the `split` input (opset 13+) or attribute
    /// gives, or `num_outputs` (opset 18) or as many equal parts as outputs: one wiring node
    /// (no rows) per output.
    pub(super) fn split(&mut self, cx: &Ctx<'_>) -> Result<(), IrError> {
        let x = self.act(cx, 0)?;
        let rank = x.shape.len() as i64;
        let axis = attr_i(cx.node, "axis", 0);
        let axis = usize::try_from(if axis < 0 { axis + rank } else { axis })
            .ok()
            .filter(|a| (*a as i64) < rank)
            .ok_or_else(|| cx.shape("an axis within the rank", format!("{axis}")))?;
        let outputs = cx.node.output.len();
        let dim = x.shape[axis];
        let sizes: Vec<usize> = match cx.node.input.get(1).filter(|s| !s.is_empty()) {
            Some(t) => self
                .ints
                .get(t)
                .ok_or_else(|| cx.unsupported(": the split sizes must be a constant"))?
                .iter()
                .map(|v| usize::try_from(*v).unwrap_or(usize::MAX))
                .collect(),
            None => match cx.ints("split") {
                Some(sizes) if !sizes.is_empty() => sizes,
                _ if outputs > 0 && dim.is_multiple_of(outputs) => vec![dim / outputs; outputs],
                _ => {
                    return Err(cx.shape(
                        format!("an axis divisible into {outputs} parts"),
                        format!("{dim}"),
                    ))
                }
            },
        };
        if sizes.len() != outputs
            || sizes.iter().try_fold(0usize, |n, s| n.checked_add(*s)) != Some(dim)
        {
            return Err(cx.shape(
                format!("{outputs} sizes adding up to {dim}"),
                format!("{sizes:?}"),
            ));
        }
        let inner = len(&x.shape[axis + 1..]);
        let outer = len(&x.shape[..axis]);
        let mut start = 0;
        for (k, (name, size)) in cx.node.output.iter().zip(&sizes).enumerate() {
            let mut shape = x.shape.clone();
            shape[axis] = *size;
            let sources = (0..outer)
                .flat_map(|o| {
                    let base = (o * dim + start) * inner;
                    (base..base + size * inner).map(|index| Source::Element { input: 0, index })
                })
                .collect();
            start += size;
            if name.is_empty() {
                continue;
            }
            let act = self.push_named(
                cx,
                &format!(":{k}"),
                FloatOp::Wiring(Wiring(sources)),
                vec![x.id],
                shape,
            );
            self.bind(name.clone(), act);
        }
        Ok(())
    }

    /// `IsNaN(x)` and `IsInf(x)` of an activation: the all-false constant of `x`'s shape,
    /// so that a `Where` on it (SDPA's `Where(IsNaN(p), 0, p)` after a softmax) is wiring,
    /// and here the activation itself.
    ///
    /// Sound because no value of a graph zkinfer compiles is NaN or infinite: every
    /// constant a node holds must be finite (the float graph's validation), calibration
    /// refuses a non-finite value of any tensor, the reference check compares the proven
    /// outputs with tract's, and the model's meaning, the integer pass, has no NaN or
    /// infinity at all. What the circuit proves is that integer pass, in which `x` is a
    /// vector of integers and the test is false for every element.
    pub(super) fn is_non_finite(&mut self, cx: &Ctx<'_>, output: &str) -> Result<(), IrError> {
        let x = self.act(cx, 0)?;
        checked_len(cx, &x.shape)?;
        let none = ndarray::ArrayD::<f32>::zeros(ndarray::IxDyn(&x.shape));
        self.floats.insert(output.to_string(), none);
        self.protos.remove(output);
        Ok(())
    }

    /// `Where(condition, x, y)` with a constant condition: each element is `x`'s or `y`'s,
    /// one an activation and the other an activation or a constant (wiring, no rows). A
    /// `Where(mask, scores, very negative)` read only by a `Softmax` is a causal mask: it
    /// is recorded for the softmax, which leaves masked elements out exactly (see
    /// [`MASK_FILL`]).
    pub(super) fn where_(&mut self, cx: &Ctx<'_>, output: &str) -> Result<Act, IrError> {
        let cond_name = cx.input(0)?;
        let cond = self
            .constant(cx, cond_name)
            .map_err(|_| cx.unsupported(": the condition must be a constant (a mask)"))?;
        let branches = [cx.input(1)?, cx.input(2)?];
        let acts: Vec<Option<Act>> = branches
            .iter()
            .map(|b| self.acts.get(*b).cloned())
            .collect();
        let shape = acts
            .iter()
            .flatten()
            .map(|a| a.shape.clone())
            .chain(std::iter::once(cond.shape().to_vec()))
            .try_fold(Vec::new(), |s, t| broadcast_shape(&s, &t))
            .ok_or_else(|| cx.shape("broadcastable operands", "shapes that are not"))?;
        checked_len(cx, &shape)?;
        let keep: Vec<bool> = cond
            .broadcast(ndarray::IxDyn(&shape))
            .ok_or_else(|| {
                cx.shape(
                    format!("a condition broadcastable to {shape:?}"),
                    format!("{:?}", cond.shape()),
                )
            })?
            .iter()
            .map(|c| *c != 0.0)
            .collect();
        // One branch an activation, the other a constant: the activation where `keep` is
        // `on_true`, the constant elsewhere.
        let select = |keep: &[bool], fill: &[f32], on_true: bool| -> Vec<Source<f32>> {
            keep.iter()
                .zip(fill)
                .enumerate()
                .map(|(index, (k, f))| match *k == on_true {
                    true => Source::Element { input: 0, index },
                    false => Source::Constant(*f),
                })
                .collect()
        };
        match (&acts[0], &acts[1]) {
            (Some(x), None) if x.shape == shape => {
                let fill = self.broadcast(cx, branches[1], &shape)?;
                if keep.iter().all(|k| *k) {
                    return Ok(x.clone());
                }
                let masked_softmax = self.softmax_inputs.contains(output)
                    && self.readers.get(output).copied() == Some(1)
                    && fill.iter().all(|v| *v <= MASK_FILL);
                if masked_softmax {
                    self.masks.insert(output.to_string(), keep);
                    return Ok(x.clone());
                }
                let sources = select(&keep, &fill, true);
                Ok(self.push(cx, FloatOp::Wiring(Wiring(sources)), vec![x.id], shape))
            }
            (None, Some(y)) if y.shape == shape => {
                let fill = self.broadcast(cx, branches[0], &shape)?;
                // The condition false everywhere (`Where(IsNaN(p), c, p)`): `y` itself.
                if keep.iter().all(|k| !*k) {
                    return Ok(y.clone());
                }
                let sources = select(&keep, &fill, false);
                Ok(self.push(cx, FloatOp::Wiring(Wiring(sources)), vec![y.id], shape))
            }
            (Some(x), Some(y)) => {
                let x = self.spread(cx, x, &shape, "/x")?;
                let y = self.spread(cx, y, &shape, "/y")?;
                let sources = keep
                    .iter()
                    .enumerate()
                    .map(|(index, k)| Source::Element {
                        input: usize::from(!*k),
                        index,
                    })
                    .collect();
                Ok(self.push(
                    cx,
                    FloatOp::Wiring(Wiring(sources)),
                    vec![x.id, y.id],
                    shape,
                ))
            }
            _ => Err(cx.unsupported(format!(
                ": the activation must have the output's shape {shape:?}"
            ))),
        }
    }

    /// `x` broadcast (numpy rules) to `shape`: itself if it has that shape, else a wiring
    /// node (no rows) named with `suffix`.
    pub(super) fn spread(
        &mut self,
        cx: &Ctx<'_>,
        x: &Act,
        shape: &[usize],
        suffix: &str,
    ) -> Result<Act, IrError> {
        if x.shape == shape {
            return Ok(x.clone());
        }
        let rank = shape.len();
        if x.shape.len() > rank || broadcast_shape(&x.shape, shape).as_deref() != Some(shape) {
            return Err(cx.shape(
                format!("an operand broadcastable to {shape:?}"),
                format!("{:?}", x.shape),
            ));
        }
        checked_len(cx, shape)?;
        let offset = rank - x.shape.len();
        let in_strides = strides(&x.shape);
        let sources = (0..len(shape))
            .map(|o| {
                let coord = unravel(o, shape);
                let index = (0..x.shape.len())
                    .filter(|&a| x.shape[a] != 1)
                    .map(|a| coord[a + offset] * in_strides[a])
                    .sum();
                Source::Element { input: 0, index }
            })
            .collect();
        Ok(self.push_named(
            cx,
            suffix,
            FloatOp::Wiring(Wiring(sources)),
            vec![x.id],
            shape.to_vec(),
        ))
    }
}

/// A `Where` fill at or below this, read by a `Softmax`, masks its element out: the
/// softmax leaves it out of the max and the sum and outputs exactly 0 for it, where ONNX
/// computes `e^(fill − max) / Σ`, below `e^-1000` of the largest term for any scores
/// within ±500 of each other (float32 rounds it to 0). A fill above it is a value like any
/// other.
pub const MASK_FILL: f32 = -1000.0;

/// The numpy broadcast of two shapes, if they broadcast.
pub(super) fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| (i + s.len()).checked_sub(rank).map_or(1, |j| s[j]);
    (0..rank)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// The number of values of `shape`, if it is at most [`crate::graph::window::MAX_LEN`]: checked
/// before building a tensor whose shape comes from the file (pads, concatenations,
/// products), so a hostile shape is an error, not an overflow or an exhausted memory.
pub(super) fn checked_len(cx: &Ctx<'_>, shape: &[usize]) -> Result<usize, IrError> {
    shape
        .iter()
        .try_fold(1usize, |n, d| n.checked_mul(*d))
        .filter(|n| *n <= crate::graph::window::MAX_LEN)
        .ok_or_else(|| {
            cx.shape(
                format!("at most {} values", crate::graph::window::MAX_LEN),
                format!("{shape:?}"),
            )
        })
}

/// Row-major strides.
pub(super) fn strides(shape: &[usize]) -> Vec<usize> {
    (0..shape.len()).map(|a| len(&shape[a + 1..])).collect()
}

/// Row-major coordinates of flat index `i`.
pub(super) fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut coord = vec![0; shape.len()];
    for a in (0..shape.len()).rev() {
        coord[a] = i % shape[a].max(1);
        i /= shape[a].max(1);
    }
    coord
}

/// ONNX Reshape: `0` copies the input's dimension, `-1` takes what is left.
fn reshaped(cx: &Ctx<'_>, shape: &[usize], target: &[i64]) -> Result<Vec<usize>, IrError> {
    let total = len(shape);
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (a, &t) in target.iter().enumerate() {
        match t {
            -1 if infer.is_none() => {
                infer = Some(a);
                out.push(1);
            }
            0 => out.push(shape.get(a).copied().unwrap_or(0)),
            t if t > 0 => out.push(t as usize),
            _ => {
                return Err(cx.shape(
                    "a shape of positive sizes, 0 and one -1",
                    format!("{target:?}"),
                ))
            }
        }
    }
    if let Some(a) = infer {
        let known = len(&out);
        if known == 0 || !total.is_multiple_of(known) {
            return Err(cx.shape(format!("a shape of {total} values"), format!("{target:?}")));
        }
        out[a] = total / known;
    }
    if len(&out) != total {
        return Err(cx.shape(format!("a shape of {total} values"), format!("{target:?}")));
    }
    Ok(out)
}

fn squeezed(cx: &Ctx<'_>, shape: &[usize], axes: &[i64]) -> Result<Vec<usize>, IrError> {
    if cx.op() == "Squeeze" {
        let rank = shape.len() as i64;
        let axes: Vec<usize> = axes
            .iter()
            .map(|a| (if *a < 0 { a + rank } else { *a }) as usize)
            .collect();
        Ok(shape
            .iter()
            .enumerate()
            .filter(|(a, d)| !(**d == 1 && (axes.is_empty() || axes.contains(a))))
            .map(|(_, d)| *d)
            .collect())
    } else {
        let rank = (shape.len() + axes.len()) as i64;
        let mut axes: Vec<usize> = axes
            .iter()
            .map(|a| (if *a < 0 { a + rank } else { *a }) as usize)
            .collect();
        axes.sort_unstable();
        let mut out = shape.to_vec();
        for a in axes {
            if a > out.len() {
                return Err(cx.shape("axes within the output rank", format!("{a}")));
            }
            out.insert(a, 1);
        }
        Ok(out)
    }
}
