//! Compile → set up → prove → verify.
//!
//! ```text
//! CompiledModel::compile(float graph, calibration)   // or CompiledModel::load(path)
//!   └─ Prover::setup(&model, &ParamsCache)   // IPA params (cached per k) + proving key
//!        └─ prover.prove(&input)              // → ProofBundle (serde, versioned)
//! Verifier::setup(&model, &ParamsCache)        // rebuilds the verifying key from the model
//!   └─ verifier.verify(&bundle)              // → outputs, or a typed VerifyError
//! ```
//!
//! halo2 0.4 cannot serialise a verifying key, so the compiled model file is what a verifier
//! needs; the blake2b digest of the key's pinned description ([`Verifier::model_digest`])
//! identifies the model (its weights are fixed-column commitments inside the key).

use std::fs;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::OnceLock;

use blake2::{Blake2b, Digest};
use halo2_proofs::{
    plonk::{
        create_proof, keygen_pk, keygen_vk, verify_proof, BatchVerifier, ProvingKey,
        SingleVerifier, VerifyingKey,
    },
    poly::commitment::Params,
    transcript::{Blake2bRead, Blake2bWrite, Challenge255},
};
use pasta_curves::{EqAffine, Fp};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use serde::{Deserialize, Serialize};

use crate::circuit::{instances, with_dot_width, ModelCircuit};
use crate::cost;
use crate::error::{CompileError, Error, ProveError, VerifyError, WitnessError};
use crate::ir::FloatGraph;
use crate::layout::{self, Layout};
use crate::qgraph::QGraph;
use crate::quant::{self, QuantOptions, QuantReport};
use crate::witness::{self, Witness};

mod files;
mod params;
mod report;
pub use report::{AccuracyReport, Inspection, NodeInfo, NodeRowsInfo, TableInfo};
use files::write_json_atomic;
pub use params::{
    digest as params_digest, pinned_digest, ParamsCache, ParamsStatus, MAX_K as MAX_PARAMS_K,
};

/// Version of the compiled-model file format.
pub const MODEL_FORMAT_VERSION: u32 = 3;
/// Version of the proof-bundle format.
pub const BUNDLE_FORMAT_VERSION: u32 = 1;
/// Version of the circuit: changes whenever a change alters verifying keys.
pub const CIRCUIT_VERSION: u32 = 3;

/// The least input precision [`CompileOptions::fit_tables`] lowers an activation table to.
pub const MIN_FITTED_TABLE_BITS: u32 = 9;

/// How to compile a float model. Deserialising fills missing fields from the defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompileOptions {
    /// Quantisation knobs.
    pub quant: QuantOptions,
    /// Make the input a public value (default: private).
    pub public_input: bool,
    /// Force a dot-product width (one of [`crate::circuit::DOT_WIDTHS`]); by default the
    /// cost model picks the fastest ([`crate::cost`]).
    pub dot_width: Option<usize>,
    /// Lower the input precision of activation tables, from `quant.table_bits` down to
    /// [`MIN_FITTED_TABLE_BITS`], while that makes the proof cheaper (a table of `2^b` rows
    /// can alone set `k`): the most precise of the cheapest. Each table's error bound is
    /// measured and reported whatever its precision. Off: exactly `quant.table_bits`.
    pub fit_tables: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        Self {
            quant: QuantOptions::default(),
            public_input: false,
            dot_width: None,
            fit_tables: true,
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
    /// Whether the input is a public value.
    pub public_input: bool,
    /// Multiply–accumulate pairs per dot-product row: the circuit's width profile.
    pub dot_width: usize,
    /// Float-vs-integer error on the calibration set.
    pub quant_report: Option<QuantReport>,
    /// For a model of several inputs, their flat lengths: the model's input is their
    /// concatenation. Empty for a model of one input.
    #[serde(default)]
    pub input_parts: Vec<usize>,
}

impl CompiledModel {
    /// Quantises `graph` with scales from `calibration` (flat float inputs) and lays it out.
    pub fn compile(
        graph: &FloatGraph,
        calibration: &[Vec<f32>],
        options: &CompileOptions,
    ) -> Result<Self, Error> {
        let mut best = Self::compile_exact(graph, calibration, &options.quant, options)?;
        if options.fit_tables && best.graph.has_tables() {
            for bits in (MIN_FITTED_TABLE_BITS..options.quant.table_bits).rev() {
                let quant = QuantOptions {
                    table_bits: bits,
                    ..options.quant.clone()
                };
                let candidate = Self::compile_exact(graph, calibration, &quant, options)?;
                if candidate.predicted_seconds()? < best.predicted_seconds()? {
                    best = candidate;
                }
            }
        }
        Ok(best)
    }

