//! The halo2 circuit of a compiled model: one fixed column budget, one synthesize function
//! per op, and a dispatch over [`QOp`] with no wildcard arm.
//!
//! Synthesis copies integers from the [`Witness`] into cells and computes nothing semantic.
//! At key generation there is no witness and every advice value is unknown.
//!
//! Public values (one instance column): the outputs at rows `0..n_out`, then, when the input
//! is public, the input at rows `n_out..n_out + n_in` ([`InstanceLayout`]).

use std::collections::BTreeMap;
use std::ops::Range;

use halo2_proofs::{
    circuit::{Layouter, SimpleFloorPlanner, Value},
    plonk::{Circuit, Column, ConstraintSystem, Error, Instance},
};
use pasta_curves::Fp;
use zkinfer_circuits::{
    value::felt, ArgMaxChip, ArgMaxInstructions, ChipSet, DivChip, DivInstructions, DivSpec,
    DotInstructions, DotTask, FixedDotChip, FunctionChip, FunctionInstructions, FunctionTable,
    LookupRangeChip, LookupRangeConfig, MaxChip, MaxInstructions, MulChip, MulInstructions,
    RangeInstructions, ReluChip, ReluInstructions, SignedCell, VarDivChip, VarDivInstructions,
    FIRST_FUNCTION_TAG,
};

use crate::ir::Source;
use crate::qgraph::{LinearOutput, Lookup, QGraph, QNode, QOp, Softmax};
use crate::visibility::Visibilities;
use crate::window::pool_taps;
use crate::window::Axis;
use crate::witness::{NodeWitness, Witness};

// The integer graph's widest tensor must be one the range chip can check.
const _: () = assert!(crate::qgraph::MAX_TENSOR_BITS <= zkinfer_circuits::range::MAX_RANGE_BITS);

/// Where each public tensor lies in the one instance column: the outputs first, then the
/// input when it is public. The only place that knows the instance column's segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceLayout {
    /// Rows of the outputs.
    pub outputs: Range<usize>,
    /// Rows of the input, when it is public.
    pub input: Option<Range<usize>>,
}

impl InstanceLayout {
    /// The segments of `graph` under `visibility`.
    pub fn of(graph: &QGraph, visibility: &Visibilities) -> Self {
        let outputs = 0..graph.output().len;
        let input = visibility
            .public_input()
            .then(|| outputs.end..outputs.end + graph.input.len);
        Self { outputs, input }
    }

    /// Rows used.
    pub fn len(&self) -> usize {
        self.input.as_ref().map_or(self.outputs.end, |r| r.end)
    }

    /// Whether no row is used.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The instance column's values: `outputs`, then `input` when it is public.
    pub fn values(&self, outputs: &[i64], input: &[i64]) -> Vec<Fp> {
        let mut values: Vec<Fp> = outputs.iter().map(|v| felt(*v)).collect();
        if self.input.is_some() {
            values.extend(input.iter().map(|v| felt::<Fp>(*v)));
        }
        values
    }
}

/// The dot-product widths a circuit can have. `Circuit::configure` takes no arguments in
/// halo2_proofs 0.4, so each width is its own circuit type, `ModelCircuit<W>`; the compiler
/// picks one per model ([`crate::cost`]) and the crate-private `with_dot_width!` macro
/// dispatches on it.
pub const DOT_WIDTHS: [usize; 4] = [8, 16, 32, 64];

/// Runs `$body` with the const `$W` bound to the runtime width `$width` (one of
/// [`DOT_WIDTHS`]), or evaluates `$otherwise`.
macro_rules! with_dot_width {
    ($width:expr, $W:ident => $body:expr, else $otherwise:expr) => {
        match $width {
            8 => {
                const $W: usize = 8;
                $body
            }
            16 => {
                const $W: usize = 16;
                $body
            }
            32 => {
                const $W: usize = 32;
                $body
            }
            64 => {
                const $W: usize = 64;
                $body
            }
            _ => $otherwise,
        }
    };
}
pub(crate) use with_dot_width;

/// The constraint system's degree (it sets the extended evaluation domain).
pub fn degree() -> usize {
    let mut cs = ConstraintSystem::<Fp>::default();
    let _ = ModelCircuit::<8>::configure(&mut cs);
    cs.degree()
}

/// Names of the lookup arguments, in creation order (for MockProver messages).
pub const LOOKUP_NAMES: &[&str] = &LookupRangeConfig::LOOKUP_NAMES;

