//! `/api/v1`: JSON for desktop applications. Tokens only in `Authorization: Bearer`, no cookies,
//! no CORS headers (closed), errors as RFC 9457 `application/problem+json` with stable types
//! ([`crate::problem`]). One module per resource.
//!
//! [`routes`] is the one list of operations: the router is built from it, and a test checks
//! that the OpenAPI document describes every entry.

mod me;
mod password;
mod sessions;
mod tokens;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use axum::{Json, Router};
use secrecy::ExposeSecret as _;
use serde::Serialize;
use sesame_core::Services;
use sesame_core::limits::Attempt;
use sesame_core::tokens::{ApiPrincipal, TokenPair};
use sesame_core::types::{Password, PasswordInputError};
use utoipa::{OpenApi, ToSchema};

pub use password::CONFIRMATION;

use crate::error::WebError;
use crate::problem::{ApiError, Problem, RuleViolation};
use crate::request::Client;
use crate::state::AppState;

/// Every operation of `/api/v1`: method, path, handler.
pub fn routes() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        (Method::POST, "/api/v1/sessions", post(sessions::create_session)),
        (Method::POST, "/api/v1/sessions/certificate", post(sessions::create_certificate_session)),
        (Method::POST, "/api/v1/sessions/second-factor", post(sessions::second_factor)),
        (Method::DELETE, "/api/v1/sessions/current", delete(sessions::end_session)),
        (Method::POST, "/api/v1/password", post(password::change_password)),
        (Method::POST, "/api/v1/tokens/refresh", post(tokens::refresh)),
        (Method::GET, "/api/v1/me", get(me::me)),
        (Method::GET, "/api/v1/password-policy", get(password::password_policy)),
        (Method::GET, "/api/v1/openapi.json", get(openapi)),
    ]
}

pub fn router() -> Router<AppState> {
    routes().into_iter().fold(Router::new(), |router, (_, path, method_router)| router.route(path, method_router))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Sésame API", version = "1", description = "Sign-in and password change for desktop applications. Errors are RFC 9457 problem documents (application/problem+json)."),
    paths(sessions::create_session, sessions::second_factor, sessions::create_certificate_session, sessions::end_session, password::change_password, tokens::refresh, me::me, password::password_policy, openapi),
    components(schemas(sessions::SessionRequest, sessions::SecondFactorRequest, sessions::CertificateSessionRequest, password::PasswordRequest, tokens::RefreshRequest, TokenResponse, me::Me, Problem, RuleViolation, password::PolicyRule)),
    modifiers(&BearerScheme)
)]
#[derive(Debug)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the operations refer to.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => ApiError::from(WebError::Internal(e.to_string())).into_response(),
    }
}

/// The holder of the bearer access token.
#[derive(Debug)]
pub struct Bearer(pub ApiPrincipal);

impl<S: Send + Sync> FromRequestParts<S> for Bearer
where
    Services: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        authenticate(&parts.headers, &Services::from_ref(state)).await.map(Self)
    }
}

async fn authenticate(headers: &HeaderMap, services: &Services) -> Result<ApiPrincipal, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .ok_or_else(|| ApiError::from(Problem::invalid_token()))?;
    services.tokens.authenticate(token).await?.ok_or_else(|| ApiError::from(Problem::invalid_token()))
}

fn password(raw: &str, field: &str) -> Result<Password, ApiError> {
    Password::parse(raw).map_err(|e| {
        ApiError::from(Problem::invalid_request(&match e {
            PasswordInputError::Empty => format!("Le champ « {field} » est vide."),
            PasswordInputError::TooLong => format!("Le champ « {field} » dépasse 256 caractères."),
        }))
    })
}

/// The application's name as "Mon compte" shows it.
fn client_name(raw: Option<&str>) -> String {
    raw.unwrap_or_default().chars().filter(|c| !c.is_control()).take(100).collect()
}

/// Counts an attempt of the client's address; over the limit, a `throttled` problem.
async fn address_limit(state: &AppState, client: &Client) -> Result<(), ApiError> {
    match state.services.limits.hit(Attempt::Api, &client.ip_text()).await? {
        Ok(()) => Ok(()),
        Err(over) => Err(Problem::throttled(over.retry_after).into()),
    }
}

/// Tokens, OAuth style.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// A French confirmation, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn tokens(status: StatusCode, pair: &TokenPair, message: Option<&str>) -> Response {
    let body = TokenResponse {
        access_token: pair.access_token.expose_secret().to_owned(),
        refresh_token: pair.refresh_token.expose_secret().to_owned(),
        token_type: "Bearer".into(),
        expires_in: pair.expires_in,
        message: message.map(str::to_owned),
    };
    (status, [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")], Json(body)).into_response()
}
