//! Structural validation of the float graph (what an importer must produce) and of the
//! integer graph: what a model file must satisfy before the integer pass or the circuit
//! touch it (a model file is untrusted input). Every bound that
//! keeps the integer pass inside `i64`/`i128` and the circuit inside the field is checked
//! here; the error names the node or tensor and the reason.

use super::activation::Activation;
use super::ir::{FloatGraph, FloatOp, Source};
use super::qgraph::{QGraph, QNode, MAX_ACCUMULATOR_BITS, MAX_TENSOR_BITS};
use super::qtensor::matmul_batches;
use super::window::MAX_LEN;
use super::TensorId;
use crate::error::{CompileError, IrError};

impl QGraph {
    /// Bits that bound `|acc + offset|` of linear node `node` over all its outputs, for
    /// inputs anywhere in their declared ranges (`0` for other ops).
    pub fn accumulator_bits(&self, node: &QNode) -> u32 {
        let bits: Vec<u32> = node
            .inputs
            .iter()
            .map(|&t| self.tensor(t).map_or(1, |t| t.bits))
            .collect();
        let mut needed = 0;
        for o in 0..node.output.len {
            let Some(lin) = node.op.linear(o) else { break };
            let bound = lin
                .taps
                .iter()
                .map(|t| {
                    let b = bits.get(t.input).copied().unwrap_or(1).clamp(1, 64);
                    u128::from(t.weight.unsigned_abs()) << (b - 1)
                })
                .fold(0u128, u128::saturating_add)
                .saturating_add(u128::from(lin.bias.unsigned_abs()))
                .saturating_add(u128::from(lin.divisor));
            needed = needed.max(128 - bound.leading_zeros() + 1);
        }
        needed
    }

    /// Structural checks: every node reads earlier tensors of fitting lengths, its constants
    /// have the sizes its geometry needs, and range-preserving ops (ReLU, MaxPool, wiring)
    /// declare no wider output than their inputs (the circuit does not re-check them).
    /// The error names the node and the reason.
    pub fn validate(&self) -> Result<(), CompileError> {
        crate::counters::validated();
        let max_bits = MAX_TENSOR_BITS;
        for t in std::iter::once(&self.input).chain(self.nodes.iter().map(|n| &n.output)) {
            if !(1..=max_bits).contains(&t.bits) {
                return Err(invalid(
                    t.name.clone(),
                    format!("{} bits is outside 1..={max_bits}", t.bits),
                ));
            }
            if t.len > MAX_LEN {
                return Err(invalid(
                    t.name.clone(),
                    format!("{} values, more than {}", t.len, MAX_LEN),
                ));
            }
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let bad = |reason: String| Err(invalid(node.name.clone(), reason));
            let mut ins = Vec::with_capacity(node.inputs.len());
            for &t in &node.inputs {
                match self.tensor(t) {
                    Some(tensor) if t.index() <= i => ins.push(tensor),
                    _ => return bad(format!("reads {t}, which is not an earlier tensor")),
                }
            }
            let arity = node.op.arity().unwrap_or(ins.len().max(1));
            if ins.len() != arity {
                return bad(format!("has {} inputs, its op takes {arity}", ins.len()));
            }
            let out = &node.output;
            let op = node.op.as_op();
            let expected_len = op
                .output_len(&ins, out)
                .map_err(|reason| invalid(node.name.clone(), reason))?;
            if out.len != expected_len {
                return bad(format!(
                    "output has {} values, its op makes {expected_len}",
                    out.len
                ));
            }
            if op.preserves_range() && ins.iter().any(|t| t.bits > out.bits) {
                return bad(format!(
                    "output of {} bits is narrower than an input",
                    out.bits
                ));
            }
            if op.is_linear() {
                let shift = op.shift();
                if shift >= 62 {
                    return bad(format!("shift {shift} too large"));
                }
                let needed = self.accumulator_bits(node);
                if needed > MAX_ACCUMULATOR_BITS {
                    return bad(format!("accumulator needs {needed} bits"));
                }
            }
        }
        self.validate_outputs()
    }

