//! `/api/v1`: JSON for desktop applications. Tokens only in `Authorization: Bearer`, no cookies,
//! no CORS headers (closed), errors as RFC 9457 `application/problem+json` with stable types.
//!
//! [`routes`] is the one list of operations: the router is built from it, and a test checks
//! that the OpenAPI document describes every entry.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use axum::{Json, Router};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use sesame_core::api::{ApiChange, ApiLogin, ApiPrincipal, ApiProof, TokenPair};
use sesame_core::audit::Actor;
use sesame_core::policy::Violation;
use sesame_core::types::{Password, PasswordInputError};
use utoipa::{OpenApi, ToSchema};

use crate::AppState;
use crate::error::WebError;
use crate::request::Client;

pub const CONFIRMATION: &str = "Votre changement de mot de passe a bien été pris en compte.";

/// Every operation of `/api/v1`: method, path, handler.
pub fn routes() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        (Method::POST, "/api/v1/sessions", post(create_session)),
        (Method::POST, "/api/v1/sessions/certificate", post(create_certificate_session)),
        (Method::DELETE, "/api/v1/sessions/current", delete(end_session)),
        (Method::POST, "/api/v1/password", post(change_password)),
        (Method::POST, "/api/v1/tokens/refresh", post(refresh)),
        (Method::GET, "/api/v1/me", get(me)),
        (Method::GET, "/api/v1/password-policy", get(password_policy)),
        (Method::GET, "/api/v1/openapi.json", get(openapi)),
    ]
}

