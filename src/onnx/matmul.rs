//! Matrix products: a constant weight applied to one vector (`Dense`) or to every row of an
//! activation (`[…, R, K] × [K, N]`, as a transformer's projections), and the product of
//! two activations.
//!
//! Row-wise products become a 1×1 convolution over the rows (the rows move to the spatial
//! axis by a wiring node, which costs no rows), so each output has exactly `K` taps. The
//! product of two activations `[…, M, K] × […, K, N]` is [`FloatOp::MatMul`]: each output a
//! dot product of `K` pairs of cells (the pair dot chip), rescaled once after the sum.

use ndarray::{Array1, Array2};

use super::proto::{attr_f, attr_i, len};
use super::wiring::checked_len;
use super::{Act, Ctx, Importer};
use crate::error::IrError;
use crate::graph::ir::{FloatConv, FloatDense, FloatMatMul, FloatOp, Source, Wiring};
use crate::graph::window::{ConvShape, Window};

impl Importer {
    /// `Gemm`: `alpha · x · B(ᵀ) + beta · C`, with a constant `B` (a dense layer) or a
    /// runtime one ([`Importer::gemm_activations`]).
    pub(super) fn gemm(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        if attr_i(cx.node, "transA", 0) != 0 {
            return Err(cx.unsupported(": transA = 1"));
        }
        let x = self.act(cx, 0)?;
        if let Some(b) = self.acts.get(cx.input(1)?).cloned() {
            return self.gemm_activations(cx, &x, &b);
        }
        let b = self.matrix(cx, 1)?;
        let w = if attr_i(cx.node, "transB", 0) != 0 {
            b
        } else {
            b.reversed_axes()
        };
        let w = w.mapv(|v| v * attr_f(cx.node, "alpha", 1.0));
        let out = w.dim().0;
        let bias = match cx.node.input.get(2).filter(|s| !s.is_empty()) {
            Some(c) => self
                .vector(cx, c, out)?
                .mapv(|v| v * attr_f(cx.node, "beta", 1.0)),
            None => Array1::zeros(out),
        };
        self.dense(cx, &x, w, bias)
    }

    /// `Gemm` whose `B` is a runtime tensor (ONNX's own `mm` and `addmm` tests): the product
    /// of two activations ([`Importer::matmul_activations`], `B` transposed by wiring when
    /// `transB = 1`), then `alpha` and `beta · C` as an affine map for a constant `C`, or a
    /// sum for a runtime one.
    fn gemm_activations(&mut self, cx: &Ctx<'_>, x: &Act, b: &Act) -> Result<Act, IrError> {
        if x.shape.len() != 2 || b.shape.len() != 2 {
            return Err(cx.shape(
                "A and B of rank 2",
                format!("{:?} and {:?}", x.shape, b.shape),
            ));
        }
        let b = if attr_i(cx.node, "transB", 0) != 0 {
            let (n, k) = (b.shape[0], b.shape[1]);
            let sources = (0..k * n)
                .map(|o| Source::Element {
                    input: 0,
                    index: (o % n) * k + o / n,
                })
                .collect();
            self.push_named(
                cx,
                "/transpose_b",
                FloatOp::Wiring(Wiring(sources)),
                vec![b.id],
                vec![k, n],
            )
        } else {
            b.clone()
        };
        let y = self.matmul_activations(cx, x, &b)?;
        let (alpha, beta) = (attr_f(cx.node, "alpha", 1.0), attr_f(cx.node, "beta", 1.0));
        let n = len(&y.shape);
        match cx.node.input.get(2).filter(|s| !s.is_empty()) {
            None if alpha == 1.0 => Ok(y),
            None => Ok(self.affine(cx, &y, vec![alpha; n], vec![0.0; n])),
            Some(c) => match self.acts.get(c.as_str()).cloned() {
                Some(c) if beta == 1.0 => {
                    let y = if alpha == 1.0 {
                        y
                    } else {
                        self.affine(cx, &y, vec![alpha; n], vec![0.0; n])
                    };
                    let c = self.spread(cx, &c, &y.shape, "/spread_c")?;
                    Ok(self.push_named(cx, "/add_c", FloatOp::Add, vec![y.id, c.id], y.shape.clone()))
                }
                Some(_) => Err(cx.unsupported(format!(
                    ": beta = {beta} with a runtime C (only beta = 1 is supported when C is an input)"
                ))),
                None => {
                    let c = self.broadcast(cx, c, &y.shape)?;
                    let bias = c.iter().map(|v| v * beta).collect();
                    Ok(self.affine(cx, &y, vec![alpha; n], bias))
                }
            },
        }
    }

