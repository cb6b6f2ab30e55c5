//! Witness generation: the integer forward pass recording every integer a chip needs.
//!
//! Each node is computed in parallel across its outputs (rayon, through the crate-private
//! `par` helpers); every element depends only on the node's inputs, so the result is the
//! same at any thread count.
//! Values that would leave their declared range are reported here, before any proving,
//! with the node, tensor, index and range.

use crate::error::WitnessError;
use crate::graph::ir::Source;
use crate::graph::qgraph::{QGraph, QNode, QOp, QTensor, Softmax};
use crate::graph::window::pool_taps;
use crate::par;

/// What one node recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeWitness {
    /// A linear op (Dense, Conv, AvgPool, Add, Affine).
    Linear {
        /// Per output: the divided value (the node's output).
        quotients: Vec<i64>,
        /// Per output: the division's remainder, in `[0, d)`.
        remainders: Vec<i64>,
    },
    /// A product of two tensors, rescaled.
    Product {
        /// Per element: `a · b`.
        products: Vec<i64>,
        /// Per element: the rescaled product (the node's output).
        quotients: Vec<i64>,
        /// Per element: the rescale's remainder.
        remainders: Vec<i64>,
    },
    /// A table lookup.
    Lookup {
        /// Per element: the reduced input `floor(x / 2^shift)`, the table's index.
        reduced: Vec<i64>,
        /// Per element: the reduction's remainder, in `[0, 2^shift)`.
        remainders: Vec<i64>,
        /// Per element: the table's output.
        outputs: Vec<i64>,
    },
    /// The first index of each group's maximum.
    ArgMax {
        /// Per group: the maximum.
        maxima: Vec<i64>,
        /// Per group: the index (the node's output).
        indices: Vec<i64>,
    },
    /// A softmax; per-element records are in group order (group 0's elements first).
    Softmax {
        /// Per group: the maximum.
        maxima: Vec<i64>,
        /// Per element: the reduced gap `floor((m − x) / 2^shift)`.
        reduced: Vec<i64>,
        /// Per element: the reduction's remainder.
        remainders: Vec<i64>,
        /// Per element: the table's exponential.
        exps: Vec<i64>,
        /// Per element, in tensor order: the output.
        outputs: Vec<i64>,
    },
    /// An elementwise op (ReLU, MaxPool) or wiring: just its outputs.
    Values {
        /// The outputs.
        outputs: Vec<i64>,
    },
}

impl NodeWitness {
    /// The node's output values.
    pub fn output(&self) -> &[i64] {
        match self {
            Self::Linear { quotients, .. } | Self::Product { quotients, .. } => quotients,
            Self::Lookup { outputs, .. }
            | Self::Softmax { outputs, .. }
            | Self::Values { outputs } => outputs,
            Self::ArgMax { indices, .. } => indices,
        }
    }
}

/// Every integer of one inference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The integer input.
    pub input: Vec<i64>,
    /// One record per node, in graph order.
    pub nodes: Vec<NodeWitness>,
}

impl Witness {
    /// The model's output.
    pub fn output(&self) -> &[i64] {
        self.nodes.last().map_or(&self.input, NodeWitness::output)
    }

    /// Tensor `id`'s values (`0` is the input).
    pub fn tensor(&self, id: usize) -> &[i64] {
        match id {
            0 => &self.input,
            _ => self.nodes.get(id - 1).map_or(&[], NodeWitness::output),
        }
    }
}

impl QGraph {
    /// The integer forward pass: the model's output for an integer input. This is the
    /// model's meaning; it depends on nothing of the circuit's layout.
    pub fn eval(&self, input: &[i64]) -> Result<Vec<i64>, WitnessError> {
        Ok(generate(self, input)?.output().to_vec())
    }
}

