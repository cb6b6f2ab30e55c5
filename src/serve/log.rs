//! The access log and request ids: one structured line per request, through `tracing`
//! (target `zkinfer::access`), with the method, path, status, latency, model and request id,
//! human-readable or JSON on standard error; and the same request in `/metrics`.
//!
//! A request id comes from the client's `x-request-id` when it is a sane one (1 to 64
//! visible ASCII characters), else is made here; either way the answer carries it back, so
//! a client's report and the server's line meet.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use super::shared::Shared;
use crate::error::ParseError;

/// How the access log is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One readable line per request.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
    /// No log.
    Off,
}

impl std::str::FromStr for LogFormat {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s {
            "human" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            "off" => Ok(Self::Off),
            other => Err(ParseError::LogFormat {
                found: other.into(),
            }),
        }
    }
}

/// The process's log could not be installed (another subscriber is, say).
#[derive(Debug, thiserror::Error)]
#[error("cannot install the log: {0}")]
pub struct LogInitError(Box<dyn std::error::Error + Send + Sync>);

/// Installs the process's `tracing` subscriber, writing to standard error at level INFO.
/// Call it once, from a binary; a library user who has a subscriber keeps theirs (the
/// access events go to it).
pub fn init_log(format: LogFormat) -> Result<(), LogInitError> {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO);
    let installed = match format {
        LogFormat::Off => return Ok(()),
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
    installed.map_err(LogInitError)
}

/// The model a request was about, when the path does not name it (a verification names it
/// by the bundle's key): set by the handler as a response extension.
#[derive(Clone, Debug)]
pub struct LoggedModel(pub String);

const REQUEST_ID: &str = "x-request-id";

/// A fresh request id: this process's start time and a counter, unique per process and
/// sortable by arrival.
fn fresh_id() -> String {
    static BOOT: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let boot = *BOOT.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    format!("{boot:x}-{:06x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn sane(id: &HeaderValue) -> bool {
    (1..=64).contains(&id.len()) && id.as_bytes().iter().all(|b| b.is_ascii_graphic())
}

/// The model a path names (`/v1/models/{id}` and below).
fn model_in_path(path: &str) -> Option<&str> {
    path.strip_prefix("/v1/models/")?.split('/').next()
}

/// Counts every request in `/metrics` and writes its access-log line.
pub async fn track(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let id = match request.headers().get(REQUEST_ID).filter(|v| sane(v)) {
        Some(given) => given.clone(),
        None => HeaderValue::from_str(&fresh_id()).unwrap_or(HeaderValue::from_static("-")),
    };
    let started = Instant::now();
    let mut response = next.run(request).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    shared
        .metrics
        .request(method.as_str(), &endpoint, status, took);
    let model = response
        .extensions()
        .get::<LoggedModel>()
        .map(|m| m.0.as_str())
        .or_else(|| model_in_path(&path))
        .unwrap_or("-");
    tracing::info!(
        target: "zkinfer::access",
        method = %method,
        path = %path,
        status,
        latency_ms = (took.as_secs_f64() * 1e6).round() / 1e3,
        model = %model,
        request_id = %id.to_str().unwrap_or("-"),
        "request"
    );
    response
        .headers_mut()
        .insert(HeaderName::from_static(REQUEST_ID), id);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_when_sane_and_made_otherwise() {
        assert!(sane(&HeaderValue::from_static("abc-123")));
        assert!(!sane(&HeaderValue::from_static("")));
        assert!(!sane(&HeaderValue::from_static("two words")));
        assert_ne!(fresh_id(), fresh_id());
        assert_eq!(model_in_path("/v1/models/digits/prove"), Some("digits"));
        assert_eq!(model_in_path("/v1/verify"), None);
    }
}