/// Every column and chip config of the model circuit: the shared column plan.
pub type ModelConfig = ChipSet;

/// A model's circuit, with or without a witness.
#[derive(Clone, Debug)]
pub struct ModelCircuit<'a, const W: usize> {
    graph: &'a QGraph,
    instance: InstanceLayout,
    witness: Option<&'a Witness>,
}

impl<'a, const W: usize> ModelCircuit<'a, W> {
    /// The circuit for key generation (no witness).
    pub fn for_keygen(graph: &'a QGraph, visibility: &Visibilities) -> Self {
        Self {
            graph,
            instance: InstanceLayout::of(graph, visibility),
            witness: None,
        }
    }

    /// The circuit for proving `witness`.
    pub fn for_proving(graph: &'a QGraph, visibility: &Visibilities, witness: &'a Witness) -> Self {
        Self {
            graph,
            instance: InstanceLayout::of(graph, visibility),
            witness: Some(witness),
        }
    }
}

impl<const W: usize> Circuit<Fp> for ModelCircuit<'_, W> {
    type Config = ModelConfig;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self {
            witness: None,
            ..self.clone()
        }
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> ModelConfig {
        ChipSet::configure(meta, W)
    }

    fn synthesize(
        &self,
        config: ModelConfig,
        mut layouter: impl Layouter<Fp>,
    ) -> Result<(), Error> {
        let tables = function_tables(self.graph);
        let loaded: Vec<FunctionTable<Fp>> = tables.iter().flatten().cloned().collect();
        config.range.table().load_with(&mut layouter, &loaded)?;
        let range = LookupRangeChip::construct(config.range.clone());
        let input = values(
            self.graph.input.len,
            self.witness.map(|w| w.input.as_slice()),
        );
        let x = range.witness_signed(&mut layouter, "input", &input, self.graph.input.bits)?;
        if let Some(rows) = &self.instance.input {
            expose(&mut layouter, config.instance, rows.start, &x)?;
        }
        let mut tensors: Vec<Vec<SignedCell<Fp>>> = vec![x];
        for (i, node) in self.graph.nodes.iter().enumerate() {
            let record = self.witness.map(|w| &w.nodes[i]);
            let ins = node
                .inputs
                .iter()
                .map(|&t| tensors.get(t).map(Vec::as_slice))
                .collect::<Option<Vec<_>>>()
                .ok_or(Error::Synthesis)?;
            let y = match &node.op {
                QOp::Relu => synthesize_relu(&config, &mut layouter, node, &ins, record)?,
                QOp::MaxPool(_) => synthesize_max(&config, &mut layouter, node, &ins, record)?,
                QOp::Lookup(lookup) => {
                    let table = tables[i].as_ref().ok_or(Error::Synthesis)?;
                    synthesize_lookup(&config, &mut layouter, node, lookup, table, &ins, record)?
                }
                QOp::Mul { shift } => synthesize_mul(
                    &config,
                    &mut layouter,
                    self.graph,
                    node,
                    *shift,
                    &ins,
                    record,
                )?,
                QOp::ArgMax(axis) => {
                    synthesize_argmax(&config, &mut layouter, node, axis, &ins, record)?
                }
                QOp::Softmax(sm) => {
                    let table = tables[i].as_ref().ok_or(Error::Synthesis)?;
                    synthesize_softmax(&config, &mut layouter, node, sm, table, &ins, record)?
                }
                QOp::Wiring(sources) => {
                    synthesize_wiring(&config, &mut layouter, node, sources, &ins)?
                }
                QOp::Dense(_) | QOp::Conv(_) | QOp::AvgPool(_) | QOp::Add(_) | QOp::Affine(_) => {
                    synthesize_linear(&config, &mut layouter, self.graph, node, &ins, record)?
                }
            };
            tensors.push(y);
        }
        let output = tensors.last().ok_or(Error::Synthesis)?;
        expose(
            &mut layouter,
            config.instance,
            self.instance.outputs.start,
            output,
        )
    }
}

