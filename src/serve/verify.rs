//! The verification endpoints: one bundle, or a batch of bundles of any loaded models.
//! A bundle that parses always gets a verdict (`valid` true with its outputs, or false with
//! why); only a body that is not a bundle, or a model this server does not hold, is a 4xx.

use std::collections::HashMap;
use std::sync::Arc;

use std::cell::Cell;
use std::fmt;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use serde_json::{json, Value};

use super::api::run_in;
use super::body::off_thread;
use super::error::{parse, ApiError, ApiResult};
use super::log::LoggedModel;
use super::models::Model;
use super::shared::Shared;
use crate::error::VerifyError;
use crate::input::argmax;
use crate::{Error, PartedProof, PartedVerifier, ProofBundle, Verifier};

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

    /// A valid proof in parts: the outputs are the last part's, the input commitment the
    /// first part's (what the model's own visibilities show), and with hashed params the
    /// model's published commitment, which every part's was checked against.
    fn valid_parts(model: &Model, proof: &PartedProof, outputs: Vec<f64>) -> Self {
        let (first, last) = (proof.parts.first(), proof.parts.last());
        Self {
            valid: true,
            model: Some(model.id.clone()),
            outputs: last.map(|b| b.outputs.clone()),
            argmax: argmax(&outputs),
            outputs_float: Some(outputs),
            input_commitment: first.and_then(|b| b.input_commitment.clone()),
            output_commitment: last.and_then(|b| b.output_commitment.clone()),
            weights_commitment: model.model.weights.as_ref().map(|w| w.commitment.clone()),
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

/// No loaded model has a bundle's key.
#[derive(Debug, thiserror::Error)]
enum UnknownModel {
    #[error("no loaded model has digest {digest} (GET /v1/models lists them)")]
    Digest { digest: String },
    #[error("no loaded model has digest {digest} and weights commitment {weights} (GET /v1/models lists them)")]
    Weights { digest: String, weights: String },
    #[error("no loaded model proven in parts has a first part of digest {digest} (GET /v1/models lists them)")]
    FirstPart { digest: String },
    #[error("the proof in parts has no parts")]
    NoParts,
}

fn model_of(shared: &Shared, bundle: &ProofBundle) -> Result<Arc<Model>, UnknownModel> {
    let key = super::models::model_key(&bundle.model_digest, bundle.weights_commitment.as_deref());
    shared
        .models
        .by_key(&key)
        .ok_or_else(|| match &bundle.weights_commitment {
            None => UnknownModel::Digest {
                digest: bundle.model_digest.clone(),
            },
            Some(w) => UnknownModel::Weights {
                digest: bundle.model_digest.clone(),
                weights: w.clone(),
            },
        })
}

/// `POST /v1/verify`: the body is a proof bundle, or a proof in parts (what the prove
/// endpoint answers for a model proven in parts). One that parses gets `200` with `valid`
/// true (and its outputs) or false (and why); a body that is neither, or a proof of a model
/// this server does not hold, is a 4xx.
pub async fn verify(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(Extension<LoggedModel>, Json<Verdict>)> {
    let limit = shared.config.body_limit;
    let (bytes, _held) = shared.bodies.read(&headers, body, limit).await?;
    let most = shared.models.max_values();
    let submitted: Submitted = off_thread(move || {
        bounded(&bytes, most)?;
        let probe: Probe = parse(&bytes, "a proof bundle or a proof in parts")?;
        Ok::<_, ApiError>(if probe.parts.is_some() {
            Submitted::Parted(parse(&bytes, "a proof in parts")?)
        } else {
            Submitted::Whole(parse(&bytes, "a proof bundle")?)
        })
    })
    .await??;
    let model = match &submitted {
        Submitted::Whole(bundle) => model_of(&shared, bundle),
        Submitted::Parted(proof) => parted_model_of(&shared, proof),
    }
    .map_err(|m| ApiError::new(StatusCode::NOT_FOUND, "unknown_model", m.to_string()))?;
    let logged = Extension(LoggedModel(model.id.clone()));
    // What needs no key is checked before any key is looked up or built: a body naming a
    // model's digest cannot make the server rebuild its keys for nothing.
    if let Err(e) = precheck(&model, &submitted) {
        return Ok((logged, Json(Verdict::rejected(&model, &e))));
    }
    let job = {
        let keys = shared.keys.clone();
        move || {
            Ok::<_, Error>(match submitted {
                Submitted::Whole(bundle) => {
                    let verifier = keys.get::<Verifier>(&model.key, &model.model)?;
                    match verifier.verify(&bundle) {
                        Ok(outputs) => Verdict::valid(&model, &bundle, outputs),
                        Err(e) => Verdict::rejected(&model, &e),
                    }
                }
                Submitted::Parted(proof) => {
                    let verifier = keys.get::<PartedVerifier>(&model.key, &model.model)?;
                    match verifier.verify(&proof) {
                        Ok(outputs) => Verdict::valid_parts(&model, &proof, outputs),
                        Err(e) => Verdict::rejected(&model, &e),
                    }
                }
            })
        }
    };
    let verdict = run_in(&shared, &shared.verifications, "verification", job)
        .await?
        .map_err(ApiError::from_error)?;
    Ok((logged, Json(verdict)))
}

/// The checks of a proof against the model it names that need no key: a bundle of a model
/// proven in parts is refused, and a proof in parts must have the model's part count and
/// name each part's digest in place.
fn precheck(model: &Model, submitted: &Submitted) -> Result<(), VerifyError> {
    match submitted {
        Submitted::Whole(_) if model.parted.is_some() => Err(not_whole(model)),
        Submitted::Whole(_) => Ok(()),
        Submitted::Parted(proof) => {
            let expected = &model.part_digests;
            if proof.parts.len() != expected.len() {
                return Err(VerifyError::PartCount {
                    expected: expected.len(),
                    got: proof.parts.len(),
                });
            }
            match proof
                .parts
                .iter()
                .zip(expected)
                .position(|(bundle, digest)| bundle.model_digest != *digest)
            {
                Some(part) => Err(VerifyError::Part {
                    part,
                    source: Box::new(VerifyError::InvalidProof(format!(
                        "the proof is not for part {part} of model '{}'",
                        model.id
                    ))),
                }),
                None => Ok(()),
            }
        }
    }
}

/// Why a single bundle cannot be a proof of a model proven in parts.
fn not_whole(model: &Model) -> VerifyError {
    VerifyError::PartCount {
        expected: model.part_digests.len(),
        got: 1,
    }
}

/// A body of the verify endpoint.
enum Submitted {
    Whole(ProofBundle),
    Parted(PartedProof),
}

/// Whether a body is a proof in parts: it has `parts` (every other field is skipped).
#[derive(serde::Deserialize)]
struct Probe {
    #[serde(default)]
    parts: Option<IgnoredAny>,
}

/// The model proven in parts whose first part `proof`'s first part proof names.
fn parted_model_of(shared: &Shared, proof: &PartedProof) -> Result<Arc<Model>, UnknownModel> {
    let first = proof.parts.first().ok_or(UnknownModel::NoParts)?;
    let key = super::models::model_key(&first.model_digest, first.weights_commitment.as_deref());
    shared
        .models
        .by_first_part(&key)
        .ok_or_else(|| UnknownModel::FirstPart {
            digest: first.model_digest.clone(),
        })
}

/// `POST /v1/verify/batch`: the body is a JSON array of bundles (or `{"bundles": [...]}`),
/// of any loaded models. The bundles of each model are checked together in one batch (one
/// multi-scalar multiplication); only when a batch fails are they checked one by one to
/// name the invalid ones. `valid` is true when every bundle is.
pub async fn verify_batch(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(Extension<LoggedModel>, Json<Value>)> {
    let limit = shared.config.body_limit;
    let (bytes, _held) = shared.bodies.read(&headers, body, limit).await?;
    let most = shared.models.max_values().max(MAX_BATCH);
    let bundles = off_thread(move || {
        bounded(&bytes, most)?;
        parse_batch(&bytes)
    })
    .await??;
    let job = {
        let shared = shared.clone();
        move || on_batch_pool(|| batch_verdicts(&shared, bundles))
    };
    let verdicts = run_in(&shared, &shared.batches, "batch verification", job).await?;
    let mut models: Vec<&str> = verdicts.iter().filter_map(|v| v.model.as_deref()).collect();
    models.sort_unstable();
    models.dedup();
    let logged = Extension(LoggedModel(models.join(",")));
    Ok((
        logged,
        Json(json!({
            "ok": true,
            "valid": verdicts.iter().all(|v| v.valid),
            "results": verdicts,
        })),
    ))
}

/// Refuses a body with an array longer than `most` before it is parsed ([`super::scan`]).
fn bounded(bytes: &[u8], most: usize) -> ApiResult<()> {
    match super::scan::array_longer_than(bytes, most) {
        None => Ok(()),
        Some(_) => Err(ApiError::bad_request(
            "too_many_values",
            format!(
                "the body has an array of more than {most} values: a batch holds 1 to \
                 {MAX_BATCH} bundles, and a bundle at most as many values as the largest \
                 loaded model takes in or puts out"
            ),
        )),
    }
}

/// Parses a batch straight into bundles, refusing it at its 1025th bundle: no
/// `serde_json::Value` (a 32 MiB body of them took a GiB), no list of untyped items, and
/// an oversized batch is skipped over, not held.
pub(super) fn parse_batch(bytes: &[u8]) -> ApiResult<Vec<ProofBundle>> {
    let kind = Cell::new("bad_json");
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = BatchSeed { kind: &kind }
        .deserialize(&mut de)
        .and_then(|bundles| de.end().map(|()| bundles));
    parsed.map_err(|e| {
        let message = if kind.get() == "bad_batch" {
            e.to_string()
        } else {
            format!("the body is not an array of proof bundles (or {{\"bundles\": [...]}}): {e}")
        };
        ApiError::bad_request(kind.get(), message)
    })
}

/// A batch: an array of bundles, or an object whose only field `bundles` is one. Sets
/// `kind` to `bad_batch` when the count is at fault.
#[derive(Clone, Copy)]
struct BatchSeed<'a> {
    kind: &'a Cell<&'static str>,
}

impl<'de> DeserializeSeed<'de> for BatchSeed<'_> {
    type Value = Vec<ProofBundle>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BatchSeed<'_> {
    type Value = Vec<ProofBundle>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "an array of 1 to {MAX_BATCH} proof bundles, or {{\"bundles\": [...]}}"
        )
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut bundles = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_BATCH));
        loop {
            if bundles.len() == MAX_BATCH {
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    self.kind.set("bad_batch");
                    return Err(A::Error::custom(format!(
                        "a batch holds 1 to {MAX_BATCH} bundles, not more"
                    )));
                }
                break;
            }
            let i = bundles.len();
            match seq.next_element::<ProofBundle>() {
                Ok(Some(bundle)) => bundles.push(bundle),
                Ok(None) => break,
                Err(e) => {
                    return Err(A::Error::custom(format!(
                        "bundles[{i}] is not a proof bundle: {e}"
                    )))
                }
            }
        }
        if bundles.is_empty() {
            self.kind.set("bad_batch");
            return Err(A::Error::custom(format!(
                "a batch holds 1 to {MAX_BATCH} bundles, not 0"
            )));
        }
        Ok(bundles)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut bundles = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != "bundles" || bundles.is_some() {
                return Err(A::Error::custom(format!(
                    "unexpected field `{key}`: the object has one field, `bundles`"
                )));
            }
            bundles = Some(map.next_value_seed(self)?);
        }
        bundles.ok_or_else(|| A::Error::missing_field("bundles"))
    }
}

/// Runs a batch on a thread pool of half the cores. A maximal batch is a thousand
/// verifications (seconds of work) that anyone may ask for: on the global pool it would take
/// every core from the single verifications running beside it; here it takes half, and the
/// single ones keep the rest.
fn on_batch_pool<T: Send>(job: impl FnOnce() -> T + Send) -> T {
    #[cfg(feature = "parallel")]
    {
        static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
        let pool = POOL.get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(2, usize::from);
            rayon::ThreadPoolBuilder::new()
                .num_threads((cores / 2).max(1))
                .thread_name(|i| format!("zkinfer-batch-{i}"))
                .build()
                .ok()
        });
        if let Some(pool) = pool {
            return pool.install(job);
        }
    }
    job()
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
            Err(unknown) => {
                verdicts[i] = Some(Verdict::invalid(None, "unknown_model", unknown.to_string()))
            }
        }
    }
    for (model, places, group) in groups.into_values() {
        if model.parted.is_some() {
            let e = not_whole(&model);
            for &i in &places {
                verdicts[i] = Some(Verdict::rejected(&model, &e));
            }
            continue;
        }
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
