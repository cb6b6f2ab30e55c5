//! Openings: the values and salt behind a hashed tensor. The prover keeps them (the salt is
//! what makes a commitment to a few low-entropy values impossible to guess) and may reveal
//! them later; anyone then checks them against the commitment a proof carried.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use zkinfer_circuits::commit;

use super::bundle::ProofBundle;
use super::bundle::{felt_hex, parse_felt};
use super::compile::CompiledModel;
use super::files::{load_json, save_json};
use crate::circuit::output_bits;
use crate::error::{Error, VerifyError};

/// Version of the openings file format.
pub const OPENINGS_FORMAT_VERSION: u32 = 1;

/// Which tensor a commitment covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Committed {
    /// The model's input.
    Input,
    /// The model's outputs, all of them together.
    Output,
}

impl fmt::Display for Committed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Input => "input",
            Self::Output => "output",
        })
    }
}

/// The values and salt behind one commitment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    /// The tensor.
    pub tensor: Committed,
    /// Its integer values (all outputs one after another, for the outputs).
    pub values: Vec<i64>,
    /// The salt ([`felt_hex`]).
    pub salt: String,
    /// The commitment ([`felt_hex`]).
    pub commitment: String,
}

/// The openings of one proof, as a versioned JSON file the prover keeps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Openings {
    /// [`OPENINGS_FORMAT_VERSION`].
    pub format_version: u32,
    /// The model's digest (as in its proofs).
    pub model_digest: String,
    /// One per hashed tensor.
    pub openings: Vec<Opening>,
}

impl Openings {
    /// Writes the openings as JSON, atomically.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        save_json(path, self)
    }

    /// Reads openings, checking their format version.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let openings: Self = load_json(path, "an openings file")?;
        if openings.format_version != OPENINGS_FORMAT_VERSION {
            return Err(Error::File {
                path: path.display().to_string(),
                reason: format!(
                    "openings format version {}; this zkinfer reads version {OPENINGS_FORMAT_VERSION}",
                    openings.format_version
                ),
            });
        }
        Ok(openings)
    }
}

impl Opening {
    /// The commitment of the proof `bundle` to this opening's tensor, if it carries one.
    pub fn commitment_in<'b>(&self, bundle: &'b ProofBundle) -> Option<&'b str> {
        match self.tensor {
            Committed::Input => bundle.input_commitment.as_deref(),
            Committed::Output => bundle.output_commitment.as_deref(),
        }
    }
}

impl CompiledModel {
    /// Checks that `opening` opens its commitment for this model: as many values as the
    /// tensor has, each in its range, and `Poseidon(salt, packed values)` equal to the
    /// commitment. Check that the commitment is the one a verified proof carried with
    /// [`Opening::commitment_in`].
    pub fn check_opening(&self, opening: &Opening) -> Result<(), VerifyError> {
        let mismatch = |reason: String| VerifyError::Opening {
            tensor: opening.tensor.to_string(),
            reason,
        };
        let (len, bits) = match opening.tensor {
            Committed::Input => (self.graph.input.len, self.graph.input.bits),
            Committed::Output => (self.graph.output_len(), output_bits(&self.graph)),
        };
        if opening.values.len() != len {
            return Err(mismatch(format!(
                "{} values; the model's {} has {len}",
                opening.values.len(),
                opening.tensor
            )));
        }
        let field = |field: &'static str| {
            move |e: crate::error::ParseError| VerifyError::Commitment {
                field,
                reason: e.to_string(),
            }
        };
        let salt = parse_felt(&opening.salt).map_err(field("salt"))?;
        let claimed = parse_felt(&opening.commitment).map_err(field("commitment"))?;
        let computed = commit::commitment(&opening.values, bits, salt).map_err(|index| {
            mismatch(format!(
                "value {index} = {} is outside the {bits}-bit range the proof checked",
                opening.values[index]
            ))
        })?;
        if computed != claimed {
            return Err(mismatch(format!(
                "Poseidon(salt, values) is {}, not the commitment {}",
                felt_hex(&computed),
                opening.commitment
            )));
        }
        Ok(())
    }
}
