//! The verification endpoints: one bundle, or a batch of bundles of any loaded models.
//! A bundle that parses always gets a verdict (`valid` true with its outputs, or false with
//! why); only a body that is not a bundle, or a model this server does not hold, is a 4xx.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use super::api::{body, parse, run_in, ApiError, ApiResult};
use super::models::Model;
use super::Shared;
use crate::error::VerifyError;
use crate::input::argmax;
use crate::{Error, ProofBundle, Verifier};

/// The most bundles one batch request may carry.
pub const MAX_BATCH: usize = 1024;

/// One bundle's verdict.
#[derive(Debug, Serialize)]
pub(super) struct Verdict {
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outputs: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outputs_float: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    argmax: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_commitment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_commitment: Option<String>,
    /// With hashed params: the weights commitment the proof was checked against.
    #[serde(skip_serializing_if = "Option::is_none")]
    weights_commitment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
}

impl Verdict {
    fn valid(model: &Model, bundle: &ProofBundle, outputs: Vec<f64>) -> Self {
        Self {
            valid: true,
            model: Some(model.id.clone()),
            outputs: Some(bundle.outputs.clone()),
            argmax: argmax(&outputs),
            outputs_float: Some(outputs),
            input_commitment: bundle.input_commitment.clone(),
            output_commitment: bundle.output_commitment.clone(),
            weights_commitment: bundle.weights_commitment.clone(),
            error: None,
        }
    }

    fn invalid(model: Option<&Model>, kind: &str, message: String) -> Self {
        Self {
            valid: false,
            model: model.map(|m| m.id.clone()),
            outputs: None,
            outputs_float: None,
            argmax: None,
            input_commitment: None,
            output_commitment: None,
            weights_commitment: None,
            error: Some(json!({ "kind": kind, "message": message })),
        }
    }

    fn rejected(model: &Model, e: &VerifyError) -> Self {
        Self::invalid(Some(model), verify_kind(e), e.to_string())
    }
}

fn verify_kind(e: &VerifyError) -> &'static str {
    match e {
        VerifyError::FormatVersion { .. } | VerifyError::CircuitVersion { .. } => "version",
        VerifyError::ModelMismatch { .. } => "model_mismatch",
        VerifyError::Shape { .. } | VerifyError::ProofLength { .. } => "shape",
        VerifyError::OutOfRange { .. } | VerifyError::FloatMismatch { .. } => "public_values",
        VerifyError::InvalidProof(_) => "invalid_proof",
        VerifyError::Commitment { .. }
        | VerifyError::Opening { .. }
        | VerifyError::WeightsCommitment { .. } => "commitment",
        VerifyError::PartCount { .. } | VerifyError::Link { .. } => "parts",
        VerifyError::Part { source, .. } => verify_kind(source),
    }
}

fn model_of(shared: &Shared, bundle: &ProofBundle) -> Result<Arc<Model>, String> {
    let key = super::models::model_key(&bundle.model_digest, bundle.weights_commitment.as_deref());
    shared
        .models
        .by_key(&key)
        .ok_or_else(|| match &bundle.weights_commitment {
            None => format!(
                "no loaded model has digest {} (GET /v1/models lists them)",
                bundle.model_digest
            ),
            Some(w) => format!(
            "no loaded model has digest {} and weights commitment {w} (GET /v1/models lists them)",
            bundle.model_digest
        ),
        })
}

