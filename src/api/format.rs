//! The leaf of `api/`: the file formats' versions and the model file's small records that
//! several modules read (the parts' list, the weights' commitment), so that no module of
//! `api/` imports one that imports it back.

use serde::{Deserialize, Serialize};

/// Version of the compiled-model file format.
pub const MODEL_FORMAT_VERSION: u32 = 8;
/// Version of the proof-bundle format.
pub const BUNDLE_FORMAT_VERSION: u32 = 1;
/// Version of the circuit: changes whenever a change alters verifying keys.
pub const CIRCUIT_VERSION: u32 = 7;

/// One part of a model proven in parts: where it starts and its circuit's width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartSpec {
    /// Its first node (the part runs to the next part's first node, or to the end).
    pub start: usize,
    /// Multiply–accumulate pairs per dot-product row of its circuit.
    pub dot_width: usize,
}

/// The commitment to a model's parameters, as a model file records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsCommitment {
    /// `Poseidon(salt, packed weights, packed biases)` ([`felt_hex`](super::felt_hex)): what
    /// the model owner publishes and every proof of the model carries (for a model proven in
    /// parts, the digest of its parts' commitments, which their proofs carry).
    pub commitment: String,
    /// The owner's salt ([`felt_hex`](super::felt_hex)): in the owner's file, which proves;
    /// absent from a verifier file, which holds no weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// For a model proven in parts, each part's own commitment in order (`None` for a part
    /// that keeps fixed params); [`commitment`](Self::commitment) is then their digest
    /// ([`parts_commitment`](super::parts_commitment)). Empty for a model proven whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Option<String>>,
}
