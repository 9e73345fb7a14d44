//! Errors a handler can end with. Each becomes a French page (or, under `/api/`, a problem
//! document) carrying the request id, written by [`crate::error_pages`]; the cause goes to the
//! log, never to the page.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sesame_core::AuthError;
use sesame_core::hashing::HashError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("overloaded")]
    Overloaded,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<AuthError> for WebError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Hash(HashError::Overloaded) => Self::Overloaded,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<sesame_core::store::StoreError> for WebError {
    fn from(e: sesame_core::store::StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Marks a response whose body the error middleware writes (it knows the request id).
#[derive(Debug, Clone, Copy)]
pub struct ErrorPage(pub StatusCode);

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let status = self.status();
        let mut response = status.into_response();
        response.extensions_mut().insert(ErrorPage(status));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

pub async fn not_found() -> WebError {
    WebError::NotFound
}

pub async fn method_not_allowed() -> WebError {
    WebError::MethodNotAllowed
}
