//! `zkinfer._zkinfer`: the native half of the Python package. The Python half
//! (`python/zkinfer/__init__.py`) converts numpy arrays and paths and documents the API; this
//! module holds the models, keys and proofs, and releases the GIL for every slow step (import,
//! compilation, key generation, proving, verification).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

mod parted;
mod proof;

use parted::{link_seed, PyPartedProof};
use proof::PyProof;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use zkinfer::api::{Budget, Openings, Precision};
use zkinfer::error::{QuantError, WitnessError};
use zkinfer::input::{read_samples, EvalSet};
use zkinfer::{
    CompileOptions, CompiledModel, Error, LinkSeed, ParamsCache, PartedProver, PartedVerifier,
    ProofBundle, Prover, Verifier, Visibilities, Visibility,
};

create_exception!(_zkinfer, ZkinferError, PyException, "Any zkinfer error.");
create_exception!(
    _zkinfer,
    InputError,
    ZkinferError,
    "An input the model cannot take: wrong length, not finite, or outside its calibrated range."
);
create_exception!(
    _zkinfer,
    ModelError,
    ZkinferError,
    "A model that cannot be imported, compiled or loaded (names the node, tensor or field)."
);
create_exception!(
    _zkinfer,
    ProveError,
    ZkinferError,
    "Key generation or proving failed."
);
create_exception!(
    _zkinfer,
    VerifyError,
    ZkinferError,
    "A proof that does not verify against this model, or a malformed proof."
);
create_exception!(
    _zkinfer,
    FileError,
    ZkinferError,
    "A file that cannot be read or written."
);

/// The exception for a zkinfer error, carrying its message.
fn raise(e: Error) -> PyErr {
    let message = e.to_string();
    match e {
        Error::Quant(QuantError::NotFinite { .. })
        | Error::Quant(QuantError::OutOfRange { .. })
        | Error::Quant(QuantError::InputLength { .. })
        | Error::Witness(WitnessError::OutOfRange { .. })
        | Error::Witness(WitnessError::InputLength { .. })
        | Error::Samples { .. } => InputError::new_err(message),
        Error::Ir(_) | Error::Quant(_) | Error::Witness(_) | Error::Compile(_) => {
            ModelError::new_err(message)
        }
        Error::Prove(_) => ProveError::new_err(message),
        Error::Verify(_) => VerifyError::new_err(message),
        Error::File { .. } => FileError::new_err(message),
    }
}

fn raise_any(e: impl Into<Error>) -> PyErr {
    raise(e.into())
}

/// A compiled model, with its proving and verifying keys built on first use and kept.
#[pyclass(module = "zkinfer._zkinfer", name = "Model", frozen)]
struct PyModel {
    model: Arc<CompiledModel>,
    cache: ParamsCache,
    prover: OnceLock<Arc<Prover>>,
    verifier: OnceLock<Arc<Verifier>>,
    parted_verifier: OnceLock<Arc<PartedVerifier>>,
    parted_prover: OnceLock<Arc<PartedProver>>,
}

impl PyModel {
    fn new(model: CompiledModel, params_dir: Option<PathBuf>) -> Self {
        Self {
            model: Arc::new(model),
            cache: params_dir.map_or_else(ParamsCache::from_env, ParamsCache::new),
            prover: OnceLock::new(),
            verifier: OnceLock::new(),
            parted_verifier: OnceLock::new(),
            parted_prover: OnceLock::new(),
        }
    }

    fn parted_verifier(&self) -> Result<Arc<PartedVerifier>, Error> {
        if let Some(v) = self.parted_verifier.get() {
            return Ok(v.clone());
        }
        let built = Arc::new(PartedVerifier::setup(&self.model, &self.cache)?);
        Ok(self.parted_verifier.get_or_init(|| built).clone())
    }

