//! Structural validation of the float graph (what an importer must produce) and of the
//! integer graph: what a model file must satisfy before the integer pass or the circuit
//! touch it (a model file is untrusted input). Every bound that
//! keeps the integer pass inside `i64`/`i128` and the circuit inside the field is checked
//! here; the error names the node or tensor and the reason.

use super::ir::FloatGraph;
use super::qgraph::{QGraph, QNode, MAX_ACCUMULATOR_BITS, MAX_TENSOR_BITS};
use super::window::MAX_LEN;
use super::TensorId;
use crate::error::{CompileError, IrError, StructureError};

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
                let source = StructureError::Bits {
                    tensor: t.name.clone(),
                    bits: t.bits,
                    min: 1,
                    max: max_bits,
                };
                return Err(structure(&t.name, source));
            }
            if t.len > MAX_LEN {
                let source = StructureError::TooLong {
                    what: "the tensor",
                    got: t.len,
                    max: MAX_LEN,
                };
                return Err(structure(&t.name, source));
            }
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let bad = |source| Err(structure(&node.name, source));
            let mut ins = Vec::with_capacity(node.inputs.len());
            for &t in &node.inputs {
                match self.tensor(t) {
                    Some(tensor) if t.index() <= i => ins.push(tensor),
                    _ => {
                        return bad(StructureError::UnknownTensor {
                            tensor: t.to_string(),
                        })
                    }
                }
            }
            let arity = node.op.arity().unwrap_or(ins.len().max(1));
            if ins.len() != arity {
                return bad(StructureError::Arity {
                    expected: arity,
                    got: ins.len(),
                });
            }
            let out = &node.output;
            let op = node.op.as_op();
            let expected_len = op
                .output_len(&ins, out)
                .map_err(|source| structure(&node.name, source))?;
            if out.len != expected_len {
                return bad(StructureError::Length {
                    what: "the output",
                    expected: expected_len,
                    got: out.len,
                });
            }
            if let Some(wider) = ins.iter().find(|t| t.bits > out.bits) {
                if op.preserves_range() {
                    // Its values are its inputs': no narrower than any of them.
                    return bad(StructureError::Bits {
                        tensor: out.name.clone(),
                        bits: out.bits,
                        min: wider.bits,
                        max: max_bits,
                    });
                }
            }
            if op.is_linear() {
                let shift = op.shift();
                if shift >= 62 {
                    return bad(StructureError::Width {
                        what: "the shift",
                        needed: shift,
                        max: 61,
                    });
                }
                let needed = self.accumulator_bits(node);
                if needed > MAX_ACCUMULATOR_BITS {
                    return bad(StructureError::Width {
                        what: "the accumulator",
                        needed,
                        max: MAX_ACCUMULATOR_BITS,
                    });
                }
            }
        }
        self.validate_outputs()
    }

    /// The output list names tensors of the graph, each once, within [`MAX_LEN`] values.
    fn validate_outputs(&self) -> Result<(), CompileError> {
        if self.outputs.is_empty() {
            let source = StructureError::Empty {
                what: "the output list",
            };
            return Err(structure("graph outputs", source));
        }
        for (i, &t) in self.outputs.iter().enumerate() {
            if self.tensor(t).is_none() || self.outputs[..i].contains(&t) {
                let source = StructureError::UnknownTensor {
                    tensor: format!("{t} (not a tensor of the graph, or listed twice)"),
                };
                return Err(structure(&format!("graph output {i}"), source));
            }
        }
        let len = self.output_len();
        if len > MAX_LEN {
            let source = StructureError::TooLong {
                what: "the outputs",
                got: len,
                max: MAX_LEN,
            };
            return Err(structure("graph outputs", source));
        }
        Ok(())
    }
}

fn structure(node: &str, source: StructureError) -> CompileError {
    CompileError::Structure {
        node: node.to_string(),
        source,
    }
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
            let arity = node.op.arity().unwrap_or(ins.len().max(1));
            if ins.len() != arity {
                return Err(shape_err(
                    format!("{arity} inputs"),
                    format!("{}", ins.len()),
                ));
            }
            node.op
                .check(&ins)
                .map_err(|m| shape_err(m.expected, m.got))?;
            let constants = node.op.constants();
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
