//! Hashed parameters: the model owner's commitment to its weights, and the verifier file
//! that holds none.
//!
//! With `params = hashed` every trained weight and bias lives in an advice cell, bound by
//! one Poseidon commitment ([`zkinfer_circuits::commit::group_commitment`]: a domain element
//! naming the architecture and widths ([`param_domain`]), then the weights packed at
//! `param_bits[0]` bits and the biases at `param_bits[1]`) under a salt the owner draws once
//! at compile time. The verifying key then depends on the architecture only:
//! [`CompiledModel::verifier_file`] zeroes every parameter and drops the salt, and a verifier
//! holding that file checks proofs against the published commitment.
//!
//! # In parts
//! A model proven in parts commits part by part: part `i`'s params under its own salt
//! ([`part_salt`]: a wide hash of the owner's salt and `i`, so that two parts with equal
//! weights do not show equal commitments), each in its part's domain. The owner publishes
//! one value, [`parts_commitment`]: a wide blake2b hash of a domain tag, the number of parts
//! and every part's commitment in order. The model file records the list; a verifier checks
//! that the list hashes to the published value and each part's proof against its entry, so
//! a part proven with other weights, or two parts' weights swapped, fails at that part. A
//! part with no params, or with an embedding table (see
//! [`check_hashable`](super::partition::check_hashable)), keeps fixed params: its entry is
//! empty, the verifying key of that part commits to its weights as with fixed params, and
//! the published value binds a digest of its slice of the graph ([`fixed_part_digest`]), so
//! a verifier file cannot carry other fixed weights, nor move a node between parts.

use blake2::{Blake2b512, Digest};
use ff::{FromUniformBytes, PrimeField};
use pasta_curves::Fp;
use rand::rand_core::{Rng, UnwrapErr};
use rand::rngs::SysRng;
use zkinfer_circuits::commit;

use super::bundle::{felt_hex, parse_felt};
use super::compile::CompiledModel;
use super::format::WeightsCommitment;
use super::partition::{check_hashable, exposed_params};
use crate::circuit::param_domain;
use crate::error::{CompileError, WeightsError};
use crate::graph::qgraph::QGraph;
use crate::visibility::Visibilities;

/// The commitment to `graph`'s parameters at the packing widths of `visibility` under
/// `salt`, in the domain of its architecture and visibilities ([`param_domain`]).
fn commit_params(graph: &QGraph, visibility: &Visibilities, salt: Fp) -> Result<Fp, CompileError> {
    crate::counters::committed();
    let params = graph.params();
    let bits = visibility.param_bits;
    commit::group_commitment(
        &[(&params.values[0], bits[0]), (&params.values[1], bits[1])],
        salt,
        param_domain(graph, visibility),
    )
    .map_err(|(group, index)| {
        WeightsError::TooWide {
            kind: ["weight", "bias"][group],
            index,
            value: params.values[group][index],
            bits: bits[group],
        }
        .into()
    })
}

/// The salt of part `i`'s params: a uniform field element from a wide hash of the owner's
/// salt and `i`.
fn part_salt(salt: Fp, i: usize) -> Fp {
    let mut hasher = Blake2b512::new();
    hasher.update(b"zkinfer part weights salt v1");
    hasher.update(salt.to_repr());
    hasher.update((i as u64).to_le_bytes());
    Fp::from_uniform_bytes(&hasher.finalize().into())
}

/// What a model proven in parts publishes of one part ([`parts_commitment`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartWeights {
    /// A part that hashes its params: their Poseidon commitment.
    Hashed(Fp),
    /// A part that keeps fixed params: a digest of its slice of the graph, weights included
    /// ([`fixed_part_digest`]). Its weights travel in the verifier file, so the published
    /// value must bind them, or a file handed to a verifier could carry other ones.
    Fixed(Fp),
}

