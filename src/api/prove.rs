//! The prover: parameters and a proving key kept for many proofs of one model.

use std::sync::Arc;

use halo2_proofs::{
    plonk::{create_proof, keygen_pk, ProvingKey},
    poly::commitment::Params,
    transcript::{Blake2bWrite, Challenge255},
};
use pasta_curves::EqAffine;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

use super::keys::{build_vk, check_k, keygen_err, vk_digest};
use super::{CompiledModel, ParamsCache, ProofBundle, BUNDLE_FORMAT_VERSION, CIRCUIT_VERSION};
use crate::circuit::{with_dot_width, InstanceLayout, ModelCircuit};
use crate::error::{Error, ProveError};

/// Keys and parameters for proving one model. It owns its model (shared), so it can move
/// across threads and language bindings and be kept warm for many proofs.
#[derive(Debug)]
pub struct Prover {
    model: Arc<CompiledModel>,
    params: Params<EqAffine>,
    pk: ProvingKey<EqAffine>,
    digest: String,
}

impl Prover {
    /// Loads (or generates and caches) parameters and builds the proving key.
    pub fn setup(model: impl Into<Arc<CompiledModel>>, cache: &ParamsCache) -> Result<Self, Error> {
        let model = model.into();
        let params = cache.get(model.layout()?.k)?;
        Self::from_params(model, params)
    }

    /// Builds the proving key with parameters already in hand (of the model's `k`).
    pub fn from_params(
        model: impl Into<Arc<CompiledModel>>,
        params: Params<EqAffine>,
    ) -> Result<Self, Error> {
        let model = model.into();
        check_k(&model, &params)?;
        let vk = build_vk(&model, &params)?;
        let digest = vk_digest(&vk);
        let (graph, visibility) = (&model.graph, &model.visibility);
        let pk = with_dot_width!(model.dot_width, W => {
            keygen_pk(&params, vk, &ModelCircuit::<W>::for_keygen(graph, visibility))
                .map_err(keygen_err)?
        }, else return Err(model.bad_width().into()));
        Ok(Self {
            model,
            params,
            pk,
            digest,
        })
    }

    /// The model's identity.
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
        let graph = &self.model.graph;
        let witness = self.model.witness(input)?;
        let outputs = witness.outputs();
        let visibility = &self.model.visibility;
        let public = InstanceLayout::of(graph, visibility).values(&outputs, input);
        let mut transcript = Blake2bWrite::<_, EqAffine, Challenge255<_>>::init(vec![]);
        with_dot_width!(self.model.dot_width, W => {
            let circuit = ModelCircuit::<W>::for_proving(graph, visibility, &witness);
            create_proof(
                &self.params,
                &self.pk,
                std::slice::from_ref(&circuit),
                &[&[&public]],
                UnwrapErr(SysRng),
                &mut transcript,
            )
            .map_err(|source| ProveError::from_halo2("proving", circuit.failed_node(), source))?
        }, else return Err(self.model.bad_width().into()));
        Ok(ProofBundle {
            format_version: BUNDLE_FORMAT_VERSION,
            circuit_version: CIRCUIT_VERSION,
            model_digest: self.digest.clone(),
            outputs_float: graph.outputs_to_float(&outputs),
            outputs,
            public_input: visibility.public_input().then(|| input.to_vec()),
            proof: hex::encode(transcript.finalize()),
        })
    }
}
