//! Compiling a float graph into a [`CompiledModel`]: quantisation, layout, the model file.

use std::fs;
use std::io::BufReader;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::budget;
use super::files::write_json_atomic;
use super::format::{PartSpec, WeightsCommitment, CIRCUIT_VERSION, MODEL_FORMAT_VERSION};
use super::partition::{block_starts, partition};
use super::split::split_to_fit;
use crate::circuit::cost::{self, Budget};
use crate::circuit::layout::{self, Layout};
use crate::circuit::{CircuitSpec, InstanceLayout, Salts, DOT_WIDTHS};
use crate::error::{CompileError, Error, ProveError, WitnessError};
use crate::graph::ir::FloatGraph;
use crate::graph::qgraph::QGraph;
use crate::graph::quant::{self, Calibrated, QuantOptions, QuantReport};
use crate::graph::repeats;
use crate::graph::witness::{self, Witness};
use crate::visibility::Visibilities;

/// The least input precision [`CompileOptions::fit_tables`] lowers an activation table to.
pub const MIN_FITTED_TABLE_BITS: u32 = 9;

/// How to compile a float model. Deserialising fills missing fields from the defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompileOptions {
    /// Quantisation knobs.
    pub quant: QuantOptions,
    /// Who sees the input, output and parameters (default: private input, public output,
    /// fixed parameters).
    pub visibility: Visibilities,
    /// Force a dot-product width (one of [`crate::circuit::DOT_WIDTHS`]); by default the
    /// cost model picks the fastest ([`crate::circuit::cost`]).
    pub dot_width: Option<usize>,
    /// Lower the input precision of activation tables, from `quant.table_bits` down to
    /// [`MIN_FITTED_TABLE_BITS`], while that makes the proof cheaper (a table of `2^b` rows
    /// can alone set `k`): the most precise of the cheapest. Each table's error bound is
    /// measured and reported whatever its precision. Off: exactly `quant.table_bits`.
    pub fit_tables: bool,
    /// Cut the model into parts whose circuits each fit this budget (rows, predicted peak
    /// memory; see [`super::PartedProver`]), when the whole model does not.
    pub budget: Budget,
    /// Cut the model before each of these nodes (indices in execution order, as `inspect`
    /// lists them), whatever the budget: parts chosen by hand.
    pub cuts: Vec<usize>,
    /// An error budget: the largest max abs output error (float against dequantised
    /// integer outputs) allowed on calibration samples the scales were not fitted on. The
    /// compiler then picks the activation, weight and table widths the cost model predicts
    /// prove fastest within it (`api/budget.rs`), in place of `quant`'s widths and
    /// `fit_tables`; `quant`'s headroom and rounding stay.
    pub max_error: Option<f64>,
    /// With hashed params, in a model proven in parts: quantise repeated blocks alike (one
    /// scale per position across the blocks) and cut every block alike, so that repeated
    /// blocks become parts of one shape, which share one circuit and its keys
    /// ([`CompiledModel::shape_digest`]). Off: each block keeps its own scales (a key per part).
    pub share_keys: bool,
}

impl CompileOptions {
    /// Whether repeated blocks are quantised and cut alike ([`CompileOptions::share_keys`]):
    /// only their params can differ between two parts of one circuit, so only hashed params
    /// in a model that may be proven in parts gain from it.
    fn alike(&self) -> bool {
        self.share_keys
            && self.visibility.hashed_params()
            && (!self.budget.is_unlimited() || !self.cuts.is_empty())
    }

    /// Exactly `bits` input bits for every activation table (no fitting), when given.
    pub fn with_table_bits(mut self, bits: Option<u32>) -> Self {
        if let Some(bits) = bits {
            self.quant.table_bits = bits;
            self.fit_tables = false;
        }
        self
    }

    /// The widths of a precision preset (table and headroom choices made before are
    /// replaced; apply them after). `High` keeps its tables' precision (no fitting).
    pub fn with_precision(mut self, precision: crate::graph::quant::Precision) -> Self {
        self.quant = crate::graph::quant::QuantOptions::of(precision);
        self.fit_tables = precision == crate::graph::quant::Precision::Standard;
        self
    }

    /// `bits` of headroom above every activation's calibrated range, when given.
    pub fn with_headroom_bits(mut self, bits: Option<u32>) -> Self {
        if let Some(bits) = bits {
            self.quant.headroom_bits = bits;
        }
        self
    }
}

