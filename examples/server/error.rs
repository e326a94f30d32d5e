//! Errors as Loki writes them: a plain-text body (message and a newline)
//! with `Content-Type: text/plain; charset=utf-8` and
//! `X-Content-Type-Options: nosniff`, and Loki's status code
//! (`../shared/spec/http-api.md` §3.5, §4.4).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 500 Internal Server Error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// 504 Gateway Timeout, with Loki's advice.
    pub fn timeout() -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "request timed out, decrease the duration of the request or add more label matchers (prefer exact \
             match over regex match) to reduce the amount of data processed",
        )
    }

    /// 413 Payload Too Large.
    pub fn too_large(limit: usize) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, format!("request body too large: limit is {limit} bytes"))
    }

    /// An engine error: client errors (invalid labels or tenants) are 400,
    /// a full memory budget 429, the rest 500.
    pub fn from_engine(e: lokistore::Error) -> Self {
        match &e {
            lokistore::Error::Labels(_) | lokistore::Error::Tenant(_) => Self::bad_request(e.to_string()),
            lokistore::Error::Engine(lokistore::EngineError::MemoryBudget { .. }) => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, e.to_string())
            }
            lokistore::Error::Engine(lokistore::EngineError::Closed) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            _ => Self::internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = self.status.as_u16(), error = %self.message, "request failed");
        } else {
            tracing::debug!(status = self.status.as_u16(), error = %self.message, "request refused");
        }
        let mut body = self.message;
        if !body.ends_with('\n') {
            body.push('\n');
        }
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        resp
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
