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
//! and sends nothing holds nothing. A quarter of it is kept for small bodies (a declared
//! length of at most [`SMALL_BODY`]: a proof bundle, an input sample), taken whole on
//! arrival: large bodies sent and then stalled can fill the rest until their deadline, but
//! the honest small requests beside them never queue behind them.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use bytes::BytesMut;
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout_at, Instant};

use super::error::{ApiError, ApiResult};

/// Bodies declared this short or shorter draw on the small bodies' share of the budget.
pub const SMALL_BODY: usize = 64 << 10;

/// The bytes of bodies in flight, shared by every request.
#[derive(Debug)]
pub struct BodyReader {
    budget: Arc<Semaphore>,
    small: Arc<Semaphore>,
    total: usize,
    small_total: usize,
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
        Self::with_small_share(total, total / 4, deadline)
    }

    /// A budget of `total` bytes all for bodies taken as they arrive (model registrations,
    /// which are large and behind the token).
    pub fn large_only(total: usize, deadline: Duration) -> Self {
        Self::with_small_share(total, 0, deadline)
    }

    fn with_small_share(total: usize, small_total: usize, deadline: Duration) -> Self {
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        let small_total = small_total.min(total - 1);
        Self {
            budget: Arc::new(Semaphore::new(total - small_total)),
            small: Arc::new(Semaphore::new(small_total)),
            total: total - small_total,
            small_total,
            deadline,
        }
    }

    /// The largest body the budget can hold.
    pub fn largest(&self) -> usize {
        self.total
    }

    /// Bytes of the budget in use now.
    pub fn in_flight(&self) -> usize {
        (self.total + self.small_total)
            .saturating_sub(self.budget.available_permits() + self.small.available_permits())
    }

    /// Reads and drops a small body the request was refused before reading, so that the
    /// refusal reaches the client: closing a connection with unread bytes resets it, and the
    /// client may lose the answer. A large body is not read (the connection is closed).
    pub async fn discard(&self, headers: &HeaderMap, body: Body) {
        let small = declared(headers).is_some_and(|d| d <= SMALL_BODY as u64);
        if small {
            let until = Instant::now() + self.deadline.min(Duration::from_secs(1));
            let mut body = body;
            while let Ok(Some(Ok(_))) = timeout_at(until, body.frame()).await {}
        }
    }

    /// Reads `body` whole, at most `limit` bytes, within the deadline and the budget.
    pub async fn read(
        &self,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
    ) -> ApiResult<(Bytes, Held)> {
        let declared = declared(headers);
        if let Some(declared) = declared {
            if declared > limit as u64 {
                return Err(too_large(limit, &format!("declares {declared} bytes")));
            }
        }
        let limit = limit.min(self.total);
        let until = Instant::now() + self.deadline;
        let mut held = Held { permit: None };
        let small = declared.filter(|&d| d <= SMALL_BODY as u64 && self.small_total >= SMALL_BODY);
        if let Some(d) = small {
            // Taken whole: the body cannot be longer than it declared (hyper ends it there).
            let n = u32::try_from(d).unwrap_or(u32::MAX);
            match timeout_at(until, self.small.clone().acquire_many_owned(n)).await {
                Ok(Ok(permit)) => held.permit = Some(permit),
                Ok(Err(_)) | Err(_) => return Err(busy(self.total + self.small_total)),
            }
        }
        // Reserved, not touched: only the pages written become resident.
        let reserve = declared.map_or(0, |d| usize::try_from(d).unwrap_or(limit).min(limit));
        let mut bytes = BytesMut::with_capacity(reserve);
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
            if small.is_some() {
                bytes.extend_from_slice(&chunk);
                continue;
            }
            let n = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
            let permit = match timeout_at(until, self.budget.clone().acquire_many_owned(n)).await {
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

fn declared(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
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
pub async fn off_thread<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(job).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("parsing the body failed: {e}"),
        )
    })
}
