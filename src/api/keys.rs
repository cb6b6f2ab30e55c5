//! Keys: the verifying key rebuilt from a model (its digest and the model's identity are in
//! `api/identity.rs`).

use halo2_proofs::{plonk::VerifyingKey, poly::commitment::Params};
use pasta_curves::EqAffine;

use super::compile::CompiledModel;
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

pub(super) fn build_vk(
    model: &CompiledModel,
    params: &Params<EqAffine>,
) -> Result<VerifyingKey<EqAffine>, Error> {
    model.circuit().keygen_vk(params)
}
