//! Keys, built from a model's shape ([`CompiledModel::keygen_model`], `api/shape.rs`) so
//! that every part of one shape can share them: a proving key with its parameters
//! ([`ProvingKeys`]) and a verifying key with its parameters ([`VerifyingKeys`]). The digest
//! a model's proofs name is its own (`api/identity.rs`), not its keys'.

use std::sync::Arc;

use halo2_proofs::{
    plonk::{ProvingKey, VerifyingKey},
    poly::commitment::Params,
};
use pasta_curves::EqAffine;

use super::compile::CompiledModel;
use super::params::ParamsCache;
use crate::error::{Error, ProveError};

/// Parameters handed in must be of the model's `k` (a mismatch would fail deep in halo2).
pub(super) fn check_k(k: u32, params: &Params<EqAffine>) -> Result<(), Error> {
    if params.k() != k {
        return Err(ProveError::Params {
            path: "parameters in hand".into(),
            reason: format!("they are for k = {}, the model needs k = {k}", params.k()),
        }
        .into());
    }
    Ok(())
}

/// Parameters of `model`'s own `k`, from `cache`.
fn params_for(model: &CompiledModel, cache: &ParamsCache) -> Result<Params<EqAffine>, Error> {
    Ok(cache.get(model.layout()?.k)?)
}

/// A proving key and its parameters, built from one shape: every model (part) of that
/// shape proves with them ([`super::Prover::with_keys`]).
#[derive(Debug)]
pub struct ProvingKeys {
    pub(super) params: Params<EqAffine>,
    pub(super) pk: ProvingKey<EqAffine>,
    shape: String,
}

impl ProvingKeys {
    /// Builds the keys of `model`'s shape with parameters from `cache`.
    pub fn build(model: &CompiledModel, cache: &ParamsCache) -> Result<Self, Error> {
        Self::with_params(model, params_for(model, cache)?)
    }

    /// Builds the keys of `model`'s shape with parameters already in hand.
    pub fn from_params(model: &CompiledModel, params: Params<EqAffine>) -> Result<Self, Error> {
        check_k(model.layout()?.k, &params)?;
        Self::with_params(model, params)
    }

    fn with_params(model: &CompiledModel, params: Params<EqAffine>) -> Result<Self, Error> {
        crate::counters::proving_key();
        let shape = model.keygen_model();
        let vk = shape.circuit().keygen_vk(&params)?;
        let pk = shape.circuit().keygen_pk(&params, vk)?;
        Ok(Self {
            params,
            pk,
            shape: model.shape_digest(),
        })
    }

    /// The digest of the shape the keys were built from ([`CompiledModel::shape_digest`]).
    pub fn shape(&self) -> &str {
        &self.shape
    }

    /// The verifying key.
    pub fn vk(&self) -> &VerifyingKey<EqAffine> {
        self.pk.get_vk()
    }
}

/// A verifying key and its parameters, built from one shape: every model (part) of that
/// shape is verified with them.
#[derive(Debug)]
pub struct VerifyingKeys {
    pub(super) params: Params<EqAffine>,
    pub(super) vk: VerifyingKey<EqAffine>,
    shape: String,
}

impl VerifyingKeys {
    /// Builds the verifying key of `model`'s shape with parameters from `cache`.
    pub fn build(model: &CompiledModel, cache: &ParamsCache) -> Result<Self, Error> {
        Self::with_params(model, params_for(model, cache)?)
    }

    /// Builds the verifying key of `model`'s shape with parameters already in hand.
    pub fn from_params(model: &CompiledModel, params: Params<EqAffine>) -> Result<Self, Error> {
        check_k(model.layout()?.k, &params)?;
        Self::with_params(model, params)
    }

    fn with_params(model: &CompiledModel, params: Params<EqAffine>) -> Result<Self, Error> {
        crate::counters::verifying_key();
        let vk = model.keygen_model().circuit().keygen_vk(&params)?;
        Ok(Self {
            params,
            vk,
            shape: model.shape_digest(),
        })
    }

    /// The digest of the shape the key was built from.
    pub fn shape(&self) -> &str {
        &self.shape
    }
}

/// `keys` for `model`, when they were built from its shape; otherwise the error naming both
/// shapes (keys of another circuit would make every proof fail, or check another circuit).
pub(super) fn checked<K>(
    keys: &Arc<K>,
    shape: &str,
    model: &CompiledModel,
) -> Result<Arc<K>, Error> {
    let own = model.shape_digest();
    if own != shape {
        return Err(ProveError::KeyShape {
            keys: shape.to_string(),
            model: own,
        }
        .into());
    }
    Ok(Arc::clone(keys))
}
