//! Reductions over axes (`ReduceMean`, `ReduceSum`, `ReduceMax`), `LogSoftmax` and
//! `PRelu`, imported as compositions of ops that already have proofs: the reduced axes are
//! moved last by a wiring node (no rows), then one window op over all of them per group:
//! an average pool for the mean, a depthwise convolution of unit weights for the sum, a
//! max pool for the maximum.

use super::proto::{attr, attr_f, attr_i, len};
use super::wiring::{strides, unravel};
use super::{Act, Ctx, Importer};
use crate::error::IrError;
use crate::graph::ir::Activation;
use crate::graph::ir::{
    ArgMax, AvgPool, FloatAffine, FloatConv, FloatOp, FloatSoftmax, MaxPool, Source, Wiring,
};
use crate::graph::window::{Axis, ConvShape, Window};

/// What a reduction computes per group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reduction {
    Mean,
    Sum,
    Max,
}

impl Importer {
    /// `Softmax` over one axis (default the last), masked when it reads a causal mask
    /// ([`Importer::where_`]).
    pub(super) fn softmax(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let x = self.act(cx, 0)?;
        let (axis, _) = self.axis(cx, &x, -1)?;
        let op = match self.masks.remove(cx.input(0)?) {
            Some(keep) => FloatOp::Softmax(FloatSoftmax { axis, keep }),
            None => FloatOp::Softmax(FloatSoftmax {
                axis,
                keep: Vec::new(),
            }),
        };
        Ok(self.push(cx, op, vec![x.id], x.shape))
    }

    /// `ArgMax` over one axis (default the first), keeping the axis or not.
    pub(super) fn argmax(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let x = self.act(cx, 0)?;
        let (axis, a) = self.axis(cx, &x, 0)?;
        if attr_i(cx.node, "select_last_index", 0) != 0 {
            return Err(cx.unsupported(": select_last_index = 1"));
        }
        let mut shape = x.shape.clone();
        if attr_i(cx.node, "keepdims", 1) != 0 {
            shape[a] = 1;
        } else {
            shape.remove(a);
        }
        Ok(self.push(cx, FloatOp::ArgMax(ArgMax(axis)), vec![x.id], shape))
    }

    /// The node's `axis` attribute over `x` (negative counts from the end): the axis and
    /// its position.
    fn axis(&self, cx: &Ctx<'_>, x: &Act, default: i64) -> Result<(Axis, usize), IrError> {
        let a = attr_i(cx.node, "axis", default);
        let axis = Axis::of(&x.shape, a)
            .ok_or_else(|| cx.shape(format!("an axis of {:?}", x.shape), format!("{a}")))?;
        let rank = x.shape.len() as i64;
        let position = usize::try_from(if a < 0 { a + rank } else { a }).unwrap_or(0);
        Ok((axis, position))
    }

