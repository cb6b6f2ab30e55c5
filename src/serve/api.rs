//! The HTTP endpoints. Every body is JSON, every failure a JSON error
//! `{"ok": false, "error": {"kind", "message"}}` with a 4xx status for what the caller sent
//! (naming the field or value at fault) and 503 (with `Retry-After`) for a full queue.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::body::off_thread;
use super::error::{ApiError, ApiResult};
use super::keys::{shape_key, KeyCache};
use super::models::{valid_id, Model, RegisterError};
use super::queue::{Queue, Slot};
use super::shared::Shared;
use crate::api::Openings;
use crate::input::parse_samples;
use crate::{
    CompiledModel, Error, LinkSeed, PartedProof, PartedProver, Phase, ProofBundle, Prover,
    ProvingKeys,
};

/// Query parameters: only `allowed` names, each at most once.
fn query(raw: Option<String>, allowed: &[&str]) -> ApiResult<HashMap<String, String>> {
    let mut out = HashMap::new();
    for pair in raw
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !allowed.contains(&name) {
            return Err(ApiError::bad_request(
                "bad_query",
                format!(
                    "unknown query parameter '{name}' (this endpoint takes: {})",
                    allowed.join(", ")
                ),
            ));
        }
        if out.insert(name.to_owned(), value.to_owned()).is_some() {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("query parameter '{name}' given twice"),
            ));
        }
    }
    Ok(out)
}

fn flag(params: &HashMap<String, String>, name: &str) -> ApiResult<bool> {
    match params.get(name).map(String::as_str) {
        None | Some("false" | "0") => Ok(false),
        Some("" | "true" | "1") => Ok(true),
        Some(other) => Err(ApiError::bad_request(
            "bad_query",
            format!("query parameter '{name}' = '{other}': expected true or false"),
        )),
    }
}

/// Requires `Authorization: Bearer <token>` when the server has a token. Every handler
/// that needs it calls it before reading the body: an unauthorised client costs the server
/// its request head only.
fn authorise(shared: &Shared, headers: &HeaderMap) -> ApiResult<()> {
    let Some(token) = &shared.config.token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorised",
            "this endpoint needs the header 'Authorization: Bearer <token>' with the server's token",
        ))
    }
}

fn model_by_id(shared: &Shared, id: &str) -> ApiResult<Arc<Model>> {
    shared.models.by_id(id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_model",
            format!("no model named '{id}' is loaded (GET /v1/models lists them)"),
        )
    })
}

/// Runs CPU-bound `job` on a blocking thread in a slot of `queue`, within the request's
/// time limit (which includes the wait for a slot).
pub(super) async fn run_in<T: Send + 'static>(
    shared: &Shared,
    queue: &Queue,
    what: &str,
    job: impl FnOnce() -> T + Send + 'static,
) -> ApiResult<T> {
    let started = Instant::now();
    let limit = shared.config.request_timeout;
    let ticket = queue.admit().map_err(|why| ApiError::refused(why, what))?;
    let mut shutdown = shared.shutdown.clone();
    let slot: Slot = queue
        .slot(ticket, limit, &mut shutdown)
        .await
        .map_err(|why| ApiError::refused(why, what))?;
    let task = tokio::task::spawn_blocking(move || {
        // The slot is held until the job ends, even if the request stops waiting for it.
        let _slot = slot;
        job()
    });
    let left = limit.saturating_sub(started.elapsed());
    match tokio::time::timeout(left, task).await {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the {what} job failed: {e}"),
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "the {what} did not finish within the request time limit of {} s",
                limit.as_secs()
            ),
        )),
    }
}

/// `GET /healthz`.
pub async fn healthz(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({ "ok": true, "models": shared.models.len() }))
}

/// `GET /metrics`.
pub async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let text = shared.metrics.render(
        &[
            ("prove", shared.proofs.waiting(), shared.proofs.running()),
            (
                "verify",
                shared.verifications.waiting(),
                shared.verifications.running(),
            ),
            (
                "verify_batch",
                shared.batches.waiting(),
                shared.batches.running(),
            ),
        ],
        shared.keys.stats(),
        shared.models.len(),
        shared.bodies.in_flight() + shared.model_bodies.in_flight(),
    );
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}

