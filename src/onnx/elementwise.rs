//! Elementwise ops: `Add`/`Sub`/`Mul`/`Div` of two activations or with a constant (folded
//! into the preceding linear layer when possible), and the table activations' attributes.

use ndarray::Array1;

use super::proto::{attr, attr_f, len};
use super::wiring::{broadcast_shape, MASK_FILL};
use super::{Act, Ctx, Importer};
use crate::error::IrError;
use crate::graph::ir::Activation;
use crate::graph::ir::{FloatAffine, FloatOp, Source, Wiring};
use crate::graph::TensorId;

/// The largest integer exponent of a `Pow` (as products).
pub const MAX_POWER: u32 = 8;

impl Importer {
    /// `BatchNormalization` (inference): a per-channel affine map on `[N, C, D1, …]`.
    pub(super) fn batch_norm(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let x = self.act(cx, 0)?;
        let channels = x.shape.get(1).copied().unwrap_or(1);
        let eps = attr_f(cx.node, "epsilon", 1e-5);
        let p: Vec<Array1<f32>> = (1..5)
            .map(|i| cx.input(i).and_then(|t| self.vector(cx, t, channels)))
            .collect::<Result<_, _>>()?;
        // Element i belongs to channel (i / inner) % C, for any N (not only a leading 1).
        let inner = len(x.shape.get(2..).unwrap_or_default());
        let [gamma, beta, mean, var] = [&p[0], &p[1], &p[2], &p[3]];
        let per_channel: Vec<(f32, f32)> = (0..channels)
            .map(|c| {
                let s = gamma[c] / (var[c] + eps).sqrt();
                (s, beta[c] - mean[c] * s)
            })
            .collect();
        let (scale, bias): (Vec<f32>, Vec<f32>) = (0..len(&x.shape))
            .map(|i| per_channel[(i / inner.max(1)) % channels.max(1)])
            .unzip();
        Ok(self.affine(cx, &x, scale, bias))
    }

    /// `Pow` by a constant exponent: an integer `n` from 2 to [`MAX_POWER`] is `n − 1`
    /// products of the activation with itself (`x³ = (x·x)·x`; a chain that reads them
    /// may fuse into one table, [`crate::graph::fuse`]), 1 the activation, 0.5 a square
    /// root.
    pub(super) fn pow(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let x = self.act(cx, 0)?;
        let e = self.constant(cx, cx.input(1)?)?;
        let exponent = match e.iter().copied().collect::<Vec<f32>>()[..] {
            [e] => e,
            _ => return Err(cx.unsupported(": the exponent must be one constant")),
        };
        let shape = x.shape.clone();
        Ok(match exponent {
            1.0 => x,
            0.5 => self.push(cx, FloatOp::Activation(Activation::Sqrt), vec![x.id], shape),
            e if e.fract() == 0.0 && (2.0..=MAX_POWER as f32).contains(&e) => {
                let n = e as u32;
                let mut power = x.clone();
                for k in 2..=n {
                    let suffix = if k == n {
                        String::new()
                    } else {
                        format!("/pow{k}")
                    };
                    power = self.push_named(
                        cx,
                        &suffix,
                        FloatOp::Mul,
                        vec![power.id, x.id],
                        shape.clone(),
                    );
                }
                power
            }
            e => {
                return Err(cx.unsupported(format!(
                    ": exponent {e} (integers 2 to {MAX_POWER}, 1 and 0.5 are supported)"
                )))
            }
        })
    }

