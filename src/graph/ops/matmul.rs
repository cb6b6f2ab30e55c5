//! The product of two activations as matrices, `[t, M, K] × [t, K, N]`: each output a dot
//! product of `K` pairs, then one rescale by `2^shift`.

use super::{check_range, to_i64, Inputs};
use crate::error::WitnessError;
use crate::graph::qgraph::{MatMul, QTensor, Rounding};
use crate::graph::validate::matmul_batches;
use crate::graph::witness::NodeWitness;
use crate::par;

pub(in crate::graph) fn output_len(mm: &MatMul, a: &QTensor, b: &QTensor) -> Result<usize, String> {
    let (m, k, n) = (mm.m, mm.k, mm.n);
    let batches = matmul_batches(m, k, n, a.len, b.len).ok_or_else(|| {
        format!(
            "{} and {} values are not [t, {m}, {k}] × [t, {k}, {n}]",
            a.len, b.len
        )
    })?;
    // |Σ a · b| < K · 2^(bits_a − 1) · 2^(bits_b − 1), plus the rounding offset, in 62 bits.
    let k_bits = usize::BITS - k.saturating_sub(1).leading_zeros();
    let needed = (a.bits + b.bits).saturating_sub(2) + k_bits + 1;
    if needed > 61 || mm.shift >= 62 {
        return Err(format!(
            "a sum of {k} products of {} and {} bits (shift {}) leaves 62 bits",
            a.bits, b.bits, mm.shift
        ));
    }
    Ok(batches * m * n)
}

pub(in crate::graph) fn eval(
    mm: &MatMul,
    rounding: Rounding,
    out: &QTensor,
    inputs: Inputs<'_>,
) -> Result<NodeWitness, WitnessError> {
    let name = inputs.node;
    let (m, k, n) = (mm.m, mm.k, mm.n);
    let divisor = 1i128 << mm.shift;
    let offset = i128::from(rounding.offset(1 << mm.shift));
    let rows = par::try_map(out.len, |o| {
        let (t, i, j) = (o / (m * n), (o / n) % m, o % n);
        let mut acc = 0i128;
        for l in 0..k {
            let x = inputs.get(0, (t * m + i) * k + l)?;
            let y = inputs.get(1, (t * k + l) * n + j)?;
            acc += i128::from(x) * i128::from(y);
        }
        let q = check_range(name, out, o, (acc + offset).div_euclid(divisor))?;
        let r = to_i64(name, "remainder", o, (acc + offset).rem_euclid(divisor))?;
        Ok((q, r))
    })?;
    let (quotients, remainders) = rows.into_iter().unzip();
    Ok(NodeWitness::Linear {
        quotients,
        remainders,
    })
}