/// The digest of a part with fixed params: a wide blake2b hash of a domain tag, its
/// visibilities and its slice of the graph (every weight, scale and width), as a field
/// element.
pub fn fixed_part_digest(graph: &QGraph, visibility: &Visibilities) -> Fp {
    let mut hasher = Blake2b512::new();
    hasher.update(b"zkinfer fixed part digest v1");
    // A graph and visibilities always serialise (string keys, finite numbers).
    hasher.update(serde_json::to_vec(visibility).unwrap_or_default());
    hasher.update([0]);
    hasher.update(serde_json::to_vec(graph).unwrap_or_default());
    Fp::from_uniform_bytes(&hasher.finalize().into())
}

/// The weights commitment of a model proven in parts, from what it publishes of each part
/// in order: a wide blake2b hash of a domain tag, the number of parts, and per part a flag
/// and its commitment or digest, reduced to a field element. It is computed outside any
/// circuit, so a collision-resistant hash binds the list as well as Poseidon would: the
/// hashed parts' commitments (each in its part's architecture's domain) and the fixed parts'
/// slices of the graph, so a verifier file whose list hashes to the published value has
/// the owner's parts.
pub fn parts_commitment(parts: &[PartWeights]) -> Fp {
    let mut hasher = Blake2b512::new();
    hasher.update(b"zkinfer parted weights commitment v2");
    hasher.update((parts.len() as u64).to_le_bytes());
    for part in parts {
        let (flag, value) = match part {
            PartWeights::Hashed(c) => (1u8, c),
            PartWeights::Fixed(d) => (0u8, d),
        };
        hasher.update([flag]);
        hasher.update(value.to_repr());
    }
    Fp::from_uniform_bytes(&hasher.finalize().into())
}

impl CompiledModel {
    /// With hashed parameters: draws the owner's salt and records the commitment to the
    /// parameters at the visibilities' widths. Nothing happens otherwise.
    pub(super) fn hash_params(&mut self) -> Result<(), CompileError> {
        if !self.visibility.hashed_params() {
            return Ok(());
        }
        // What hashed params cannot cover is refused by `check_weights`, which every
        // compiled model passes next. The widths are the visibilities' (set from the values
        // unless given): values that do not fit are named by the commitment.
        self.commit_weights(random_salt())
    }

    /// Commits the hashed parameters again after the parts changed
    /// ([`CompiledModel::split_at`]): under the owner's salt, or a fresh one when they were
    /// not committed yet. Nothing happens unless they are hashed; a verifier file, which has
    /// no salt, is refused.
    pub(super) fn recommit_weights(&mut self) -> Result<(), CompileError> {
        if !self.visibility.hashed_params() {
            return Ok(());
        }
        let salt = match &self.weights {
            None => random_salt(),
            Some(_) => self.weights_salt().ok_or(CompileError::VerifierFile)?,
        };
        self.commit_weights(salt)
    }

    /// Records the commitment to the parameters under `salt`: the whole model's, or each
    /// part's and their digest.
    fn commit_weights(&mut self, salt: Fp) -> Result<(), CompileError> {
        let (commitment, parts) = if self.is_parted() {
            self.validate_parts()?;
            for (part, range) in self.part_ranges().into_iter().enumerate() {
                if let Some(offset) = exposed_params(&self.graph.nodes[range.clone()]) {
                    let index = range.start + offset;
                    return Err(WeightsError::ExposedParams {
                        part,
                        node: self.graph.nodes[index].name.clone(),
                        index,
                    }
                    .into());
                }
            }
            let parts = (0..self.parts.len())
                .map(|i| {
                    let (graph, vis) = self.part_graph(i)?;
                    Ok(match vis.hashed_params() {
                        true => {
                            PartWeights::Hashed(commit_params(&graph, &vis, part_salt(salt, i))?)
                        }
                        false => PartWeights::Fixed(fixed_part_digest(&graph, &vis)),
                    })
                })
                .collect::<Result<Vec<_>, CompileError>>()?;
            if !parts.iter().any(|p| matches!(p, PartWeights::Hashed(_))) {
                return Err(WeightsError::NoHashablePart.into());
            }
            let hex = parts
                .iter()
                .map(|p| match p {
                    PartWeights::Hashed(c) => Some(felt_hex(c)),
                    PartWeights::Fixed(_) => None,
                })
                .collect();
            (parts_commitment(&parts), hex)
        } else {
            check_hashable(&self.graph)?;
            (
                commit_params(&self.graph, &self.visibility, salt)?,
                Vec::new(),
            )
        };
        self.weights = Some(WeightsCommitment {
            commitment: felt_hex(&commitment),
            salt: Some(felt_hex(&salt)),
            parts,
        });
        Ok(())
    }

