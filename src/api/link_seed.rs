//! The link seed of a model proven in parts: the one secret every salt of an inference's
//! links comes from, so that machines proving parts of one inference apart agree on its
//! links by sharing it, and nothing else. A leaf of `api/`: [`super::parts`] reads it.

use blake2::{Blake2b512, Digest};
use ff::FromUniformBytes;
use pasta_curves::Fp;

use crate::circuit::Salts;
use crate::error::ParseError;

/// The secret every salt of one inference's links comes from. Random by default; machines
/// that prove parts of one inference separately share it (`--link-seed`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LinkSeed(pub [u8; 32]);

impl std::fmt::Debug for LinkSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSeed(..)")
    }
}

impl LinkSeed {
    /// A fresh seed from the operating system's generator.
    pub fn random() -> Self {
        use rand::rand_core::{Rng, UnwrapErr};
        let mut bytes = [0u8; 32];
        UnwrapErr(rand::rngs::SysRng).fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A seed written as 64 hex digits.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes)
            .map_err(|source| ParseError::LinkSeed { source })?;
        Ok(Self(bytes))
    }

    /// The seed as 64 hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The seed of inference `nonce` among several salted from this one (the samples of one
    /// `prove`, say): a wide hash of the seed and the nonce, so that no two inferences share
    /// a salt (shared salts would make their hashed inputs and outputs linkable, and one
    /// revealed opening would let anyone test guesses of the others) while machines that
    /// prove parts of the same inferences still agree on each one's links.
    pub fn for_inference(&self, nonce: u64) -> Self {
        let mut hasher = Blake2b512::new();
        hasher.update(b"zkinfer inference seed v1");
        hasher.update(self.0);
        hasher.update(nonce.to_le_bytes());
        let wide: [u8; 64] = hasher.finalize().into();
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&wide[..32]);
        Self(seed)
    }

    /// The salt of link `j`: `0` is the model's input, `j` the cut before part `j`, and
    /// the number of parts the model's output. A uniform field element from a wide hash.
    pub fn salt(&self, j: usize) -> Fp {
        let mut hasher = Blake2b512::new();
        hasher.update(b"zkinfer link salt v1");
        hasher.update(self.0);
        hasher.update((j as u64).to_le_bytes());
        let wide: [u8; 64] = hasher.finalize().into();
        Fp::from_uniform_bytes(&wide)
    }

    /// The salts of part `i`'s input and output.
    pub fn salts(&self, i: usize) -> Salts {
        Salts {
            input: self.salt(i),
            output: self.salt(i + 1),
            params: Fp::zero(),
        }
    }
}
