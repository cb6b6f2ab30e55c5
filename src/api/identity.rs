//! A model's identity: the digest users publish, proof bundles name and the service keys
//! models by.
//!
//! The verifying key alone does not say what a proof means. With fixed params the circuit
//! never reads, say, an output's `scale_exp`: it only turns the proven integers into the
//! floats (and argmax) a verifier is told. Were the identity the key's digest alone, a model
//! file edited only there would keep the published digest, and an honest proof relabelled
//! at the doctored scale would verify with other floats and another argmax. So the identity
//! binds both halves of a proof's meaning:
//!
//! - the verifying key (the circuit, and with fixed params every weight in its fixed
//!   columns; with hashed params the commitment's domain, a constant of the circuit), and
//! - the model file's canonical meaning ([`Meaning`]): the whole integer graph (ops, scales,
//!   widths, the input's and outputs' tensors, their order and names), the visibilities and
//!   packing widths, the input parts, the parts of a parted model, the dot width and the
//!   format and circuit versions;
//!
//! - With hashed params, the published weights commitment: the verifying key holds only
//!   the commitment's domain, so without it two owners' weights of one architecture (a
//!   classifier with two classes' rows swapped, say) would share an identity, and a
//!   verifier file carrying the other commitment would pass for the published model.
//!
//! Left out, on purpose: the calibration report (a measurement, read by nothing that
//! verifies) and the owner's salt (a secret). With hashed params the parameters are zeroed
//! first, as in a verifier file, so the owner's file and its verifier file have one
//! identity; the commitment binds the values.

use std::borrow::Cow;

use blake2::{Blake2b, Digest};
use halo2_proofs::plonk::VerifyingKey;
use pasta_curves::EqAffine;
use serde::Serialize;

use super::compile::CompiledModel;
use super::format::PartSpec;
use crate::error::CompileError;
use crate::graph::qgraph::QGraph;
use crate::visibility::Visibilities;

/// What a model file says about the meaning of its proofs: every field of
/// [`CompiledModel`] that verification reads, besides what the verifying key holds.
#[derive(Serialize)]
struct Meaning<'a> {
    format_version: u32,
    circuit_version: u32,
    graph: Cow<'a, QGraph>,
    visibility: &'a Visibilities,
    dot_width: usize,
    input_parts: &'a [usize],
    parts: &'a [PartSpec],
    weights_commitment: Option<&'a str>,
}

impl<'a> Meaning<'a> {
    fn of(model: &'a CompiledModel) -> Self {
        let graph = if model.visibility.hashed_params() {
            let mut architecture = model.graph.clone();
            for node in &mut architecture.nodes {
                node.op.zero_params();
            }
            Cow::Owned(architecture)
        } else {
            Cow::Borrowed(&model.graph)
        };
        Self {
            format_version: model.format_version,
            circuit_version: model.circuit_version,
            graph,
            visibility: &model.visibility,
            dot_width: model.dot_width,
            input_parts: &model.input_parts,
            parts: &model.parts,
            weights_commitment: model.weights.as_ref().map(|w| w.commitment.as_str()),
        }
    }
}

type Blake2b256 = Blake2b<blake2::digest::consts::U32>;

/// Feeds `bytes` with its length first, so that no two sequences of fields hash alike.
fn framed(hasher: &mut Blake2b256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

/// The digest of the verifying key's pinned description alone, hex: what stays equal when
/// only the model file's meaning around the circuit changes (see [`model_identity`]).
pub(super) fn vk_digest(vk: &VerifyingKey<EqAffine>) -> String {
    let mut hasher = Blake2b256::new();
    hasher.update(format!("{:?}", vk.pinned()).as_bytes());
    hex::encode(hasher.finalize())
}

/// The model's identity, hex: blake2b-256 over a domain tag, the verifying key's pinned
/// description and the model's canonical meaning (its JSON: a struct's fields in
/// declaration order, lists in order, no maps, so the bytes are canonical).
pub(super) fn model_identity(
    vk: &VerifyingKey<EqAffine>,
    model: &CompiledModel,
) -> Result<String, CompileError> {
    let meaning = serde_json::to_vec(&Meaning::of(model)).map_err(|e| CompileError::Format {
        path: "the model in hand".into(),
        reason: format!("its meaning does not serialise: {e}"),
    })?;
    let mut hasher = Blake2b256::new();
    framed(&mut hasher, b"zkinfer model identity v1");
    framed(&mut hasher, format!("{:?}", vk.pinned()).as_bytes());
    framed(&mut hasher, &meaning);
    Ok(hex::encode(hasher.finalize()))
}

/// The identity of a model proven in parts: blake2b-256 over a domain tag and every part's
/// identity in order (each part's own identity binds its slice of the graph and its links).
pub(super) fn parted_identity<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Blake2b256::new();
    framed(&mut hasher, b"zkinfer parted model identity v1");
    for part in parts {
        framed(&mut hasher, part.as_bytes());
    }
    hex::encode(hasher.finalize())
}