    /// `Add`, `Sub`, `Mul`, `Div` of two activations, broadcast (numpy rules) by wiring:
    /// a sum, a sum with the negation, a product, or a product with the reciprocal of a
    /// square root ([`Importer::reciprocal`]).
    fn binary_activations(&mut self, cx: &Ctx<'_>, x: &Act, y: &Act) -> Result<Act, IrError> {
        let shape = broadcast_shape(&x.shape, &y.shape).ok_or_else(|| {
            cx.shape(
                "operands that broadcast",
                format!("{:?} and {:?}", x.shape, y.shape),
            )
        })?;
        let y = match cx.op() {
            "Div" => self.reciprocal(cx, y)?,
            "Sub" => {
                let n = len(&y.shape);
                let negated = FloatOp::Affine(FloatAffine {
                    scale: vec![-1.0; n],
                    bias: vec![0.0; n],
                });
                self.push_named(cx, "/negate", negated, vec![y.id], y.shape.clone())
            }
            _ => y.clone(),
        };
        let x = self.spread(cx, x, &shape, "/spread_a")?;
        let y = self.spread(cx, &y, &shape, "/spread_b")?;
        let op = match cx.op() {
            "Add" | "Sub" => FloatOp::Add,
            _ => FloatOp::Mul,
        };
        Ok(self.push(cx, op, vec![x.id, y.id], shape))
    }

    /// `Max` of two activations, broadcast (numpy rules) by wiring: their elementwise
    /// maximum. A constant operand, or another number of operands, is unsupported.
    pub(super) fn maximum(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        if cx.node.input.len() != 2 {
            return Err(cx.unsupported(format!(
                ": Max of {} operands (two are supported)",
                cx.node.input.len()
            )));
        }
        let (x, y) = (self.act(cx, 0)?, self.act(cx, 1)?);
        let shape = broadcast_shape(&x.shape, &y.shape).ok_or_else(|| {
            cx.shape(
                "operands that broadcast",
                format!("{:?} and {:?}", x.shape, y.shape),
            )
        })?;
        let x = self.spread(cx, &x, &shape, "/spread_a")?;
        let y = self.spread(cx, &y, &shape, "/spread_b")?;
        Ok(self.push(cx, FloatOp::Max, vec![x.id, y.id], shape))
    }

    /// The reciprocal of a divisor that is `Sqrt(v + ε)` (a layer normalisation), read by
    /// this `Div` only: the square root's node becomes the table of `1 / √max(v + ε, ε)`,
    /// equal to it for every `v ≥ 0`. Any other divisor is unsupported.
    fn reciprocal(&mut self, cx: &Ctx<'_>, y: &Act) -> Result<Act, IrError> {
        let divisor = cx.input(1)?;
        let only_here = self.readers.get(divisor).copied() == Some(1);
        let root = y
            .id
            .node()
            .filter(|&i| only_here && self.nodes[i].op == FloatOp::Activation(Activation::Sqrt));
        let epsilon = root.and_then(|i| {
            let v = self.nodes[i].inputs.first()?.node()?;
            let FloatOp::Affine(FloatAffine { scale, bias }) = &self.nodes[v].op else {
                return None;
            };
            let epsilon = *bias.first()?;
            let shift = scale.iter().all(|s| *s == 1.0) && bias.iter().all(|b| *b == epsilon);
            (shift && epsilon > 0.0).then_some(epsilon)
        });
        match (root, epsilon) {
            (Some(i), Some(floor)) => {
                self.nodes[i].op = FloatOp::Activation(Activation::Rsqrt { floor });
                Ok(y.clone())
            }
            _ => Err(cx.unsupported(
                ": division by an activation other than Sqrt(v + ε) read only here (a layer normalisation)",
            )),
        }
    }