    /// [`CompiledModel::compile`] at exactly `quant`'s table precision.
    fn compile_exact(
        graph: &FloatGraph,
        calibration: &[Vec<f32>],
        quant: &QuantOptions,
        options: &CompileOptions,
    ) -> Result<Self, Error> {
        let (qgraph, report) = quant::quantise(graph, calibration, quant)?;
        let mut model = Self::from_graph(qgraph, options.public_input)?;
        if let Some(w) = options.dot_width {
            model.dot_width = w;
            model.validate()?;
        }
        model.quant_report = Some(report);
        if !graph.input_parts.is_empty() {
            model.input_parts = graph.input_lens();
        }
        Ok(model)
    }

    /// Wraps an integer graph at the width the cost model picks, checking that it lays out.
    pub fn from_graph(graph: QGraph, public_input: bool) -> Result<Self, CompileError> {
        let dot_width = cost::choose(&graph, public_input)?.dot_width;
        let model = Self {
            format_version: MODEL_FORMAT_VERSION,
            circuit_version: CIRCUIT_VERSION,
            graph,
            public_input,
            dot_width,
            quant_report: None,
            input_parts: Vec::new(),
        };
        model.validate()?;
        Ok(model)
    }

    /// The circuit's shape.
    pub fn layout(&self) -> Result<Layout, CompileError> {
        layout::plan(&self.graph, self.public_input, self.dot_width)
    }

    /// Proving time the cost model predicts for this layout, in seconds on the calibration
    /// machine ([`crate::cost`]).
    pub fn predicted_seconds(&self) -> Result<f64, CompileError> {
        Ok(cost::Shape::of(&self.layout()?).predicted_seconds())
    }

    /// The integer forward pass on `input`, recording everything the circuit needs.
    pub fn witness(&self, input: &[i64]) -> Result<Witness, WitnessError> {
        witness::generate(&self.graph, input)
    }

    /// Runs the circuit on `witness` under halo2's `MockProver`, claiming `outputs` as the
    /// public outputs: `Ok(vec![])` when every constraint holds, else the failures. For
    /// tests and debugging; real proofs come from [`Prover`].
    pub fn mock(
        &self,
        witness: &Witness,
        outputs: &[i64],
    ) -> Result<Vec<halo2_proofs::dev::VerifyFailure>, Error> {
        let k = self.layout()?.k;
        let public = instances(&self.graph, self.public_input, outputs, &witness.input);
        let graph = &self.graph;
        let run = |source| ProveError::Halo2 {
            stage: "mock proving",
            source,
        };
        with_dot_width!(self.dot_width, W => {
            let circuit = ModelCircuit::<W>::for_proving(graph, self.public_input, witness);
            let prover = halo2_proofs::dev::MockProver::run(k, &circuit, vec![public]).map_err(run)?;
            Ok(prover.verify().err().unwrap_or_default())
        }, else Err(self.bad_width().into()))
    }

    fn bad_width(&self) -> CompileError {
        CompileError::Invalid {
            node: "model".into(),
            reason: format!(
                "dot width {} is not one of {:?}",
                self.dot_width,
                crate::circuit::DOT_WIDTHS
            ),
        }
    }

