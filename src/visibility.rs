//! Who may see each tensor of a proof, in EZKL's words: the model's input is `public` (an
//! instance value the verifier holds), `private` (known to the prover only) or `hashed` (the
//! verifier holds a Poseidon commitment to it under a salt the prover keeps); its output is
//! `public` or `hashed`; its parameters are `fixed` (fixed columns the verifying key commits
//! to) or `hashed` (advice cells bound by one Poseidon commitment the model owner publishes,
//! so the verifying key depends on the architecture only).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::VisibilityError;

/// How a tensor is seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Only the prover knows the values.
    Private,
    /// The values are public instance values: the verifier holds them.
    Public,
    /// The values are constants in fixed columns: the verifying key commits to them.
    Fixed,
    /// The verifier holds `Poseidon(salt, packed values)`; the prover keeps the salt and can
    /// open the commitment later.
    Hashed,
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Private => "private",
            Self::Public => "public",
            Self::Fixed => "fixed",
            Self::Hashed => "hashed",
        })
    }
}

impl FromStr for Visibility {
    type Err = VisibilityError;

    fn from_str(s: &str) -> Result<Self, VisibilityError> {
        match s {
            "private" => Ok(Self::Private),
            "public" => Ok(Self::Public),
            "fixed" => Ok(Self::Fixed),
            "hashed" => Ok(Self::Hashed),
            other => Err(VisibilityError::Unknown {
                name: other.to_string(),
            }),
        }
    }
}

/// The visibility of a model's input, output and parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Visibilities {
    /// The input: `private` (default), `public` or `hashed`.
    pub input: Visibility,
    /// The output: `public` (default) or `hashed`.
    pub output: Visibility,
    /// Weights and biases: `fixed` (default) or `hashed`.
    pub params: Visibility,
    /// With hashed parameters, the packing widths of their commitment, `[weights, biases]`
    /// (set by the compiler from the quantised values, so that the circuit's shape does not
    /// depend on them); `[0, 0]` otherwise.
    #[serde(default, skip_serializing_if = "is_unset")]
    pub param_bits: [u32; 2],
}

fn is_unset(bits: &[u32; 2]) -> bool {
    *bits == [0, 0]
}

impl Default for Visibilities {
    fn default() -> Self {
        Self {
            input: Visibility::Private,
            output: Visibility::Public,
            params: Visibility::Fixed,
            param_bits: [0, 0],
        }
    }
}

impl Visibilities {
    /// The default with the input `input`.
    pub fn with_input(input: Visibility) -> Self {
        Self {
            input,
            ..Self::default()
        }
    }

    /// Whether the input is a public value.
    pub fn public_input(&self) -> bool {
        self.input == Visibility::Public
    }

    /// Whether the parameters are hashed (advice cells under one commitment).
    pub fn hashed_params(&self) -> bool {
        self.params == Visibility::Hashed
    }

    /// Whether some tensor is hashed (the circuit then carries the commitment chip).
    pub fn hashes(&self) -> bool {
        [self.input, self.output, self.params].contains(&Visibility::Hashed)
    }

    /// Checks that each tensor has a visibility this version proves; the error names the
    /// tensor and what is allowed.
    pub fn validate(&self) -> Result<(), VisibilityError> {
        let allowed: [(&'static str, Visibility, &[Visibility]); 3] = [
            (
                "input",
                self.input,
                &[Visibility::Private, Visibility::Public, Visibility::Hashed],
            ),
            (
                "output",
                self.output,
                &[Visibility::Public, Visibility::Hashed],
            ),
            (
                "params",
                self.params,
                &[Visibility::Fixed, Visibility::Hashed],
            ),
        ];
        for (tensor, v, ok) in allowed {
            if !ok.contains(&v) {
                let names: Vec<String> = ok.iter().map(ToString::to_string).collect();
                return Err(VisibilityError::Unsupported {
                    tensor,
                    visibility: v.to_string(),
                    allowed: names.join(" or "),
                });
            }
        }
        // Unset widths with hashed params are the compiler's to set (a compiled model's are
        // checked with its weights).
        let widths = self.param_bits.iter().all(|b| (1..=62).contains(b));
        match (self.hashed_params(), widths, is_unset(&self.param_bits)) {
            (true, true, _) | (true, _, true) | (false, _, true) => Ok(()),
            (true, false, _) => Err(VisibilityError::ParamBits {
                found: self.param_bits,
            }),
            (false, _, false) => Err(VisibilityError::UnhashedParamBits {
                found: self.param_bits,
            }),
        }
    }
}
