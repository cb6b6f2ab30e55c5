//! Gather: rows of a constant table selected by integer ids (an embedding lookup).

use serde::{Deserialize, Serialize};

use super::{EvalContext, IntegerOp};
use crate::error::WitnessError;
use crate::graph::activation::Table;
use crate::graph::qtensor::QTensor;
use crate::graph::record::NodeWitness;

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

    fn output_len(&self, ins: &[&QTensor], out: &QTensor) -> Result<usize, String> {
        let (g, x) = (self, ins[0]);

        let t = &g.table;
        let entries = g.vocab.checked_mul(g.dim).filter(|n| *n > 0);
        if entries != Some(t.outputs.len()) || t.first != 0 || t.shift != 0 {
            return Err(format!(
                "table of {} entries (first {}, shift {}) is not {} rows of {}",
                t.outputs.len(),
                t.first,
                t.shift,
                g.vocab,
                g.dim
            ));
        }
        // Ids are exact integers, and every key `id · dim + j` fits the input's width.
        if x.scale_exp != 0 {
            return Err(format!("ids at scale 2^{}, not 2^0", x.scale_exp));
        }
        if t.outputs.iter().any(|y| *y < out.min() || *y > out.max()) {
            return Err("table values outside the output's range".into());
        }
        x.len
            .checked_mul(g.dim)
            .ok_or_else(|| "output length overflows".to_string())
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