/// `POST /v1/verify`: the body is a proof bundle. A bundle that parses gets `200` with
/// `valid` true (and its outputs) or false (and why); a body that is not a bundle, or a
/// bundle of a model this server does not hold, is a 4xx.
pub async fn verify(
    State(shared): State<Arc<Shared>>,
    bytes: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Verdict>> {
    let bytes = body(bytes)?;
    let bundle: ProofBundle = parse(&bytes, "a proof bundle")?;
    let model = model_of(&shared, &bundle)
        .map_err(|m| ApiError::new(StatusCode::NOT_FOUND, "unknown_model", m))?;
    let job = {
        let keys = shared.keys.clone();
        move || {
            let verifier = keys.get::<Verifier>(&model.key, &model.model)?;
            Ok::<_, Error>(match verifier.verify(&bundle) {
                Ok(outputs) => Verdict::valid(&model, &bundle, outputs),
                Err(e) => Verdict::rejected(&model, &e),
            })
        }
    };
    let verdict = run_in(&shared, &shared.verifications, "verification", job)
        .await?
        .map_err(ApiError::from_error)?;
    Ok(Json(verdict))
}

/// `POST /v1/verify/batch`: the body is a JSON array of bundles (or `{"bundles": [...]}`),
/// of any loaded models. The bundles of each model are checked together in one batch (one
/// multi-scalar multiplication); only when a batch fails are they checked one by one to
/// name the invalid ones. `valid` is true when every bundle is.
pub async fn verify_batch(
    State(shared): State<Arc<Shared>>,
    bytes: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let bytes = body(bytes)?;
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Batch {
        List(Vec<Value>),
        Wrapped { bundles: Vec<Value> },
    }
    let (Batch::List(items) | Batch::Wrapped { bundles: items }) = parse(
        &bytes,
        "an array of proof bundles (or {\"bundles\": [...]})",
    )?;
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::bad_request(
            "bad_batch",
            format!(
                "a batch holds 1 to {MAX_BATCH} bundles, not {}",
                items.len()
            ),
        ));
    }
    let bundles = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_value::<ProofBundle>(item).map_err(|e| {
                ApiError::bad_request(
                    "bad_json",
                    format!("bundles[{i}] is not a proof bundle: {e}"),
                )
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let job = {
        let shared = shared.clone();
        move || batch_verdicts(&shared, bundles)
    };
    let verdicts = run_in(&shared, &shared.verifications, "verification", job).await?;
    Ok(Json(json!({
        "ok": true,
        "valid": verdicts.iter().all(|v| v.valid),
        "results": verdicts,
    })))
}

/// One model's bundles of a batch: the model, their places in the request, the bundles.
type Group = (Arc<Model>, Vec<usize>, Vec<ProofBundle>);

fn batch_verdicts(shared: &Shared, bundles: Vec<ProofBundle>) -> Vec<Verdict> {
    let mut verdicts: Vec<Option<Verdict>> = bundles.iter().map(|_| None).collect();
    // Each model's bundles (moved, not copied), with their places in the request.
    let mut groups: HashMap<String, Group> = HashMap::new();
    for (i, bundle) in bundles.into_iter().enumerate() {
        match model_of(shared, &bundle) {
            Ok(model) => {
                let group = groups
                    .entry(model.key.clone())
                    .or_insert_with(|| (model, Vec::new(), Vec::new()));
                group.1.push(i);
                group.2.push(bundle);
            }
            Err(message) => verdicts[i] = Some(Verdict::invalid(None, "unknown_model", message)),
        }
    }
    for (model, places, group) in groups.into_values() {
        let verifier = match shared.keys.get::<Verifier>(&model.key, &model.model) {
            Ok(v) => v,
            Err(e) => {
                for &i in &places {
                    verdicts[i] = Some(Verdict::invalid(Some(&model), "setup", e.to_string()));
                }
                continue;
            }
        };
        let all_valid = group.len() > 1 && verifier.verify_batch(&group).is_ok();
        for (&i, bundle) in places.iter().zip(&group) {
            let verdict = if all_valid {
                Verdict::valid(
                    &model,
                    bundle,
                    model.model.graph.outputs_to_float(&bundle.outputs),
                )
            } else {
                match verifier.verify(bundle) {
                    Ok(outputs) => Verdict::valid(&model, bundle, outputs),
                    Err(e) => Verdict::rejected(&model, &e),
                }
            };
            verdicts[i] = Some(verdict);
        }
    }
    verdicts.into_iter().flatten().collect()
}
