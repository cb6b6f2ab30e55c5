//! `Conv` and the pooling ops: their window attributes (ONNX defaults, `auto_pad`) and
//! geometry.

use super::proto::{attr, attr_i};
use super::{Act, Ctx, Importer};
use crate::error::IrError;
use crate::graph::ir::{AvgPool, FloatConv, FloatOp, MaxPool};
use crate::graph::window::{ConvShape, Window};

impl Importer {
    pub(super) fn conv(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let x = self.act(cx, 0)?;
        let w = self.constant(cx, cx.input(1)?)?.clone();
        cx.single_batch(&x.shape)?;
        if x.shape.len() < 3 || w.ndim() != x.shape.len() {
            return Err(cx.shape(
                "input [1, C, spatial…] and weights [M, C/group, kernel…]",
                format!("{:?} and {:?}", x.shape, w.shape()),
            ));
        }
        let out_channels = w.shape()[0];
        let kernel = w.shape()[2..].to_vec();
        let window = self.window(cx, &x, kernel)?;
        let shape = ConvShape {
            window,
            out_channels,
            groups: usize::try_from(attr_i(cx.node, "group", 1)).unwrap_or(0),
        };
        shape
            .validate()
            .map_err(|e| cx.shape("a valid convolution", e.to_string()))?;
        if w.shape()[1] * shape.groups != shape.window.channels {
            return Err(cx.shape(
                format!("weights for {} channels", shape.window.channels),
                format!("{} per group × {} groups", w.shape()[1], shape.groups),
            ));
        }
        let bias = match cx.node.input.get(2).filter(|s| !s.is_empty()) {
            Some(b) => self.vector(cx, b, out_channels)?.to_vec(),
            None => vec![0.0; out_channels],
        };
        let mut out_shape = vec![1, out_channels];
        out_shape.extend(shape.window.output());
        let op = FloatOp::Conv(FloatConv {
            shape,
            weights: w.iter().copied().collect(),
            bias,
        });
        Ok(self.push(cx, op, vec![x.id], out_shape))
    }
    pub(super) fn pool(&mut self, cx: &Ctx<'_>) -> Result<Act, IrError> {
        let x = self.act(cx, 0)?;
        cx.single_batch(&x.shape)?;
        if x.shape.len() < 3 {
            return Err(cx.shape("input [1, C, spatial…]", format!("{:?}", x.shape)));
        }
        let global = cx.op().starts_with("Global");
        let window = if global {
            Window::dense(x.shape[1], x.shape[2..].to_vec(), x.shape[2..].to_vec())
        } else {
            if attr_i(cx.node, "ceil_mode", 0) != 0 {
                return Err(cx.unsupported(": ceil_mode = 1"));
            }
            let kernel = cx
                .ints("kernel_shape")
                .ok_or_else(|| cx.shape("a kernel_shape attribute", "none"))?;
            self.window(cx, &x, kernel)?
        };
        window
            .validate()
            .map_err(|e| cx.shape("a valid window", e.to_string()))?;
        let mut out_shape = vec![1, window.channels];
        out_shape.extend(window.output());
        let op = if cx.op().contains("Average") {
            FloatOp::AvgPool(AvgPool {
                count_include_pad: attr_i(cx.node, "count_include_pad", 0) != 0,
                window,
            })
        } else {
            FloatOp::MaxPool(MaxPool(window))
        };
        Ok(self.push(cx, op, vec![x.id], out_shape))
    }
    /// The window attributes of a Conv or pool over `x` (ONNX defaults, `auto_pad` applied).
    pub(super) fn window(
        &self,
        cx: &Ctx<'_>,
        x: &Act,
        kernel: Vec<usize>,
    ) -> Result<Window, IrError> {
        let rank = x.shape.len() - 2;
        let mut w = Window::dense(x.shape[1], x.shape[2..].to_vec(), kernel);
        if let Some(s) = cx.ints("strides") {
            w.strides = s;
        }
        if let Some(d) = cx.ints("dilations") {
            w.dilations = d;
        }
        if let Some(p) = cx.ints("pads") {
            w.pads = p;
        }
        let auto_pad = attr(cx.node, "auto_pad")
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
            .unwrap_or_default();
        match auto_pad.as_str() {
            "" | "NOTSET" => {}
            "VALID" => w.pads = vec![0; 2 * rank],
            "SAME_UPPER" | "SAME_LOWER" => {
                w.validate()
                    .map_err(|e| cx.shape("a valid window", e.to_string()))?;
                for a in 0..rank {
                    let out = w.input[a].div_ceil(w.strides[a]);
                    let span = w.dilations[a] * (w.kernel[a] - 1) + 1;
                    let total = ((out - 1) * w.strides[a] + span).saturating_sub(w.input[a]);
                    let (small, big) = (total / 2, total - total / 2);
                    let upper = auto_pad == "SAME_UPPER";
                    w.pads[a] = if upper { small } else { big };
                    w.pads[rank + a] = if upper { big } else { small };
                }
            }
            other => return Err(cx.unsupported(format!(": auto_pad = {other}"))),
        }
        w.validate()
            .map_err(|e| cx.shape("a valid window", e.to_string()))?;
        Ok(w)
    }
}
