//! Failing closed: the attributes the importer reads for each op, and the refusal of any
//! other (ignoring one could change what the model computes).

use super::proto::attr_i;
use super::Ctx;
use crate::error::IrError;

/// The attributes zkinfer reads for each op it imports: any other attribute is refused
/// (fail closed), since ignoring it could change what the model computes. Attributes that
/// only matter for training or for outputs zkinfer does not import (`momentum`,
/// `storage_order`, `seed`, `ratio`) are listed as read.
fn known_attributes(op: &str) -> &'static [&'static str] {
    match op {
        "Gemm" => &["alpha", "beta", "transA", "transB"],
        "Conv" => &[
            "auto_pad",
            "dilations",
            "group",
            "kernel_shape",
            "pads",
            "strides",
        ],
        "AveragePool" => &[
            "auto_pad",
            "ceil_mode",
            "count_include_pad",
            "dilations",
            "kernel_shape",
            "pads",
            "strides",
        ],
        "MaxPool" => &[
            "auto_pad",
            "ceil_mode",
            "dilations",
            "kernel_shape",
            "pads",
            "storage_order",
            "strides",
        ],
        "Gelu" => &["approximate"],
        "LeakyRelu" | "Elu" => &["alpha"],
        "HardSigmoid" => &["alpha", "beta"],
        "Clip" => &["min", "max"],
        "ArgMax" => &["axis", "keepdims", "select_last_index"],
        "Softmax" | "LogSoftmax" | "Flatten" | "Concat" => &["axis"],
        "BatchNormalization" => &["epsilon", "momentum", "training_mode"],
        "Reshape" => &["allowzero"],
        "Squeeze" | "Unsqueeze" => &["axes"],
        "Dropout" => &["ratio", "seed"],
        "Transpose" => &["perm"],
        "Gather" => &["axis"],
        "IsInf" => &["detect_negative", "detect_positive"],
        "LayerNormalization" => &["axis", "epsilon", "stash_type"],
        "Split" => &["axis", "split", "num_outputs"],
        "Pad" => &["mode", "pads", "value"],
        "Constant" => &["value"],
        "Shape" => &["start", "end"],
        "ReduceMean" | "ReduceSum" | "ReduceMax" => &["axes", "keepdims", "noop_with_empty_axes"],
        _ => &[],
    }
}
/// Refuses attributes zkinfer does not read, and values of read attributes whose meaning
/// it does not implement.
pub(super) fn check_attributes(cx: &Ctx<'_>) -> Result<(), IrError> {
    let known = known_attributes(cx.op());
    if let Some(a) = cx
        .node
        .attribute
        .iter()
        .find(|a| !known.contains(&a.name.as_str()))
    {
        return Err(cx.unsupported(format!(
            ": attribute '{}' is not understood (zkinfer refuses what it cannot prove exactly)",
            a.name
        )));
    }
    // Reshape's `allowzero` is checked against its target shape (`wiring::reshape`).
    if cx.op() == "BatchNormalization" && attr_i(cx.node, "training_mode", 0) != 0 {
        return Err(cx.unsupported(": training_mode = 1"));
    }
    Ok(())
}