/// A dot product per output (weights in fixed columns, inputs copied in), then a division.
fn synthesize_linear(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    graph: &QGraph,
    node: &QNode,
    ins: &[&[SignedCell<Fp>]],
    record: Option<&NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let (quotients, remainders) = match record {
        Some(NodeWitness::Linear {
            quotients,
            remainders,
        }) => (Some(quotients.as_slice()), Some(remainders.as_slice())),
        Some(_) => return Err(Error::Synthesis),
        None => (None, None),
    };
    let n = node.output.len;
    let outputs: Vec<LinearOutput> = (0..n)
        .map(|o| node.op.linear(o).ok_or(Error::Synthesis))
        .collect::<Result<_, _>>()?;
    let weights: Vec<Vec<Fp>> = outputs
        .iter()
        .map(|l| l.taps.iter().map(|t| felt(t.weight)).collect())
        .collect();
    let tasks = outputs
        .iter()
        .enumerate()
        .map(|(o, l)| {
            let inputs = l
                .taps
                .iter()
                .map(|t| cell_at(ins, t.input, t.index).map(SignedCell::cell))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(DotTask {
                inputs,
                weights: &weights[o],
                bias: felt(l.bias),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let accs =
        FixedDotChip::construct(config.dot.clone()).dot_products(layouter, &node.name, &tasks)?;
    let specs: Vec<DivSpec<Fp>> = outputs
        .iter()
        .map(|l| DivSpec {
            divisor: l.divisor,
            offset: felt(graph.rounding.offset(l.divisor)),
        })
        .collect();
    let div = DivChip::construct(
        config.div.clone(),
        LookupRangeChip::construct(config.range.clone()),
    );
    div.divide(
        layouter,
        &node.name,
        &accs,
        &specs,
        node.output.bits,
        &values(n, quotients),
        &values(n, remainders),
    )
}

fn synthesize_relu(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    node: &QNode,
    ins: &[&[SignedCell<Fp>]],
    record: Option<&NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let x = ins.first().ok_or(Error::Synthesis)?;
    ReluChip::construct(config.relu.clone()).relu(
        layouter,
        &node.name,
        x,
        &values(x.len(), recorded_values(record)?),
    )
}

fn synthesize_max(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    node: &QNode,
    ins: &[&[SignedCell<Fp>]],
    record: Option<&NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let QOp::MaxPool(window) = &node.op else {
        return Err(Error::Synthesis);
    };
    let windows = (0..node.output.len)
        .map(|o| {
            pool_taps(window, o)
                .into_iter()
                .map(|i| cell_at(ins, 0, i).cloned())
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let chip = MaxChip::construct(
        config.max.clone(),
        LookupRangeChip::construct(config.range.clone()),
    );
    chip.max(
        layouter,
        &node.name,
        &windows,
        &values(node.output.len, recorded_values(record)?),
    )
}

/// Wiring moves cells (copies cost nothing); a constant is a range-checked cell pinned to
/// the circuit's constant column, so the verifying key fixes its value.
fn synthesize_wiring(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    node: &QNode,
    sources: &[Source<i64>],
    ins: &[&[SignedCell<Fp>]],
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let range = LookupRangeChip::construct(config.range.clone());
    let mut constants: BTreeMap<i64, SignedCell<Fp>> = BTreeMap::new();
    for s in sources {
        if let Source::Constant(c) = s {
            if constants.contains_key(c) {
                continue;
            }
            let value = felt::<Fp>(*c);
            let name = format!("{} constant", node.name);
            let mut cells =
                range.witness_signed(layouter, &name, &[Value::known(value)], node.output.bits)?;
            let cell = cells.pop().ok_or(Error::Synthesis)?;
            layouter.assign_region(
                || format!("pin {name}"),
                |mut region| region.constrain_constant(cell.cell().cell(), value),
            )?;
            constants.insert(*c, cell);
        }
    }
    sources
        .iter()
        .map(|s| match s {
            Source::Element { input, index } => cell_at(ins, *input, *index).cloned(),
            Source::Constant(c) => constants.get(c).cloned().ok_or(Error::Synthesis),
        })
        .collect()
}

fn cell_at<'c>(
    ins: &[&'c [SignedCell<Fp>]],
    input: usize,
    index: usize,
) -> Result<&'c SignedCell<Fp>, Error> {
    ins.get(input)
        .and_then(|x| x.get(index))
        .ok_or(Error::Synthesis)
}

fn recorded_values(record: Option<&NodeWitness>) -> Result<Option<&[i64]>, Error> {
    match record {
        Some(NodeWitness::Values { outputs }) => Ok(Some(outputs)),
        Some(_) => Err(Error::Synthesis),
        None => Ok(None),
    }
}

/// The function table of every lookup and softmax node (by node index), tagged in node
/// order.
pub fn function_tables(graph: &QGraph) -> Vec<Option<FunctionTable<Fp>>> {
    let mut tag = FIRST_FUNCTION_TAG;
    graph
        .nodes
        .iter()
        .map(|node| {
            let table = node.op.table()?;
            let table = FunctionTable {
                tag,
                entries: table.entries().map(|(v, y)| (felt(v), felt(y))).collect(),
            };
            tag += 1;
            Some(table)
        })
        .collect()
}

/// The product of the two inputs, then a rescale.
fn synthesize_mul(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    graph: &QGraph,
    node: &QNode,
    shift: u32,
    ins: &[&[SignedCell<Fp>]],
    record: Option<&NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let (products, quotients, remainders) = match record {
        Some(NodeWitness::Product {
            products,
            quotients,
            remainders,
        }) => (
            Some(products.as_slice()),
            Some(quotients.as_slice()),
            Some(remainders.as_slice()),
        ),
        Some(_) => return Err(Error::Synthesis),
        None => (None, None, None),
    };
    let cells = |slot: usize| -> Result<Vec<_>, Error> {
        Ok(ins
            .get(slot)
            .ok_or(Error::Synthesis)?
            .iter()
            .map(|c| c.cell().clone())
            .collect())
    };
    let (a, b) = (cells(0)?, cells(1)?);
    let n = a.len();
    let p = MulChip::construct(config.mul.clone()).mul(
        layouter,
        &node.name,
        &a,
        &b,
        &values(n, products),
    )?;
    let spec = DivSpec {
        divisor: 1 << shift,
        offset: felt(graph.rounding.offset(1 << shift)),
    };
    DivChip::construct(
        config.div.clone(),
        LookupRangeChip::construct(config.range.clone()),
    )
    .divide(
        layouter,
        &node.name,
        &p,
        &vec![spec; n],
        node.output.bits,
        &values(n, quotients),
        &values(n, remainders),
    )
}

/// The cells of each group along `axis`.
fn groups(axis: &Axis, x: &[SignedCell<Fp>]) -> Result<Vec<Vec<SignedCell<Fp>>>, Error> {
    (0..axis.groups())
        .map(|g| {
            axis.group(g)
                .into_iter()
                .map(|i| x.get(i).cloned().ok_or(Error::Synthesis))
                .collect()
        })
        .collect()
}

/// The max of each group (with its gaps), then the first index where the gap is zero.
fn synthesize_argmax(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    node: &QNode,
    axis: &Axis,
    ins: &[&[SignedCell<Fp>]],
    record: Option<&NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let (maxima, indices) = match record {
        Some(NodeWitness::ArgMax { maxima, indices }) => {
            (Some(maxima.as_slice()), Some(indices.as_slice()))
        }
        Some(_) => return Err(Error::Synthesis),
        None => (None, None),
    };
    let x = ins.first().ok_or(Error::Synthesis)?;
    let windows = groups(axis, x)?;
    let bits = x.iter().map(SignedCell::bits).max().unwrap_or(1);
    let range = LookupRangeChip::construct(config.range.clone());
    let max = MaxChip::construct(config.max.clone(), range.clone());
    let n = axis.groups();
    let (_, gaps) = max.max_with_gaps(layouter, &node.name, &windows, &values(n, maxima))?;
    ArgMaxChip::construct(config.argmax.clone(), range).argmax(
        layouter,
        &node.name,
        &gaps,
        bits,
        &values(n, indices),
    )
}

/// Per group: max and gaps, gaps reduced and exponentiated by table, summed by a dot
/// product with unit weights, and each exponential divided by the sum.
fn synthesize_softmax(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    node: &QNode,
    sm: &Softmax,
    table: &FunctionTable<Fp>,
    ins: &[&[SignedCell<Fp>]],
    record: Option<&NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let name = node.name.as_str();
    let w = match record {
        Some(NodeWitness::Softmax {
            maxima,
            reduced,
            remainders,
            exps,
            outputs,
        }) => Some((maxima, reduced, remainders, exps, outputs)),
        Some(_) => return Err(Error::Synthesis),
        None => None,
    };
    let x = ins.first().ok_or(Error::Synthesis)?;
    let bits = x.iter().map(SignedCell::bits).max().unwrap_or(1);
    let windows = groups(&sm.axis, x)?;
    let (count, len) = (sm.axis.groups(), x.len());
    let range = LookupRangeChip::construct(config.range.clone());
    let max = MaxChip::construct(config.max.clone(), range.clone());
    let maxima = values(count, w.map(|w| w.0.as_slice()));
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
        &values(len, w.map(|w| w.1.as_slice())),
        &values(len, w.map(|w| w.2.as_slice())),
    )?;
    let reduced: Vec<_> = reduced.iter().map(|c| c.cell().clone()).collect();
    let exps = FunctionChip::construct(config.range.clone()).apply_signed(
        layouter,
        &format!("{name} exp"),
        table,
        bits,
        &reduced,
        &values(len, w.map(|w| w.3.as_slice())),
    )?;

    let ones = vec![Fp::one(); sm.axis.len];
    let tasks: Vec<DotTask<'_, Fp>> = exps
        .chunks(sm.axis.len)
        .map(|group| DotTask {
            inputs: group.iter().map(SignedCell::cell).collect(),
            weights: &ones,
            bias: Fp::zero(),
        })
        .collect();
    let dot = FixedDotChip::construct(config.dot.clone());
    let totals = dot.dot_products(layouter, &format!("{name} sum"), &tasks)?;

    let order: Vec<usize> = (0..count).flat_map(|g| sm.axis.group(g)).collect();
    let denominators: Vec<_> = (0..len).map(|i| totals[i / sm.axis.len].clone()).collect();
    let numerators: Vec<_> = exps.iter().map(|e| e.cell().clone()).collect();
    let quotients: Vec<Value<Fp>> = match w {
        Some(w) => order.iter().map(|&i| Value::known(felt(w.4[i]))).collect(),
        None => vec![Value::unknown(); len],
    };
    let vardiv = VarDivChip::construct(config.vardiv.clone(), range);
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
    // Back from group order to tensor order.
    let mut out: Vec<Option<SignedCell<Fp>>> = vec![None; len];
    for (&i, y) in order.iter().zip(ys) {
        out[i] = Some(y);
    }
    out.into_iter().map(|y| y.ok_or(Error::Synthesis)).collect()
}

/// Reduce the input's precision (a floor division by `2^shift`), then look the reduced
/// value up in the node's table.
fn synthesize_lookup(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    node: &QNode,
    lookup: &Lookup,
    table: &FunctionTable<Fp>,
    ins: &[&[SignedCell<Fp>]],
    record: Option<&NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let (reduced, remainders, outputs) = match record {
        Some(NodeWitness::Lookup {
            reduced,
            remainders,
            outputs,
        }) => (
            Some(reduced.as_slice()),
            Some(remainders.as_slice()),
            Some(outputs.as_slice()),
        ),
        Some(_) => return Err(Error::Synthesis),
        None => (None, None, None),
    };
    let x: Vec<_> = ins
        .first()
        .ok_or(Error::Synthesis)?
        .iter()
        .map(|c| c.cell().clone())
        .collect();
    let n = x.len();
    let spec = DivSpec {
        divisor: 1 << lookup.table.shift,
        offset: Fp::zero(),
    };
    let div = DivChip::construct(
        config.div.clone(),
        LookupRangeChip::construct(config.range.clone()),
    );
    let reduced = div.divide(
        layouter,
        &format!("{} reduce", node.name),
        &x,
        &vec![spec; n],
        lookup.table.input_bits,
        &values(n, reduced),
        &values(n, remainders),
    )?;
    let reduced: Vec<_> = reduced.iter().map(|c| c.cell().clone()).collect();
    FunctionChip::construct(config.range.clone()).apply_signed(
        layouter,
        &node.name,
        table,
        node.output.bits,
        &reduced,
        &values(n, outputs),
    )
}

/// `n` witness values from recorded integers, or unknowns at key generation. A record of
/// the wrong length yields unknowns too, which fail synthesis when proving.
fn values(n: usize, recorded: Option<&[i64]>) -> Vec<Value<Fp>> {
    match recorded {
        Some(r) if r.len() == n => r.iter().map(|v| Value::known(felt(*v))).collect(),
        _ => vec![Value::unknown(); n],
    }
}

fn expose(
    layouter: &mut impl Layouter<Fp>,
    instance: Column<Instance>,
    first_row: usize,
    cells: &[SignedCell<Fp>],
) -> Result<(), Error> {
    for (i, cell) in cells.iter().enumerate() {
        layouter.constrain_instance(cell.cell().cell(), instance, first_row + i)?;
    }
    Ok(())
}
