//! Softmax along an axis: per group, the max, the exponentials of the gaps (a table), their
//! sum, and each exponential divided by the sum, all in exact integers.

use serde::{Deserialize, Serialize};

use super::{
    arg, check_len, check_range, len_of, need_len, operand, to_i64, unreachable_range, EvalContext,
    FloatKernel, IntegerOp, Mismatch, Operand, Quantised, Quantiser,
};
use crate::error::{Error, StructureError, WitnessError};
use crate::graph::activation::{Domain, Table};
use crate::graph::qtensor::{QTensor, MAX_TENSOR_BITS};
use crate::graph::record::NodeWitness;
use crate::graph::window::Axis;
use crate::par;

/// Softmax along an axis, per group: `m = max x`, gaps `g = m − x`, `e = T(floor(g / 2^s))`
/// with `T(v) ≈ e^(−v·2^s / 2^e_x) · 2^e_E` (the table), `S = Σ e`, and
/// `y = floor(e · 2^out_scale / S)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Softmax {
    /// The axis.
    pub axis: Axis,
    /// `e^(−g)` over the reduced gaps (an unsigned domain).
    pub table: Table,
    /// The output's scale exponent: `y` is a fraction of `2^out_scale`.
    pub out_scale: u32,
    /// Which elements take part (a causal mask), one per element; empty: all. A masked
    /// element is left out of its group's max and sum, and its output is exactly 0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep: Vec<bool>,
}

impl Softmax {
    /// The elements of group `g` that take part, in axis order.
    pub fn group(&self, g: usize) -> Vec<usize> {
        let mut group = self.axis.group(g);
        if !self.keep.is_empty() {
            group.retain(|&i| self.keep.get(i).copied().unwrap_or(false));
        }
        group
    }

    /// Signed width of a group's sum `S` of exponentials of `exp_bits` signed bits (`S` is
    /// below `len · 2^(exp_bits − 1)`); saturates at 128 instead of overflowing, so that
    /// validation can reject it.
    pub fn sum_bits(&self, exp_bits: u32) -> u32 {
        let len = self.axis.len as u128;
        let shift = exp_bits.saturating_sub(1);
        match len.checked_shl(shift).filter(|b| b >> shift == len) {
            Some(bound) => 128 - bound.saturating_sub(1).leading_zeros() + 1,
            None => 128,
        }
    }
}

impl IntegerOp for Softmax {
    fn kind(&self) -> &'static str {
        "Softmax"
    }

    fn output_len(&self, ins: &[&QTensor], out: &QTensor) -> Result<usize, StructureError> {
        let (sm, x) = (self, ins[0]);
        let t = &sm.table;
        let b = t.input_bits;
        if !sm.keep.is_empty() {
            check_len("the mask", sm.keep.len(), x.len)?;
            if let Some(group) = (0..sm.axis.groups()).find(|&g| sm.group(g).is_empty()) {
                return Err(StructureError::EmptyGroup { group });
            }
        }
        check_len("the input", x.len, sm.axis.size())?;
        if sm.axis.len == 0 {
            return Err(StructureError::Empty { what: "the axis" });
        }
        if b == 0
            || b.checked_add(t.shift) != Some(x.bits)
            || t.first != 0
            || t.outputs.len() != 1 << b
        {
            return Err(StructureError::Shape {
                what: "the exponential table",
                expected: format!("the gaps of a {}-bit input, from 0", x.bits),
                got: format!(
                    "{} entries over {b} bits (first {}, shift {})",
                    t.outputs.len(),
                    t.first,
                    t.shift
                ),
            });
        }
        // Exponentials lie in [0, x.max()], and the max element's (the first) is positive.
        let bad = t.outputs.iter().find(|e| **e < 0 || **e > x.max());
        if let Some(&value) = bad.or(t.outputs.first().filter(|e| **e == 0)) {
            return Err(StructureError::OutOfRange {
                what: "exponential",
                value,
                min: 0,
                max: x.max(),
            });
        }
        // The sum is a range-checked cell and the numerator `e · 2^out_scale`
        // stays below 2^124 (62 + 62 bits), as the division chip requires.
        let sum_bits = sm.sum_bits(x.bits);
        if sum_bits > MAX_TENSOR_BITS {
            return Err(StructureError::Width {
                what: "the sum of exponentials",
                needed: sum_bits,
                max: MAX_TENSOR_BITS,
            });
        }
        if out.scale_exp != sm.out_scale as i32 {
            return Err(StructureError::Scale {
                what: "the output",
                expected: sm.out_scale as i32,
                got: out.scale_exp,
            });
        }
        if i64::from(sm.out_scale) + 1 >= i64::from(out.bits) {
            return Err(StructureError::Bits {
                tensor: out.name.clone(),
                bits: out.bits,
                min: sm.out_scale + 2,
                max: MAX_TENSOR_BITS,
            });
        }
        Ok(x.len)
    }

    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
        let (sm, inputs, out) = (self, cx.inputs, cx.out);
        let name = inputs.node;
        let x = inputs.first();
        if x.len() != sm.axis.size() {
            return Err(WitnessError::Inconsistent {
                node: name.to_string(),
                reason: format!(
                    "reads {} values along an axis of {}",
                    x.len(),
                    sm.axis.size()
                ),
            });
        }
        let divisor = 1i64 << sm.table.shift;
        let groups = par::try_map(sm.axis.groups(), |g| {
            let group = sm.group(g);
            let m = group.iter().map(|&i| x[i]).max().unwrap_or(0);
            let mut rows = Vec::with_capacity(group.len());
            for &i in &group {
                let gap = m - x[i];
                let v = gap.div_euclid(divisor);
                let e = sm.table.get(v).ok_or_else(|| WitnessError::OutOfRange {
                    node: name.to_string(),
                    tensor: format!("{} exponential table input", out.name),
                    index: i,
                    value: i128::from(v),
                    min: 0,
                    max: (1i64 << sm.table.input_bits) - 1,
                })?;
                rows.push((i, v, gap.rem_euclid(divisor), e));
            }
            // Exact arithmetic: the circuit proves `e · 2^out_scale = y · S + r` over the
            // integers, so nothing here may wrap (validation bounds `S` and `e · 2^out_scale`).
            let sum: i128 = rows.iter().map(|r| i128::from(r.3)).sum();
            to_i64(name, "softmax sum", g, sum)?;
            if sum <= 0 {
                return Err(WitnessError::Inconsistent {
                    node: name.to_string(),
                    reason: format!("group {g}'s sum of exponentials is {sum}, not positive"),
                });
            }
            let ys = rows
                .iter()
                .map(|r| {
                    let scaled = i128::from(r.3)
                        .checked_mul(1i128 << sm.out_scale)
                        .ok_or_else(|| {
                            unreachable_range(name, "softmax numerator", r.0, i128::MAX)
                        })?;
                    Ok((r.0, check_range(name, out, r.0, scaled.div_euclid(sum))?))
                })
                .collect::<Result<Vec<(usize, i64)>, WitnessError>>()?;
            Ok((m, rows, ys))
        })?;
        let mut w = NodeWitness::Softmax {
            maxima: Vec::new(),
            reduced: Vec::new(),
            remainders: Vec::new(),
            exps: Vec::new(),
            outputs: vec![0; x.len()],
        };
        if let NodeWitness::Softmax {
            maxima,
            reduced,
            remainders,
            exps,
            outputs,
        } = &mut w
        {
            for (m, rows, ys) in groups {
                maxima.push(m);
                for (_, v, r, e) in rows {
                    reduced.push(v);
                    remainders.push(r);
                    exps.push(e);
                }
                for (i, y) in ys {
                    outputs[i] = y;
                }
            }
        }
        Ok(w)
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

