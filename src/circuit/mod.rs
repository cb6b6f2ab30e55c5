//! The halo2 circuit of a compiled model: one fixed column budget, and per op its rows and
//! its synthesis (each op's `CircuitOp` in `ops`), reached through one dispatch.
//!
//! Synthesis copies integers from the [`Witness`] into cells and computes nothing semantic.
//! At key generation there is no witness and every advice value is unknown.
//!
//! Public values (one instance column, [`InstanceLayout`]): the graph's outputs one after
//! another (or one Poseidon commitment to them all), then the input when it is public (or
//! its commitment when it is hashed).

use std::sync::{Arc, Mutex};

use halo2_proofs::{
    circuit::{Layouter, SimpleFloorPlanner, Value},
    dev::{MockProver, VerifyFailure},
    plonk::{self, Circuit, ConstraintSystem, Error, ProvingKey, VerifyingKey},
    poly::commitment::Params,
    transcript::{Blake2bWrite, Challenge255},
};
use pasta_curves::{EqAffine, Fp};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use zkinfer_circuits::{
    value::felt, ChipSet, CommitChip, CommitInstructions, FunctionTable, LookupRangeChip,
    LookupRangeConfig, RangeInstructions, SignedCell, FIRST_FUNCTION_TAG,
};

use crate::error::{CompileError, Error as ZkError, ProveError};
use crate::graph::qgraph::QGraph;
use crate::graph::witness::Witness;
use crate::visibility::Visibilities;

pub mod cost;
mod instance;
pub mod layout;
mod ops;
mod rows;

pub use instance::{
    output_bits, param_domain, Commitments, InstanceLayout, Salts, Segment, OUTPUT_COMMITMENT,
};

use ops::cells::{expose, values};
use ops::params::synthesize_params;
use ops::SynthContext;

// The integer graph's widest tensor must be one the range chip can check.
const _: () =
    assert!(crate::graph::qgraph::MAX_TENSOR_BITS <= zkinfer_circuits::range::MAX_RANGE_BITS);

/// The dot-product widths a circuit can have. `Circuit::configure` takes no arguments in
/// halo2_proofs 0.4, so each width is its own circuit type, `ModelCircuit<W, H>` (`H`: with
/// the commitment chip); the compiler picks a width per model ([`crate::circuit::cost`]) and
/// [`CircuitSpec`] (through the module-private `with_dot_width!` macro) dispatches on width
/// and hashing.
pub const DOT_WIDTHS: [usize; 4] = [8, 16, 32, 64];

/// Runs `$body` with the const `$W` bound to the runtime width `$width` (one of
/// [`DOT_WIDTHS`]) and the const `$H` to `$hashes`, or evaluates `$otherwise`.
macro_rules! with_dot_width {
    ($width:expr, $hashes:expr, $W:ident, $H:ident => $body:expr, else $otherwise:expr) => {
        match ($width, $hashes) {
            (8, false) => with_dot_width!(@ 8, false, $W, $H => $body),
            (16, false) => with_dot_width!(@ 16, false, $W, $H => $body),
            (32, false) => with_dot_width!(@ 32, false, $W, $H => $body),
            (64, false) => with_dot_width!(@ 64, false, $W, $H => $body),
            (8, true) => with_dot_width!(@ 8, true, $W, $H => $body),
            (16, true) => with_dot_width!(@ 16, true, $W, $H => $body),
            (32, true) => with_dot_width!(@ 32, true, $W, $H => $body),
            (64, true) => with_dot_width!(@ 64, true, $W, $H => $body),
            _ => $otherwise,
        }
    };
    (@ $w:literal, $h:literal, $W:ident, $H:ident => $body:expr) => {{
        const $W: usize = $w;
        const $H: bool = $h;
        $body
    }};
}
/// A model's circuit named by values: its integer graph, visibilities (whether the
/// commitment chip is on) and dot width. Its methods dispatch on width and hashing to the
/// circuit type `ModelCircuit<W, H>` (the one place outside the circuit's own code that
/// names it), so callers name no const generic; a width outside [`DOT_WIDTHS`] is a
/// [`CompileError::DotWidth`].
#[derive(Clone, Copy, Debug)]
pub struct CircuitSpec<'a> {
    /// The integer graph.
    pub graph: &'a QGraph,
    /// Who sees the input, output and parameters.
    pub visibility: &'a Visibilities,
    /// Multiply–accumulate pairs per dot-product row.
    pub dot_width: usize,
}

fn keygen_err(source: Error) -> ProveError {
    ProveError::Halo2 {
        stage: "key generation",
        source,
    }
}

