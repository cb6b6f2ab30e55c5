//! Wiring (Flatten, Transpose, Concat, Pad, …): each output is an input element or a
//! constant.

use super::{check_range, Inputs};
use crate::error::WitnessError;
use crate::graph::ir::Source;
use crate::graph::qgraph::QTensor;
use crate::graph::witness::NodeWitness;

pub(in crate::graph) fn output_len(
    sources: &[Source<i64>],
    ins: &[&QTensor],
    out: &QTensor,
) -> Result<usize, String> {
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

pub(in crate::graph) fn eval(
    sources: &[Source<i64>],
    out: &QTensor,
    inputs: Inputs<'_>,
) -> Result<NodeWitness, WitnessError> {
    let outputs = sources
        .iter()
        .enumerate()
        .map(|(o, s)| match s {
            Source::Element { input: slot, index } => inputs.get(*slot, *index),
            Source::Constant(c) => check_range(inputs.node, out, o, i128::from(*c)),
        })
        .collect::<Result<_, _>>()?;
    Ok(NodeWitness::Values { outputs })
}