/// Runs the integer forward pass of `graph` on `input`, recording every integer a chip
/// needs. Nothing here depends on the circuit's layout (dot-product running sums are
/// derived by the chip from the cells it copies).
pub fn generate(graph: &QGraph, input: &[i64]) -> Result<Witness, WitnessError> {
    if input.len() != graph.input.len {
        return Err(WitnessError::InputLength {
            expected: graph.input.len,
            got: input.len(),
        });
    }
    for (i, v) in input.iter().enumerate() {
        check_range("input", &graph.input, i, i128::from(*v))?;
    }
    let mut witness = Witness {
        input: input.to_vec(),
        nodes: Vec::with_capacity(graph.nodes.len()),
    };
    for node in &graph.nodes {
        let xs: Vec<&[i64]> = node.inputs.iter().map(|&t| witness.tensor(t)).collect();
        let record = node_witness(graph, node, &xs)?;
        witness.nodes.push(record);
    }
    Ok(witness)
}

fn node_witness(graph: &QGraph, node: &QNode, xs: &[&[i64]]) -> Result<NodeWitness, WitnessError> {
    let name = node.name.as_str();
    let out = &node.output;
    let input = |slot: usize, index: usize| -> Result<i64, WitnessError> {
        xs.get(slot)
            .and_then(|x| x.get(index))
            .copied()
            .ok_or_else(|| WitnessError::Inconsistent {
                node: name.to_string(),
                reason: format!("reads element {index} of input {slot}, which does not exist"),
            })
    };
    let outputs = match &node.op {
        QOp::Relu => xs
            .first()
            .map_or(Vec::new(), |x| x.iter().map(|v| (*v).max(0)).collect()),
        QOp::MaxPool(window) => par::try_map(out.len, |o| {
            pool_taps(window, o)
                .into_iter()
                .map(|i| input(0, i))
                .try_fold(i64::MIN, |m, v| v.map(|v| m.max(v)))
        })?,
        QOp::Wiring(sources) => sources
            .iter()
            .enumerate()
            .map(|(o, s)| match s {
                Source::Element { input: slot, index } => input(*slot, *index),
                Source::Constant(c) => check_range(name, out, o, i128::from(*c)),
            })
            .collect::<Result<_, _>>()?,
        QOp::Lookup(lookup) => {
            let table = &lookup.table;
            let divisor = 1i64 << table.shift;
            let x = xs.first().copied().unwrap_or_default();
            let rows = par::try_map(x.len(), |i| {
                let v = x[i].div_euclid(divisor);
                let y = table.get(v).ok_or_else(|| WitnessError::OutOfRange {
                    node: name.to_string(),
                    tensor: format!("{} table input", out.name),
                    index: i,
                    value: i128::from(v),
                    min: -(1i64 << (table.input_bits - 1)),
                    max: (1i64 << (table.input_bits - 1)) - 1,
                })?;
                Ok((v, x[i].rem_euclid(divisor), y))
            })?;
            let (reduced, remainders, outputs) = unzip3(rows);
            return Ok(NodeWitness::Lookup {
                reduced,
                remainders,
                outputs,
            });
        }
        QOp::Mul { shift } => {
            let divisor = 1i128 << shift;
            let offset = i128::from(graph.rounding.offset(1 << shift));
            let rows = par::try_map(out.len, |i| {
                let p = i128::from(input(0, i)?) * i128::from(input(1, i)?);
                let q = check_range(name, out, i, (p + offset).div_euclid(divisor))?;
                let r = to_i64(name, "remainder", i, (p + offset).rem_euclid(divisor))?;
                Ok((to_i64(name, "product", i, p)?, q, r))
            })?;
            let (products, quotients, remainders) = unzip3(rows);
            return Ok(NodeWitness::Product {
                products,
                quotients,
                remainders,
            });
        }
        QOp::ArgMax(axis) => {
            let x = xs.first().copied().unwrap_or_default();
            let (mut maxima, mut indices) = (Vec::new(), Vec::new());
            for g in 0..axis.groups() {
                let group = axis.group(g);
                let mut best = 0;
                for (j, &i) in group.iter().enumerate() {
                    if input(0, i)? > x[group[best]] {
                        best = j;
                    }
                }
                maxima.push(x[group[best]]);
                indices.push(best as i64);
            }
            return Ok(NodeWitness::ArgMax { maxima, indices });
        }
        QOp::Softmax(sm) => return softmax_witness(node, sm, xs),
        QOp::Dense(_) | QOp::Conv(_) | QOp::AvgPool(_) | QOp::Add(_) | QOp::Affine(_) => {
            return linear_witness(graph, node, &input)
        }
    };
    Ok(NodeWitness::Values { outputs })
}