/// Softmax of the float graph: `e^(x − max) / Σ e^(x − max)` along an axis, over the
/// elements `keep` marks (a causal mask: ONNX's `Softmax(Where(mask, x, very negative))`;
/// empty: all); a masked element's output is exactly 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloatSoftmax {
    /// The axis.
    pub axis: Axis,
    /// One per element, or none: whether it takes part. Every group keeps at least one.
    pub keep: Vec<bool>,
}

impl FloatKernel for FloatSoftmax {
    type Integer = Softmax;

    fn kind(&self) -> &'static str {
        "Softmax"
    }

    fn output_len(&self, lens: &[usize]) -> usize {
        len_of(lens, 0)
    }

    fn check(&self, lens: &[usize]) -> Result<(), Mismatch> {
        let axis = &self.axis;
        need_len(len_of(lens, 0), axis.size())?;
        if axis.len == 0 {
            return Err(Mismatch::new("a non-empty axis", 0));
        }
        if self.keep.is_empty() {
            return Ok(());
        }
        if self.keep.len() != axis.size() {
            return Err(Mismatch::new(
                format!("a mask of {} values", axis.size()),
                self.keep.len(),
            ));
        }
        match (0..axis.groups()).find(|&g| axis.group(g).iter().all(|&i| !self.keep[i])) {
            Some(g) => Err(Mismatch::new(
                "at least one unmasked element per row",
                format!("row {g} masked entirely"),
            )),
            None => Ok(()),
        }
    }

    fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        let x = arg(xs, 0);
        let mut y = vec![0.0; x.len()];
        for g in 0..self.axis.groups() {
            let mut group = self.axis.group(g);
            if !self.keep.is_empty() {
                group.retain(|&i| self.keep.get(i).copied().unwrap_or(false));
            }
            let m = group.iter().fold(f64::NEG_INFINITY, |m, &i| m.max(x[i]));
            let sum: f64 = group.iter().map(|&i| (x[i] - m).exp()).sum();
            for &i in &group {
                y[i] = (x[i] - m).exp() / sum;
            }
        }
        y
    }

    /// `e^(−g)` tabulated at the gaps' left ends, so the max element's exponential is
    /// exactly `2^e_E` and the sum is never zero; outputs are fractions of `2^out_scale`.
    fn quantise(
        &self,
        q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        _calibrated: i32,
    ) -> Result<Quantised<Softmax>, Error> {
        let x = operand(name, ins, 0)?;
        let options = q.options();
        let bits = x.tensor.bits;
        let domain = Domain {
            input_scale: x.tensor.scale_exp,
            input_bits: bits,
            signed: false,
            table_bits: options.table_bits,
        };
        let exp = |g: f64| (-g).exp();
        let (table, _) = Table::tabulate(&exp, &domain, bits, bits as i32 - 2, false);
        let out_scale = options.max_frac_bits.clamp(0, bits as i32 - 2) as u32;
        Ok(Quantised {
            op: Softmax {
                axis: self.axis.clone(),
                table,
                out_scale,
                keep: self.keep.clone(),
            },
            inputs: vec![x.id],
            len: x.tensor.len,
            scale_exp: out_scale as i32,
        })
    }
}
