//! A tabulated function: the input divided by `2^shift` (floor), then looked up.

use serde::{Deserialize, Serialize};

use super::{
    arg, check_in_range, len_of, operand, unzip3, EvalContext, FloatKernel, IntegerOp, Mismatch,
    Operand, Quantised, Quantiser, Splitting,
};
use crate::error::{Error, StructureError, WitnessError};
use crate::graph::activation::{Activation, Domain, Table};
use crate::graph::qtensor::QTensor;
use crate::graph::record::NodeWitness;
use crate::par;

/// A tabulated function: `y = table[floor(x / 2^shift)]` (see [`crate::graph::activation`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lookup {
    /// The function (for reports; the table is the meaning).
    pub function: Activation,
    /// The table, its input reduction and its measured error bound.
    pub table: Table,
}

impl IntegerOp for Lookup {
    fn kind(&self) -> &'static str {
        self.function.name()
    }

    fn output_len(&self, ins: &[&QTensor], out: &QTensor) -> Result<usize, StructureError> {
        let (lookup, x) = (self, ins[0]);

        let table = &lookup.table;
        let b = table.input_bits;
        if b == 0
            || b.checked_add(table.shift) != Some(x.bits)
            || table.first != -(1i64 << (b - 1))
            || table.outputs.len() != 1 << b
        {
            return Err(StructureError::Shape {
                what: "the table",
                expected: format!("the signed domain of a {}-bit input", x.bits),
                got: format!(
                    "{} entries over {b} bits (shift {})",
                    table.outputs.len(),
                    table.shift
                ),
            });
        }
        check_in_range("table output", &table.outputs, out)?;
        Ok(x.len)
    }

    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError> {
        let (inputs, out, table) = (cx.inputs, cx.out, &self.table);
        let divisor = 1i64 << table.shift;
        let x = inputs.first();
        let rows = par::try_map(x.len(), |i| {
            let v = x[i].div_euclid(divisor);
            let y = table.get(v).ok_or_else(|| WitnessError::OutOfRange {
                node: inputs.node.to_string(),
                tensor: format!("{} table input", out.name),
                index: i,
                value: i128::from(v),
                min: -(1i64 << (table.input_bits - 1)),
                max: (1i64 << (table.input_bits - 1)) - 1,
            })?;
            Ok((v, x[i].rem_euclid(divisor), y))
        })?;
        let (reduced, remainders, outputs) = unzip3(rows);
        Ok(NodeWitness::Lookup {
            reduced,
            remainders,
            outputs,
        })
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

    fn splitting(&self) -> Splitting {
        Splitting::Elementwise
    }
}

impl FloatKernel for Activation {
    type Integer = Lookup;

    fn kind(&self) -> &'static str {
        self.name()
    }

    fn output_len(&self, lens: &[usize]) -> usize {
        len_of(lens, 0)
    }

    fn check(&self, _lens: &[usize]) -> Result<(), Mismatch> {
        match *self {
            Activation::Ln { floor } | Activation::Rsqrt { floor } if floor <= 0.0 => Err(
                Mismatch::new(format!("a positive floor for {}", self.name()), floor),
            ),
            _ => Ok(()),
        }
    }

    fn constants(&self) -> Vec<f32> {
        self.parameters()
    }

    fn eval(&self, xs: &[&[f64]]) -> Vec<f64> {
        arg(xs, 0)
            .iter()
            .map(|v| Activation::eval(self, *v))
            .collect()
    }

    /// A table over the input's signed domain, reduced to the table's bits.
    fn quantise(
        &self,
        q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        _calibrated: i32,
    ) -> Result<Quantised<Lookup>, Error> {
        let x = operand(name, ins, 0)?;
        let o = q.options();
        let (e_x, bits) = (x.tensor.scale_exp, x.tensor.bits);
        let domain = Domain::signed(e_x, bits, o.table_bits);
        let function = self.for_step(domain.step());
        let (table, e_y) = Table::build(
            function,
            e_x,
            bits,
            o.table_bits,
            o.activation_bits,
            o.max_frac_bits,
        );
        Ok(Quantised {
            op: Lookup { function, table },
            inputs: vec![x.id],
            len: x.tensor.len,
            scale_exp: e_y,
        })
    }
}
