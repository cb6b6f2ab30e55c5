//! Reading request bodies under three bounds: a size limit per request, a deadline for the
//! whole body, and a byte budget shared by every body in flight.
//!
//! axum's `Bytes` extractor reads the whole body before the handler runs, with no deadline
//! and no bound on how many bodies are read at once: two stalled clients declaring large
//! bodies, or a few fast ones sending them, grew the server by hundreds of MiB before it
//! looked at the token. Handlers here check the token and every cheap thing first, then read
//! the body through [`BodyReader::read`]:
//!
//! - a declared `Content-Length` above the limit is refused (413) before a byte is read;
//! - the body must arrive whole within the deadline (408): a deadline per body, not per
//!   frame, so a client trickling one byte a second is cut off like a silent one;
//! - every byte held counts against the in-flight budget until the request is answered; a
//!   body that finds the budget spent waits for it (TCP back-pressure on its sender) until
//!   its deadline, then is refused as an overload (503 with `Retry-After`).
//!
//! The budget is taken as bytes arrive, not as declared, so a client that declares 32 MiB
//! and sends nothing holds nothing.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use bytes::BytesMut;
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout_at, Instant};

use super::api::{ApiError, ApiResult};

/// The bytes of bodies in flight, shared by every request.
#[derive(Debug)]
pub struct BodyReader {
    budget: Arc<Semaphore>,
    total: usize,
    deadline: Duration,
}

/// A body's share of the in-flight budget: held until dropped (keep it until the request's
/// answer is built, since what was parsed from the body lives as long).
#[derive(Debug)]
pub struct Held {
    permit: Option<OwnedSemaphorePermit>,
}

impl BodyReader {
    /// A budget of `total` bytes of bodies in flight, each body read within `deadline`.
    pub fn new(total: usize, deadline: Duration) -> Self {
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            budget: Arc::new(Semaphore::new(total)),
            total,
            deadline,
        }
    }

    /// Bytes of the budget in use now.
    pub fn in_flight(&self) -> usize {
        self.total.saturating_sub(self.budget.available_permits())
    }

    /// Reads `body` whole, at most `limit` bytes, within the deadline and the budget.
    pub async fn read(
        &self,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
    ) -> ApiResult<(Bytes, Held)> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(declared) = declared {
            if declared > limit as u64 {
                return Err(too_large(limit, &format!("declares {declared} bytes")));
            }
        }
        let limit = limit.min(self.total);
        let until = Instant::now() + self.deadline;
        // Reserved, not touched: only the pages written become resident.
        let reserve = declared.map_or(0, |d| usize::try_from(d).unwrap_or(limit).min(limit));
        let mut bytes = BytesMut::with_capacity(reserve);
        let mut held = Held { permit: None };
        let mut body = body;
        loop {
            let frame = match timeout_at(until, body.frame()).await {
                Err(_) => return Err(self.slow(bytes.len())),
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Err(ApiError::bad_request(
                        "bad_body",
                        format!("the body could not be read: {e}"),
                    ))
                }
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(chunk) = frame.into_data() else {
                continue; // trailers
            };
            if bytes.len() + chunk.len() > limit {
                return Err(too_large(limit, "is longer"));
            }
            let n = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
            let permit = match timeout_at(until, self.budget.clone().acquire_many_owned(n)).await
            {
                Ok(Ok(permit)) => permit,
                Ok(Err(_)) | Err(_) => return Err(busy(self.total)),
            };
            match &mut held.permit {
                Some(all) => all.merge(permit),
                None => held.permit = Some(permit),
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok((bytes.freeze(), held))
    }

    fn slow(&self, got: usize) -> ApiError {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!(
                "the body did not arrive within {} s ({got} bytes came); send it at once",
                self.deadline.as_secs_f64()
            ),
        )
    }
}

fn too_large(limit: usize, what: &str) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the body {what}: this endpoint takes at most {limit} bytes"),
    )
}

fn busy(total: usize) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        format!(
            "the server is reading {} MiB of other bodies (its in-flight limit) and this one \
             waited until its deadline; retry later",
            total >> 20
        ),
    )
}

/// Runs a parse (or any CPU-bound step on a body) on a blocking thread: a 32 MiB JSON body
/// takes tens of milliseconds to parse, which on an async thread would stall every other
/// request scheduled there.
pub async fn off_thread<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(job).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("parsing the body failed: {e}"),
        )
    })
}
