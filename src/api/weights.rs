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

use ff::FromUniformBytes;
use pasta_curves::Fp;
use rand::rand_core::{Rng, UnwrapErr};
use rand::rngs::SysRng;
use zkinfer_circuits::commit;

use super::bundle::{felt_hex, parse_felt};
use super::compile::CompiledModel;
use super::format::WeightsCommitment;
use crate::circuit::param_domain;
use crate::error::{CompileError, WeightsError};
use crate::graph::qgraph::{QGraph, QOp};
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

/// What hashed parameters cannot cover yet: an embedding table (a Gather's lookup table
/// lives in fixed columns, so the verifying key would still commit to it).
fn check_hashable(graph: &QGraph) -> Result<(), CompileError> {
    if let Some(node) = graph.nodes.iter().find(|n| matches!(n.op, QOp::Gather(_))) {
        return Err(WeightsError::Gather {
            node: node.name.clone(),
        }
        .into());
    }
    if graph.params().values.iter().all(Vec::is_empty) {
        return Err(WeightsError::NoParams.into());
    }
    Ok(())
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
        let salt = random_salt();
        let commitment = commit_params(&self.graph, &self.visibility, salt)?;
        self.weights = Some(WeightsCommitment {
            commitment: felt_hex(&commitment),
            salt: Some(felt_hex(&salt)),
        });
        Ok(())
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
        for node in &mut file.graph.nodes {
            node.op.zero_params();
        }
        // The calibration report measured the weights: it stays with the owner.
        file.quant_report = None;
        file.weights = Some(WeightsCommitment {
            commitment: weights.commitment.clone(),
            salt: None,
        });
        file.validate()?;
        Ok(file)
    }

    /// Replaces the published commitment a verifier checks proofs against (the one the
    /// model owner announced, say). The owner's file then no longer proves.
    pub fn expect_weights_commitment(&mut self, commitment: Fp) -> Result<(), CompileError> {
        let weights = self.weights.as_mut().ok_or(WeightsError::NoCommitment)?;
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
        if let Some(salt) = &weights.salt {
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
        check_hashable(&self.graph)?;
        if self.is_parted() {
            return Err(WeightsError::Parted.into());
        }
        let Some(weights) = &self.weights else {
            return Ok(());
        };
        felt("weights commitment", &weights.commitment)?;
        if let Some(salt) = &weights.salt {
            felt("salt", salt)?;
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
