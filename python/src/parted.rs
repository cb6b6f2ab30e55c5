//! Proofs of a model proven in parts, and the link seeds that let separate processes prove
//! the parts of one inference.

use std::path::PathBuf;

use pyo3::prelude::*;
use zkinfer::{LinkSeed, PartedProof};

use super::proof::PyProof;
use super::{raise, VerifyError, ZkinferError};

/// A proof of a model proven in parts: one proof per part, in order.
#[pyclass(module = "zkinfer._zkinfer", name = "PartedProof", frozen)]
pub(crate) struct PyPartedProof {
    pub(crate) proof: PartedProof,
}

#[pymethods]
impl PyPartedProof {
    /// Gathers part proofs, part 0 first (`zkinfer assemble`).
    #[staticmethod]
    fn assemble(parts: Vec<PyRef<'_, PyProof>>) -> Self {
        Self {
            proof: PartedProof {
                format_version: zkinfer::api::BUNDLE_FORMAT_VERSION,
                parts: parts.iter().map(|p| p.bundle.clone()).collect(),
            },
        }
    }

    /// Reads a proof in parts.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        Ok(Self {
            proof: PartedProof::load(&path).map_err(raise)?,
        })
    }

    /// Parses a proof in parts from JSON text.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        let proof = serde_json::from_str(text)
            .map_err(|e| VerifyError::new_err(format!("not a proof in parts: {e}")))?;
        Ok(Self { proof })
    }

    /// Writes the proof as JSON, atomically (the file `zkinfer verify` reads).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.proof.save(&path).map_err(raise)
    }

    /// The proof as JSON text.
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.proof).map_err(|e| ZkinferError::new_err(e.to_string()))
    }

    /// The claimed outputs as floats (the last part's; empty when they are hashed).
    #[getter]
    fn outputs(&self) -> Vec<f64> {
        self.proof.outputs_float().to_vec()
    }

    /// The part proofs, part 0 first.
    #[getter]
    fn parts(&self) -> Vec<PyProof> {
        self.proof
            .parts
            .iter()
            .map(|bundle| PyProof {
                bundle: bundle.clone(),
                openings: None,
            })
            .collect()
    }

    /// The proofs' size in bytes, all parts together.
    #[getter]
    fn size(&self) -> usize {
        self.proof.parts.iter().map(|p| p.proof.len() / 2).sum()
    }

    fn __repr__(&self) -> String {
        format!(
            "PartedProof(parts={}, outputs={}, bytes={})",
            self.proof.parts.len(),
            self.proof.outputs_float().len(),
            self.size()
        )
    }
}

/// A fresh random link seed (64 hex digits) for proving the parts of one inference apart.
#[pyfunction]
pub(crate) fn link_seed() -> String {
    LinkSeed::random().to_hex()
}