    /// The output list names tensors of the graph, each once, within [`MAX_LEN`] values.
    fn validate_outputs(&self) -> Result<(), CompileError> {
        if self.outputs.is_empty() {
            return Err(invalid("graph outputs".into(), "the list is empty".into()));
        }
        for (i, &t) in self.outputs.iter().enumerate() {
            if self.tensor(t).is_none() || self.outputs[..i].contains(&t) {
                return Err(invalid(
                    format!("graph output {i}"),
                    format!("{t} is not a tensor of the graph, or is listed twice"),
                ));
            }
        }
        let len = self.output_len();
        if len > MAX_LEN {
            return Err(invalid(
                "graph outputs".into(),
                format!("{len} values, more than {MAX_LEN}"),
            ));
        }
        Ok(())
    }
}

fn invalid(node: String, reason: String) -> CompileError {
    CompileError::Invalid { node, reason }
}

impl FloatGraph {
    /// Checks that every node reads earlier tensors of fitting lengths, its geometry is
    /// valid, and every constant is finite.
    pub fn validate(&self) -> Result<(), IrError> {
        if self.nodes.is_empty() {
            return Err(IrError::Empty("no layers".into()));
        }
        check_outputs(&self.outputs, self.nodes.len())?;
        let lens = self.tensor_lens();
        for (i, node) in self.nodes.iter().enumerate() {
            let shape_err = |expected: String, got: String| IrError::Shape {
                node: node.name.clone(),
                expected,
                got,
            };
            if let Some(t) = node.inputs.iter().find(|t| t.index() > i) {
                return Err(IrError::UnknownTensor {
                    node: node.name.clone(),
                    tensor: t.to_string(),
                });
            }
            let ins: Vec<usize> = node.inputs.iter().map(|t| lens[t.index()]).collect();
            let arity = match node.op {
                FloatOp::Add | FloatOp::Mul | FloatOp::Max | FloatOp::MatMul { .. } => 2,
                FloatOp::Wiring { .. } => ins.len().max(1),
                FloatOp::Dense { .. }
                | FloatOp::Conv { .. }
                | FloatOp::AvgPool { .. }
                | FloatOp::MaxPool { .. }
                | FloatOp::Relu
                | FloatOp::Activation(_)
                | FloatOp::ArgMax(_)
                | FloatOp::Softmax(_)
                | FloatOp::MaskedSoftmax { .. }
                | FloatOp::Gather { .. }
                | FloatOp::Affine { .. } => 1,
            };
            if ins.len() != arity {
                return Err(shape_err(
                    format!("{arity} inputs"),
                    format!("{}", ins.len()),
                ));
            }
            let need = |len: usize| -> Result<(), IrError> {
                if ins[0] == len {
                    Ok(())
                } else {
                    Err(shape_err(
                        format!("an input of {len} values"),
                        format!("{}", ins[0]),
                    ))
                }
            };
            let constants: Vec<f32> = match &node.op {
                FloatOp::Dense { weights, bias } => {
                    let (out, inp) = weights.dim();
                    need(inp)?;
                    if bias.len() != out {
                        return Err(shape_err(
                            format!("bias ({out})"),
                            format!("{}", bias.len()),
                        ));
                    }
                    weights.iter().chain(bias.iter()).copied().collect()
                }
                FloatOp::Conv {
                    shape,
                    weights,
                    bias,
                } => {
                    shape
                        .validate()
                        .map_err(|e| shape_err("a valid convolution".into(), e))?;
                    need(shape.window.channels * shape.window.input_positions())?;
                    if weights.len() != shape.weights_len() || bias.len() != shape.out_channels {
                        return Err(shape_err(
                            format!(
                                "{} weights and {} biases",
                                shape.weights_len(),
                                shape.out_channels
                            ),
                            format!("{} and {}", weights.len(), bias.len()),
                        ));
                    }
                    weights.iter().chain(bias).copied().collect()
                }
                FloatOp::AvgPool { window, .. } | FloatOp::MaxPool { window } => {
                    window
                        .validate()
                        .map_err(|e| shape_err("a valid window".into(), e))?;
                    need(window.channels * window.input_positions())?;
                    Vec::new()
                }
                FloatOp::Relu => Vec::new(),
                FloatOp::Activation(f) => match *f {
                    Activation::LeakyRelu { alpha } | Activation::Elu { alpha } => vec![alpha],
                    Activation::Ln { floor } | Activation::Rsqrt { floor } if floor <= 0.0 => {
                        return Err(shape_err(
                            format!("a positive floor for {}", f.name()),
                            floor.to_string(),
                        ))
                    }
                    Activation::Ln { floor } | Activation::Rsqrt { floor } => vec![floor],
                    Activation::Clip { min, max } => vec![min, max],
                    Activation::HardSigmoid { alpha, beta } => vec![alpha, beta],
                    Activation::Sigmoid
                    | Activation::Tanh
                    | Activation::Exp
                    | Activation::Erf
                    | Activation::Gelu
                    | Activation::Softplus
                    | Activation::Sqrt => Vec::new(),
                },
                FloatOp::ArgMax(axis) | FloatOp::Softmax(axis) => {
                    need(axis.size())?;
                    if axis.len == 0 {
                        return Err(shape_err("a non-empty axis".into(), "0".into()));
                    }
                    Vec::new()
                }
                FloatOp::MaskedSoftmax { axis, keep } => {
                    need(axis.size())?;
                    if keep.len() != axis.size() {
                        return Err(shape_err(
                            format!("a mask of {} values", axis.size()),
                            keep.len().to_string(),
                        ));
                    }
                    if let Some(g) =
                        (0..axis.groups()).find(|&g| axis.group(g).iter().all(|&i| !keep[i]))
                    {
                        return Err(shape_err(
                            "at least one unmasked element per row".into(),
                            format!("row {g} masked entirely"),
                        ));
                    }
                    Vec::new()
                }
                FloatOp::MatMul { m, k, n } => {
                    if matmul_batches(*m, *k, *n, ins[0], ins[1]).is_none() {
                        return Err(shape_err(
                            format!("[t, {m}, {k}] × [t, {k}, {n}]"),
                            format!("{} and {} values", ins[0], ins[1]),
                        ));
                    }
                    Vec::new()
                }
                FloatOp::Gather { table } => {
                    if table.is_empty() {
                        return Err(shape_err("a non-empty table".into(), "none".into()));
                    }
                    table.iter().copied().collect()
                }
                FloatOp::Add | FloatOp::Mul | FloatOp::Max => {
                    if ins[0] != ins[1] {
                        return Err(shape_err(
                            "two inputs of one length (broadcasting is not supported)".into(),
                            format!("{} and {}", ins[0], ins[1]),
                        ));
                    }
                    Vec::new()
                }
                FloatOp::Affine { scale, bias } => {
                    need(scale.len())?;
                    if bias.len() != scale.len() {
                        return Err(shape_err(
                            format!("{} biases", scale.len()),
                            format!("{}", bias.len()),
                        ));
                    }
                    scale.iter().chain(bias).copied().collect()
                }
                FloatOp::Wiring { sources } => {
                    for s in sources {
                        match s {
                            Source::Element { input, index } => {
                                if ins.get(*input).is_none_or(|len| index >= len) {
                                    return Err(shape_err(
                                        "wiring within its inputs".into(),
                                        format!("input {input} element {index}"),
                                    ));
                                }
                            }
                            Source::Constant(c) if !c.is_finite() => {
                                return Err(IrError::BadConstant {
                                    tensor: node.name.clone(),
                                    reason: format!("pad value {c}"),
                                })
                            }
                            Source::Constant(_) => {}
                        }
                    }
                    Vec::new()
                }
            };
            if let Some(bad) = constants.iter().find(|v| !v.is_finite()) {
                return Err(IrError::BadConstant {
                    tensor: node.name.clone(),
                    reason: format!("contains {bad}"),
                });
            }
        }
        Ok(())
    }
}

/// A graph's output list must name existing tensors, each once.
pub(crate) fn check_outputs(outputs: &[TensorId], nodes: usize) -> Result<(), IrError> {
    if outputs.is_empty() {
        return Err(IrError::Empty("no graph output".into()));
    }
    for (i, t) in outputs.iter().enumerate() {
        if t.index() > nodes || outputs[..i].contains(t) {
            return Err(IrError::UnknownTensor {
                node: format!("graph output {i}"),
                tensor: format!("{t} (outside the graph, or listed twice)"),
            });
        }
    }
    Ok(())
}