    /// Part `i`'s commitment record, as its own model file has it: its entry of the parts'
    /// list and its salt (in the owner's file), or nothing for a part with fixed params.
    pub(super) fn part_weights(
        &self,
        i: usize,
        visibility: &Visibilities,
    ) -> Result<Option<WeightsCommitment>, CompileError> {
        if !visibility.hashed_params() {
            return Ok(None);
        }
        let weights = self
            .weights
            .as_ref()
            .ok_or(WeightsError::MissingCommitment)?;
        let commitment =
            weights
                .parts
                .get(i)
                .cloned()
                .flatten()
                .ok_or(WeightsError::PartEntry {
                    part: i,
                    hashed: true,
                })?;
        Ok(Some(WeightsCommitment {
            commitment,
            salt: self.weights_salt().map(|s| felt_hex(&part_salt(s, i))),
            parts: Vec::new(),
        }))
    }

    /// The published commitment to the parameters, when they are hashed.
    pub fn weights_commitment(&self) -> Option<Fp> {
        self.weights
            .as_ref()
            .and_then(|w| parse_felt(&w.commitment).ok())
    }

    /// The owner's salt of the parameters' commitment: `None` unless the parameters are
    /// hashed and this is the owner's file.
    pub(super) fn weights_salt(&self) -> Option<Fp> {
        self.weights
            .as_ref()
            .and_then(|w| w.salt.as_deref())
            .and_then(|s| parse_felt(s).ok())
    }

    /// Whether this is a verifier file: hashed parameters, zeroed, without the salt. It
    /// verifies; it cannot prove.
    pub fn is_verifier_file(&self) -> bool {
        self.weights.as_ref().is_some_and(|w| w.salt.is_none())
    }

    /// The verifier file of a model with hashed parameters: the same architecture (so the
    /// same verifying key) with every parameter zero and no salt, recording the published
    /// commitment.
    pub fn verifier_file(&self) -> Result<Self, CompileError> {
        let weights = self.weights.as_ref().ok_or(WeightsError::NotHashed)?;
        let mut file = self.clone();
        // Every hashed param is zeroed (in parts, those of the parts that hash theirs).
        let ranges = match self.is_parted() {
            true => self.part_ranges(),
            false => std::iter::once(0..self.graph.nodes.len()).collect(),
        };
        for (i, range) in ranges.into_iter().enumerate() {
            if self.is_parted() && weights.parts.get(i).is_none_or(Option::is_none) {
                continue;
            }
            for node in &mut file.graph.nodes[range] {
                node.op.zero_params();
            }
        }
        // The calibration report measured the weights: it stays with the owner.
        file.quant_report = None;
        file.weights = Some(WeightsCommitment {
            salt: None,
            ..weights.clone()
        });
        file.validate()?;
        Ok(file)
    }

    /// Replaces the published commitment a verifier checks proofs against (the one the
    /// model owner announced, say). The owner's file then no longer proves.
    pub fn expect_weights_commitment(&mut self, commitment: Fp) -> Result<(), CompileError> {
        let parted = self.is_parted();
        let weights = self.weights.as_mut().ok_or(WeightsError::NoCommitment)?;
        if parted {
            // In parts, the file's list is what proofs are checked against: it must be the
            // published one.
            let found = parse_felt(&weights.commitment).ok();
            if found != Some(commitment) {
                return Err(WeightsError::PartsCommitment {
                    found: weights.commitment.clone(),
                    recorded: felt_hex(&commitment),
                }
                .into());
            }
            return Ok(());
        }
        if parse_felt(&weights.commitment).ok() != Some(commitment) {
            weights.commitment = felt_hex(&commitment);
            weights.salt = None;
        }
        Ok(())
    }

