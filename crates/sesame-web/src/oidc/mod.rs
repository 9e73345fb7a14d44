//! `/.well-known/openid-configuration` and `/oidc/…`: Sésame as the OpenID Connect provider of
//! the portal's services. Errors here are the RFCs' (`{"error": …}` in JSON, or parameters of
//! the redirect back to the service), never the portal's pages, except where the RFCs say not to
//! redirect (an unknown client or redirect URI): then a French page.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sesame_core::Services;
use sesame_core::oidc::keys::JWKS_MAX_AGE;

use crate::state::AppState;

mod authorize;

pub const JWKS_PATH: &str = "/oidc/jwks";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(JWKS_PATH, get(jwks))
        .route(crate::resume::AUTHORIZE_PATH, get(authorize::get).post(authorize::post))
        .route("/oidc/consentement", axum::routing::post(authorize::consent))
}

/// The public keys that verify Sésame's tokens (RFC 7517), cacheable for as long as a new key
/// is published before it signs.
async fn jwks(State(services): State<Services>) -> Response {
    match services.signing_keys.current().await {
        Ok(keys) => public_json(keys.jwks().to_owned(), JWKS_MAX_AGE.whole_seconds()),
        Err(e) => unavailable(&e),
    }
}

/// A public document: JSON, cacheable, readable from any origin (a browser application fetches
/// it directly).
fn public_json(body: String, max_age: i64) -> Response {
    let cache =
        HeaderValue::from_str(&format!("public, max-age={max_age}")).unwrap_or(HeaderValue::from_static("no-cache"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CACHE_CONTROL, cache),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
        ],
        body,
    )
        .into_response()
}

/// The database does not answer: RFC 6749's `temporarily_unavailable`, as JSON.
fn unavailable(e: &sesame_core::AuthError) -> Response {
    tracing::error!(error = %e, "OpenID Connect endpoint unavailable");
    let body = serde_json::json!({
        "error": "temporarily_unavailable",
        "error_description": "Le service est momentanément indisponible. Réessayez dans quelques instants.",
    });
    (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], axum::Json(body)).into_response()
}
