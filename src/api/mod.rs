//! Compile → set up → prove → verify.
//!
//! ```text
//! CompiledModel::compile(float graph, calibration)   // or CompiledModel::load(path)
//!   └─ Prover::setup(model, &ParamsCache)    // IPA params (cached per k) + proving key
//!        └─ prover.prove(&input)              // → ProofBundle (serde, versioned)
//! Verifier::setup(model, &ParamsCache)         // rebuilds the verifying key from the model
//!   └─ verifier.verify(&bundle)              // → outputs, or a typed VerifyError
//! ```
//!
//! halo2 0.4 cannot serialise a verifying key, so the compiled model file is what a verifier
//! needs. The model's identity ([`Verifier::model_digest`]) is a blake2b digest of the key's
//! pinned description and of the model file's canonical meaning (scales, output names,
//! visibilities, ...: what turns proven integers into the answer a verifier is told). The
//! weights are fixed-column commitments inside the key, unless they are hashed: then the key
//! is the architecture's, and a verifier file without weights rebuilds it, see
//! [`CompiledModel::verifier_file`].

mod budget;
mod bundle;
mod compile;
mod files;
mod format;
mod identity;
mod keys;
mod link_seed;
#[cfg(feature = "onnx")]
mod onnx;
mod opening;
mod params;
mod partition;
mod parts;
mod prove;
mod report;
mod shape;
mod split;
mod verify;
mod weights;

pub use bundle::{felt_hex, parse_felt, ProofBundle};
// What front ends (the CLI, Python, the service) need from the stages below, so that they
// import `api` alone.
pub use crate::circuit::cost::{Budget, Shape};
pub use crate::graph::quant::{
    calibration_warnings, BudgetReport, Precision, QuantOptions, QuantReport,
};
pub use compile::{CompileOptions, CompiledModel, MIN_FITTED_TABLE_BITS};
pub use format::{
    PartSpec, WeightsCommitment, BUNDLE_FORMAT_VERSION, CIRCUIT_VERSION, MODEL_FORMAT_VERSION,
};
pub use keys::{ProvingKeys, VerifyingKeys};
pub use link_seed::LinkSeed;
#[cfg(feature = "onnx")]
pub use onnx::{check_against_reference, compile_file, Compiled};
pub use opening::{Committed, Opening, Openings, OPENINGS_FORMAT_VERSION};
pub use params::{
    digest as params_digest, pinned_digest, ParamsCache, ParamsStatus, MAX_K as MAX_PARAMS_K,
};
pub use partition::{part_visibility, partition};
pub use parts::{PartEvent, PartedProof, PartedProver, PartedVerifier, Phase};
pub use prove::Prover;
pub use report::{
    AccuracyReport, Inspection, NodeInfo, NodeRowsInfo, PartInfo, PartsInspection, ShapeInfo,
    TableInfo,
};
pub use shape::Shapes;
pub use split::{split_to_fit, MAX_PIECES};
pub use verify::Verifier;
pub use weights::{fixed_part_digest, parts_commitment, PartWeights};