    /// Checks the parameters' commitment record against the visibilities and, in the
    /// owner's file, against the weights themselves (their commitment computed again).
    pub(super) fn validate_weights(&self) -> Result<(), CompileError> {
        self.check_weights()?;
        let Some(weights) = &self.weights else {
            return Ok(());
        };
        let expected = felt("weights commitment", &weights.commitment)?;
        // In parts, each part's model checks its weights against its entry (see
        // `CompiledModel::part_model`).
        if let (Some(salt), false) = (&weights.salt, self.is_parted()) {
            let salt = felt("salt", salt)?;
            let found = commit_params(&self.graph, &self.visibility, salt)?;
            if found != expected {
                return Err(WeightsError::Mismatch {
                    found: felt_hex(&found),
                    recorded: weights.commitment.clone(),
                }
                .into());
            }
        }
        Ok(())
    }

    /// [`CompiledModel::validate_weights`] without computing the commitment: the record
    /// against the visibilities, the widths, what hashed params cover, and a commitment
    /// that parses.
    pub(super) fn check_weights(&self) -> Result<(), CompileError> {
        match (&self.weights, self.visibility.hashed_params()) {
            (None, false) => return Ok(()),
            (Some(_), false) => return Err(WeightsError::UnexpectedCommitment.into()),
            (None, true) => return Err(WeightsError::MissingCommitment.into()),
            (Some(_), true) => {}
        }
        let bits = self.visibility.param_bits;
        if !bits.iter().all(|b| (1..=62).contains(b)) {
            return Err(WeightsError::PackingWidths { bits }.into());
        }
        let Some(weights) = &self.weights else {
            return Ok(());
        };
        let commitment = felt("weights commitment", &weights.commitment)?;
        if let Some(salt) = &weights.salt {
            felt("salt", salt)?;
        }
        if self.is_parted() {
            self.check_part_commitments(weights, commitment)
        } else if !weights.parts.is_empty() {
            Err(WeightsError::PartCount {
                found: weights.parts.len(),
                parts: 0,
            }
            .into())
        } else {
            Ok(check_hashable(&self.graph)?)
        }
    }

    /// The parts' commitments against the parts: one entry per part, present exactly for
    /// the parts that hash their params, and with the fixed parts' digests, hashing to the
    /// model's `commitment`.
    fn check_part_commitments(
        &self,
        weights: &WeightsCommitment,
        commitment: Fp,
    ) -> Result<(), CompileError> {
        self.validate_parts()?;
        if weights.parts.len() != self.parts.len() {
            return Err(WeightsError::PartCount {
                found: weights.parts.len(),
                parts: self.parts.len(),
            }
            .into());
        }
        let mut parts = Vec::with_capacity(self.parts.len());
        for (i, entry) in weights.parts.iter().enumerate() {
            let (graph, vis) = self.part_graph(i)?;
            parts.push(match (vis.hashed_params(), entry) {
                (true, Some(c)) => PartWeights::Hashed(felt("a part's weights commitment", c)?),
                (false, None) => PartWeights::Fixed(fixed_part_digest(&graph, &vis)),
                (hashed, _) => return Err(WeightsError::PartEntry { part: i, hashed }.into()),
            });
        }
        if !parts.iter().any(|p| matches!(p, PartWeights::Hashed(_))) {
            return Err(WeightsError::NoHashablePart.into());
        }
        let found = parts_commitment(&parts);
        if found != commitment {
            return Err(WeightsError::PartsCommitment {
                found: felt_hex(&found),
                recorded: weights.commitment.clone(),
            }
            .into());
        }
        Ok(())
    }
}

/// `text` as a field element, or the error naming `field`.
fn felt(field: &'static str, text: &str) -> Result<Fp, WeightsError> {
    parse_felt(text).map_err(|source| WeightsError::Felt { field, source })
}

/// A uniformly random field element from the operating system's generator.
pub(super) fn random_salt() -> Fp {
    let mut bytes = [0u8; 64];
    UnwrapErr(SysRng).fill_bytes(&mut bytes);
    Fp::from_uniform_bytes(&bytes)
}
