//! Gather: rows of a constant table selected by integer ids (an embedding lookup).

use serde::{Deserialize, Serialize};

use super::{
    arg, check_in_range, len_of, operand, EvalContext, FloatKernel, IntegerOp, Mismatch, Operand,
    Quantised, Quantiser,
};
use crate::error::{Error, QuantError, StructureError, WitnessError};
use crate::graph::activation::Table;
use crate::graph::qtensor::QTensor;
use crate::graph::quant::scale::{exponent_for, round_scaled};
use crate::graph::record::NodeWitness;
use ndarray::Array2;

/// Rows of a constant table selected by integer ids (an embedding): output `t · dim + j`
/// is `table[ids[t] · dim + j]`, for ids in `[0, vocab)`. Proven by a lookup of the key
/// `ids[t] · dim + j` in a table of `(key, value)` pairs, so an id outside the vocabulary
/// has no row to match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gather {
    /// Rows in the table.
    pub vocab: usize,
    /// Values per row.
    pub dim: usize,
    /// The flat table (`first = 0`, no reduction, `vocab · dim` outputs), at the output's
    /// scale.
    pub table: Table,
}

impl IntegerOp for Gather {
    fn kind(&self) -> &'static str {
        "Gather"
    }

    fn output_len(&self, ins: &[&QTensor], out: &QTensor) -> Result<usize, StructureError> {
        let (g, x) = (self, ins[0]);

        let t = &g.table;
        let entries = g.vocab.checked_mul(g.dim).filter(|n| *n > 0);
        if entries != Some(t.outputs.len()) || t.first != 0 || t.shift != 0 {
            return Err(StructureError::Shape {
                what: "the table",
                expected: format!("{} rows of {} (first 0, shift 0)", g.vocab, g.dim),
                got: format!(
                    "{} entries (first {}, shift {})",
                    t.outputs.len(),
                    t.first,
                    t.shift
                ),
            });
        }
        // Ids are exact integers, and every key `id · dim + j` fits the input's width.
        if x.scale_exp != 0 {
            return Err(StructureError::Scale {
                what: "the ids",
                expected: 0,
                got: x.scale_exp,
            });
        }
        check_in_range("table value", &t.outputs, out)?;
        x.len.checked_mul(g.dim).ok_or(StructureError::Width {
            what: "the output's length",
            needed: usize::BITS + 1,
            max: usize::BITS,
        })
    }

    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
        let (g, inputs, out) = (self, cx.inputs, cx.out);
        let ids = inputs.first();
        let mut outputs = Vec::with_capacity(ids.len() * g.dim);
        for (t, &id) in ids.iter().enumerate() {
            let row = usize::try_from(id)
                .ok()
                .filter(|r| *r < g.vocab)
                .ok_or_else(|| WitnessError::OutOfRange {
                    node: inputs.node.to_string(),
                    tensor: format!("{} id (a row of the table)", out.name),
                    index: t,
                    value: i128::from(id),
                    min: 0,
                    max: g.vocab as i64 - 1,
                })?;
            let start = row * g.dim;
            outputs.extend_from_slice(&g.table.outputs[start..start + g.dim]);
        }
        Ok(NodeWitness::Values { outputs })
    }

    fn preserves_range(&self) -> bool {
        false
    }

    fn params(&self) -> Option<[Vec<i64>; 2]> {
        None
    }

    fn table(&self) -> Option<&Table> {
        Some(&self.table)
    }
}

/// Rows of a constant table selected by the input's integer ids (an embedding): the output
/// is `ids.len() · dim` long, row after row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatGather {
    /// The table, `(vocab, dim)`.
    pub table: Array2<f32>,
}

impl FloatKernel for FloatGather {
    type Integer = Gather;

    fn kind(&self) -> &'static str {
        "Gather"
    }

    fn output_len(&self, lens: &[usize]) -> usize {
        len_of(lens, 0) * self.table.ncols()
    }

    fn check(&self, _lens: &[usize]) -> Result<(), Mismatch> {
        if self.table.is_empty() {
            return Err(Mismatch::new("a non-empty table", "none"));
        }
        Ok(())
    }

    fn constants(&self) -> Vec<f32> {
        self.table.iter().copied().collect()
    }

    fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        let (vocab, dim) = self.table.dim();
        arg(xs, 0)
            .iter()
            .flat_map(|id| {
                // An id outside the table is NaN, which calibration reports.
                let valid = id.fract() == 0.0 && *id >= 0.0 && *id < vocab as f64;
                let row = valid.then(|| self.table.row(*id as usize));
                (0..dim).map(move |j| row.as_ref().map_or(f64::NAN, |r| f64::from(r[j])))
            })
            .collect()
    }

    /// The ids brought to scale `2^0` (exactly, for integer ids) and the table at the
    /// scale its largest value allows.
    fn quantise(
        &self,
        q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        _calibrated: i32,
    ) -> Result<Quantised<Gather>, Error> {
        let x = operand(name, ins, 0)?;
        let ids = match x.tensor.scale_exp {
            0 => x.id,
            e if e > 0 => q.rescale(&format!("{name}.ids"), x, 0)?,
            scale_exp => {
                return Err(QuantError::FractionalIds {
                    node: name.to_string(),
                    scale_exp,
                }
                .into())
            }
        };
        let options = q.options();
        let (vocab, dim) = self.table.dim();
        let max_abs = self
            .table
            .iter()
            .fold(0f64, |m, v| m.max(f64::from(v.abs())));
        let e_y = exponent_for(max_abs, options.activation_bits, options);
        let outputs = self
            .table
            .iter()
            .map(|v| round_scaled(f64::from(*v), e_y))
            .collect();
        Ok(Quantised {
            op: Gather {
                vocab,
                dim,
                table: Table {
                    shift: 0,
                    // The keys' width, for reports.
                    input_bits: usize::BITS - (vocab * dim).saturating_sub(1).leading_zeros(),
                    first: 0,
                    outputs,
                    error_bound: 0.5 * 2f64.powi(-e_y),
                },
            },
            inputs: vec![ids],
            len: x.tensor.len * dim,
            scale_exp: e_y,
        })
    }
}