/// `GET /v1/models`: nothing is computed per request but whether keys are warm.
pub async fn list_models(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({ "ok": true, "models": shared.models.summaries(&shared.keys) }))
}

/// `GET /v1/models/{id}`: the model's inspection (shape, cost, rows per node), computed at
/// registration.
pub async fn model_info(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let model = model_by_id(&shared, &id)?;
    Ok(Json(json!({
        "ok": true, "id": model.id, "digest": model.digest, "inspection": model.inspection,
    })))
}

/// `PUT /v1/models/{id}?replace=false`: registers a compiled model (the body is a `.zkm`
/// file) and builds its verifying key. Needs the token. An id in use is replaced only with
/// `replace=true`; a model whose key another id serves is refused (409 either way).
pub async fn register(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let checked = register_checks(&shared, &id, raw, &headers);
    let (replace, existed) = match checked {
        Ok(checked) => checked,
        Err(e) => {
            shared.model_bodies.discard(&headers, body).await;
            return Err(e);
        }
    };
    let limit = shared.config.model_limit;
    let (bytes, held) = shared.model_bodies.read(&headers, body, limit).await?;
    let what = format!("the body (model '{id}')");
    let model = off_thread(move || CompiledModel::from_json(&bytes, &what))
        .await?
        .map_err(|e| ApiError::bad_request("bad_model", e.to_string()))?;
    let job = {
        let shared = shared.clone();
        let id = id.clone();
        move || {
            let _held = held;
            shared
                .models
                .register(&id, model, &shared.keys, &shared.config.params, replace)
        }
    };
    let entry = run_in(&shared, &shared.verifications, "key build", job)
        .await?
        .map_err(|e| match e {
            RegisterError::Model(e @ (Error::Compile(_) | Error::Quant(_))) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_model", e.to_string())
            }
            RegisterError::Model(e) => ApiError::from_error(e),
            other => conflict(other),
        })?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(json!({
            "ok": true, "id": entry.id, "digest": entry.digest, "k": entry.k, "replaced": existed,
        })),
    ))
}

/// What a registration checks before its body: whether it replaces, and whether the id
/// existed.
fn register_checks(
    shared: &Shared,
    id: &str,
    raw: Option<String>,
    headers: &HeaderMap,
) -> ApiResult<(bool, bool)> {
    authorise(shared, headers)?;
    if !valid_id(id) {
        return Err(ApiError::bad_request(
            "bad_id",
            format!("model id '{id}': use 1-64 of A-Z a-z 0-9 . _ -, not starting with a dot"),
        ));
    }
    let replace = flag(&query(raw, &["replace"])?, "replace")?;
    let existed = shared.models.by_id(id).is_some();
    if existed && !replace {
        return Err(conflict(RegisterError::Exists(id.to_owned())));
    }
    Ok((replace, existed))
}

/// What a proof checks before its body: `clamp`, and the model.
fn prove_checks(
    shared: &Shared,
    id: &str,
    raw: Option<String>,
    headers: &HeaderMap,
) -> ApiResult<(bool, Arc<Model>)> {
    authorise(shared, headers)?;
    let clamp = flag(&query(raw, &["clamp"])?, "clamp")?;
    let model = model_by_id(shared, id)?;
    if model.model.is_verifier_file() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "verifier_file",
            format!(
                "model '{}' is a verifier file: it holds no weights, so it verifies but cannot \
                 prove (register the model owner's file to prove)",
                model.id
            ),
        ));
    }
    Ok((clamp, model))
}

fn conflict(e: RegisterError) -> ApiError {
    let kind = match e {
        RegisterError::SameKey { .. } => "key_conflict",
        _ => "exists",
    };
    ApiError::new(StatusCode::CONFLICT, kind, e.to_string())
}