impl Default for CompileOptions {
    fn default() -> Self {
        Self {
            quant: QuantOptions::default(),
            visibility: Visibilities::default(),
            dot_width: None,
            fit_tables: true,
            budget: Budget::default(),
            cuts: Vec::new(),
            max_error: None,
            share_keys: true,
        }
    }
}

/// A quantised model laid out as a circuit: what a prover and a verifier both load.
/// Unknown fields in a model file are an error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompiledModel {
    /// [`MODEL_FORMAT_VERSION`] of the file.
    pub format_version: u32,
    /// [`CIRCUIT_VERSION`] the model was compiled for.
    pub circuit_version: u32,
    /// The integer graph: the model's meaning.
    pub graph: QGraph,
    /// Who sees the input, output and parameters.
    pub visibility: Visibilities,
    /// Multiply–accumulate pairs per dot-product row: the circuit's width profile.
    pub dot_width: usize,
    /// Float-vs-integer error on the calibration set.
    pub quant_report: Option<QuantReport>,
    /// For a model of several inputs, their flat lengths: the model's input is their
    /// concatenation. Empty for a model of one input.
    #[serde(default)]
    pub input_parts: Vec<usize>,
    /// For a model proven in parts, the parts (at least two); empty for a model proven
    /// whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartSpec>,
    /// With hashed parameters, their published commitment and, in the model owner's file,
    /// its salt ([`WeightsCommitment`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<WeightsCommitment>,
}

impl CompiledModel {
    /// Quantises `graph` with scales from `calibration` (flat float inputs) and lays it out.
    ///
    /// Each candidate graph (one per table precision tried, see
    /// [`CompileOptions::fit_tables`]) is validated once and laid out once (at each width
    /// the cost model weighs); the chosen one's hashed parameters are committed once.
    pub fn compile(
        graph: &FloatGraph,
        calibration: &[Vec<f32>],
        options: &CompileOptions,
    ) -> Result<Self, Error> {
        quant::check_calibration(calibration)?;
        let repeats = match options.alike() {
            true => repeats::of_float(graph),
            false => Vec::new(),
        };
        if let Some(max_error) = options.max_error {
            let quant = &options.quant;
            let best =
                budget::cheapest_within(graph, calibration, quant, &repeats, max_error, |q, r| {
                    let candidate = Self::candidate(graph, q, r, options)?;
                    let seconds = candidate.predicted_seconds()?;
                    Ok((candidate, seconds))
                })?;
            return Ok(best.0.sealed()?);
        }
        let calibrated = Calibrated::run(graph, calibration)?;
        let exact = |quant: &QuantOptions| {
            let (qgraph, report) = calibrated.quantise_alike(quant, &repeats)?;
            Self::candidate(graph, qgraph, report, options)
        };
        let mut best = exact(&options.quant)?;
        if options.fit_tables && best.0.graph.has_tables() {
            let mut best_seconds = best.predicted_seconds()?;
            for bits in (MIN_FITTED_TABLE_BITS..options.quant.table_bits).rev() {
                let quant = QuantOptions {
                    table_bits: bits,
                    ..options.quant.clone()
                };
                let candidate = exact(&quant)?;
                let seconds = candidate.predicted_seconds()?;
                if seconds < best_seconds {
                    (best, best_seconds) = (candidate, seconds);
                }
            }
        }
        Ok(best.0.sealed()?)
    }

    /// `qgraph`, quantised from `graph` with `report`, laid out (or cut) as `options` ask.
    fn candidate(
        graph: &FloatGraph,
        qgraph: QGraph,
        report: QuantReport,
        options: &CompileOptions,
    ) -> Result<Candidate, Error> {
        let mut candidate = if !options.cuts.is_empty() {
            let unsealed =
                Self::laid_out(qgraph, options.visibility, &Budget::default(), None, false)?;
            let model = unsealed.0.split_at(&options.cuts)?;
            let layout = match model.is_parted() {
                true => None,
                false => Some(model.layout()?),
            };
            // `split_at` committed hashed params part by part; `sealed` checks them.
            Candidate(model, layout)
        } else {
            Self::laid_out(
                qgraph,
                options.visibility,
                &options.budget,
                options.dot_width,
                options.alike(),
            )?
        };
        candidate.0.quant_report = Some(report);
        if !graph.input_parts.is_empty() {
            candidate.0.input_parts = graph.input_lens();
        }
        Ok(candidate)
    }

    /// Wraps an integer graph at the width the cost model picks, checking that it lays out.
    pub fn from_graph(graph: QGraph, visibility: Visibilities) -> Result<Self, CompileError> {
        Self::laid_out(graph, visibility, &Budget::default(), None, false)?
            .0
            .sealed()
    }

