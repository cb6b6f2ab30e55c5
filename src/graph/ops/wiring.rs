//! Wiring (Flatten, Transpose, Concat, Pad, …): each output is an input element or a
//! constant.

use serde::{Deserialize, Serialize};

use super::{check_range, EvalContext, IntegerOp};
use crate::error::WitnessError;
use crate::graph::ir::Source;
use crate::graph::qtensor::QTensor;
use crate::graph::record::NodeWitness;

/// Each output is an input element or a constant at the output's scale (no rows: the
/// circuit copies cells). Serialised as its list of sources.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Wiring(pub Vec<Source<i64>>);

impl std::ops::Deref for Wiring {
    type Target = [Source<i64>];

    /// The sources, one per output.
    fn deref(&self) -> &[Source<i64>] {
        &self.0
    }
}

impl IntegerOp for Wiring {
    fn kind(&self) -> &'static str {
        "Wiring"
    }

    fn arity(&self) -> Option<usize> {
        None
    }

    fn output_len(&self, ins: &[&QTensor], out: &QTensor) -> Result<usize, String> {
        let sources = &self.0;
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
        Ok(sources.len())
    }

    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
        let (inputs, out) = (cx.inputs, cx.out);
        let outputs = self
            .0
            .iter()
            .enumerate()
            .map(|(o, s)| match s {
                Source::Element { input: slot, index } => inputs.get(*slot, *index),
                Source::Constant(c) => check_range(inputs.node, out, o, i128::from(*c)),
            })
            .collect::<Result<_, _>>()?;
        Ok(NodeWitness::Values { outputs })
    }

    fn preserves_range(&self) -> bool {
        true
    }

    fn params(&self) -> Option<[Vec<i64>; 2]> {
        None
    }
}