fn softmax_witness(node: &QNode, sm: &Softmax, xs: &[&[i64]]) -> Result<NodeWitness, WitnessError> {
    let name = node.name.as_str();
    let x = xs.first().copied().unwrap_or_default();
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
        let group = sm.axis.group(g);
        let m = group.iter().map(|&i| x[i]).max().unwrap_or(0);
        let mut rows = Vec::with_capacity(group.len());
        for &i in &group {
            let gap = m - x[i];
            let v = gap.div_euclid(divisor);
            let e = sm.table.get(v).ok_or_else(|| WitnessError::OutOfRange {
                node: name.to_string(),
                tensor: format!("{} exponential table input", node.output.name),
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
                    .ok_or_else(|| unreachable_range(name, "softmax numerator", r.0, i128::MAX))?;
                Ok((
                    r.0,
                    check_range(name, &node.output, r.0, scaled.div_euclid(sum))?,
                ))
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

fn linear_witness(
    graph: &QGraph,
    node: &QNode,
    input: &(dyn Fn(usize, usize) -> Result<i64, WitnessError> + Sync),
) -> Result<NodeWitness, WitnessError> {
    let name = node.name.as_str();
    let rows = par::try_map(node.output.len, |o| {
        let lin = node
            .op
            .linear(o)
            .ok_or_else(|| WitnessError::Inconsistent {
                node: name.to_string(),
                reason: format!("has no linear output {o}"),
            })?;
        let mut acc = i128::from(lin.bias);
        for tap in &lin.taps {
            acc += i128::from(tap.weight) * i128::from(input(tap.input, tap.index)?);
        }
        to_i64(name, "accumulator", o, acc)?;
        let divisor = i128::from(lin.divisor);
        let shifted = acc + i128::from(graph.rounding.offset(lin.divisor));
        let q = check_range(name, &node.output, o, shifted.div_euclid(divisor))?;
        Ok((
            q,
            to_i64(name, "remainder", o, shifted.rem_euclid(divisor))?,
        ))
    })?;
    let (mut quotients, mut remainders) = (Vec::new(), Vec::new());
    for (q, r) in rows {
        quotients.push(q);
        remainders.push(r);
    }
    Ok(NodeWitness::Linear {
        quotients,
        remainders,
    })
}

/// Three columns from rows of three.
fn unzip3<A, B, C>(rows: Vec<(A, B, C)>) -> (Vec<A>, Vec<B>, Vec<C>) {
    let mut columns = (
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
    );
    for (a, b, c) in rows {
        columns.0.push(a);
        columns.1.push(b);
        columns.2.push(c);
    }
    columns
}

fn check_range(
    node: &str,
    tensor: &QTensor,
    index: usize,
    value: i128,
) -> Result<i64, WitnessError> {
    let (min, max) = (tensor.min(), tensor.max());
    if value < i128::from(min) || value > i128::from(max) {
        return Err(WitnessError::OutOfRange {
            node: node.to_string(),
            tensor: tensor.name.clone(),
            index,
            value,
            min,
            max,
        });
    }
    i64::try_from(value).map_err(|_| unreachable_range(node, &tensor.name, index, value))
}

fn to_i64(node: &str, what: &str, index: usize, value: i128) -> Result<i64, WitnessError> {
    i64::try_from(value).map_err(|_| unreachable_range(node, what, index, value))
}

fn unreachable_range(node: &str, tensor: &str, index: usize, value: i128) -> WitnessError {
    WitnessError::OutOfRange {
        node: node.to_string(),
        tensor: tensor.to_string(),
        index,
        value,
        min: i64::MIN,
        max: i64::MAX,
    }
}