    /// `ReduceMean`, `ReduceSum`, `ReduceMax`: axes from the attribute (older opsets) or the
    /// second input (ReduceSum from opset 13, the others from 18), `keepdims` (default 1)
    /// and `noop_with_empty_axes`.
    pub(super) fn reduce(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let x = self.act(cx, 0)?;
        let kind = match cx.op() {
            "ReduceMean" => Reduction::Mean,
            "ReduceSum" => Reduction::Sum,
            _ => Reduction::Max,
        };
        let given: Vec<i64> = match cx.node.input.get(1).filter(|s| !s.is_empty()) {
            Some(t) => self
                .ints
                .get(t)
                .cloned()
                .ok_or_else(|| cx.unsupported(": the axes input must be a constant"))?,
            None => attr(cx.node, "axes")
                .map(|a| a.ints.clone())
                .unwrap_or_default(),
        };
        if given.is_empty() && attr_i(cx.node, "noop_with_empty_axes", 0) != 0 {
            return Ok(x);
        }
        let rank = x.shape.len();
        let mut axes = Vec::new();
        for a in &given {
            let axis = usize::try_from(if *a < 0 { a + rank as i64 } else { *a })
                .ok()
                .filter(|a| *a < rank)
                .ok_or_else(|| {
                    cx.shape(format!("axes within rank {rank}"), format!("{given:?}"))
                })?;
            if !axes.contains(&axis) {
                axes.push(axis);
            }
        }
        if axes.is_empty() {
            axes = (0..rank).collect();
        }
        axes.sort_unstable();
        let keep = attr_i(cx.node, "keepdims", 1) != 0;
        let out_shape: Vec<usize> = (0..rank)
            .filter_map(|a| match (axes.contains(&a), keep) {
                (false, _) => Some(x.shape[a]),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect();
        let y = self.reduce_axes(cx, &x, &axes, kind, "")?;
        Ok(Act {
            id: y.id,
            shape: out_shape,
        })
    }

    /// `LogSoftmax` along one axis: `y = (x − m) − ln Σ e^(x − m)` with `m` the axis's
    /// maximum, so the exponentials lie in `(0, 1]`, the sum in `[1, n]`, and the logarithm
    /// is a table over a small domain.
    pub(super) fn log_softmax(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let x = self.act(cx, 0)?;
        let rank = x.shape.len() as i64;
        let a = attr_i(cx.node, "axis", -1);
        let axis = usize::try_from(if a < 0 { a + rank } else { a })
            .ok()
            .filter(|a| (*a as i64) < rank)
            .ok_or_else(|| cx.shape(format!("an axis of {:?}", x.shape), format!("{a}")))?;
        let m = self.reduce_axes(cx, &x, &[axis], Reduction::Max, "/max")?;
        let gap = self.subtract_broadcast(cx, &x, &m, axis, "/gap");
        let e = self.push_named(
            cx,
            "/exp",
            FloatOp::Activation(Activation::Exp),
            vec![gap.id],
            gap.shape.clone(),
        );
        let s = self.reduce_axes(cx, &e, &[axis], Reduction::Sum, "/sum")?;
        let l = self.push_named(
            cx,
            "/ln",
            FloatOp::Activation(Activation::Ln { floor: 1.0 }),
            vec![s.id],
            s.shape.clone(),
        );
        Ok(self.subtract_broadcast(cx, &gap, &l, axis, ""))
    }

    /// `PRelu`: a single slope is a `LeakyRelu` table; per-channel slopes (any shape that
    /// broadcasts) become `(1 − s) · relu(x) + s · x`, two constant affine maps and a sum.
    pub(super) fn prelu(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let x = self.act(cx, 0)?;
        let slope = self.broadcast(cx, cx.input(1)?, &x.shape)?;
        if let Some(&alpha) = slope.first().filter(|s| slope.iter().all(|v| v == *s)) {
            return Ok(self.push(
                cx,
                FloatOp::Activation(Activation::LeakyRelu { alpha }),
                vec![x.id],
                x.shape.clone(),
            ));
        }
        let shape = x.shape.clone();
        let zeros = vec![0.0; slope.len()];
        let relu = self.push_named(cx, "/relu", FloatOp::Relu, vec![x.id], shape.clone());
        let positive = FloatOp::Affine(FloatAffine {
            scale: slope.iter().map(|s| 1.0 - s).collect(),
            bias: zeros.clone(),
        });
        let positive = self.push_named(cx, "/positive", positive, vec![relu.id], shape.clone());
        let linear = FloatOp::Affine(FloatAffine {
            scale: slope,
            bias: zeros,
        });
        let linear = self.push_named(cx, "/linear", linear, vec![x.id], shape.clone());
        Ok(self.push(cx, FloatOp::Add, vec![positive.id, linear.id], shape))
    }

    /// `LayerNormalization` (opset 17) over the axes from `axis` on:
    /// `(x − mean) · 1/√(var + ε) · γ + β`, imported as the decomposed form is (a mean by an
    /// average pool, the centring by a sum with the negated mean, the variance as the mean
    /// of the centred squares, the reciprocal root by a table of `1/√max(v + ε, ε)`, then a
    /// product and the affine map).
    pub(super) fn layer_norm(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let x = self.act(cx, 0)?;
        let rank = x.shape.len();
        let a = attr_i(cx.node, "axis", -1);
        let axis = usize::try_from(if a < 0 { a + rank as i64 } else { a })
            .ok()
            .filter(|a| *a < rank)
            .ok_or_else(|| cx.shape(format!("an axis of {:?}", x.shape), a.to_string()))?;
        let epsilon = attr_f(cx.node, "epsilon", 1e-5);
        if !(epsilon > 0.0 && epsilon.is_finite()) {
            return Err(cx.unsupported(format!(": epsilon = {epsilon} (must be positive)")));
        }
        let gamma = self.broadcast(cx, cx.input(1)?, &x.shape)?;
        let beta = match cx.node.input.get(2).filter(|s| !s.is_empty()) {
            Some(b) => self.broadcast(cx, b, &x.shape)?,
            None => vec![0.0; len(&x.shape)],
        };
        let axes: Vec<usize> = (axis..rank).collect();
        let mut per_group = x.shape[..axis].to_vec();
        per_group.resize(rank, 1);
        let n = len(&per_group);
        let affine = |scale: f32, bias: f32| {
            FloatOp::Affine(FloatAffine {
                scale: vec![scale; n],
                bias: vec![bias; n],
            })
        };
        let mut mean = self.reduce_axes(cx, &x, &axes, Reduction::Mean, "/mean")?;
        mean.shape.clone_from(&per_group);
        let negated = self.push_named(
            cx,
            "/negate",
            affine(-1.0, 0.0),
            vec![mean.id],
            per_group.clone(),
        );
        let negated = self.spread(cx, &negated, &x.shape, "/spread_mean")?;
        let centred = self.push_named(
            cx,
            "/centre",
            FloatOp::Add,
            vec![x.id, negated.id],
            x.shape.clone(),
        );
        let squares = self.push_named(
            cx,
            "/square",
            FloatOp::Mul,
            vec![centred.id, centred.id],
            x.shape.clone(),
        );
        let variance = self.reduce_axes(cx, &squares, &axes, Reduction::Mean, "/variance")?;
        let shifted = self.push_named(
            cx,
            "/epsilon",
            affine(1.0, epsilon),
            vec![variance.id],
            per_group.clone(),
        );
        let root = FloatOp::Activation(Activation::Rsqrt { floor: epsilon });
        let root = self.push_named(cx, "/rsqrt", root, vec![shifted.id], per_group);
        let root = self.spread(cx, &root, &x.shape, "/spread_rsqrt")?;
        let normalised = self.push_named(
            cx,
            "/normalise",
            FloatOp::Mul,
            vec![centred.id, root.id],
            x.shape.clone(),
        );
        Ok(self.affine(cx, &normalised, gamma, beta))
    }

    /// One value per group of `x` over `axes` (sorted), in the row-major order of the kept
    /// axes; the returned shape is the kept dimensions.
    pub(super) fn reduce_axes(
        &mut self,
        cx: &Ctx<'_>,
        x: &Act,
        axes: &[usize],
        kind: Reduction,
        suffix: &str,
    ) -> Result<Act, IrError> {
        let rank = x.shape.len();
        let kept: Vec<usize> = (0..rank).filter(|a| !axes.contains(a)).collect();
        let groups = len(&kept.iter().map(|&a| x.shape[a]).collect::<Vec<_>>());
        let n = len(&axes.iter().map(|&a| x.shape[a]).collect::<Vec<_>>());
        if n == 0 || groups == 0 {
            return Err(cx.shape("a non-empty tensor to reduce", format!("{:?}", x.shape)));
        }
        // Kept axes first, reduced axes last: each group is then `n` consecutive values.
        let perm: Vec<usize> = kept.iter().chain(axes).copied().collect();
        let grouped = if perm.iter().enumerate().all(|(i, a)| i == *a) {
            x.id
        } else {
            let permuted: Vec<usize> = perm.iter().map(|&a| x.shape[a]).collect();
            let in_strides = strides(&x.shape);
            let sources = (0..len(&x.shape))
                .map(|o| {
                    let coord = unravel(o, &permuted);
                    let index = perm
                        .iter()
                        .zip(&coord)
                        .map(|(&a, c)| c * in_strides[a])
                        .sum();
                    Source::Element { input: 0, index }
                })
                .collect();
            let name = format!("{suffix}/group");
            self.push_named(
                cx,
                &name,
                FloatOp::Wiring(Wiring(sources)),
                vec![x.id],
                permuted,
            )
            .id
        };
        let window = Window::dense(groups, vec![n], vec![n]);
        let op = match kind {
            Reduction::Mean => FloatOp::AvgPool(AvgPool {
                window,
                count_include_pad: false,
            }),
            Reduction::Max => FloatOp::MaxPool(MaxPool(window)),
            Reduction::Sum => FloatOp::Conv(FloatConv {
                shape: ConvShape {
                    window,
                    out_channels: groups,
                    groups,
                },
                weights: vec![1.0; groups * n],
                bias: vec![0.0; groups],
            }),
        };
        let shape = kept.iter().map(|&a| x.shape[a]).collect();
        Ok(self.push_named(cx, suffix, op, vec![grouped], shape))
    }

    /// `x − g[group]`, where `g` holds one value per group of `x` along `axis` (the output
    /// of [`Importer::reduce_axes`] over that axis).
    fn subtract_broadcast(
        &mut self,
        cx: &Ctx<'_>,
        x: &Act,
        g: &Act,
        axis: usize,
        suffix: &str,
    ) -> Act {
        let inner = len(&x.shape[axis + 1..]);
        let n = x.shape[axis];
        let sources = (0..len(&x.shape))
            .map(|i| Source::Element {
                input: 0,
                index: (i / (n * inner)) * inner + i % inner,
            })
            .collect();
        let shape = x.shape.clone();
        let spread = self.push_named(
            cx,
            &format!("{suffix}/spread"),
            FloatOp::Wiring(Wiring(sources)),
            vec![g.id],
            shape.clone(),
        );
        let negated = FloatOp::Affine(FloatAffine {
            scale: vec![-1.0; len(&shape)],
            bias: vec![0.0; len(&shape)],
        });
        let negated = self.push_named(
            cx,
            &format!("{suffix}/negate"),
            negated,
            vec![spread.id],
            shape.clone(),
        );
        self.push_named(cx, suffix, FloatOp::Add, vec![x.id, negated.id], shape)
    }
}