    /// Wraps an integer graph as [`CompiledModel::from_graph`] does when its circuit fits
    /// `budget`; otherwise cuts it into parts that each do (with hashed params, every
    /// repeated block alike: [`CompileOptions::share_keys`]).
    pub fn from_graph_within(
        graph: QGraph,
        visibility: Visibilities,
        budget: &Budget,
    ) -> Result<Self, CompileError> {
        let alike = visibility.hashed_params();
        Self::laid_out(graph, visibility, budget, None, alike)?
            .0
            .sealed()
    }

    /// The one path of [`CompiledModel::compile`], [`CompiledModel::from_graph`] and
    /// [`CompiledModel::from_graph_within`]: the graph validated once, laid out once (at
    /// `width`, else at every width, the cheapest kept, within `budget` when it is set), and
    /// cut into parts when the whole does not fit `budget` (`alike`: at the boundaries of
    /// repeated blocks too, [`block_starts`]). A model proven whole comes with its layout.
    /// Hashed parameters are not committed yet ([`CompiledModel::sealed`]).
    fn laid_out(
        graph: QGraph,
        visibility: Visibilities,
        budget: &Budget,
        width: Option<usize>,
        alike: bool,
    ) -> Result<Candidate, CompileError> {
        let visibility = with_param_bits(&graph, visibility);
        check_graph(&graph, &visibility)?;
        let at_width = |w: usize| {
            if !DOT_WIDTHS.contains(&w) {
                return Err(CompileError::DotWidth {
                    width: w,
                    supported: &DOT_WIDTHS,
                });
            }
            layout::plan(&graph, &visibility, w)
        };
        let layout = match (budget.is_unlimited(), width) {
            (true, Some(w)) => Some(at_width(w)?),
            (true, None) => Some(cost::choose(&graph, &visibility)?),
            // A forced width applies when the whole model fits the budget at some width.
            (false, w) => match cost::choose_within(&graph, &visibility, budget)? {
                Some(l) => Some(w.map_or(Ok(l), at_width)?),
                None => None,
            },
        };
        let model = |graph, dot_width, parts| Self {
            format_version: MODEL_FORMAT_VERSION,
            circuit_version: CIRCUIT_VERSION,
            graph,
            visibility,
            dot_width,
            quant_report: None,
            input_parts: Vec::new(),
            parts,
            weights: None,
        };
        if let Some(layout) = layout {
            let model = model(graph, layout.dot_width, Vec::new());
            model.check_fields()?;
            return Ok(Candidate(model, Some(layout)));
        }
        let graph = split_to_fit(graph, &visibility, budget)?;
        let starts = match alike {
            true => block_starts(&graph, &visibility, budget)?,
            false => Vec::new(),
        };
        let parts = partition(&graph, &visibility, budget, &starts)?;
        let model = model(graph, parts[0].dot_width, parts);
        model.check_fields()?;
        if visibility.hashed_params() {
            // Each part is checked once its params are committed (`sealed`).
            model.validate_parts()?;
        } else {
            model.check_parts()?;
        }
        Ok(Candidate(model, None))
    }

    /// The model with its hashed parameters committed (nothing happens otherwise, or when
    /// they are committed already) and the commitment's record checked: the last step of
    /// a compile.
    fn sealed(mut self) -> Result<Self, CompileError> {
        let fresh = self.weights.is_none();
        if fresh {
            self.hash_params()?;
        }
        // Just committed: the commitment is not computed again to check it. A model in parts
        // committed here (cut by a budget) has its parts checked now, once their entries
        // exist; one cut by `split_at` was checked there.
        self.check_weights()?;
        if fresh && self.is_parted() && self.visibility.hashed_params() {
            self.check_parts()?;
        }
        Ok(self)
    }

    /// The circuit's shape.
    pub fn layout(&self) -> Result<Layout, CompileError> {
        if self.is_parted() {
            return Err(CompileError::ProvenInParts {
                parts: self.parts.len(),
            });
        }
        layout::plan(&self.graph, &self.visibility, self.dot_width)
    }