    /// A parted model's prover, kept: it holds the keys of the part last proven alone
    /// (`prove_part`, one part's keys), and a whole proof builds one part's at a time.
    fn parted_prover(&self) -> Result<Arc<PartedProver>, Error> {
        if let Some(p) = self.parted_prover.get() {
            return Ok(p.clone());
        }
        let built = Arc::new(PartedProver::new(&self.model, self.cache.clone())?);
        Ok(self.parted_prover.get_or_init(|| built).clone())
    }

    fn prover(&self) -> Result<Arc<Prover>, Error> {
        if let Some(p) = self.prover.get() {
            return Ok(p.clone());
        }
        let built = Arc::new(Prover::setup(self.model.clone(), &self.cache)?);
        Ok(self.prover.get_or_init(|| built).clone())
    }

    fn verifier(&self) -> Result<Arc<Verifier>, Error> {
        if let Some(v) = self.verifier.get() {
            return Ok(v.clone());
        }
        let built = Arc::new(Verifier::setup(self.model.clone(), &self.cache)?);
        Ok(self.verifier.get_or_init(|| built).clone())
    }
}

#[pymethods]
impl PyModel {
    /// Loads a compiled model (`.zkm`).
    #[staticmethod]
    #[pyo3(signature = (path, params_dir = None))]
    fn load(py: Python<'_>, path: PathBuf, params_dir: Option<PathBuf>) -> PyResult<Self> {
        let model = py
            .allow_threads(|| CompiledModel::load(&path))
            .map_err(raise_any)?;
        Ok(Self::new(model, params_dir))
    }

    /// Reads a compiled model from JSON text (as `to_json` writes it), checking it as `load`
    /// does: how a model travels to other processes and machines.
    #[staticmethod]
    #[pyo3(signature = (text, params_dir = None))]
    fn from_json(py: Python<'_>, text: &str, params_dir: Option<PathBuf>) -> PyResult<Self> {
        let model = py
            .allow_threads(|| CompiledModel::from_json(text.as_bytes(), "a model in JSON"))
            .map_err(raise_any)?;
        Ok(Self::new(model, params_dir))
    }