    /// `Add`, `Sub`, `Mul`, `Div`: of two activations, or with a constant.
    pub(super) fn binary(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let (a, b) = (cx.input(0)?, cx.input(1)?);
        match (self.acts.get(a).cloned(), self.acts.get(b).cloned()) {
            (Some(x), Some(y)) => self.binary_activations(cx, &x, &y),
            (Some(x), None) => {
                let c = self.broadcast(cx, b, &x.shape)?;
                if let Some(act) = self.additive_mask(cx, &x, &c) {
                    return Ok(act);
                }
                let n = c.len();
                let (scale, bias) = match cx.op() {
                    "Add" => (vec![1.0; n], c),
                    "Sub" => (vec![1.0; n], c.iter().map(|v| -v).collect()),
                    "Mul" => (c, vec![0.0; n]),
                    _ => {
                        if let Some(z) = c.iter().position(|v| *v == 0.0) {
                            return Err(IrError::BadConstant {
                                tensor: b.to_string(),
                                reason: format!("division by zero at element {z}"),
                            });
                        }
                        (c.iter().map(|v| 1.0 / v).collect(), vec![0.0; n])
                    }
                };
                Ok(self.affine(cx, &x, scale, bias))
            }
            (None, Some(y)) if matches!(cx.op(), "Add" | "Mul") => {
                let c = self.broadcast(cx, a, &y.shape)?;
                if let Some(act) = self.additive_mask(cx, &y, &c) {
                    return Ok(act);
                }
                let n = c.len();
                let (scale, bias) = if cx.op() == "Add" {
                    (vec![1.0; n], c)
                } else {
                    (c, vec![0.0; n])
                };
                Ok(self.affine(cx, &y, scale, bias))
            }
            (None, Some(y)) if cx.op() == "Sub" => {
                let c = self.broadcast(cx, a, &y.shape)?;
                Ok(self.affine(cx, &y, vec![-1.0; c.len()], c))
            }
            (None, Some(_)) => Err(cx.unsupported(
                ": a constant divided by an activation (only a layer normalisation's division by a square root is supported)",
            )),
            (None, None) => Err(IrError::UnknownTensor {
                node: cx.name.clone(),
                tensor: a.to_string(),
            }),
        }
    }

    /// An additive mask before a softmax: `Softmax(Add(x, M))` with `M` a constant (broadcast
    /// to `x`'s shape, over heads and batch as exporters write it) some of whose entries
    /// mask (at or below [`MASK_FILL`], `-inf` and the float minimum included), where this
    /// `Add` is the softmax's only input and nothing else reads it. The softmax then leaves
    /// the masked elements out exactly, as for `Softmax(Where(mask, x, fill))`, and the
    /// other entries of `M` are an ordinary bias (none when they are all 0, the causal
    /// mask of SDPA as `torch.onnx` exports it). `None` when the `Add` is not such a mask:
    /// it is then a constant add like any other, whose constants must be finite.
    fn additive_mask(&mut self, cx: &Ctx<'_>, x: &Act, c: &[f32]) -> Option<Act> {
        if cx.op() != "Add" {
            return None;
        }
        let output = cx.node.output.first()?.clone();
        let only_softmax =
            self.softmax_inputs.contains(&output) && self.readers.get(&output).copied() == Some(1);
        let keep: Vec<bool> = c.iter().map(|v| *v > MASK_FILL).collect();
        if !only_softmax || keep.iter().all(|k| *k) {
            return None;
        }
        let bias: Vec<f32> = c
            .iter()
            .zip(&keep)
            .map(|(v, k)| if *k { *v } else { 0.0 })
            .collect();
        let act = if bias.iter().all(|b| *b == 0.0) {
            x.clone()
        } else {
            self.affine(cx, x, vec![1.0; bias.len()], bias)
        };
        self.masks.insert(output, keep);
        Some(act)
    }

    /// `y = scale · x + bias` elementwise, folded where nothing else reads `x`:
    /// - into the node that produced `x`: a Dense layer, a Conv when the constants are per
    ///   channel, or an affine map (the two compose: a layer norm's γ then β);
    /// - through a permutation of a linear node's outputs (a MatMul's rows put back in order,
    ///   a Transpose): the bias after a transformer's projection.
    ///
    /// Otherwise an [`FloatOp::Affine`] node. A fold saves the node's rows and one rounding.
    pub(super) fn affine(&mut self, cx: &Ctx<'_>, x: &Act, scale: Vec<f32>, bias: Vec<f32>) -> Act {
        let last = self.nodes.len().checked_sub(1);
        if let Some(i) =
            x.id.node()
                .filter(|&i| Some(i) == last && self.read_once(x.id))
        {
            if FloatOp::fold(&mut self.nodes[i].op, &scale, &bias) {
                return x.clone();
            }
            if let Some((j, scale, bias)) = self.through_permutation(i, &scale, &bias) {
                if FloatOp::fold(&mut self.nodes[j].op, &scale, &bias) {
                    return x.clone();
                }
            }
        }
        self.push(
            cx,
            FloatOp::Affine(FloatAffine { scale, bias }),
            vec![x.id],
            x.shape.clone(),
        )
    }