    /// The model's circuit as values: what keys, proofs and mock runs are made of.
    pub(super) fn circuit(&self) -> CircuitSpec<'_> {
        CircuitSpec {
            graph: &self.graph,
            visibility: &self.visibility,
            dot_width: self.dot_width,
        }
    }

    /// Proving time the cost model predicts for this layout, in seconds on the calibration
    /// machine ([`crate::circuit::cost`]).
    pub fn predicted_seconds(&self) -> Result<f64, CompileError> {
        if self.is_parted() {
            // From each part's slice and width alone: a candidate's hashed params are not
            // committed yet, and the layout does not depend on their values.
            self.validate_parts()?;
            return (0..self.parts.len())
                .map(|i| {
                    let (graph, vis) = self.part_graph(i)?;
                    let layout = layout::plan(&graph, &vis, self.parts[i].dot_width)?;
                    Ok(cost::Shape::of(&layout).predicted_seconds())
                })
                .sum();
        }
        Ok(cost::Shape::of(&self.layout()?).predicted_seconds())
    }

    /// The integer forward pass on `input`, recording everything the circuit needs.
    pub fn witness(&self, input: &[i64]) -> Result<Witness, WitnessError> {
        witness::generate(&self.graph, input)
    }

    /// Runs the circuit on `witness` under halo2's `MockProver`, claiming `outputs` as the
    /// public outputs: `Ok(vec![])` when every constraint holds, else the failures. For
    /// tests and debugging; real proofs come from [`super::Prover`]. Hashed tensors are
    /// committed under zero salts ([`CompiledModel::mock_salted`] chooses them).
    pub fn mock(
        &self,
        witness: &Witness,
        outputs: &[i64],
    ) -> Result<Vec<halo2_proofs::dev::VerifyFailure>, Error> {
        self.mock_salted(witness, outputs, &Salts::default())
    }

    /// [`CompiledModel::mock`] with the salts of the commitments: the public commitments
    /// are those of the claimed `outputs` and the witness's input under `salts`.
    pub fn mock_salted(
        &self,
        witness: &Witness,
        outputs: &[i64],
        salts: &Salts,
    ) -> Result<Vec<halo2_proofs::dev::VerifyFailure>, Error> {
        let k = self.layout()?.k;
        let layout = InstanceLayout::of(&self.graph, &self.visibility);
        // The parameters are committed under the owner's salt, to the published commitment.
        let salts = &Salts {
            params: self.weights_salt().unwrap_or(salts.params),
            ..*salts
        };
        let mut commitments = layout
            .commit(outputs, &witness.input, salts)
            .map_err(|index| ProveError::Commitment {
                reason: format!("claimed value {index} is outside its tensor's range"),
            })?;
        commitments.params = self.weights_commitment();
        let public = layout.values(outputs, &witness.input, &commitments);
        self.circuit().mock(k, witness, *salts, public)
    }

    /// Structural checks, so that a damaged or hand-edited file fails here with a reason
    /// rather than inside halo2.
    pub fn validate(&self) -> Result<(), CompileError> {
        self.check_fields()?;
        self.graph.validate()?;
        self.validate_weights()?;
        if self.is_parted() {
            return self.check_parts();
        }
        self.layout().map(drop)
    }

    /// The checks of [`CompiledModel::validate`] that read neither the integer graph's
    /// structure, nor the weights, nor the layout: the visibilities, the input parts, some
    /// node, a width some circuit has.
    fn check_fields(&self) -> Result<(), CompileError> {
        self.visibility.validate()?;
        if !self.input_parts.is_empty()
            && self
                .input_parts
                .iter()
                .try_fold(0usize, |n, l| n.checked_add(*l))
                != Some(self.graph.input.len)
        {
            return Err(CompileError::InputParts {
                parts: self.input_parts.clone(),
                input_len: self.graph.input.len,
            });
        }
        if self.graph.nodes.is_empty() {
            return Err(CompileError::NoNodes);
        }
        if !DOT_WIDTHS.contains(&self.dot_width) {
            return Err(CompileError::DotWidth {
                width: self.dot_width,
                supported: &DOT_WIDTHS,
            });
        }
        Ok(())
    }

    /// The part list, and each part as a model of its own (one at a time: each is dropped
    /// once checked).
    fn check_parts(&self) -> Result<(), CompileError> {
        self.validate_parts()?;
        (0..self.parts.len()).try_for_each(|i| self.part_model(i).map(drop))
    }

    /// Writes the model as JSON, atomically: a temporary file renamed into place, so a
    /// failure never leaves a partial file.
    pub fn save(&self, path: &Path) -> Result<(), CompileError> {
        write_json_atomic(path, self).map_err(|source| CompileError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Reads a model, checking its format version and structure.
    pub fn load(path: &Path) -> Result<Self, CompileError> {
        let shown = path.display().to_string();
        let file = fs::File::open(path).map_err(|source| CompileError::Io {
            path: shown.clone(),
            source,
        })?;
        let value =
            serde_json::from_reader(BufReader::new(file)).map_err(|e| CompileError::Format {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
        Self::from_value(value, &shown)
    }

    /// Reads a model from JSON text (a model sent over the network, say), checking it as
    /// [`CompiledModel::load`] does; `source` names it in errors.
    pub fn from_json(text: &[u8], source: &str) -> Result<Self, CompileError> {
        let value = serde_json::from_slice(text).map_err(|e| CompileError::Format {
            path: source.into(),
            reason: e.to_string(),
        })?;
        Self::from_value(value, source)
    }

    fn from_value(mut value: serde_json::Value, source: &str) -> Result<Self, CompileError> {
        migrate_format_3(&mut value);
        migrate_format_6(&mut value);
        let found = value
            .get("format_version")
            .and_then(serde_json::Value::as_u64);
        if found != Some(u64::from(MODEL_FORMAT_VERSION)) {
            return Err(CompileError::Version {
                path: source.into(),
                found: found.and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
                expected: MODEL_FORMAT_VERSION,
            });
        }
        let model: Self = serde_json::from_value(value).map_err(|e| CompileError::Format {
            path: source.into(),
            reason: e.to_string(),
        })?;
        model.validate()?;
        Ok(model)
    }

    /// Samples as this model takes them: the separate inputs of a model of several inputs
    /// joined (see [`crate::input::join_parts`]).
    pub fn join_inputs(&self, samples: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
        crate::input::join_parts(samples, &self.input_parts)
    }

    /// Float input → integer input of this model (see [`quant::quantise_input`]).
    /// For a model whose input holds integers (token ids), a fractional value is an error.
    pub fn quantise_input(&self, input: &[f32], clamp: bool) -> Result<Vec<i64>, Error> {
        if self.graph.integer_input {
            quant::check_integers(&self.graph.input.name, input)?;
        }
        Ok(quant::quantise_input(&self.graph.input, input, clamp)?)
    }
}

/// `visibility` with hashed parameters' packing widths set from `graph`'s values when they
/// are not set yet.
fn with_param_bits(graph: &QGraph, mut visibility: Visibilities) -> Visibilities {
    if visibility.hashed_params() && visibility.param_bits == [0, 0] {
        visibility.param_bits = graph.params().bits();
    }
    visibility
}

/// The visibilities are supported and the graph is well formed (validation comes before
/// any layout: the layout assumes a well-formed graph).
fn check_graph(graph: &QGraph, visibility: &Visibilities) -> Result<(), CompileError> {
    visibility.validate()?;
    graph.validate()
}

/// A compiled model before its hashed parameters are committed, with its layout when it is
/// proven whole (so that choosing among candidates lays none out again).
struct Candidate(CompiledModel, Option<Layout>);

impl Candidate {
    /// Predicted proving time ([`CompiledModel::predicted_seconds`]).
    fn predicted_seconds(&self) -> Result<f64, CompileError> {
        match &self.1 {
            Some(layout) => Ok(cost::Shape::of(layout).predicted_seconds()),
            None => self.0.predicted_seconds(),
        }
    }
}

/// Reads a format-3 model file as format 4: its `public_input` flag becomes the input's
/// [`Visibilities`] (nothing else changed). Other versions are left to the version check.
fn migrate_format_3(value: &mut serde_json::Value) {
    let Some(model) = value.as_object_mut() else {
        return;
    };
    if model
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        != Some(3)
    {
        return;
    }
    let Some(public) = model.remove("public_input").and_then(|p| p.as_bool()) else {
        return;
    };
    let input = if public {
        crate::Visibility::Public
    } else {
        crate::Visibility::Private
    };
    if let Ok(v) = serde_json::to_value(Visibilities::with_input(input)) {
        model.insert("visibility".into(), v);
        model.insert("format_version".into(), MODEL_FORMAT_VERSION.into());
    }
}

/// Reads a format-6 or format-7 model file as format 8: version 7 added models proven in
/// parts and version 8 hashed parameters, and a model without them is written as before.
fn migrate_format_6(value: &mut serde_json::Value) {
    if let Some(model) = value.as_object_mut() {
        if matches!(
            model
                .get("format_version")
                .and_then(serde_json::Value::as_u64),
            Some(6 | 7)
        ) {
            model.insert("format_version".into(), MODEL_FORMAT_VERSION.into());
        }
    }
}