    /// The compiled model as JSON text (the `.zkm` file's content).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&*self.model).map_err(|e| ZkinferError::new_err(e.to_string()))
    }

    /// Writes the compiled model, atomically.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.model.save(&path).map_err(raise_any)
    }

    /// The circuit's shape, cost and rows per node, as JSON text; for a model proven in
    /// parts, each part's (`{"parts": [...], ...}`).
    fn inspect_json(&self) -> PyResult<String> {
        let text = if self.model.is_parted() {
            let report = self.model.inspect_parts().map_err(raise_any)?;
            serde_json::to_string(&report)
        } else {
            let report = self.model.inspect().map_err(raise_any)?;
            serde_json::to_string(&report)
        };
        text.map_err(|e| ZkinferError::new_err(e.to_string()))
    }

    /// Parts the model is proven in (0: proven whole).
    #[getter]
    fn parts(&self) -> usize {
        self.model.parts.len()
    }

    /// Proves every part of a model proven in parts, one after another, on one flat float
    /// input; the links are salted from `link_seed` (64 hex digits) or a fresh random seed.
    #[pyo3(signature = (input, clamp = false, link_seed = None))]
    fn prove_parts(
        &self,
        py: Python<'_>,
        input: Vec<f32>,
        clamp: bool,
        link_seed: Option<&str>,
    ) -> PyResult<PyPartedProof> {
        let seed = link_seed
            .map(|s| LinkSeed::parse(s).map_err(|e| InputError::new_err(e.to_string())))
            .transpose()?
            .unwrap_or_else(LinkSeed::random);
        let proved = py.allow_threads(|| {
            let x = self.model.quantise_input(&input, clamp)?;
            self.parted_prover()?.prove_seeded(&x, &seed)
        });
        let (proof, _) = proved.map_err(raise)?;
        Ok(PyPartedProof { proof })
    }

    /// Proves every input: a model proven whole with its kept keys; one proven in parts part
    /// by part (each part's keys built once for all the inputs, one part's at a time), each
    /// inference's links salted from its own fresh seed.
    #[pyo3(signature = (inputs, clamp = false))]
    fn prove_many(
        &self,
        py: Python<'_>,
        inputs: Vec<Vec<f32>>,
        clamp: bool,
    ) -> PyResult<Vec<PyObject>> {
        let xs = inputs
            .iter()
            .map(|x| self.model.quantise_input(x, clamp))
            .collect::<Result<Vec<_>, _>>()
            .map_err(raise)?;
        if self.model.is_parted() {
            let proved = py.allow_threads(|| {
                self.parted_prover()?
                    .prove_many(&xs, |_| LinkSeed::random(), |_| {})
            });
            return proved
                .map_err(raise)?
                .into_iter()
                .map(|(proof, _)| Ok(Py::new(py, PyPartedProof { proof })?.into_any()))
                .collect();
        }
        let proved = py.allow_threads(|| {
            let prover = self.prover()?;
            xs.iter()
                .map(|x| prover.prove_integer_opened(x))
                .collect::<Result<Vec<_>, Error>>()
        });
        proved
            .map_err(raise)?
            .into_iter()
            .map(|(bundle, openings)| {
                let proof = PyProof {
                    bundle,
                    openings: (!openings.openings.is_empty()).then_some(openings),
                };
                Ok(Py::new(py, proof)?.into_any())
            })
            .collect()
    }

    /// Proves part `part` alone (the integer passes before it are recomputed), its links
    /// salted from `link_seed`: every machine proving a part of one inference shares it.
    #[pyo3(signature = (input, part, link_seed, clamp = false))]
    fn prove_part(
        &self,
        py: Python<'_>,
        input: Vec<f32>,
        part: usize,
        link_seed: &str,
        clamp: bool,
    ) -> PyResult<PyProof> {
        let seed = LinkSeed::parse(link_seed).map_err(|e| InputError::new_err(e.to_string()))?;
        let proved = py.allow_threads(|| {
            let x = self.model.quantise_input(&input, clamp)?;
            self.parted_prover()?.prove_part(&x, part, &seed)
        });
        let (bundle, _) = proved.map_err(raise)?;
        Ok(PyProof {
            bundle,
            openings: None,
        })
    }

    /// Verifies a proof in parts: every part and every link; returns the outputs.
    fn verify_parts(&self, py: Python<'_>, proof: &PyPartedProof) -> PyResult<Vec<f64>> {
        let proof = &proof.proof;
        py.allow_threads(|| -> Result<Vec<f64>, Error> {
            Ok(self.parted_verifier()?.verify(proof)?)
        })
        .map_err(raise)
    }

    /// Accuracy of the integer model on a labelled evaluation set file, as JSON text.
    fn accuracy_json(&self, py: Python<'_>, eval_path: PathBuf) -> PyResult<String> {
        let report = py.allow_threads(|| {
            let eval = EvalSet::read(&eval_path)?;
            self.model.accuracy(&eval)
        });
        let report = report.map_err(raise)?;
        serde_json::to_string(&report).map_err(|e| ZkinferError::new_err(e.to_string()))
    }

    /// Proves the model on one flat float input.
    #[pyo3(signature = (input, clamp = false))]
    fn prove(&self, py: Python<'_>, input: Vec<f32>, clamp: bool) -> PyResult<PyProof> {
        let proved = py.allow_threads(|| {
            let x = self.model.quantise_input(&input, clamp)?;
            self.prover()?.prove_integer_opened(&x)
        });
        let (bundle, openings) = proved.map_err(raise)?;
        Ok(PyProof {
            bundle,
            openings: (!openings.openings.is_empty()).then_some(openings),
        })
    }

    /// Checks openings (JSON text, as `Proof.openings_json` gives): each must hash to its
    /// commitment, and, given `proof`, the proof must verify and carry those commitments (an
    /// opening only means something of a valid proof). Raises VerifyError.
    #[pyo3(signature = (openings_json, proof = None))]
    fn check_openings(
        &self,
        py: Python<'_>,
        openings_json: &str,
        proof: Option<&PyProof>,
    ) -> PyResult<()> {
        let openings: Openings = serde_json::from_str(openings_json)
            .map_err(|e| VerifyError::new_err(format!("not an openings file: {e}")))?;
        if let Some(proof) = proof {
            let bundle = &proof.bundle;
            py.allow_threads(|| -> Result<(), Error> {
                self.verifier()?.verify(bundle)?;
                Ok(())
            })
            .map_err(raise)?;
            if openings.model_digest != bundle.model_digest {
                return Err(VerifyError::new_err(format!(
                    "the openings are of model {}, the proof of model {}",
                    openings.model_digest, bundle.model_digest
                )));
            }
        }
        for opening in &openings.openings {
            self.model.check_opening(opening).map_err(raise_any)?;
            if let Some(proof) = proof {
                let carried = opening.commitment_in(&proof.bundle);
                if carried != Some(opening.commitment.as_str()) {
                    return Err(VerifyError::new_err(format!(
                        "the proof's {} commitment is {}, the opening's {}",
                        opening.tensor,
                        carried.unwrap_or("absent"),
                        opening.commitment
                    )));
                }
            }
        }
        Ok(())
    }

    /// Verifies a proof; returns its outputs as floats.
    fn verify(&self, py: Python<'_>, proof: &PyProof) -> PyResult<Vec<f64>> {
        let bundle = &proof.bundle;
        py.allow_threads(|| -> Result<Vec<f64>, Error> { Ok(self.verifier()?.verify(bundle)?) })
            .map_err(raise)
    }

    /// Verifies many proofs of this model in one batch; raises VerifyError if any fails.
    fn verify_batch(&self, py: Python<'_>, proofs: Vec<PyRef<'_, PyProof>>) -> PyResult<()> {
        let bundles: Vec<ProofBundle> = proofs.iter().map(|p| p.bundle.clone()).collect();
        py.allow_threads(|| -> Result<(), Error> { Ok(self.verifier()?.verify_batch(&bundles)?) })
            .map_err(raise)
    }

    /// The model's identity: its verifying key and its file's meaning (builds the key on
    /// first use).
    fn digest(&self, py: Python<'_>) -> PyResult<String> {
        py.allow_threads(|| -> Result<String, Error> {
            Ok(self.verifier()?.model_digest().to_owned())
        })
        .map_err(raise)
    }

    /// The published commitment to the model's hashed params (64 hex digits), or `None`
    /// when they are fixed.
    #[getter]
    fn weights_commitment(&self) -> Option<String> {
        self.model.weights.as_ref().map(|w| w.commitment.clone())
    }

    /// Whether this is a verifier file (hashed params, no weights): it verifies, it cannot
    /// prove.
    #[getter]
    fn is_verifier_file(&self) -> bool {
        self.model.is_verifier_file()
    }

    /// The verifier file of a model with hashed params: no weights, no salt.
    fn verifier_file(&self) -> PyResult<Self> {
        let file = self.model.verifier_file().map_err(raise_any)?;
        Ok(Self::new(file, Some(self.cache.dir().to_path_buf())))
    }

    /// The same model checking proofs against another published weights commitment.
    fn expecting_weights(&self, commitment: &str) -> PyResult<Self> {
        let c = zkinfer::api::parse_felt(commitment)
            .map_err(|e| InputError::new_err(format!("weights commitment: {e}")))?;
        let mut model = (*self.model).clone();
        model.expect_weights_commitment(c).map_err(raise_any)?;
        Ok(Self::new(model, Some(self.cache.dir().to_path_buf())))
    }

    /// Values the model takes.
    #[getter]
    fn input_len(&self) -> usize {
        self.model.graph.input.len
    }

    /// Values the model outputs (all its outputs, concatenated in order).
    #[getter]
    fn output_len(&self) -> usize {
        self.model.graph.output_len()
    }

    /// `log2` of the circuit's rows (the largest part's, for a model proven in parts).
    #[getter]
    fn k(&self) -> PyResult<u32> {
        if self.model.is_parted() {
            let parts = self.model.inspect_parts().map_err(raise_any)?;
            return Ok(parts.parts.iter().map(|p| p.circuit.k).max().unwrap_or(0));
        }
        Ok(self.model.layout().map_err(raise_any)?.k)
    }

    fn __repr__(&self) -> String {
        let k = self.model.layout().map_or(0, |l| l.k);
        format!(
            "Model(nodes={}, input_len={}, output_len={}, k={k}, parts={})",
            self.model.graph.nodes.len(),
            self.model.graph.input.len,
            self.model.graph.output_len(),
            self.model.parts.len()
        )
    }
}

