//! A failed request as the service answers it: `{"ok": false, "error": {"kind",
//! "message"}}` with its status. A leaf of `serve/`: the endpoints and the body reader both
//! answer with it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::queue::Refused;
use crate::Error;

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }

    pub(super) fn bad_request(kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, message)
    }

    pub(super) fn refused(why: Refused, what: &str) -> Self {
        let (kind, message) = match why {
            Refused::Full => (
                "queue_full",
                format!("every {what} slot is busy and the queue is full; retry later"),
            ),
            Refused::TimedOut => (
                "timeout",
                format!("waited too long for a {what} slot; retry later"),
            ),
            Refused::ShuttingDown => ("shutting_down", "the server is shutting down".to_owned()),
        };
        Self::new(StatusCode::SERVICE_UNAVAILABLE, kind, message)
    }

    /// A library error: the caller's input where it is at fault, else the server's.
    pub(super) fn from_error(e: Error) -> Self {
        match e {
            Error::Quant(_) | Error::Witness(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_input", e.to_string())
            }
            other => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                other.to_string(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({
            "ok": false,
            "error": { "kind": self.kind, "message": self.message },
        }));
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

pub(super) type ApiResult<T> = Result<T, ApiError>;

/// Parses a JSON body into `T`, naming the field at fault.
pub(super) fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> ApiResult<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("bad_json", format!("the body is not {what}: {e}")))
}