    /// Structural checks, so that a damaged or hand-edited file fails here with a reason
    /// rather than inside halo2.
    pub fn validate(&self) -> Result<(), CompileError> {
        let invalid = |node: &str, reason: String| CompileError::Invalid {
            node: node.to_string(),
            reason,
        };
        if !self.input_parts.is_empty()
            && self
                .input_parts
                .iter()
                .try_fold(0usize, |n, l| n.checked_add(*l))
                != Some(self.graph.input.len)
        {
            return Err(invalid(
                "model",
                format!(
                    "input parts {:?} do not add up to the input's {} values",
                    self.input_parts, self.graph.input.len
                ),
            ));
        }
        if self.graph.nodes.is_empty() {
            return Err(invalid("model", "no nodes".into()));
        }
        if !crate::circuit::DOT_WIDTHS.contains(&self.dot_width) {
            return Err(self.bad_width());
        }
        self.graph
            .validate()
            .map_err(|(node, reason)| invalid(&node, reason))?;
        self.layout().map(drop)
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
        let value: serde_json::Value =
            serde_json::from_reader(BufReader::new(file)).map_err(|e| CompileError::Format {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
        let found = value
            .get("format_version")
            .and_then(serde_json::Value::as_u64);
        if found != Some(u64::from(MODEL_FORMAT_VERSION)) {
            return Err(CompileError::Version {
                path: shown,
                found: found.and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
                expected: MODEL_FORMAT_VERSION,
            });
        }
        let model: Self = serde_json::from_value(value).map_err(|e| CompileError::Format {
            path: shown.clone(),
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
    pub fn quantise_input(&self, input: &[f32], clamp: bool) -> Result<Vec<i64>, Error> {
        Ok(quant::quantise_input(&self.graph.input, input, clamp)?)
    }
}

/// The verifying key's identity: blake2b-256 of its pinned description, hex.
fn vk_digest(vk: &VerifyingKey<EqAffine>) -> String {
    let mut hasher = Blake2b::<blake2::digest::consts::U32>::new();
    hasher.update(format!("{:?}", vk.pinned()).as_bytes());
    hex::encode(hasher.finalize())
}

fn keygen_err(source: halo2_proofs::plonk::Error) -> ProveError {
    ProveError::Halo2 {
        stage: "key generation",
        source,
    }
}

fn build_vk(
    model: &CompiledModel,
    params: &Params<EqAffine>,
) -> Result<VerifyingKey<EqAffine>, Error> {
    let (graph, public) = (&model.graph, model.public_input);
    with_dot_width!(model.dot_width, W => {
        Ok(keygen_vk(params, &ModelCircuit::<W>::for_keygen(graph, public)).map_err(keygen_err)?)
    }, else Err(model.bad_width().into()))
}

/// A proof of one inference, with its public values. Unknown fields are an error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofBundle {
    /// [`BUNDLE_FORMAT_VERSION`].
    pub format_version: u32,
    /// [`CIRCUIT_VERSION`] of the prover.
    pub circuit_version: u32,
    /// Digest of the model's verifying key.
    pub model_digest: String,
    /// The proven outputs, as integers of the output tensor.
    pub outputs: Vec<i64>,
    /// The same outputs as real numbers (`outputs / 2^scale`), for convenience; checked
    /// against `outputs` on verification.
    pub outputs_float: Vec<f64>,
    /// The integer input, when the model's input is public.
    pub public_input: Option<Vec<i64>>,
    /// The halo2 proof, hex.
    pub proof: String,
}

impl ProofBundle {
    /// Writes the bundle as JSON, atomically.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        write_json_atomic(path, self).map_err(|e| Error::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// Reads a bundle.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let file_err = |reason: String| Error::File {
            path: path.display().to_string(),
            reason,
        };
        let text = fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| file_err(format!("not a proof bundle: {e}")))
    }
}

/// Keys and parameters for proving one model.
#[derive(Debug)]
pub struct Prover<'m> {
    model: &'m CompiledModel,
    params: Params<EqAffine>,
    pk: ProvingKey<EqAffine>,
    digest: String,
}

impl<'m> Prover<'m> {
    /// Loads (or generates and caches) parameters and builds the proving key.
    pub fn setup(model: &'m CompiledModel, cache: &ParamsCache) -> Result<Self, Error> {
        Self::from_params(model, cache.get(model.layout()?.k)?)
    }

    /// Builds the proving key with parameters already in hand (of the model's `k`).
    pub fn from_params(model: &'m CompiledModel, params: Params<EqAffine>) -> Result<Self, Error> {
        let vk = build_vk(model, &params)?;
        let digest = vk_digest(&vk);
        let (graph, public) = (&model.graph, model.public_input);
        let pk = with_dot_width!(model.dot_width, W => {
            keygen_pk(&params, vk, &ModelCircuit::<W>::for_keygen(graph, public))
                .map_err(keygen_err)?
        }, else return Err(model.bad_width().into()));
        Ok(Self {
            model,
            params,
            pk,
            digest,
        })
    }

    /// The model's identity.
    pub fn model_digest(&self) -> &str {
        &self.digest
    }

    /// Proves the model on a float input (quantised to the model's input scale; out-of-range
    /// values are an error unless `clamp`).
    pub fn prove(&self, input: &[f32], clamp: bool) -> Result<ProofBundle, Error> {
        let x = self.model.quantise_input(input, clamp)?;
        self.prove_integer(&x)
    }