impl CircuitSpec<'_> {
    fn bad_width(&self) -> CompileError {
        CompileError::DotWidth {
            width: self.dot_width,
            supported: &DOT_WIDTHS,
        }
    }

    /// The verifying key (no witness).
    pub fn keygen_vk(&self, params: &Params<EqAffine>) -> Result<VerifyingKey<EqAffine>, ZkError> {
        let (graph, visibility) = (self.graph, self.visibility);
        with_dot_width!(self.dot_width, visibility.hashes(), W, H => {
            let circuit = ModelCircuit::<W, H>::for_keygen(graph, visibility);
            Ok(plonk::keygen_vk(params, &circuit).map_err(keygen_err)?)
        }, else Err(self.bad_width().into()))
    }

    /// The proving key from the verifying key.
    pub fn keygen_pk(
        &self,
        params: &Params<EqAffine>,
        vk: VerifyingKey<EqAffine>,
    ) -> Result<ProvingKey<EqAffine>, ZkError> {
        let (graph, visibility) = (self.graph, self.visibility);
        with_dot_width!(self.dot_width, visibility.hashes(), W, H => {
            let circuit = ModelCircuit::<W, H>::for_keygen(graph, visibility);
            Ok(plonk::keygen_pk(params, vk, &circuit).map_err(keygen_err)?)
        }, else Err(self.bad_width().into()))
    }

    /// A proof of `witness` with the instance column `public`, hashed tensors committed
    /// under `salts`: the transcript's bytes.
    pub fn prove(
        &self,
        params: &Params<EqAffine>,
        pk: &ProvingKey<EqAffine>,
        witness: &Witness,
        salts: Salts,
        public: &[Fp],
    ) -> Result<Vec<u8>, ZkError> {
        let (graph, visibility) = (self.graph, self.visibility);
        let mut transcript = Blake2bWrite::<_, EqAffine, Challenge255<_>>::init(vec![]);
        with_dot_width!(self.dot_width, visibility.hashes(), W, H => {
            let circuit = ModelCircuit::<W, H>::for_proving(graph, visibility, witness, salts);
            plonk::create_proof(
                params,
                pk,
                std::slice::from_ref(&circuit),
                &[&[public]],
                UnwrapErr(SysRng),
                &mut transcript,
            )
            .map_err(|source| ProveError::from_halo2("proving", circuit.failed_node(), source))?
        }, else return Err(self.bad_width().into()));
        Ok(transcript.finalize())
    }

    /// Runs the circuit on `witness` under halo2's `MockProver` at `2^k` rows with the
    /// instance column `public`: the failures (empty when every constraint holds).
    pub fn mock(
        &self,
        k: u32,
        witness: &Witness,
        salts: Salts,
        public: Vec<Fp>,
    ) -> Result<Vec<VerifyFailure>, ZkError> {
        let (graph, visibility) = (self.graph, self.visibility);
        with_dot_width!(self.dot_width, visibility.hashes(), W, H => {
            let circuit = ModelCircuit::<W, H>::for_proving(graph, visibility, witness, salts);
            let prover = MockProver::run(k, &circuit, vec![public])
                .map_err(|e| ProveError::from_halo2("mock proving", circuit.failed_node(), e))?;
            Ok(prover.verify().err().unwrap_or_default())
        }, else Err(self.bad_width().into()))
    }
}

/// The constraint system's degree (it sets the extended evaluation domain), with or without
/// the commitment chip.
pub fn degree(commitments: bool) -> usize {
    let mut cs = ConstraintSystem::<Fp>::default();
    if commitments {
        let _ = ModelCircuit::<8, true>::configure(&mut cs);
    } else {
        let _ = ModelCircuit::<8, false>::configure(&mut cs);
    }
    cs.degree()
}

/// Names of the lookup arguments, in creation order (for MockProver messages).
pub const LOOKUP_NAMES: &[&str] = &LookupRangeConfig::LOOKUP_NAMES;

/// Every column and chip config of the model circuit: the shared column plan.
pub type ModelConfig = ChipSet;

/// A model's circuit at dot width `W`, with the commitment chip when `H`, with or without a
/// witness.
#[derive(Clone, Debug)]
pub struct ModelCircuit<'a, const W: usize, const H: bool = false> {
    graph: &'a QGraph,
    instance: InstanceLayout,
    /// The packing widths of hashed parameters ([`Visibilities::param_bits`]).
    param_bits: [u32; 2],
    /// The domain of their commitment ([`param_domain`]; zero when they are fixed).
    param_domain: Fp,
    witness: Option<&'a Witness>,
    /// The commitments' salts (used with a witness only).
    salts: Salts,
    /// The node whose synthesis failed, if one did (halo2's error cannot carry it).
    failed: Arc<Mutex<Option<String>>>,
}

impl<'a, const W: usize, const H: bool> ModelCircuit<'a, W, H> {
    /// The circuit for key generation (no witness).
    pub fn for_keygen(graph: &'a QGraph, visibility: &Visibilities) -> Self {
        Self {
            graph,
            instance: InstanceLayout::of(graph, visibility),
            param_bits: visibility.param_bits,
            param_domain: domain_of(graph, visibility),
            witness: None,
            salts: Salts::default(),
            failed: Arc::default(),
        }
    }

    /// The circuit for proving `witness`, hashed tensors committed under `salts`.
    pub fn for_proving(
        graph: &'a QGraph,
        visibility: &Visibilities,
        witness: &'a Witness,
        salts: Salts,
    ) -> Self {
        Self {
            graph,
            instance: InstanceLayout::of(graph, visibility),
            param_bits: visibility.param_bits,
            param_domain: domain_of(graph, visibility),
            witness: Some(witness),
            salts,
            failed: Arc::default(),
        }
    }

