//! Proof bundles of a model proven whole (or of one part): their files, JSON and public
//! values, and the openings of a proof just made.

use std::path::PathBuf;

use pyo3::prelude::*;
use zkinfer::api::Openings;
use zkinfer::ProofBundle;

use super::{raise, VerifyError, ZkinferError};

/// A proof bundle: the proof with its public values, and (for a proof just made of a model
/// with hashed tensors) the openings of its commitments, which are never saved with it.
#[pyclass(module = "zkinfer._zkinfer", name = "Proof", frozen)]
pub(crate) struct PyProof {
    pub(crate) bundle: ProofBundle,
    pub(crate) openings: Option<Openings>,
}

#[pymethods]
impl PyProof {
    /// Reads a proof bundle file.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        Ok(Self {
            bundle: ProofBundle::load(&path).map_err(raise)?,
            openings: None,
        })
    }

    /// Parses a proof bundle from JSON text (unknown fields are an error).
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        let bundle = serde_json::from_str(text)
            .map_err(|e| VerifyError::new_err(format!("not a proof bundle: {e}")))?;
        Ok(Self {
            bundle,
            openings: None,
        })
    }

    /// Writes the bundle as JSON, atomically.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.bundle.save(&path).map_err(raise)
    }

    /// The bundle as JSON text (the file `zkinfer verify` reads).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.bundle).map_err(|e| ZkinferError::new_err(e.to_string()))
    }

    /// The claimed outputs as floats (checked against the integers on verification).
    #[getter]
    fn outputs(&self) -> Vec<f64> {
        self.bundle.outputs_float.clone()
    }

    /// The claimed outputs as the integers the proof binds.
    #[getter]
    fn outputs_int(&self) -> Vec<i64> {
        self.bundle.outputs.clone()
    }

    /// The Poseidon commitment to the input, when the model hashes it (64 hex digits).
    #[getter]
    fn input_commitment(&self) -> Option<String> {
        self.bundle.input_commitment.clone()
    }

    /// The Poseidon commitment to the outputs, when the model hashes them.
    #[getter]
    fn output_commitment(&self) -> Option<String> {
        self.bundle.output_commitment.clone()
    }

    /// The openings (values and salts) of this proof's commitments as JSON text, for a proof
    /// made in this process of a model with hashed tensors; keep them private.
    fn openings_json(&self) -> PyResult<Option<String>> {
        self.openings
            .as_ref()
            .map(|o| serde_json::to_string(o).map_err(|e| ZkinferError::new_err(e.to_string())))
            .transpose()
    }

    /// The digest of the verifying key the proof is for.
    #[getter]
    fn model_digest(&self) -> String {
        self.bundle.model_digest.clone()
    }

    /// The proof's size in bytes.
    #[getter]
    fn size(&self) -> usize {
        self.bundle.proof.len() / 2
    }

    fn __repr__(&self) -> String {
        format!(
            "Proof(model_digest={}…, outputs={}, bytes={})",
            &self.bundle.model_digest[..self.bundle.model_digest.len().min(8)],
            self.bundle.outputs.len(),
            self.bundle.proof.len() / 2
        )
    }
}
