//! A circuit's shape: what its keys are built from. Two parts of one shape share one
//! circuit, so one proving key and one verifying key serve both; the keys are built from
//! the shape, never from a part, so that equal digests mean equal keys by construction.
//!
//! A shape is a model file's circuit ([`CompiledModel::circuit`]: the integer graph, the
//! visibilities, the dot width) with what cannot reach a key left out: every name, and
//! params that are hashed (they are witness values, committed under each part's own salt;
//! fixed params stay, since they are the fixed columns). The digest covers every other
//! field of the model file a circuit could read, so a field added later is in it unless it
//! is named here as left out.
//!
//! Sharing a key does not let one part pass for another: a part's identity (the digest its
//! proofs name, `api/identity.rs`) is the shared key and the part's own meaning, its names
//! included, and each part's hashed params are committed under a salt of its own, bound in
//! order by the published commitment (`api/weights.rs`), while links bind each part to its
//! neighbours in one proof (`api/link_seed.rs`).

use blake2::{Blake2b, Digest};

use super::compile::CompiledModel;

type Blake2b256 = Blake2b<blake2::digest::consts::U32>;

impl CompiledModel {
    /// The model file keys are built from: this one with every name blanked, hashed params
    /// zeroed and what no circuit reads (the commitment record, the calibration report)
    /// left out.
    pub(super) fn keygen_model(&self) -> CompiledModel {
        CompiledModel {
            graph: self.graph.structure(!self.visibility.hashed_params()),
            quant_report: None,
            weights: None,
            ..self.clone()
        }
    }

    /// The digest of this model's circuit shape (`keygen_model`: names blanked, hashed params zeroed; hex): two
    /// models (parts) of one digest share their keys.
    pub fn shape_digest(&self) -> String {
        let mut hasher = Blake2b256::new();
        hasher.update(b"zkinfer circuit shape v1");
        // A model file always serialises (finite numbers, string keys).
        hasher.update(serde_json::to_vec(&self.keygen_model()).unwrap_or_default());
        hex::encode(hasher.finalize())
    }
}

/// The distinct shapes among parts, in order of first use.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Shapes {
    /// Each distinct shape's digest ([`CompiledModel::shape_digest`]).
    pub digests: Vec<String>,
    /// For each part, the index of its shape in `digests`.
    pub of_part: Vec<usize>,
}

impl Shapes {
    /// The shapes of `parts`, in order.
    pub fn of<'a>(parts: impl IntoIterator<Item = &'a CompiledModel>) -> Self {
        let mut shapes = Shapes::default();
        for part in parts {
            let digest = part.shape_digest();
            let index = match shapes.digests.iter().position(|d| *d == digest) {
                Some(i) => i,
                None => {
                    shapes.digests.push(digest);
                    shapes.digests.len() - 1
                }
            };
            shapes.of_part.push(index);
        }
        shapes
    }

    /// The parts of shape `s`, in order.
    pub fn parts_of(&self, s: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.of_part.len()).filter(move |&i| self.of_part[i] == s)
    }
}