/// Where calibration samples come from: a file, or samples in hand.
#[derive(FromPyObject)]
enum Calibration {
    Samples(Vec<Vec<f32>>),
    Path(PathBuf),
}

/// Imports an ONNX file and compiles it with scales from `calibration`; checks the result
/// against tract's execution of the file.
#[pyfunction]
#[pyo3(signature = (
    onnx_path, calibration, *, input_visibility = "private", output_visibility = "public",
    param_visibility = "fixed", precision = "standard", dot_width = None, table_bits = None, headroom_bits = None,
    max_error = None, max_k = None, memory_budget = None, cut_before = None, share_keys = true,
    params_dir = None
))]
#[allow(clippy::too_many_arguments)]
fn compile(
    py: Python<'_>,
    onnx_path: PathBuf,
    calibration: Calibration,
    input_visibility: &str,
    output_visibility: &str,
    param_visibility: &str,
    precision: &str,
    dot_width: Option<usize>,
    table_bits: Option<u32>,
    headroom_bits: Option<u32>,
    max_error: Option<f64>,
    max_k: Option<u32>,
    memory_budget: Option<u64>,
    cut_before: Option<Vec<usize>>,
    share_keys: bool,
    params_dir: Option<PathBuf>,
) -> PyResult<PyModel> {
    let visibility = |name: &str, value: &str| {
        value
            .parse::<Visibility>()
            .map_err(|e| InputError::new_err(format!("{name} = {value:?}: {e}")))
    };
    let visibility = Visibilities {
        input: visibility("input_visibility", input_visibility)?,
        output: visibility("output_visibility", output_visibility)?,
        params: visibility("param_visibility", param_visibility)?,
        ..Visibilities::default()
    };
    visibility
        .validate()
        .map_err(|e| InputError::new_err(e.to_string()))?;
    let precision = precision
        .parse::<Precision>()
        .map_err(|e| InputError::new_err(format!("precision = {precision:?}: {e}")))?;
    let options = CompileOptions {
        visibility,
        dot_width,
        budget: Budget {
            max_k,
            memory_bytes: memory_budget,
        },
        cuts: cut_before.unwrap_or_default(),
        max_error,
        share_keys,
        ..CompileOptions::default()
    }
    .with_precision(precision)
    .with_table_bits(table_bits)
    .with_headroom_bits(headroom_bits);
    let compiled = py.allow_threads(|| {
        let samples = match calibration {
            Calibration::Samples(samples) => samples,
            Calibration::Path(path) => read_samples(&path)?,
        };
        zkinfer::api::compile_file(&onnx_path, samples, &options)
    });
    Ok(PyModel::new(compiled.map_err(raise)?.model, params_dir))
}

/// The native module.
#[pymodule]
fn _zkinfer(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<PyModel>()?;
    m.add_class::<PyProof>()?;
    m.add_class::<PyPartedProof>()?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(link_seed, m)?)?;
    m.add("ZkinferError", py.get_type::<ZkinferError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("ProveError", py.get_type::<ProveError>())?;
    m.add("VerifyError", py.get_type::<VerifyError>())?;
    m.add("FileError", py.get_type::<FileError>())?;
    Ok(())
}
