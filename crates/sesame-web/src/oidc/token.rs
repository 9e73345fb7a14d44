//! The token endpoint (`POST /oidc/token`, RFC 6749 3.2) and the userinfo endpoint (GET and
//! POST `/oidc/userinfo`, OpenID Connect Core 5.3). JSON in, JSON out, RFC errors, never cached.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::ExposeSecret as _;
use serde_json::json;
use sesame_core::Services;
use sesame_core::audit::Actor;
use sesame_core::oidc::{Bearer, Client as OidcClient, Issued, TokenError, Tokens};

use crate::request::Client;

type Params = Vec<(String, String)>;

/// `POST /oidc/token`.
pub async fn token(State(services): State<Services>, headers: HeaderMap, client: Client, body: Bytes) -> Response {
    match exchange(&services.oidc_tokens, &headers, &client, &body).await {
        Ok(issued) => issued_response(&issued),
        Err(TokenError::Refused { error, description }) => error_response(error, description),
        Err(TokenError::Unavailable(e)) => super::unavailable(&e),
    }
}

/// The form, and the client that authenticated with it.
async fn authenticated(tokens: &Tokens, headers: &HeaderMap, body: &[u8]) -> Result<(OidcClient, Params), TokenError> {
    let params = form(headers, body)?;
    let (client_id, secret) = credentials(headers, one(&params, "client_id"), one(&params, "client_secret"))?;
    Ok((tokens.authenticate(&client_id, secret.as_deref()).await?, params))
}

fn one<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn exchange(tokens: &Tokens, headers: &HeaderMap, client: &Client, body: &[u8]) -> Result<Issued, TokenError> {
    let (authenticated, params) = authenticated(tokens, headers, body).await?;
    let one = |name: &str| one(&params, name);
    let ctx = client.context(Actor::Anonymous);
    match one("grant_type") {
        Some("authorization_code") => {
            let code = one("code").ok_or(refused("invalid_request", "code is missing"))?;
            tokens.exchange(&authenticated, code, one("redirect_uri"), one("code_verifier"), &ctx).await
        }
        Some("refresh_token") => {
            let token = one("refresh_token").ok_or(refused("invalid_request", "refresh_token is missing"))?;
            tokens.refresh(&authenticated, token, one("scope"), &ctx).await
        }
        Some(_) => Err(refused("unsupported_grant_type", "only authorization_code and refresh_token are supported")),
        None => Err(refused("invalid_request", "grant_type is missing")),
    }
}

fn refused(error: &'static str, description: &'static str) -> TokenError {
    TokenError::Refused { error, description }
}

/// The form body: `application/x-www-form-urlencoded`, each parameter at most once (RFC 6749
/// 3.2), empty values taken as absent.
fn form(headers: &HeaderMap, body: &[u8]) -> Result<Params, TokenError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    {
        return Err(refused("invalid_request", "the body must be application/x-www-form-urlencoded"));
    }
    let mut params: Params =
        serde_urlencoded::from_bytes(body).map_err(|_| refused("invalid_request", "malformed body"))?;
    params.retain(|(_, v)| !v.is_empty());
    let mut names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(refused("invalid_request", "a parameter is repeated"));
    }
    Ok(params)
}

/// Who the client says it is: HTTP Basic (`client_secret_basic`, both parts form-encoded, RFC
/// 6749 2.3.1) or the form (`client_secret_post`, or `none` with the client_id alone); never
/// both.
fn credentials(
    headers: &HeaderMap,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<(String, Option<String>), TokenError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")));
    let Some(basic) = basic else {
        let id = form_id.ok_or(refused("invalid_client", "no client authentication"))?;
        return Ok((id.to_owned(), form_secret.map(str::to_owned)));
    };
    if form_secret.is_some() {
        return Err(refused("invalid_request", "the client authenticated twice (Basic and client_secret)"));
    }
    let malformed = || refused("invalid_client", "malformed Basic credentials");
    let decoded = STANDARD.decode(basic.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let (id, secret) = (form_decode(id).ok_or_else(malformed)?, form_decode(secret).ok_or_else(malformed)?);
    if form_id.is_some_and(|f| f != id) {
        return Err(refused("invalid_request", "client_id differs from the Basic credentials"));
    }
    Ok((id, Some(secret)))
}

fn form_decode(part: &str) -> Option<String> {
    let plus = part.replace('+', " ");
    percent_encoding::percent_decode_str(&plus).decode_utf8().ok().map(|s| s.into_owned())
}

fn issued_response(issued: &Issued) -> Response {
    let body = json!({
        "access_token": issued.access_token.expose_secret(),
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "refresh_token": issued.refresh_token.expose_secret(),
        "id_token": issued.id_token,
        "scope": issued.scope,
    });
    no_store(StatusCode::OK, body)
}

/// RFC 6749 5.2: 401 with a challenge for a client that failed to authenticate, 400 otherwise.
fn error_response(error: &'static str, description: &'static str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    let mut response =
        no_store(if error == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST }, body);
    if error == "invalid_client" {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"sesame\""));
    }
    response
}

