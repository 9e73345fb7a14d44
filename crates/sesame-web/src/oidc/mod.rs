//! `/.well-known/openid-configuration` and `/oidc/…`: Sésame as the OpenID Connect provider of
//! the portal's services. Errors here are the RFCs' (`{"error": …}` in JSON, or parameters of
//! the redirect back to the service), never the portal's pages, except where the RFCs say not to
//! redirect (an unknown client or redirect URI): then a French page.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use sesame_core::Services;
use sesame_core::oidc::keys::JWKS_MAX_AGE;
use sesame_core::oidc::request::{ACR_ONE_FACTOR, ACR_TWO_FACTORS};

use crate::resume::AUTHORIZE_PATH;
use crate::state::AppState;

mod authorize;
mod logout;
mod token;

pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
pub const JWKS_PATH: &str = "/oidc/jwks";
pub const TOKEN_PATH: &str = "/oidc/token";
pub const USERINFO_PATH: &str = "/oidc/userinfo";
pub const REVOCATION_PATH: &str = "/oidc/revoke";
pub const INTROSPECTION_PATH: &str = "/oidc/introspect";
pub const END_SESSION_PATH: &str = "/oidc/logout";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(DISCOVERY_PATH, get(discovery))
        .route(JWKS_PATH, get(jwks))
        .route(AUTHORIZE_PATH, get(authorize::get).post(authorize::post))
        .route("/oidc/consentement", post(authorize::consent))
        .route(TOKEN_PATH, post(token::token))
        .route(USERINFO_PATH, get(token::userinfo).post(token::userinfo))
        .route(REVOCATION_PATH, post(token::revoke))
        .route(INTROSPECTION_PATH, post(token::introspect))
        .route(END_SESSION_PATH, get(logout::get).post(logout::post))
        .route("/oidc/deconnexion", post(logout::confirm))
}

/// OpenID Connect Discovery 1.0: what Sésame does, and nothing it does not.
async fn discovery(State(state): State<AppState>) -> Response {
    let issuer = state.settings.issuer();
    let at = |path: &str| format!("{issuer}{path}");
    let document = json!({
        "issuer": issuer,
        "authorization_endpoint": at(AUTHORIZE_PATH),
        "token_endpoint": at(TOKEN_PATH),
        "userinfo_endpoint": at(USERINFO_PATH),
        "jwks_uri": at(JWKS_PATH),
        "revocation_endpoint": at(REVOCATION_PATH),
        "introspection_endpoint": at(INTROSPECTION_PATH),
        "end_session_endpoint": at(END_SESSION_PATH),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "scopes_supported": ["openid", "profile", "email", "sante", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": [ACR_ONE_FACTOR, ACR_TWO_FACTORS],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "azp", "at_hash",
            "name", "given_name", "family_name", "preferred_username", "updated_at",
            "email", "email_verified", "idnat_ps",
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": ["fr-FR"],
    });
    public_json(document.to_string(), JWKS_MAX_AGE.whole_seconds())
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
