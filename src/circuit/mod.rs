//! The halo2 circuit of a compiled model: one fixed column budget, one synthesize function
//! per op, and a dispatch over [`QOp`] with no wildcard arm.
//!
//! Synthesis copies integers from the [`Witness`] into cells and computes nothing semantic.
//! At key generation there is no witness and every advice value is unknown.
//!
//! Public values (one instance column): the graph's outputs one after another at rows
//! `0..n_out`, then, when the input
//! is public, the input at rows `n_out..n_out + n_in` ([`InstanceLayout`]).

use std::ops::Range;
use std::sync::{Arc, Mutex};

use halo2_proofs::{
    circuit::{Layouter, SimpleFloorPlanner},
    plonk::{Circuit, ConstraintSystem, Error},
};
use pasta_curves::Fp;
use zkinfer_circuits::{
    value::felt, ChipSet, FunctionTable, LookupRangeChip, LookupRangeConfig, RangeInstructions,
    SignedCell, FIRST_FUNCTION_TAG,
};

use crate::graph::qgraph::{QGraph, QOp};
use crate::graph::witness::Witness;
use crate::visibility::Visibilities;

pub mod cost;
pub mod layout;
mod ops;

use ops::{
    expose, synthesize_argmax, synthesize_linear, synthesize_lookup, synthesize_max,
    synthesize_mul, synthesize_relu, synthesize_softmax, synthesize_wiring, values,
};

// The integer graph's widest tensor must be one the range chip can check.
const _: () =
    assert!(crate::graph::qgraph::MAX_TENSOR_BITS <= zkinfer_circuits::range::MAX_RANGE_BITS);

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
        let outputs = 0..graph.output_len();
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
/// picks one per model ([`crate::circuit::cost`]) and the crate-private `with_dot_width!` macro
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
    /// The node whose synthesis failed, if one did (halo2's error cannot carry it).
    failed: Arc<Mutex<Option<String>>>,
}

impl<'a, const W: usize> ModelCircuit<'a, W> {
    /// The circuit for key generation (no witness).
    pub fn for_keygen(graph: &'a QGraph, visibility: &Visibilities) -> Self {
        Self {
            graph,
            instance: InstanceLayout::of(graph, visibility),
            witness: None,
            failed: Arc::default(),
        }
    }

    /// The circuit for proving `witness`.
    pub fn for_proving(graph: &'a QGraph, visibility: &Visibilities, witness: &'a Witness) -> Self {
        Self {
            graph,
            instance: InstanceLayout::of(graph, visibility),
            witness: Some(witness),
            failed: Arc::default(),
        }
    }

    /// The node whose synthesis failed in the last run, if any: proving errors name it.
    pub fn failed_node(&self) -> Option<String> {
        self.failed.lock().ok().and_then(|f| f.clone())
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
            let y = self.node(&config, &mut layouter, &tables, i, &tensors);
            let y = y.inspect_err(|_| {
                if let Ok(mut failed) = self.failed.lock() {
                    *failed = Some(node.name.clone());
                }
            })?;
            tensors.push(y);
        }
        // The outputs, one after another from the segment's first row.
        let mut row = self.instance.outputs.start;
        for t in &self.graph.outputs {
            let output = tensors.get(t.index()).ok_or(Error::Synthesis)?;
            expose(&mut layouter, config.instance, row, output)?;
            row += output.len();
        }
        Ok(())
    }
}

impl<const W: usize> ModelCircuit<'_, W> {
    /// Synthesises node `i` over the cells of the earlier tensors: one exhaustive dispatch
    /// over the ops (a new op is a compile error here until it has a synthesis).
    fn node(
        &self,
        config: &ModelConfig,
        layouter: &mut impl Layouter<Fp>,
        tables: &[Option<FunctionTable<Fp>>],
        i: usize,
        tensors: &[Vec<SignedCell<Fp>>],
    ) -> Result<Vec<SignedCell<Fp>>, Error> {
        let node = &self.graph.nodes[i];
        let record = self.witness.map(|w| &w.nodes[i]);
        let ins = node
            .inputs
            .iter()
            .map(|t| tensors.get(t.index()).map(Vec::as_slice))
            .collect::<Option<Vec<_>>>()
            .ok_or(Error::Synthesis)?;
        Ok(match &node.op {
            QOp::Relu => synthesize_relu(config, layouter, node, &ins, record)?,
            QOp::MaxPool(_) => synthesize_max(config, layouter, node, &ins, record)?,
            QOp::Lookup(lookup) => {
                let table = tables[i].as_ref().ok_or(Error::Synthesis)?;
                synthesize_lookup(config, layouter, node, lookup, table, &ins, record)?
            }
            QOp::Mul { shift } => {
                synthesize_mul(config, layouter, self.graph, node, *shift, &ins, record)?
            }
            QOp::ArgMax(axis) => synthesize_argmax(config, layouter, node, axis, &ins, record)?,
            QOp::Softmax(sm) => {
                let table = tables[i].as_ref().ok_or(Error::Synthesis)?;
                synthesize_softmax(config, layouter, node, sm, table, &ins, record)?
            }
            QOp::Wiring(sources) => synthesize_wiring(config, layouter, node, sources, &ins)?,
            QOp::Dense(_) | QOp::Conv(_) | QOp::AvgPool(_) | QOp::Add(_) | QOp::Affine(_) => {
                synthesize_linear(config, layouter, self.graph, node, &ins, record)?
            }
        })
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