    /// Whether at most one node (or graph output) reads `id`, counting what reads it under
    /// every name: Reshape, Flatten, Squeeze and Identity give a tensor a new name without a
    /// node, and each such name was made by one reader of an earlier one, which is not a
    /// reader of its own. Nodes already imported that read `id` count too (the importer's
    /// own, which have no names).
    fn read_once(&self, id: TensorId) -> bool {
        let (names, reads) = self.aliases.get(&id).copied().unwrap_or_default();
        let by_name = reads.saturating_sub(names.saturating_sub(1));
        let by_node = self.node_reads.get(&id).copied().unwrap_or(0);
        by_name.max(by_node) <= 1
    }

    /// When node `i` is a permutation of node `i − 1`'s outputs that nothing else reads: that
    /// node's index and the constants moved to its output order ([`fold_into`] checks that
    /// the lengths agree).
    fn through_permutation(
        &self,
        i: usize,
        scale: &[f32],
        bias: &[f32],
    ) -> Option<(usize, Vec<f32>, Vec<f32>)> {
        let j = i.checked_sub(1)?;
        let producer = TensorId::of_node(j);
        let node = &self.nodes[i];
        let FloatOp::Wiring(Wiring(sources)) = &node.op else {
            return None;
        };
        if node.inputs != [producer] || !self.read_once(producer) {
            return None;
        }
        let n = sources.len();
        if scale.len() != n || bias.len() != n {
            return None;
        }
        let (mut moved_scale, mut moved_bias) = (vec![0.0; n], vec![0.0; n]);
        let mut seen = vec![false; n];
        for (o, source) in sources.iter().enumerate() {
            let Source::Element { input: 0, index } = *source else {
                return None;
            };
            if std::mem::replace(seen.get_mut(index)?, true) {
                return None;
            }
            moved_scale[index] = scale[o];
            moved_bias[index] = bias[o];
        }
        Some((j, moved_scale, moved_bias))
    }

    /// The tabulated function of an activation node, with its attributes.
    pub(super) fn activation(&self, cx: &Ctx<'_>) -> Result<Activation, IrError> {
        let f = |name: &str, default: f32| attr_f(cx.node, name, default);
        Ok(match cx.op() {
            "Sigmoid" => Activation::Sigmoid,
            "Tanh" => Activation::Tanh,
            "Exp" => Activation::Exp,
            "Erf" => Activation::Erf,
            "Softplus" => Activation::Softplus,
            "Sqrt" => Activation::Sqrt,
            "HardSwish" => Activation::HardSwish,
            "Gelu" => {
                let approximate = attr(cx.node, "approximate")
                    .map(|a| String::from_utf8_lossy(&a.s).into_owned())
                    .unwrap_or_else(|| "none".into());
                match approximate.as_str() {
                    "none" => Activation::Gelu,
                    "tanh" => Activation::GeluTanh,
                    other => {
                        return Err(cx.unsupported(format!(
                            ": approximate = {other} (\"none\" and \"tanh\" are supported)"
                        )))
                    }
                }
            }
            "LeakyRelu" => Activation::LeakyRelu {
                alpha: f("alpha", 0.01),
            },
            "Elu" => Activation::Elu {
                alpha: f("alpha", 1.0),
            },
            "HardSigmoid" => Activation::HardSigmoid {
                alpha: f("alpha", 0.2),
                beta: f("beta", 0.5),
            },
            _ => {
                // Clip: bounds are optional constant inputs (opset 11+) or attributes.
                let bound = |index: usize, name: &str, default: f32| -> Result<f32, IrError> {
                    match cx.node.input.get(index).filter(|s| !s.is_empty()) {
                        Some(t) => Ok(self
                            .constant(cx, t)?
                            .iter()
                            .copied()
                            .next()
                            .unwrap_or(default)),
                        None => Ok(f(name, default)),
                    }
                };
                Activation::Clip {
                    min: bound(1, "min", f32::MIN)?,
                    max: bound(2, "max", f32::MAX)?,
                }
            }
        })
    }
}
