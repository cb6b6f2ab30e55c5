//! The halo2 circuit of a compiled model: one fixed column budget, one synthesize function
//! per op, and a dispatch over [`QOp`] with no wildcard arm.
//!
//! Synthesis copies integers from the [`Witness`] into cells and computes nothing semantic.
//! At key generation there is no witness and every advice value is unknown.
//!
//! Public values (one instance column): the outputs at rows `0..n_out`, then, when the input
//! is public, the input at rows `n_out..n_out + n_in` ([`OUTPUT_ROW`], [`input_row`]).

use halo2_proofs::{
    circuit::{Layouter, SimpleFloorPlanner, Value},
    plonk::{Circuit, Column, ConstraintSystem, Error, Instance},
};
use pasta_curves::Fp;
use zkinfer_circuits::{
    value::felt, DotInstructions, DotTask, FixedDotChip, FixedDotConfig, LookupRangeChip,
    LookupRangeConfig, RangeInstructions, RangeTableConfig, ReluChip, ReluConfig, ReluInstructions,
    RescaleChip, RescaleConfig, RescaleInstructions, RescaleSpec, SignedCell,
};

use crate::layout::DOT_WIDTH;
use crate::qgraph::{Dense, QGraph, QNode, QOp};
use crate::witness::{NodeWitness, Witness};

/// Instance row of the first output.
pub const OUTPUT_ROW: usize = 0;

/// Instance row of the first input value, when the input is public.
pub fn input_row(graph: &QGraph) -> usize {
    OUTPUT_ROW + graph.output().len
}

/// Advice columns of the fixed budget: dot inputs, accumulator, range (2), elementwise (3).
pub const ADVICE_COLUMNS: usize = DOT_WIDTH + 6;
/// Fixed columns: weights, bias, range (3), rescale (2), plus the 2 table columns.
pub const FIXED_COLUMNS: usize = DOT_WIDTH + 8;
/// Lookup arguments: the one shared range table.
pub const LOOKUP_ARGUMENTS: usize = 1;

/// The constraint system's degree (it sets the extended evaluation domain).
pub fn degree() -> usize {
    let mut cs = ConstraintSystem::<Fp>::default();
    let _ = ModelCircuit::configure(&mut cs);
    cs.degree()
}

/// Names of the lookup arguments, in creation order (for MockProver messages).
pub const LOOKUP_NAMES: &[&str] = &[LookupRangeConfig::LOOKUP];

/// Every column and chip config of the model circuit.
#[derive(Clone, Debug)]
pub struct ModelConfig {
    range: LookupRangeConfig,
    dot: FixedDotConfig,
    rescale: RescaleConfig,
    relu: ReluConfig,
    instance: Column<Instance>,
}

/// A model's circuit, with or without a witness.
#[derive(Clone, Debug)]
pub struct ModelCircuit<'a> {
    graph: &'a QGraph,
    public_input: bool,
    witness: Option<&'a Witness>,
}

impl<'a> ModelCircuit<'a> {
    /// The circuit for key generation (no witness).
    pub fn for_keygen(graph: &'a QGraph, public_input: bool) -> Self {
        Self {
            graph,
            public_input,
            witness: None,
        }
    }

    /// The circuit for proving `witness`.
    pub fn for_proving(graph: &'a QGraph, public_input: bool, witness: &'a Witness) -> Self {
        Self {
            graph,
            public_input,
            witness: Some(witness),
        }
    }
}

/// The public values of one inference: outputs, then the input if public.
pub fn instances(graph: &QGraph, public_input: bool, outputs: &[i64], input: &[i64]) -> Vec<Fp> {
    let mut values: Vec<Fp> = outputs.iter().map(|v| felt(*v)).collect();
    if public_input {
        debug_assert_eq!(values.len(), input_row(graph));
        values.extend(input.iter().map(|v| felt::<Fp>(*v)));
    }
    values
}