/// `POST /v1/models/{id}/prove?clamp=false`: the body is one input sample in any accepted
/// input format; the answer is the proof bundle (the file `zkinfer verify` reads), with the
/// time spent in a `Server-Timing` header. Needs the token.
pub async fn prove(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let checked = prove_checks(&shared, &id, raw, &headers);
    let (clamp, model) = match checked {
        Ok(checked) => checked,
        Err(e) => {
            shared.bodies.discard(&headers, body).await;
            return Err(e);
        }
    };
    let (bytes, _held) = shared
        .bodies
        .read(&headers, body, shared.config.body_limit)
        .await?;
    let samples = off_thread(move || {
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            ApiError::bad_request("bad_input", format!("the body is not UTF-8: {e}"))
        })?;
        parse_samples(text).map_err(|e| ApiError::bad_request("bad_input", format!("input: {e}")))
    })
    .await??;
    let samples = model.model.join_inputs(samples);
    let [sample] = samples.as_slice() else {
        return Err(ApiError::bad_request(
            "bad_input",
            format!(
                "input: {} samples; this endpoint proves one sample per request (send one request per sample: they run concurrently)",
                samples.len()
            ),
        ));
    };
    // Checked before queueing: a bad input never takes a slot.
    let x = model
        .model
        .quantise_input(sample, clamp)
        .map_err(ApiError::from_error)?;
    let job = {
        let keys: Arc<KeyCache> = shared.keys.clone();
        move || match &model.parted {
            Some(parted) => prove_parts(&keys, parted, x),
            None => {
                let t = Instant::now();
                let prover = keys.get::<Prover>(&model.key, &model.model)?;
                let keys_s = t.elapsed();
                let t = Instant::now();
                let (bundle, openings) = prover.prove_integer_opened(&x)?;
                Ok::<_, Error>((Proved::Whole(bundle), openings, keys_s, t.elapsed()))
            }
        }
    };
    let (bundle, openings, keys_s, prove_s) = run_in(&shared, &shared.proofs, "proving", job)
        .await?
        .map_err(ApiError::from_error)?;
    let timing = format!(
        "keys;dur={:.1}, prove;dur={:.1}",
        keys_s.as_secs_f64() * 1e3,
        prove_s.as_secs_f64() * 1e3
    );
    // A model with hashed tensors answers the bundle with the openings of its commitments,
    // which exist only here (the salts are fresh per proof): the caller keeps them.
    let mut response = if openings.openings.is_empty() {
        Json(bundle).into_response()
    } else {
        Json(json!({ "bundle": bundle, "openings": openings })).into_response()
    };
    if let Ok(value) = HeaderValue::from_str(&timing) {
        response.headers_mut().insert("server-timing", value);
    }
    Ok(response)
}

/// Proves every part of a model proven in parts on `x` under a fresh link seed, each part's
/// shape's proving keys from the cache (built when it is not there, kept under the key budget): the
/// proof in parts as JSON, the openings of the model's hashed input and output, the time
/// spent getting keys and the rest.
fn prove_parts(
    keys: &KeyCache,
    parted: &PartedProver,
    x: Vec<i64>,
) -> Result<(Proved, Openings, Duration, Duration), Error> {
    let t = Instant::now();
    let mut keys_s = Duration::ZERO;
    let mut proved = parted.prove_many_with(
        &[x],
        |_| LinkSeed::random(),
        |i, part| {
            let shapes = parted.shapes();
            let digest = &shapes.digests[shapes.of_part[i]];
            keys.get::<ProvingKeys>(&shape_key(digest), part)
        },
        |e| {
            if let (Phase::Keys, Some(took)) = (e.phase, e.took) {
                keys_s += took;
            }
        },
    )?;
    let (proof, openings) = proved.remove(0);
    Ok((
        Proved::Parted(proof),
        openings,
        keys_s,
        t.elapsed().saturating_sub(keys_s),
    ))
}

/// What the prove endpoint answers: the file `zkinfer verify` reads.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Proved {
    /// A model proven whole: its proof bundle.
    Whole(ProofBundle),
    /// A model proven in parts: the part proofs, in order.
    Parted(PartedProof),
}

/// Any other path.
pub async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "no endpoint {method} {}; see the README's service section",
            uri.path()
        ),
    )
}

/// A known path with another method.
pub async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take {method}", uri.path()),
    )
}