    /// The node whose synthesis failed in the last run, if any: proving errors name it.
    pub fn failed_node(&self) -> Option<String> {
        self.failed.lock().ok().and_then(|f| f.clone())
    }
}

impl<const W: usize, const H: bool> Circuit<Fp> for ModelCircuit<'_, W, H> {
    type Config = ModelConfig;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self {
            witness: None,
            ..self.clone()
        }
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> ModelConfig {
        if H {
            ChipSet::configure_with_commitments(meta, W)
        } else {
            ChipSet::configure(meta, W)
        }
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
        if let Some(segment) = &self.instance.input {
            self.show(
                config.commit.as_ref(),
                &config,
                &mut layouter,
                "input",
                segment,
                &x,
                self.salts.input,
            )?;
        }
        let params = match self.instance.params {
            Some(row) => {
                let salt = self.witness.map(|_| self.salts.params);
                let commitment = (self.param_bits, self.param_domain, row);
                Some(synthesize_params(
                    &config,
                    &mut layouter,
                    self.graph,
                    commitment,
                    salt,
                )?)
            }
            None => None,
        };
        let mut tensors: Vec<Vec<SignedCell<Fp>>> = vec![x];
        for (i, node) in self.graph.nodes.iter().enumerate() {
            let node_params = params.as_ref().and_then(|p| p.of(i));
            // With hashed params, an op with parameters never falls back to fixed columns.
            if params.is_some() && node.op.has_params() && node_params.is_none() {
                return Err(Error::Synthesis);
            }
            let y = self.node(&config, &mut layouter, &tables, i, node_params, &tensors);
            let y = y.inspect_err(|_| {
                if let Ok(mut failed) = self.failed.lock() {
                    *failed = Some(node.name.clone());
                }
            })?;
            tensors.push(y);
        }
        // The outputs, one after another.
        let mut outputs = Vec::with_capacity(self.graph.output_len());
        for t in &self.graph.outputs {
            outputs.extend_from_slice(tensors.get(t.index()).ok_or(Error::Synthesis)?);
        }
        let segment = &self.instance.outputs;
        self.show(
            config.commit_out.as_ref(),
            &config,
            &mut layouter,
            "outputs",
            segment,
            &outputs,
            self.salts.output,
        )
    }
}

impl<const W: usize, const H: bool> ModelCircuit<'_, W, H> {
    /// Puts `cells` in the instance column as `segment` says: each value on its row, or
    /// their commitment under `salt` by the commitment chip `chip`.
    #[allow(clippy::too_many_arguments)]
    fn show(
        &self,
        chip: Option<&zkinfer_circuits::CommitConfig>,
        config: &ModelConfig,
        layouter: &mut impl Layouter<Fp>,
        name: &str,
        segment: &Segment,
        cells: &[SignedCell<Fp>],
        salt: Fp,
    ) -> Result<(), Error> {
        match segment {
            Segment::Values(rows) => expose(layouter, config.instance, rows.start, cells),
            Segment::Commitment { row, bits } => {
                let chip = CommitChip::construct(chip.cloned().ok_or(Error::Synthesis)?);
                let salt = match self.witness {
                    Some(_) => Value::known(salt),
                    None => Value::unknown(),
                };
                let commitment = chip.commit(layouter, name, cells, *bits, salt)?;
                layouter.constrain_instance(commitment.cell(), config.instance, *row)
            }
        }
    }

    /// Synthesises node `i` over the cells of the earlier tensors ([`ops::synthesize`]: the
    /// one dispatch over the ops).
    fn node(
        &self,
        config: &ModelConfig,
        layouter: &mut impl Layouter<Fp>,
        tables: &[Option<FunctionTable<Fp>>],
        i: usize,
        params: Option<ops::params::NodeParams<'_>>,
        tensors: &[Vec<SignedCell<Fp>>],
    ) -> Result<Vec<SignedCell<Fp>>, Error> {
        let node = self.graph.nodes.get(i).ok_or(Error::Synthesis)?;
        let record = self
            .witness
            .map(|w| w.nodes.get(i).ok_or(Error::Synthesis))
            .transpose()?;
        let ins = node
            .inputs
            .iter()
            .map(|t| tensors.get(t.index()).map(Vec::as_slice))
            .collect::<Option<Vec<_>>>()
            .ok_or(Error::Synthesis)?;
        let cx = SynthContext {
            config,
            graph: self.graph,
            node,
            table: tables.get(i).and_then(Option::as_ref),
            params,
        };
        ops::synthesize(&cx, layouter, &ins, record)
    }
}

/// The domain of `graph`'s parameters commitment when `visibility` hashes them.
fn domain_of(graph: &QGraph, visibility: &Visibilities) -> Fp {
    if visibility.hashed_params() {
        param_domain(graph, visibility)
    } else {
        Fp::zero()
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