impl Circuit<Fp> for ModelCircuit<'_> {
    type Config = ModelConfig;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self {
            witness: None,
            ..self.clone()
        }
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> ModelConfig {
        let x: Vec<_> = (0..DOT_WIDTH).map(|_| meta.advice_column()).collect();
        let w: Vec<_> = (0..DOT_WIDTH).map(|_| meta.fixed_column()).collect();
        let [acc, z, limb, a0, a1, a2] = [(); 6].map(|_| meta.advice_column());
        let [bias, tag, radix, range_offset, offset, divisor] =
            [(); 6].map(|_| meta.fixed_column());
        let table = RangeTableConfig::configure(meta);
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        ModelConfig {
            range: LookupRangeConfig::configure(meta, z, limb, [tag, radix, range_offset], table),
            dot: FixedDotConfig::configure(meta, x, w, acc, bias),
            rescale: RescaleConfig::configure(meta, [a0, a1, a2], [offset, divisor]),
            relu: ReluConfig::configure(meta, [a0, a1, a2]),
            instance,
        }
    }

    fn synthesize(
        &self,
        config: ModelConfig,
        mut layouter: impl Layouter<Fp>,
    ) -> Result<(), Error> {
        config.range.table().load(&mut layouter)?;
        let range = LookupRangeChip::construct(config.range.clone());
        let input = values(
            self.graph.input.len,
            self.witness.map(|w| w.input.as_slice()),
        );
        let mut x = range.witness_signed(&mut layouter, "input", &input, self.graph.input.bits)?;
        if self.public_input {
            expose(&mut layouter, config.instance, input_row(self.graph), &x)?;
        }
        for (i, node) in self.graph.nodes.iter().enumerate() {
            let record = self.witness.map(|w| &w.nodes[i]);
            x = match &node.op {
                QOp::Dense(dense) => {
                    synthesize_dense(&config, &mut layouter, node, dense, &x, record)?
                }
                QOp::Relu => synthesize_relu(&config, &mut layouter, node, &x, record)?,
            };
        }
        expose(&mut layouter, config.instance, OUTPUT_ROW, &x)
    }
}

fn synthesize_dense(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    node: &QNode,
    dense: &Dense,
    x: &[SignedCell<Fp>],
    record: Option<&NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let (partials, quotients, remainders) = match record {
        Some(NodeWitness::Dense {
            partials,
            quotients,
            remainders,
        }) => (
            Some(partials),
            Some(quotients.as_slice()),
            Some(remainders.as_slice()),
        ),
        Some(NodeWitness::Relu { .. }) => return Err(Error::Synthesis),
        None => (None, None, None),
    };
    let outputs = dense.bias.len();
    let rows = FixedDotChip::rows(x.len(), DOT_WIDTH);
    let inputs: Vec<_> = x.iter().map(SignedCell::cell).collect();
    let weights: Vec<Vec<Fp>> = dense
        .weights
        .outer_iter()
        .map(|row| row.iter().map(|w| felt(*w)).collect())
        .collect();
    let sums: Vec<Vec<Value<Fp>>> = (0..outputs)
        .map(|o| values(rows, partials.and_then(|p| p.get(o)).map(Vec::as_slice)))
        .collect();
    let tasks: Vec<_> = (0..outputs)
        .map(|o| DotTask {
            inputs: inputs.clone(),
            weights: &weights[o],
            bias: felt(dense.bias[o]),
            partial_sums: &sums[o],
        })
        .collect();
    let dot = FixedDotChip::construct(config.dot.clone());
    let accs = dot.dot_products(layouter, &node.name, &tasks)?;
    let rescale = RescaleChip::construct(
        config.rescale.clone(),
        LookupRangeChip::construct(config.range.clone()),
    );
    let spec = RescaleSpec {
        shift: dense.shift,
        offset: felt(dense.rounding.offset(dense.shift)),
        quotient_bits: node.output.bits,
    };
    rescale.rescale(
        layouter,
        &node.name,
        &accs,
        spec,
        &values(outputs, quotients),
        &values(outputs, remainders),
    )
}

fn synthesize_relu(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fp>,
    node: &QNode,
    x: &[SignedCell<Fp>],
    record: Option<&NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let outputs = match record {
        Some(NodeWitness::Relu { outputs }) => Some(outputs.as_slice()),
        Some(NodeWitness::Dense { .. }) => return Err(Error::Synthesis),
        None => None,
    };
    ReluChip::construct(config.relu.clone()).relu(
        layouter,
        &node.name,
        x,
        &values(x.len(), outputs),
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
