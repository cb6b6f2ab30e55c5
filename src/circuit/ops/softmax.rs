//! Softmax: per group the maximum and gaps, gaps reduced and exponentiated by table,
//! summed by a unit-weight dot product, each exponential divided by the sum.

use halo2_proofs::{
    circuit::{Layouter, Value},
    plonk::Error,
};
use pasta_curves::Fp;
use zkinfer_circuits::{
    value::felt, DivChip, DivInstructions, DivSpec, DotInstructions, DotTask, FixedDotChip,
    FunctionChip, FunctionInstructions, LookupRangeChip, MaxChip, MaxInstructions, SignedCell,
    VarDivChip, VarDivInstructions,
};

use super::cells::{cells_of, pinned, values};
use super::{CircuitOp, Softmaxes, SynthContext};
use crate::graph::qgraph::Softmax;

use crate::circuit::rows::{OpRows, RowContext};
use crate::error::CompileError;

impl CircuitOp for Softmax {
    type Record<'w> = Softmaxes<'w>;

    /// Softmax: per group, the max, the exponentials (a table), their sum (a dot product) and
    /// a division of each by the sum; the exponential's table joins the shared table.
    fn rows(&self, cx: &RowContext<'_>) -> Result<OpRows, CompileError> {
        let sm = self;
        let bits = cx.input_bits(0);
        let t = &sm.table;
        let kept: Vec<usize> = (0..sm.axis.groups()).map(|g| sm.group(g).len()).collect();
        let len: usize = kept.iter().sum();
        let masked = len < cx.node.output.len;
        Ok(OpRows {
            dot: kept
                .iter()
                .map(|&n| FixedDotChip::rows(n, cx.dot_width))
                .sum(),
            elementwise: 3 * len,
            range: kept
                .iter()
                .map(|&n| MaxChip::<Fp>::range_rows(n, bits, cx.input_nonneg(0)))
                .sum::<usize>()
                + FunctionChip::rows(len)
                + len
                    * (DivChip::<Fp>::range_rows(1 << t.shift, t.input_bits + 1)
                        + VarDivChip::<Fp>::range_rows(sm.out_scale + 1, sm.sum_bits(bits)))
                + usize::from(masked) * LookupRangeChip::<Fp>::signed_rows(1),
            table: t.outputs.len(),
            nonnegative: true,
        })
    }

    /// Per group: max and gaps, gaps reduced and exponentiated by table, summed by a dot
    /// product with unit weights, and each exponential divided by the sum.
    fn synthesize(
        &self,
        cx: &SynthContext<'_>,
        layouter: &mut impl Layouter<Fp>,
        ins: &[&[SignedCell<Fp>]],
        record: Option<Softmaxes<'_>>,
    ) -> Result<Vec<SignedCell<Fp>>, Error> {
        let (config, node, sm, table) = (cx.config, cx.node, self, cx.table()?);
        let name = node.name.as_str();
        let w = record.map(|r| (r.maxima, r.reduced, r.remainders, r.exps, r.outputs));
        let x = ins.first().ok_or(Error::Synthesis)?;
        let bits = x.iter().map(SignedCell::bits).max().unwrap_or(1);
        // The elements that take part, group by group (all of them unless masked).
        let kept: Vec<Vec<usize>> = (0..sm.axis.groups()).map(|g| sm.group(g)).collect();
        let windows = cells_of(&kept, x)?;
        let (count, len) = (kept.len(), kept.iter().map(Vec::len).sum::<usize>());
        let range = LookupRangeChip::construct(config.range.clone());
        let max = MaxChip::construct(config.max.clone(), range.clone());
        let maxima = values(count, w.map(|w| w.0));
        let (_, gaps) = max.max_with_gaps(layouter, name, &windows, &maxima)?;
        let gaps: Vec<_> = gaps.into_iter().flatten().collect();

        let div = DivChip::construct(config.div.clone(), range.clone());
        let spec = DivSpec {
            divisor: 1 << sm.table.shift,
            offset: Fp::zero(),
        };
        let reduced = div.divide(
            layouter,
            &format!("{name} reduce"),
            &gaps,
            &vec![spec; len],
            sm.table.input_bits + 1,
            &values(len, w.map(|w| w.1)),
            &values(len, w.map(|w| w.2)),
        )?;
        let reduced: Vec<_> = reduced.iter().map(|c| c.cell().clone()).collect();
        let exps = FunctionChip::construct(config.range.clone()).apply_signed(
            layouter,
            &format!("{name} exp"),
            table,
            bits,
            &reduced,
            &values(len, w.map(|w| w.3)),
        )?;

        let ones = vec![Fp::one(); sm.axis.len];
        let mut tasks: Vec<DotTask<'_, Fp>> = Vec::with_capacity(count);
        let mut rest = exps.as_slice();
        for group in &kept {
            let (head, tail) = rest.split_at(group.len());
            tasks.push(DotTask {
                inputs: head.iter().map(SignedCell::cell).collect(),
                weights: &ones[..group.len()],
                bias: Fp::zero(),
            });
            rest = tail;
        }
        let dot = FixedDotChip::construct(config.dot.clone());
        let totals = dot.dot_products(layouter, &format!("{name} sum"), &tasks)?;

        let order: Vec<usize> = kept.iter().flatten().copied().collect();
        let denominators: Vec<_> = kept
            .iter()
            .zip(&totals)
            .flat_map(|(group, total)| std::iter::repeat_n(total.clone(), group.len()))
            .collect();
        let numerators: Vec<_> = exps.iter().map(|e| e.cell().clone()).collect();
        let quotients: Vec<Value<Fp>> = match w {
            Some(w) => order.iter().map(|&i| Value::known(felt(w.4[i]))).collect(),
            None => vec![Value::unknown(); len],
        };
        let vardiv = VarDivChip::construct(config.vardiv.clone(), range.clone());
        let ys = vardiv.divide_by_cells(
            layouter,
            name,
            &numerators,
            &denominators,
            felt(1i64 << sm.out_scale),
            sm.out_scale + 1,
            sm.sum_bits(bits),
            &quotients,
        )?;
        // Back from group order to tensor order; a masked element is a pinned zero.
        let mut out: Vec<Option<SignedCell<Fp>>> = vec![None; x.len()];
        for (&i, y) in order.iter().zip(ys) {
            out[i] = Some(y);
        }
        if len < x.len() {
            let zero = pinned(&range, layouter, &format!("{name} masked"), 0, 1)?;
            out.iter_mut()
                .filter(|y| y.is_none())
                .for_each(|y| *y = Some(zero.clone()));
        }
        out.into_iter().map(|y| y.ok_or(Error::Synthesis)).collect()
    }
}
