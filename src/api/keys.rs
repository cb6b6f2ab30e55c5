//! Keys: the verifying key rebuilt from a model (its digest and the model's identity are in
//! `api/identity.rs`).

use halo2_proofs::{
    plonk::{keygen_vk, VerifyingKey},
    poly::commitment::Params,
};
use pasta_curves::EqAffine;

use super::*;
use crate::circuit::{with_dot_width, ModelCircuit};
use crate::error::{Error, ProveError};

pub(super) fn keygen_err(source: halo2_proofs::plonk::Error) -> ProveError {
    ProveError::Halo2 {
        stage: "key generation",
        source,
    }
}

/// Parameters handed in must be of the model's `k` (a mismatch would fail deep in halo2).
pub(super) fn check_k(model: &CompiledModel, params: &Params<EqAffine>) -> Result<(), Error> {
    let k = model.layout()?.k;
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
    let (graph, visibility) = (&model.graph, &model.visibility);
    with_dot_width!(model.dot_width, visibility.hashes(), W, H => {
        let circuit = ModelCircuit::<W, H>::for_keygen(graph, visibility);
        Ok(keygen_vk(params, &circuit).map_err(keygen_err)?)
    }, else Err(model.bad_width().into()))
}
