//! Errors a handler can end with. Each becomes a French page carrying the request id; the
//! cause goes to the log, never to the page.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sesame_core::auth::AuthError;
use sesame_core::hashing::HashError;

use crate::AppState;
use crate::view::Page;

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

/// Marks a response whose body the error middleware writes (it knows the request id).
#[derive(Debug, Clone, Copy)]
pub struct ErrorPage(pub StatusCode);

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(ErrorPage(status));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// Renders the body of error responses as French pages with the request id.
pub async fn error_pages(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers().clone();
    let api = request.uri().path().starts_with("/api/");
    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let response = next.run(request).await;
    let Some(ErrorPage(status)) = response.extensions().get::<ErrorPage>().copied() else {
        return response;
    };
    if api {
        let problem = match status {
            StatusCode::NOT_FOUND => crate::api::Problem::invalid_request("Cette adresse n'existe pas dans l'API."),
            StatusCode::METHOD_NOT_ALLOWED => {
                crate::api::Problem::invalid_request("Cette adresse n'accepte pas cette méthode.")
            }
            _ => crate::api::Problem::invalid_request("La requête n'a pas pu être traitée."),
        };
        let mut out = problem.into_response();
        *out.status_mut() = status;
        return out;
    }
    let (title, text) = match status {
        StatusCode::NOT_FOUND => ("Page introuvable", "L'adresse demandée n'existe pas sur ce portail."),
        StatusCode::METHOD_NOT_ALLOWED => ("Action non autorisée", "Cette adresse n'accepte pas cette action."),
        StatusCode::SERVICE_UNAVAILABLE => {
            ("Service momentanément surchargé", "Trop de demandes sont en cours. Réessayez dans quelques secondes.")
        }
        _ => (
            "Erreur du service",
            "Une erreur inattendue s'est produite. Réessayez ; si elle persiste, contactez le support en donnant la référence ci-dessous.",
        ),
    };
    let page = Page::new("message.html", title)
        .status(status)
        .with("paragraphs", [text])
        .with("support", status.is_server_error())
        .with("links", [serde_json::json!({ "href": "/", "label": "Retour à l'accueil" })])
        .with("request_id", request_id);
    let mut rendered = state.render(&headers, None, page);
    for (name, value) in response.headers() {
        if name == header::RETRY_AFTER {
            rendered.headers_mut().insert(name, value.clone());
        }
    }
    rendered
}

pub async fn not_found() -> WebError {
    WebError::NotFound
}

pub async fn method_not_allowed() -> WebError {
    WebError::MethodNotAllowed
}
