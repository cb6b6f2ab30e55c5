//! The proof bundle: a proof with its public values, as a versioned JSON file.

use std::path::Path;

use ff::PrimeField;
use pasta_curves::Fp;
use serde::{Deserialize, Serialize};

use super::files::{load_json, save_json};
use crate::error::{Error, ParseError};

/// A proof of one inference, with its public values. Unknown fields are an error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofBundle {
    /// [`super::BUNDLE_FORMAT_VERSION`].
    pub format_version: u32,
    /// [`super::CIRCUIT_VERSION`] of the prover.
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
    /// The Poseidon commitment to the input, when it is hashed ([`felt_hex`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_commitment: Option<String>,
    /// The Poseidon commitment to the outputs, when they are hashed; `outputs` and
    /// `outputs_float` are then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_commitment: Option<String>,
    /// The commitment to the model's parameters, when they are hashed: the one the model
    /// owner publishes, the same in every proof of the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_commitment: Option<String>,
    /// The halo2 proof, hex.
    pub proof: String,
}

impl ProofBundle {
    /// Writes the bundle as JSON, atomically.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        save_json(path, self)
    }

    /// Reads a bundle.
    pub fn load(path: &Path) -> Result<Self, Error> {
        load_json(path, "a proof bundle")
    }
}

/// A field element as 64 lowercase hex digits: its canonical 32-byte little-endian encoding.
pub fn felt_hex(f: &Fp) -> String {
    hex::encode(f.to_repr())
}

/// The field element of [`felt_hex`]'s encoding, or why `text` is not one: a commitment or
/// salt a user hands in is untrusted input.
pub fn parse_felt(text: &str) -> Result<Fp, ParseError> {
    let digits = || ParseError::FeltDigits { text: text.into() };
    if text.len() != 64
        || text
            .bytes()
            .any(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(digits());
    }
    let mut repr = [0u8; 32];
    hex::decode_to_slice(text, &mut repr).map_err(|_| digits())?;
    Option::from(Fp::from_repr(repr)).ok_or_else(|| ParseError::FeltRange { text: text.into() })
}