fn no_store(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")], axum::Json(body)).into_response()
}

/// `POST /oidc/revoke` (RFC 7009): 200 whether the token was known or not.
pub async fn revoke(State(services): State<Services>, headers: HeaderMap, client: Client, body: Bytes) -> Response {
    let tokens = &services.oidc_tokens;
    let revoked = async {
        let (authenticated, params) = authenticated(tokens, &headers, &body).await?;
        let token = one(&params, "token").ok_or(refused("invalid_request", "token is missing"))?;
        tokens.revoke(&authenticated, token, &client.context(Actor::Anonymous)).await?;
        Ok::<_, TokenError>(())
    };
    match revoked.await {
        Ok(()) => no_store(StatusCode::OK, json!({})),
        Err(TokenError::Refused { error, description }) => error_response(error, description),
        Err(TokenError::Unavailable(e)) => super::unavailable(&e),
    }
}

/// `POST /oidc/introspect` (RFC 7662), for the client the token was issued to.
pub async fn introspect(State(services): State<Services>, headers: HeaderMap, body: Bytes) -> Response {
    let tokens = &services.oidc_tokens;
    let answer = async {
        let (authenticated, params) = authenticated(tokens, &headers, &body).await?;
        let token = one(&params, "token").ok_or(refused("invalid_request", "token is missing"))?;
        Ok::<_, TokenError>(match tokens.introspect(&authenticated, token).await? {
            Bearer::Valid { account, token } => tokens.introspection(&account, &token),
            Bearer::Invalid => json!({ "active": false }),
        })
    };
    match answer.await {
        Ok(body) => no_store(StatusCode::OK, body),
        Err(TokenError::Refused { error, description }) => error_response(error, description),
        Err(TokenError::Unavailable(e)) => super::unavailable(&e),
    }
}

/// `GET` and `POST /oidc/userinfo`: the access token in `Authorization: Bearer`, or (POST) as
/// `access_token` in the form (RFC 6750 2.1, 2.2).
pub async fn userinfo(State(services): State<Services>, headers: HeaderMap, body: Bytes) -> Response {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_owned());
    let from_body = if body.is_empty() {
        None
    } else {
        match form(&headers, &body) {
            Ok(params) => params.into_iter().find(|(k, _)| k == "access_token").map(|(_, v)| v),
            Err(_) => return bearer_error(StatusCode::BAD_REQUEST, "invalid_request", "malformed body"),
        }
    };
    let token = match (from_header, from_body) {
        (Some(_), Some(_)) => {
            return bearer_error(StatusCode::BAD_REQUEST, "invalid_request", "the token was sent twice");
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return bearer_challenge(),
    };
    match services.oidc_tokens.bearer(&token).await {
        Ok(Bearer::Valid { account, token }) => {
            let mut response = no_store(StatusCode::OK, Tokens::userinfo(&account, &token));
            response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            response
        }
        Ok(Bearer::Invalid) => bearer_error(StatusCode::UNAUTHORIZED, "invalid_token", "the access token is not valid"),
        Err(e) => super::unavailable(&e),
    }
}

/// RFC 6750 3: no token at all gets the bare challenge.
fn bearer_challenge() -> Response {
    let mut response = StatusCode::UNAUTHORIZED.into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"sesame\""));
    response
}

fn bearer_error(status: StatusCode, error: &'static str, description: &'static str) -> Response {
    let challenge = format!("Bearer realm=\"sesame\", error=\"{error}\", error_description=\"{description}\"");
    let mut response = no_store(status, json!({ "error": error, "error_description": description }));
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
