//! Wiring (Flatten, Transpose, Concat, Pad, …): each output is an input element or a
//! constant.

use serde::{Deserialize, Serialize};

use super::{
    align, arg, check_in_range, check_range, operand, EvalContext, FloatKernel, IntegerOp,
    Mismatch, Operand, Quantised, Quantiser,
};
use crate::error::{Error, StructureError, WitnessError};
use crate::graph::qtensor::{QTensor, Source};
use crate::graph::quant::scale::round_scaled;
use crate::graph::record::NodeWitness;

/// Each output is an input element or a constant (no rows: the circuit copies cells):
/// in the integer graph (`C = i64`) a constant at the output's scale, in the float graph
/// (`C = f32`) a real. Serialised as its list of sources.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Wiring<C = i64>(pub Vec<Source<C>>);

impl<C> std::ops::Deref for Wiring<C> {
    type Target = [Source<C>];

    /// The sources, one per output.
    fn deref(&self) -> &[Source<C>] {
        &self.0
    }
}

impl Eq for Wiring<i64> {}

impl IntegerOp for Wiring {
    fn kind(&self) -> &'static str {
        "Wiring"
    }

    fn arity(&self) -> Option<usize> {
        None
    }

    fn output_len(&self, ins: &[&QTensor], out: &QTensor) -> Result<usize, StructureError> {
        let sources = &self.0;
        for s in sources {
            match s {
                Source::Element { input, index } => {
                    if ins.get(*input).is_none_or(|t| *index >= t.len) {
                        return Err(StructureError::UnknownTensor {
                            tensor: format!("element {index} of input {input}"),
                        });
                    }
                }
                Source::Constant(c) => check_in_range("constant", &[*c], out)?,
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

impl FloatKernel for Wiring<f32> {
    type Integer = Wiring;

    fn kind(&self) -> &'static str {
        "Wiring"
    }

    fn arity(&self) -> Option<usize> {
        None
    }

    fn output_len(&self, _lens: &[usize]) -> usize {
        self.0.len()
    }

    fn check(&self, lens: &[usize]) -> Result<(), Mismatch> {
        for s in &self.0 {
            if let Source::Element { input, index } = s {
                if lens.get(*input).is_none_or(|len| index >= len) {
                    return Err(Mismatch::new(
                        "wiring within its inputs",
                        format!("input {input} element {index}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The pad values.
    fn constants(&self) -> Vec<f32> {
        self.0
            .iter()
            .filter_map(|s| match s {
                Source::Constant(c) => Some(*c),
                Source::Element { .. } => None,
            })
            .collect()
    }

    fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        self.0
            .iter()
            .map(|s| match s {
                Source::Element { input, index } => {
                    arg(xs, *input).get(*index).copied().unwrap_or(f64::NAN)
                }
                Source::Constant(c) => f64::from(*c),
            })
            .collect()
    }

    /// Wiring moves integers, so every input is brought to one scale, and the constants
    /// are rounded to it.
    fn quantise(
        &self,
        q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        _calibrated: i32,
    ) -> Result<Quantised<Wiring>, Error> {
        let x = operand(name, ins, 0)?;
        let (inputs, e) = align(q, name, ins, x.tensor.scale_exp)?;
        let sources: Vec<Source<i64>> = self
            .0
            .iter()
            .map(|s| match s {
                Source::Element { input, index } => Source::Element {
                    input: *input,
                    index: *index,
                },
                Source::Constant(c) => Source::Constant(round_scaled(f64::from(*c), e)),
            })
            .collect();
        Ok(Quantised {
            len: sources.len(),
            op: Wiring(sources),
            inputs,
            scale_exp: e,
        })
    }
}
