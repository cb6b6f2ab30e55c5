//! # zkinfer
//!
//! Zero-knowledge proofs of neural-network inference. A model owner runs a quantised model on
//! an input and publishes the output with a proof; anyone holding the compiled model checks
//! in milliseconds that this model produced this output, without re-running it.
//!
//! Proofs use halo2 (zcash, 0.4) over the Pasta curves with IPA commitments: no trusted
//! setup. The pipeline:
//!
//! ```text
//! ONNX ─onnx─▶ FloatGraph ─quant─▶ QGraph ─layout─▶ Layout
//! QGraph + input ─witness (rayon)─▶ Witness ─circuit─▶ halo2 ─api─▶ ProofBundle ─▶ verify
//! ```
//!
//! The integer forward pass ([`graph::qgraph::QGraph::eval`]) is the model's meaning; the circuit
//! constrains exactly it.
//!
//! ```no_run
//! use std::sync::Arc;
//! use zkinfer::{CompiledModel, CompileOptions, ParamsCache, Prover, Verifier};
//! # fn main() -> Result<(), zkinfer::Error> {
//! let graph = zkinfer::onnx::import(std::path::Path::new("tests/data/digits_mlp.onnx"))?;
//! let input = vec![0.5f32; graph.input_len()];
//! let model = Arc::new(CompiledModel::compile(&graph, &[input.clone()], &CompileOptions::default())?);
//! let cache = ParamsCache::from_env();
//! let bundle = Prover::setup(model.clone(), &cache)?.prove(&input, false)?;
//! let outputs = Verifier::setup(model.clone(), &cache)?.verify(&bundle).map_err(zkinfer::Error::from)?;
//! # Ok(()) }
//! ```

pub mod api;
pub mod circuit;
#[doc(hidden)]
pub mod counters;
pub mod error;
pub mod graph;
pub mod input;
#[cfg(feature = "onnx")]
pub mod onnx;
mod par;
#[cfg(feature = "serve")]
pub mod serve;
pub mod visibility;

pub use api::{
    CompileOptions, CompiledModel, LinkSeed, ParamsCache, ParamsStatus, PartEvent, PartedProof,
    PartedProver, PartedVerifier, Phase, ProofBundle, Prover, ProvingKeys, Shapes, Verifier,
    VerifyingKeys,
};
pub use error::Error;
pub use visibility::{Visibilities, Visibility};