    /// `MatMul` by a constant matrix (a dense layer) or of two activations.
    pub(super) fn matmul(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let x = self.act(cx, 0)?;
        if let Some(y) = self.acts.get(cx.input(1)?).cloned() {
            return self.matmul_activations(cx, &x, &y);
        }
        let w = self.matrix(cx, 1)?.reversed_axes();
        let out = w.dim().0;
        self.dense(cx, &x, w, Array1::zeros(out))
    }

    /// `x · Wᵀ + bias` for `weights` of shape `(outputs, inputs)`: on the whole flat input
    /// when it has `inputs` values, else on every row of its last axis. Rows are the op's
    /// own meaning whatever the leading axes are, so a leading axis above one is refused as
    /// a batch only when the whole input is flattened (`transformers`' `Conv1D` flattens
    /// the tokens of a sequence into the rows of a 2-D `Gemm`).
    pub(super) fn dense(
        &mut self,
        cx: &Ctx<'_>,
        x: &Act,
        weights: Array2<f32>,
        bias: Array1<f32>,
    ) -> Result<Act, IrError> {
        let (out, inp) = weights.dim();
        let total = len(&x.shape);
        if inp == total {
            cx.single_batch(&x.shape)?;
            return Ok(self.push(
                cx,
                FloatOp::Dense(FloatDense { weights, bias }),
                vec![x.id],
                vec![1, out],
            ));
        }
        if x.shape.last() != Some(&inp) || inp == 0 {
            return Err(cx.shape(
                format!("{total} inputs, or rows of {inp}"),
                format!("weights for {inp} on {:?}", x.shape),
            ));
        }
        let rows = total / inp;
        // [rows, inp] → [inp, rows]: channels first, rows as positions.
        let by_channel = self.push_named(
            cx,
            "/rows",
            FloatOp::Wiring(Wiring(transpose(rows, inp))),
            vec![x.id],
            vec![inp, rows],
        );
        let conv = FloatOp::Conv(FloatConv {
            shape: ConvShape {
                window: Window::dense(inp, vec![rows], vec![1]),
                out_channels: out,
                groups: 1,
            },
            weights: weights.iter().copied().collect(),
            bias: bias.to_vec(),
        });
        let y = self.push_named(cx, "/conv", conv, vec![by_channel.id], vec![out, rows]);
        let mut shape = x.shape.clone();
        if let Some(last) = shape.last_mut() {
            *last = out;
        }
        Ok(self.push(
            cx,
            FloatOp::Wiring(Wiring(transpose(out, rows))),
            vec![y.id],
            shape,
        ))
    }

    /// `a × b` for two activations `[…, M, K]` and `[…, K, N]` with equal leading
    /// dimensions (or a rank-2 `b` shared by every leading index).
    pub(super) fn matmul_activations(
        &mut self,
        cx: &Ctx<'_>,
        a: &Act,
        b: &Act,
    ) -> Result<Act, IrError> {
        let bad = || {
            cx.shape(
                "[…, M, K] × […, K, N] with equal leading dimensions",
                format!("{:?} × {:?}", a.shape, b.shape),
            )
        };
        let (ra, rb) = (a.shape.len(), b.shape.len());
        if ra < 2 || rb < 2 {
            return Err(bad());
        }
        let (m, k) = (a.shape[ra - 2], a.shape[ra - 1]);
        let (k2, n) = (b.shape[rb - 2], b.shape[rb - 1]);
        let lead = &a.shape[..ra - 2];
        let shared_b = rb == 2;
        if k != k2 || k == 0 || !(shared_b || b.shape[..rb - 2] == *lead) {
            return Err(bad());
        }
        let batches = len(lead);
        // Every output copies `k` pairs of cells: bound the pairs, not only the outputs.
        checked_len(cx, &[batches, m, n, k])?;
        // A rank-2 `b` serves every leading index: repeat it (wiring, no rows).
        let b_id = if shared_b && batches > 1 {
            let sources = (0..batches * k * n)
                .map(|i| Source::Element {
                    input: 0,
                    index: i % (k * n),
                })
                .collect();
            let mut shape = lead.to_vec();
            shape.extend([k, n]);
            self.push_named(
                cx,
                "/repeat",
                FloatOp::Wiring(Wiring(sources)),
                vec![b.id],
                shape,
            )
            .id
        } else {
            b.id
        };
        let mut shape = lead.to_vec();
        shape.extend([m, n]);
        Ok(self.push(
            cx,
            FloatOp::MatMul(FloatMatMul { m, k, n }),
            vec![a.id, b_id],
            shape,
        ))
    }
}

/// Wiring that transposes a row-major `[rows, cols]` matrix.
fn transpose(rows: usize, cols: usize) -> Vec<Source<f32>> {
    (0..rows * cols)
        .map(|o| Source::Element {
            input: 0,
            index: (o % rows) * cols + o / rows,
        })
        .collect()
}