    /// Proves the model on an integer input.
    pub fn prove_integer(&self, input: &[i64]) -> Result<ProofBundle, Error> {
        let graph = &self.model.graph;
        let witness = self.model.witness(input)?;
        let outputs = witness.output().to_vec();
        let public = instances(graph, self.model.public_input, &outputs, input);
        let mut transcript = Blake2bWrite::<_, EqAffine, Challenge255<_>>::init(vec![]);
        let public_input = self.model.public_input;
        with_dot_width!(self.model.dot_width, W => {
            let circuit = ModelCircuit::<W>::for_proving(graph, public_input, &witness);
            create_proof(
                &self.params,
                &self.pk,
                &[circuit],
                &[&[&public]],
                UnwrapErr(SysRng),
                &mut transcript,
            )
        }, else return Err(self.model.bad_width().into()))
        .map_err(|source| ProveError::Halo2 {
            stage: "proving",
            source,
        })?;
        Ok(ProofBundle {
            format_version: BUNDLE_FORMAT_VERSION,
            circuit_version: CIRCUIT_VERSION,
            model_digest: self.digest.clone(),
            outputs_float: graph.outputs_to_float(&outputs),
            outputs,
            public_input: self.model.public_input.then(|| input.to_vec()),
            proof: hex::encode(transcript.finalize()),
        })
    }
}

/// What a verifier holds: parameters and the verifying key rebuilt from the model.
#[derive(Debug)]
pub struct Verifier<'m> {
    model: &'m CompiledModel,
    params: Params<EqAffine>,
    vk: VerifyingKey<EqAffine>,
    digest: String,
    /// Every proof of this key has exactly this many bytes ([`proof_len`]), found on first use.
    proof_len: OnceLock<usize>,
}

impl<'m> Verifier<'m> {
    /// Loads parameters and rebuilds the verifying key.
    pub fn setup(model: &'m CompiledModel, cache: &ParamsCache) -> Result<Self, Error> {
        Self::from_params(model, cache.get(model.layout()?.k)?)
    }

    /// Rebuilds the verifying key with parameters already in hand (of the model's `k`).
    pub fn from_params(model: &'m CompiledModel, params: Params<EqAffine>) -> Result<Self, Error> {
        let vk = build_vk(model, &params)?;
        let digest = vk_digest(&vk);
        Ok(Self {
            model,
            params,
            vk,
            digest,
            proof_len: OnceLock::new(),
        })
    }

    /// The model's identity: the digest a bundle must name.
    pub fn model_digest(&self) -> &str {
        &self.digest
    }

    /// Checks a bundle and returns its outputs as real numbers.
    ///
    /// Versions, the model digest, lengths and ranges are checked before any cryptography.
    pub fn verify(&self, bundle: &ProofBundle) -> Result<Vec<f64>, VerifyError> {
        let (public, proof) = self.precheck(bundle)?;
        let mut transcript = Blake2bRead::<_, EqAffine, Challenge255<_>>::init(proof.as_slice());
        verify_proof(
            &self.params,
            &self.vk,
            SingleVerifier::new(&self.params),
            &[&[&public]],
            &mut transcript,
        )
        .map_err(|e| VerifyError::InvalidProof(explain(&e)))?;
        Ok(self.model.graph.outputs_to_float(&bundle.outputs))
    }

    /// Checks many bundles with one multi-scalar multiplication; `Ok` only if every one is
    /// valid. On failure, verify them one by one to find the culprit.
    pub fn verify_batch(&self, bundles: &[ProofBundle]) -> Result<(), VerifyError> {
        let mut batch = BatchVerifier::new();
        for bundle in bundles {
            let (public, proof) = self.precheck(bundle)?;
            batch.add_proof(vec![vec![public]], proof);
        }
        if batch.finalize(&self.params, &self.vk) {
            Ok(())
        } else {
            Err(VerifyError::InvalidProof(
                "at least one proof of the batch does not verify (verify them one by one to find which)".into(),
            ))
        }
    }

