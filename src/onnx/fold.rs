//! Constant folding: a node whose inputs are all constants (a `Transpose` of a weight before
//! a `MatMul`, shape arithmetic, a `Cast`) is evaluated at import by tract, the independent
//! ONNX executor, and its outputs become constants. Any op tract implements folds; nothing
//! is re-implemented here. `Shape` of an activation is a constant too (shapes are static).

use tract_onnx::pb;
use tract_onnx::prelude::*;

use super::proto::{decode_float, decode_ints, INT64};
use super::{Ctx, Importer};
use crate::error::IrError;

/// ONNX `TensorProto.DataType` of float32.
const FLOAT: i32 = 1;

/// Ops folded at import: their output is no larger than their inputs (up to a broadcast of
/// two constants) and they run in time linear in it. Generators (`ConstantOfShape`,
/// `Range`, `Expand`, `Tile`) and control flow (`Loop`, `If`, `Scan`), whose cost a file
/// sets freely, are not folded.
const FOLDABLE: &[&str] = &[
    "Abs",
    "Add",
    "Cast",
    "Ceil",
    "Concat",
    "Div",
    "Dropout",
    "Equal",
    "Erf",
    "Exp",
    "Flatten",
    "Floor",
    "Gather",
    "Greater",
    "Identity",
    "IsInf",
    "IsNaN",
    "Less",
    "Log",
    "MatMul",
    "Max",
    "Min",
    "Mul",
    "Neg",
    "Not",
    "Pow",
    "Reciprocal",
    "Relu",
    "Reshape",
    "Round",
    "Shape",
    "Sigmoid",
    "Sign",
    "Slice",
    "Softmax",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Tanh",
    "Transpose",
    "Unsqueeze",
    "Where",
];

impl Importer {
    /// Whether `cx`'s node reads only constants (and at least one), so it can be folded.
    pub(super) fn foldable(&self, cx: &Ctx<'_>) -> bool {
        let mut inputs = cx.node.input.iter().filter(|i| !i.is_empty()).peekable();
        inputs.peek().is_some()
            && inputs.all(|i| self.floats.contains_key(i) || self.ints.contains_key(i))
    }

    /// The sizes of the node's constant inputs, to bound what folding may build.
    fn input_values(&self, cx: &Ctx<'_>) -> usize {
        cx.node
            .input
            .iter()
            .map(|i| {
                self.floats
                    .get(i)
                    .map_or_else(|| self.ints.get(i).map_or(0, Vec::len), |f| f.len())
            })
            .fold(0usize, usize::saturating_add)
    }

    /// Evaluates `cx`'s node on its constant inputs with tract and stores its outputs as
    /// constants.
    pub(super) fn fold(&mut self, cx: &Ctx<'_>) -> Result<(), IrError> {
        if !FOLDABLE.contains(&cx.op()) {
            return Err(cx.unsupported(
                ": its inputs are all constants, and this op is not folded at import",
            ));
        }
        // Ops whose output can outgrow their inputs (a broadcast) stay within the bound.
        let limit = crate::graph::window::MAX_LEN;
        if self.input_values(cx) > limit {
            return Err(cx.shape(format!("constants of at most {limit} values"), "more"));
        }
        let fail = |e: TractError| {
            cx.unsupported(format!(
                ": its inputs are all constants, but evaluating it failed: {e}"
            ))
        };
        let initializer = cx
            .node
            .input
            .iter()
            .filter(|i| !i.is_empty())
            .map(|name| self.proto(name))
            .collect();
        let output = cx
            .node
            .output
            .iter()
            .filter(|o| !o.is_empty())
            .map(|name| pb::ValueInfoProto {
                name: name.clone(),
                ..Default::default()
            })
            .collect();
        let model = pb::ModelProto {
            ir_version: 8,
            opset_import: self.opsets.clone(),
            graph: Some(pb::GraphProto {
                node: vec![cx.node.clone()],
                initializer,
                output,
                ..Default::default()
            }),
            ..Default::default()
        };
        let evaluate = || {
            tract_onnx::onnx()
                .model_for_proto_model(&model)?
                .into_optimized()?
                .into_runnable()?
                .run(tvec!())
        };
        let values = super::reference::guarded(evaluate).map_err(fail)?;
        if values.iter().any(|v| v.len() > limit) {
            return Err(cx.shape(format!("a result of at most {limit} values"), "more"));
        }
        let names = cx.node.output.iter().filter(|o| !o.is_empty());
        for (name, value) in names.zip(values) {
            self.store(name, &value).map_err(fail)?;
        }
        Ok(())
    }

    /// Stores a tract tensor as a float (float types) or an integer (others) constant.
    fn store(&mut self, name: &str, value: &Tensor) -> TractResult<()> {
        let dims: Vec<i64> = value.shape().iter().map(|d| *d as i64).collect();
        let proto = if value.datum_type().is_float() {
            pb::TensorProto {
                name: name.to_string(),
                dims,
                data_type: FLOAT,
                float_data: value.cast_to::<f32>()?.as_slice::<f32>()?.to_vec(),
                ..Default::default()
            }
        } else {
            pb::TensorProto {
                name: name.to_string(),
                dims,
                data_type: INT64,
                int64_data: value.cast_to::<i64>()?.as_slice::<i64>()?.to_vec(),
                ..Default::default()
            }
        };
        self.constant_proto(name, proto)
            .map_err(|e| TractError::msg(e.to_string()))
    }

    /// Records a constant tensor under `name` (decoded, and kept for later folds).
    pub(super) fn constant_proto(
        &mut self,
        name: &str,
        proto: pb::TensorProto,
    ) -> Result<(), IrError> {
        if proto.data_type == INT64 {
            self.ints
                .insert(name.to_string(), decode_ints(&proto, name)?);
        } else {
            self.floats
                .insert(name.to_string(), decode_float(&proto, name)?);
        }
        self.protos.insert(name.to_string(), proto);
        Ok(())
    }

    /// The constant `name` as a tensor proto (as read, or rebuilt from its values).
    fn proto(&self, name: &str) -> pb::TensorProto {
        if let Some(p) = self.protos.get(name) {
            let mut p = p.clone();
            p.name = name.to_string();
            return p;
        }
        match (self.floats.get(name), self.ints.get(name)) {
            (Some(f), _) => pb::TensorProto {
                name: name.to_string(),
                dims: f.shape().iter().map(|d| *d as i64).collect(),
                data_type: FLOAT,
                float_data: f.iter().copied().collect(),
                ..Default::default()
            },
            (None, Some(i)) => pb::TensorProto {
                name: name.to_string(),
                dims: vec![i.len() as i64],
                data_type: INT64,
                int64_data: i.clone(),
                ..Default::default()
            },
            (None, None) => pb::TensorProto {
                name: name.to_string(),
                ..Default::default()
            },
        }
    }
}
