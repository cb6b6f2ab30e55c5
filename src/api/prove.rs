//! The prover: parameters and a proving key kept for many proofs of one model.

use std::sync::Arc;

use halo2_proofs::poly::commitment::Params;
use pasta_curves::{EqAffine, Fp};

use super::bundle::{felt_hex, ProofBundle};
use super::compile::CompiledModel;
use super::format::{BUNDLE_FORMAT_VERSION, CIRCUIT_VERSION};
use super::identity::model_identity;
use super::keys::{checked, ProvingKeys};
use super::opening::{Committed, Opening, Openings, OPENINGS_FORMAT_VERSION};
use super::params::ParamsCache;
use super::weights::random_salt;
use crate::circuit::{InstanceLayout, Salts};
use crate::error::{CompileError, Error, ProveError};
use crate::graph::witness::Witness;

/// Keys and parameters for proving one model. It owns its model (shared), so it can move
/// across threads and language bindings and be kept warm for many proofs. Its keys are its
/// shape's ([`ProvingKeys`]): parts of one shape share them.
#[derive(Debug)]
pub struct Prover {
    model: Arc<CompiledModel>,
    keys: Arc<ProvingKeys>,
    digest: String,
}

impl Prover {
    /// Loads (or generates and caches) parameters and builds the proving key.
    pub fn setup(model: impl Into<Arc<CompiledModel>>, cache: &ParamsCache) -> Result<Self, Error> {
        let model = model.into();
        let keys = Arc::new(ProvingKeys::build(&model, cache)?);
        Self::with_keys(model, &keys)
    }

    /// Builds the proving key with parameters already in hand (of the model's `k`).
    pub fn from_params(
        model: impl Into<Arc<CompiledModel>>,
        params: Params<EqAffine>,
    ) -> Result<Self, Error> {
        let model = model.into();
        let keys = Arc::new(ProvingKeys::from_params(&model, params)?);
        Self::with_keys(model, &keys)
    }

    /// The prover of `model` with keys already built for its shape (another part of the
    /// same shape built them): no key generation. Keys of another shape are an error.
    pub fn with_keys(
        model: impl Into<Arc<CompiledModel>>,
        keys: &Arc<ProvingKeys>,
    ) -> Result<Self, Error> {
        let model = model.into();
        if model.visibility.hashed_params() && model.weights_salt().is_none() {
            return Err(CompileError::VerifierFile.into());
        }
        let keys = checked(keys, keys.shape(), &model)?;
        let digest = model_identity(keys.vk(), &model)?;
        Ok(Self {
            model,
            keys,
            digest,
        })
    }

    /// The keys this prover proves with (shared with every prover of its shape).
    pub fn keys(&self) -> &Arc<ProvingKeys> {
        &self.keys
    }

    /// The model's identity: its verifying key and the meaning of its model file
    /// ([`Verifier::model_digest`](super::Verifier::model_digest)).
    pub fn model_digest(&self) -> &str {
        &self.digest
    }

    /// The model this prover proves.
    pub fn model(&self) -> &Arc<CompiledModel> {
        &self.model
    }

    /// Proves the model on a float input (quantised to the model's input scale; out-of-range
    /// values are an error unless `clamp`).
    pub fn prove(&self, input: &[f32], clamp: bool) -> Result<ProofBundle, Error> {
        let x = self.model.quantise_input(input, clamp)?;
        self.prove_integer(&x)
    }

    /// Proves the model on an integer input.
    pub fn prove_integer(&self, input: &[i64]) -> Result<ProofBundle, Error> {
        self.prove_integer_opened(input).map(|(bundle, _)| bundle)
    }

    /// Proves the model on an integer input, committing each hashed tensor under a fresh
    /// random salt; returns the bundle and the openings of its commitments (empty when
    /// nothing is hashed), which the prover keeps to reveal later.
    pub fn prove_integer_opened(&self, input: &[i64]) -> Result<(ProofBundle, Openings), Error> {
        let salts = Salts {
            input: random_salt(),
            output: random_salt(),
            params: Fp::zero(),
        };
        self.prove_salted(input, &salts)
    }

    /// [`Prover::prove_integer_opened`] under the given salts (they must be secret and
    /// random: a known salt lets anyone test guesses of a hashed tensor). Hashed
    /// parameters are always committed under the model owner's salt, whatever
    /// `salts.params` says: their commitment is the model's, the same in every proof.
    pub fn prove_salted(
        &self,
        input: &[i64],
        salts: &Salts,
    ) -> Result<(ProofBundle, Openings), Error> {
        let witness = self.model.witness(input)?;
        self.prove_witness(input, &witness, salts)
    }

    /// [`Prover::prove_salted`] with the integer forward pass on `input` already run by
    /// this model (a caller that times the two phases apart, or hands the outputs on).
    pub(crate) fn prove_witness(
        &self,
        input: &[i64],
        witness: &Witness,
        salts: &Salts,
    ) -> Result<(ProofBundle, Openings), Error> {
        let graph = &self.model.graph;
        let outputs = witness.outputs();
        let visibility = &self.model.visibility;
        let layout = InstanceLayout::of(graph, visibility);
        let salts = &Salts {
            params: self.model.weights_salt().unwrap_or(salts.params),
            ..*salts
        };
        let mut commitments =
            layout
                .commit(&outputs, input, salts)
                .map_err(|index| ProveError::Commitment {
                    reason: format!("value {index} is outside its tensor's range"),
                })?;
        commitments.params = self.model.weights_commitment();
        let public = layout.values(&outputs, input, &commitments);
        let proof = self.model.circuit().prove(
            &self.keys.params,
            &self.keys.pk,
            witness,
            *salts,
            &public,
        )?;
        let opening = |tensor, values: &[i64], salt, commitment: Option<Fp>| {
            commitment.map(|c| Opening {
                tensor,
                values: values.to_vec(),
                salt: felt_hex(&salt),
                commitment: felt_hex(&c),
            })
        };
        let openings = Openings {
            format_version: OPENINGS_FORMAT_VERSION,
            model_digest: self.digest.clone(),
            openings: [
                opening(Committed::Input, input, salts.input, commitments.input),
                opening(
                    Committed::Output,
                    &outputs,
                    salts.output,
                    commitments.output,
                ),
            ]
            .into_iter()
            .flatten()
            .collect(),
        };
        let hashed_output = commitments.output.is_some();
        let bundle = ProofBundle {
            format_version: BUNDLE_FORMAT_VERSION,
            circuit_version: CIRCUIT_VERSION,
            model_digest: self.digest.clone(),
            outputs_float: if hashed_output {
                Vec::new()
            } else {
                graph.outputs_to_float(&outputs)
            },
            outputs: if hashed_output { Vec::new() } else { outputs },
            public_input: visibility.public_input().then(|| input.to_vec()),
            input_commitment: commitments.input.as_ref().map(felt_hex),
            output_commitment: commitments.output.as_ref().map(felt_hex),
            weights_commitment: commitments.params.as_ref().map(felt_hex),
            proof: hex::encode(proof),
        };
        Ok((bundle, openings))
    }
}