pub fn router() -> Router<AppState> {
    routes().into_iter().fold(Router::new(), |router, (_, path, method_router)| router.route(path, method_router))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Sésame API", version = "1", description = "Sign-in and password change for desktop applications. Errors are RFC 9457 problem documents (application/problem+json)."),
    paths(create_session, create_certificate_session, end_session, change_password, refresh, me, password_policy, openapi),
    components(schemas(SessionRequest, CertificateSessionRequest, PasswordRequest, RefreshRequest, TokenResponse, Me, Problem, RuleViolation, PolicyRule)),
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

// ---------------------------------------------------------------------------------------------
// Problems

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Stable type URI: `/api/v1/problems/<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// A French sentence for the person in front of the application.
    pub detail: String,
    /// `password_change_required`: the single-use ticket for `POST /api/v1/password`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_ticket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    /// `policy_violation`: every failed rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<RuleViolation>>,
    #[serde(skip)]
    retry_after: Option<i64>,
}

/// One failed rule of the password policy.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleViolation {
    /// Stable code: `min_length`, `not_common`, `not_personal`, `not_current`…
    pub code: String,
    pub message: String,
}

impl Problem {
    fn new(status: StatusCode, code: &str, title: &str, detail: &str) -> Self {
        Self {
            kind: format!("/api/v1/problems/{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.to_owned(),
            change_ticket: None,
            expires_in: None,
            violations: None,
            retry_after: None,
        }
    }

    pub fn invalid_request(detail: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", "Invalid request", detail)
    }

    fn invalid_credentials() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "Invalid credentials", crate::pages::login::REFUSED)
    }

    fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "Invalid or expired token",
            "Votre session a expiré : reconnectez-vous.",
        )
    }

    fn throttled(retry_after: i64) -> Self {
        let mut p = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            "Too many attempts",
            "Trop de tentatives : réessayez plus tard, ou utilisez « Mot de passe oublié » sur le portail.",
        );
        p.retry_after = Some(retry_after);
        p
    }

    fn temporary_password_expired() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "temporary_password_expired",
            "Temporary password expired",
            "Votre mot de passe provisoire a expiré : utilisez « Mot de passe oublié » sur le portail ou contactez le support.",
        )
    }

    fn policy(violations: &[Violation]) -> Self {
        let mut p = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "policy_violation",
            "Password refused by the security policy",
            "Le nouveau mot de passe ne respecte pas la politique de sécurité.",
        );
        p.violations = Some(
            violations
                .iter()
                .map(|v| RuleViolation { code: v.rule.code().to_owned(), message: v.message.clone() })
                .collect(),
        );
        p
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after;
        let mut response = (status, Json(self)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(seconds) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            headers.insert(header::RETRY_AFTER, seconds);
        }
        response
    }
}

/// Failures inside an API handler, as problems.
#[derive(Debug)]
pub struct ApiError(Box<Problem>);

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        Self(Box::new(p))
    }
}

impl From<WebError> for ApiError {
    fn from(e: WebError) -> Self {
        Self::from(match e {
            WebError::Overloaded => {
                let mut p = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "Overloaded",
                    "Service momentanément surchargé : réessayez dans quelques secondes.",
                );
                p.retry_after = Some(5);
                p
            }
            WebError::Internal(cause) => {
                tracing::error!(%cause, "API request failed");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "Erreur inattendue du service.",
                )
            }
            WebError::NotFound => Problem::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "Not found",
                "Cette fonction n'est pas activée sur ce portail.",
            ),
            WebError::MethodNotAllowed => Problem::invalid_request("Requête inconnue."),
        })
    }
}

impl From<sesame_core::auth::AuthError> for ApiError {
    fn from(e: sesame_core::auth::AuthError) -> Self {
        WebError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (*self.0).into_response()
    }
}

/// `Json` whose rejections are problem documents.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(e) => Err(Problem::invalid_request(&match e {
                JsonRejection::MissingJsonContentType(_) => {
                    "Le corps doit être du JSON (Content-Type: application/json).".to_owned()
                }
                other => format!("Corps JSON invalide : {}", other.body_text()),
            })
            .into()),
        }
    }
}

/// The holder of the bearer access token.
#[derive(Debug)]
pub struct Bearer(pub ApiPrincipal);

impl FromRequestParts<AppState> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(&parts.headers, state).await.map(Self)
    }
}

async fn authenticate(headers: &HeaderMap, state: &AppState) -> Result<ApiPrincipal, ApiError> {
    {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .ok_or_else(|| ApiError::from(Problem::invalid_token()))?;
        state.auth.api_authenticate(token).await?.ok_or_else(|| ApiError::from(Problem::invalid_token()))
    }
}

fn password(raw: &str, field: &str) -> Result<Password, ApiError> {
    Password::parse(raw).map_err(|e| {
        ApiError::from(Problem::invalid_request(&match e {
            PasswordInputError::Empty => format!("Le champ « {field} » est vide."),
            PasswordInputError::TooLong => format!("Le champ « {field} » dépasse 256 caractères."),
        }))
    })
}

fn client_name(raw: Option<&str>) -> String {
    raw.unwrap_or_default().chars().filter(|c| !c.is_control()).take(100).collect()
}

// ---------------------------------------------------------------------------------------------
// Operations

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    pub identifier: String,
    pub password: String,
    /// The application's name, shown in "Mon compte" (e.g. `Therap-e autonome 4.2`).
    #[serde(default)]
    pub client: Option<String>,
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

async fn address_limit(state: &AppState, client: &Client) -> Result<(), ApiError> {
    if state.auth.address_over_limit("api", &client.ip_text()).await? {
        return Err(Problem::throttled(60).into());
    }
    Ok(())
}

/// Sign in with an identifier and a password.
#[utoipa::path(post, path = "/api/v1/sessions", request_body = SessionRequest, responses(
    (status = 201, description = "Signed in", body = TokenResponse),
    (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
    (status = 401, description = "Any credential failure (one answer for all)", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "`password_change_required` (with `change_ticket`) or `temporary_password_expired`", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "Too many attempts; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
))]
pub async fn create_session(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<SessionRequest>,
) -> Result<Response, ApiError> {
    address_limit(&state, &client).await?;
    let password = password(&body.password, "password")?;
    let name = client_name(body.client.as_deref());
    let ctx = client.context(Actor::Anonymous);
    Ok(match state.auth.api_login(body.identifier.trim(), &password, &name, &state.settings.api, &ctx).await? {
        ApiLogin::Tokens(pair) => tokens(StatusCode::CREATED, &pair, None),
        ApiLogin::PasswordChangeRequired { change_ticket, expires_in } => {
            let mut p = Problem::new(
                StatusCode::FORBIDDEN,
                "password_change_required",
                "Password change required",
                "Première connexion : définissez votre mot de passe personnel pour remplacer le mot de passe provisoire.",
            );
            p.change_ticket = Some(change_ticket.expose_secret().to_owned());
            p.expires_in = Some(expires_in);
            p.into_response()
        }
        ApiLogin::Refused => Problem::invalid_credentials().into_response(),
        ApiLogin::Throttled { retry_after } => Problem::throttled(retry_after).into_response(),
        ApiLogin::TemporaryPasswordExpired => Problem::temporary_password_expired().into_response(),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateSessionRequest {
    /// The application's name, shown in "Mon compte".
    #[serde(default)]
    pub client: Option<String>,
}

/// Sign in with the client certificate of the TLS connection (mutual TLS), or the one a trusted
/// reverse proxy passes on. No temporary-password step: the card is the stronger factor.
#[utoipa::path(post, path = "/api/v1/sessions/certificate", request_body = CertificateSessionRequest, responses(
    (status = 201, description = "Signed in", body = TokenResponse),
    (status = 401, description = "`certificate_refused`: missing, not recognised, expired, not yet valid, revoked, wrong usage, or no account", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "Certificate sign-in is not enabled", body = Problem, content_type = "application/problem+json"),
))]
pub async fn create_certificate_session(
    State(state): State<AppState>,
    client: Client,
    crate::certs::PeerChain(chain): crate::certs::PeerChain,
    ApiJson(body): ApiJson<CertificateSessionRequest>,
) -> Result<Response, ApiError> {
    let Some(verifier) = state.certificates.clone() else {
        return Err(WebError::NotFound.into());
    };
    address_limit(&state, &client).await?;
    let ctx = client.context(Actor::Anonymous);
    let refused = |refusal| {
        let (title, text) = crate::pages::certificate::refusal_text(refusal);
        Problem::new(StatusCode::UNAUTHORIZED, "certificate_refused", title, text)
    };
    let identity = match state.check_certificate(&verifier, &chain, &ctx).await? {
        Ok(identity) => identity,
        Err(refusal) => return Err(refused(Some(refusal)).into()),
    };
    let name = client_name(body.client.as_deref());
    match state.auth.certificate_login(&identity, Some((&name, &state.settings.api)), &ctx).await? {
        sesame_core::certificate::CertificateLogin::Tokens(pair) => Ok(tokens(StatusCode::CREATED, &pair, None)),
        _ => Err(refused(None).into()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    /// With a temporary password: the ticket from `password_change_required`.
    #[serde(default)]
    pub change_ticket: Option<String>,
    /// Otherwise (with a bearer access token): the current password.
    #[serde(default)]
    pub current_password: Option<String>,
    pub new_password: String,
    #[serde(default)]
    pub client: Option<String>,
}

/// Set a new password: with a change ticket (first connection), or with an access token and the
/// current password. Every other session and token of the account ends.
#[utoipa::path(post, path = "/api/v1/password", request_body = PasswordRequest, security((), ("bearer" = [])), responses(
    (status = 200, description = "Changed: a fresh token pair and the French confirmation", body = TokenResponse),
    (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
    (status = 401, description = "Invalid ticket or token, or wrong current password", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "`temporary_password_expired`", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "`policy_violation` with every failed rule", body = Problem, content_type = "application/problem+json"),
))]
pub async fn change_password(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PasswordRequest>,
) -> Result<Response, ApiError> {
    address_limit(&state, &client).await?;
    let new = password(&body.new_password, "new_password")?;
    let name = client_name(body.client.as_deref());
    let ctx;
    let outcome = match (&body.change_ticket, &body.current_password) {
        (Some(ticket), None) => {
            ctx = client.context(Actor::Anonymous);
            state
                .auth
                .api_change_password(ApiProof::ChangeTicket(ticket.trim()), &new, &name, &state.settings.api, &ctx)
                .await?
        }
        (None, Some(current)) => {
            let principal = authenticate(&headers, &state).await?;
            let current = password(current, "current_password")?;
            ctx = client.context(Actor::Account(principal.account.id));
            let proof = ApiProof::AccessToken { principal: &principal, current_password: &current };
            state.auth.api_change_password(proof, &new, &name, &state.settings.api, &ctx).await?
        }
        _ => {
            return Err(Problem::invalid_request(
                "Donnez soit « change_ticket », soit « current_password » avec un jeton d'accès.",
            )
            .into());
        }
    };
    state.mail_queued();
    Ok(match outcome {
        ApiChange::Changed(pair) => tokens(StatusCode::OK, &pair, Some(CONFIRMATION)),
        ApiChange::Refused(violations) => Problem::policy(&violations).into_response(),
        ApiChange::Unauthorized => Problem::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Invalid ticket, token or current password",
            "Ticket invalide ou expiré, ou mot de passe actuel incorrect.",
        )
        .into_response(),
        ApiChange::TemporaryPasswordExpired => Problem::temporary_password_expired().into_response(),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchange a refresh token for a new pair. Each refresh token works once; presenting a used
/// one ends the whole sign-in (reuse detection).
#[utoipa::path(post, path = "/api/v1/tokens/refresh", request_body = RefreshRequest, responses(
    (status = 200, description = "A new pair", body = TokenResponse),
    (status = 401, description = "`invalid_grant`: unknown, used, revoked or expired", body = Problem, content_type = "application/problem+json"),
))]
pub async fn refresh(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Response, ApiError> {
    address_limit(&state, &client).await?;
    let ctx = client.context(Actor::Anonymous);
    match state.auth.api_refresh(body.refresh_token.trim(), &state.settings.api, &ctx).await? {
        Some(pair) => Ok(tokens(StatusCode::OK, &pair, None)),
        None => Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
            "Invalid refresh token",
            "Votre session a expiré : reconnectez-vous.",
        )
        .into()),
    }
}

/// Who the access token belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub identifier: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// `RPPS 10003456786`, `ADELI 751234567`, or null.
    pub national_id: Option<String>,
    /// The application named at sign-in.
    pub client: Option<String>,
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/v1/me", security(("bearer" = [])), responses(
    (status = 200, body = Me),
    (status = 401, description = "`invalid_token`", body = Problem, content_type = "application/problem+json"),
))]
pub async fn me(Bearer(principal): Bearer) -> Json<Me> {
    let a = &principal.account;
    Json(Me {
        identifier: a.identifier.to_string(),
        first_name: a.first_name.to_string(),
        last_name: a.last_name.to_string(),
        email: a.email.to_string(),
        national_id: a.national_id.as_ref().map(ToString::to_string),
        client: principal.token.client_name.clone(),
    })
}

/// Sign out: ends this sign-in (its access and refresh tokens).
#[utoipa::path(delete, path = "/api/v1/sessions/current", security(("bearer" = [])), responses(
    (status = 204, description = "Signed out"),
    (status = 401, description = "`invalid_token`", body = Problem, content_type = "application/problem+json"),
))]
pub async fn end_session(
    State(state): State<AppState>,
    client: Client,
    Bearer(principal): Bearer,
) -> Result<StatusCode, ApiError> {
    state.auth.api_logout(&principal, &client.context(Actor::Account(principal.account.id))).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One rule of the password policy, as the portal's checklist shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyRule {
    pub code: String,
    pub label: String,
}

/// The password policy's checklist, to show before asking for a new password.
#[utoipa::path(get, path = "/api/v1/password-policy", responses((status = 200, body = [PolicyRule])))]
pub async fn password_policy(State(state): State<AppState>) -> Json<Vec<PolicyRule>> {
    Json(
        state
            .auth
            .policy()
            .requirements()
            .into_iter()
            .map(|r| PolicyRule { code: r.rule.code().to_owned(), label: r.label })
            .collect(),
    )
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => ApiError::from(WebError::Internal(e.to_string())).into_response(),
    }
}
