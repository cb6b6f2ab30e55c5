//! Structural validation of the integer graph: what a model file must satisfy before the
//! integer pass or the circuit touch it (a model file is untrusted input). Every bound that
//! keeps the integer pass inside `i64`/`i128` and the circuit inside the field is checked
//! here; the error names the node or tensor and the reason.

use super::qgraph::{
    AvgPool, Lookup, QGraph, QNode, QOp, QTensor, MAX_ACCUMULATOR_BITS, MAX_TENSOR_BITS,
};
use super::window::MAX_LEN;
use crate::error::CompileError;
use crate::graph::ir::Source;

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
                    Some(tensor) if t <= i => ins.push(tensor),
                    _ => return bad(format!("reads tensor #{t}, which is not an earlier tensor")),
                }
            }
            let arity = node.op.arity().unwrap_or(ins.len().max(1));
            if ins.len() != arity {
                return bad(format!("has {} inputs, its op takes {arity}", ins.len()));
            }
            let out = &node.output;
            let expected_len = output_len(&node.op, &ins, out)
                .map_err(|reason| invalid(node.name.clone(), reason))?;
            if out.len != expected_len {
                return bad(format!(
                    "output has {} values, its op makes {expected_len}",
                    out.len
                ));
            }
            let preserves_range = matches!(node.op, QOp::Relu | QOp::MaxPool(_) | QOp::Wiring(_));
            if preserves_range && ins.iter().any(|t| t.bits > out.bits) {
                return bad(format!(
                    "output of {} bits is narrower than an input",
                    out.bits
                ));
            }
            if node.op.is_linear() {
                let shift = node.op.shift();
                if shift >= 62 {
                    return bad(format!("shift {shift} too large"));
                }
                let needed = self.accumulator_bits(node);
                if needed > MAX_ACCUMULATOR_BITS {
                    return bad(format!("accumulator needs {needed} bits"));
                }
            }
        }
        Ok(())
    }
}

/// The number of values `op` makes from inputs `ins` into `out`, after checking that its
/// constants fit its geometry: one arm per op, no wildcard, so a new op is a compile error
/// here until it is validated.
fn output_len(op: &QOp, ins: &[&QTensor], out: &QTensor) -> Result<usize, String> {
    let x = ins[0];
    Ok(match op {
        QOp::Dense(d) => {
            let (rows, cols) = d.weights.dim();
            if cols != x.len || rows != d.bias.len() {
                return Err(format!(
                    "weights {:?} and {} biases do not fit input {}",
                    d.weights.dim(),
                    d.bias.len(),
                    x.len
                ));
            }
            rows
        }
        QOp::Conv(c) => {
            c.shape.validate()?;
            let w = &c.shape.window;
            if w.channels * w.input_positions() != x.len
                || c.weights.len() != c.shape.weights_len()
                || c.bias.len() != c.shape.out_channels
            {
                return Err("weights, biases or geometry do not fit the input".into());
            }
            c.shape.outputs()
        }
        QOp::AvgPool(AvgPool { window, .. }) | QOp::MaxPool(window) => {
            window.validate()?;
            if window.channels * window.input_positions() != x.len {
                return Err(format!(
                    "window over {} values, input has {}",
                    window.channels * window.input_positions(),
                    x.len
                ));
            }
            window.channels * window.positions()
        }
        QOp::Mul { shift } => {
            if ins[1].len != x.len || *shift >= 62 || x.bits + ins[1].bits > 62 {
                return Err(format!(
                    "multiplies {} by {} values with shift {shift}",
                    x.len, ins[1].len
                ));
            }
            x.len
        }
        QOp::Add(_) => {
            if ins[1].len != x.len {
                return Err(format!("adds {} values to {}", ins[1].len, x.len));
            }
            x.len
        }
        QOp::Affine(a) => {
            if a.scale.len() != x.len || a.bias.len() != x.len {
                return Err("scale and bias must have one value per input".into());
            }
            x.len
        }
        QOp::Relu => x.len,
        QOp::ArgMax(axis) => {
            if axis.size() != x.len || axis.len == 0 {
                return Err(format!(
                    "axis over {} values, input has {}",
                    axis.size(),
                    x.len
                ));
            }
            if out.scale_exp != 0 || out.max() < axis.len as i64 {
                return Err("indices need scale 2^0 and room for the axis length".into());
            }
            axis.groups()
        }
        QOp::Softmax(sm) => {
            let t = &sm.table;
            let b = t.input_bits;
            if sm.axis.size() != x.len || sm.axis.len == 0 {
                return Err(format!(
                    "axis over {} values, input has {}",
                    sm.axis.size(),
                    x.len
                ));
            }
            if b == 0
                || b.checked_add(t.shift) != Some(x.bits)
                || t.first != 0
                || t.outputs.len() != 1 << b
            {
                return Err("exponential table does not cover the input's gaps".into());
            }
            if t.outputs.iter().any(|e| *e < 0 || *e > x.max()) || t.outputs.first() == Some(&0) {
                return Err("exponential table outputs must be positive and in range".into());
            }
            // The sum is a range-checked cell and the numerator `e · 2^out_scale`
            // stays below 2^124 (62 + 62 bits), as the division chip requires.
            let sum_bits = sm.sum_bits(x.bits);
            if sum_bits > MAX_TENSOR_BITS {
                return Err(format!(
                    "a sum of {} exponentials of {} bits needs {sum_bits} bits, more than {}",
                    sm.axis.len, x.bits, MAX_TENSOR_BITS
                ));
            }
            if i64::from(sm.out_scale) + 1 >= i64::from(out.bits)
                || out.scale_exp != sm.out_scale as i32
            {
                return Err(format!(
                    "output scale 2^{} does not fit {} bits",
                    sm.out_scale, out.bits
                ));
            }
            x.len
        }
        QOp::Lookup(Lookup { table, .. }) => {
            let b = table.input_bits;
            if b == 0
                || b.checked_add(table.shift) != Some(x.bits)
                || table.first != -(1i64 << (b - 1))
                || table.outputs.len() != 1 << b
            {
                return Err(format!(
                    "table of {} entries over {b} bits (shift {}) does not cover a {}-bit input",
                    table.outputs.len(),
                    table.shift,
                    x.bits
                ));
            }
            if let Some(y) = table
                .outputs
                .iter()
                .find(|y| **y < out.min() || **y > out.max())
            {
                return Err(format!("table output {y} outside the output's range"));
            }
            x.len
        }
        QOp::Wiring(sources) => {
            for s in sources {
                match s {
                    Source::Element { input, index } => {
                        if ins.get(*input).is_none_or(|t| *index >= t.len) {
                            return Err(format!(
                                "wires element {index} of input {input}, which does not exist"
                            ));
                        }
                    }
                    Source::Constant(c) if *c < out.min() || *c > out.max() => {
                        return Err(format!("constant {c} outside the output's range"));
                    }
                    Source::Constant(_) => {}
                }
            }
            sources.len()
        }
    })
}

fn invalid(node: String, reason: String) -> CompileError {
    CompileError::Invalid { node, reason }
}