    fn precheck(&self, bundle: &ProofBundle) -> Result<(Vec<Fp>, Vec<u8>), VerifyError> {
        if bundle.format_version != BUNDLE_FORMAT_VERSION {
            return Err(VerifyError::FormatVersion {
                found: bundle.format_version,
                expected: BUNDLE_FORMAT_VERSION,
            });
        }
        if bundle.circuit_version != CIRCUIT_VERSION {
            return Err(VerifyError::CircuitVersion {
                found: bundle.circuit_version,
                expected: CIRCUIT_VERSION,
            });
        }
        if bundle.model_digest != self.digest {
            return Err(VerifyError::ModelMismatch {
                found: bundle.model_digest.clone(),
                expected: self.digest.clone(),
            });
        }
        let graph = &self.model.graph;
        check_public("outputs", &bundle.outputs, graph.output())?;
        if bundle.outputs_float.len() != bundle.outputs.len() {
            return Err(VerifyError::Shape {
                field: "outputs_float",
                expected: bundle.outputs.len(),
                got: bundle.outputs_float.len(),
            });
        }
        for (index, (q, f)) in bundle.outputs.iter().zip(&bundle.outputs_float).enumerate() {
            let expected = graph.output().to_float(*q);
            if expected != *f {
                return Err(VerifyError::FloatMismatch {
                    index,
                    expected,
                    got: *f,
                });
            }
        }
        let input = match (&bundle.public_input, self.model.public_input) {
            (Some(x), true) => {
                check_public("public_input", x, &graph.input)?;
                x.as_slice()
            }
            (None, false) => &[],
            (given, _) => {
                let got = given.as_ref().map_or(0, Vec::len);
                let expected = if self.model.public_input {
                    graph.input.len
                } else {
                    0
                };
                return Err(VerifyError::Shape {
                    field: "public_input",
                    expected,
                    got,
                });
            }
        };
        // One spelling per proof: lowercase hex, as the prover writes it.
        if bundle.proof.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(VerifyError::InvalidProof(
                "the proof is not lowercase hex".into(),
            ));
        }
        let proof = hex::decode(&bundle.proof)
            .map_err(|e| VerifyError::InvalidProof(format!("the proof is not hex: {e}")))?;
        let expected = *self.proof_len.get_or_init(|| {
            let zeros = vec![0; graph.input.len.max(graph.output().len)];
            let public = instances(
                graph,
                self.model.public_input,
                &zeros[..graph.output().len],
                &zeros[..graph.input.len],
            );
            proof_len(&self.params, &self.vk, &public)
        });
        if proof.len() != expected {
            return Err(VerifyError::ProofLength {
                expected,
                got: proof.len(),
            });
        }
        Ok((
            instances(graph, self.model.public_input, &bundle.outputs, input),
            proof,
        ))
    }
}

fn check_public(
    field: &'static str,
    values: &[i64],
    tensor: &crate::qgraph::QTensor,
) -> Result<(), VerifyError> {
    if values.len() != tensor.len {
        return Err(VerifyError::Shape {
            field,
            expected: tensor.len,
            got: values.len(),
        });
    }
    match values
        .iter()
        .position(|v| !(tensor.min()..=tensor.max()).contains(v))
    {
        Some(index) => Err(VerifyError::OutOfRange {
            field,
            index,
            value: values[index],
            min: tensor.min(),
            max: tensor.max(),
        }),
        None => Ok(()),
    }
}

/// What a halo2 verification error means, for a person.
fn explain(e: &halo2_proofs::plonk::Error) -> String {
    use halo2_proofs::plonk::Error as E;
    match e {
        E::ConstraintSystemFailure | E::Opening => "the proof does not check against this model and these public values \
             (the outputs, the public input or the proof bytes were changed, or it proves another model)"
            .into(),
        E::Transcript(io) => format!("the proof bytes are malformed ({io})"),
        other => other.to_string(),
    }
}

/// The length in bytes of every proof for `vk`: a dry run of the verifier over an endless
/// reader counts what it reads (the transcript's shape depends on the key only). The reader
/// repeats the encoding of a point that is also a canonical scalar, so every point and
/// scalar it serves decodes and nothing fails before the final check.
fn proof_len(params: &Params<EqAffine>, vk: &VerifyingKey<EqAffine>, public: &[Fp]) -> usize {
    struct Filler {
        pattern: [u8; 32],
        read: usize,
    }
    impl Read for Filler {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            for b in buf.iter_mut() {
                *b = self.pattern[self.read % 32];
                self.read += 1;
            }
            Ok(buf.len())
        }
    }
    let mut filler = Filler {
        pattern: point_and_scalar(),
        read: 0,
    };
    let mut transcript = Blake2bRead::<_, EqAffine, Challenge255<_>>::init(&mut filler);
    // The dry run fails its final check; only the count matters.
    let _ = verify_proof(
        params,
        vk,
        SingleVerifier::new(params),
        &[&[public]],
        &mut transcript,
    );
    filler.read
}

/// 32 bytes that decode both as a non-identity curve point and as a canonical scalar.
fn point_and_scalar() -> [u8; 32] {
    use ff::PrimeField;
    use pasta_curves::group::{Curve, Group, GroupEncoding};
    let g = pasta_curves::Eq::generator();
    let mut p = g;
    loop {
        let bytes = p.to_affine().to_bytes();
        if bool::from(Fp::from_repr(bytes).is_some()) {
            return bytes;
        }
        p += g;
    }
}
