//! `/api/v1/sessions`: signing a desktop application in (password or certificate), and out.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use sesame_core::audit::Actor;
use sesame_core::certificate::{CertificateLogin, Channel};
use sesame_core::factors::FactorProof;
use sesame_core::tokens::ApiLogin;
use sesame_core::types::LoginIdentifier;
use utoipa::ToSchema;

use super::{Bearer, address_limit, client_name, password, tokens};
use crate::certs::{PeerChain, Refusal, judge};
use crate::error::WebError;
use crate::problem::{ApiError, ApiJson, Problem};
use crate::request::Client;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    pub identifier: String,
    pub password: String,
    /// The application's name, shown in "Mon compte" (e.g. `Therap-e autonome 4.2`).
    #[serde(default)]
    pub client: Option<String>,
}

/// Sign in with an identifier and a password.
#[utoipa::path(post, path = "/api/v1/sessions", request_body = SessionRequest, responses(
    (status = 201, description = "Signed in", body = super::TokenResponse),
    (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
    (status = 401, description = "Any credential failure (one answer for all)", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "`password_change_required` (with `change_ticket`), `second_factor_required` (with `second_factor_ticket`) or `temporary_password_expired`", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "Too many attempts; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
))]
pub async fn create_session(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<SessionRequest>,
) -> Result<Response, ApiError> {
    address_limit(&state, &client).await?;
    let password = password(&body.password, "password")?;
    let Some(identifier) = LoginIdentifier::new(&body.identifier) else {
        return Err(Problem::invalid_credentials().into());
    };
    let name = client_name(body.client.as_deref());
    let ctx = client.context(Actor::Anonymous);
    let outcome = state.services.tokens.sign_in(&identifier, &password, &name, &ctx).await?;
    Ok(answer(outcome, Problem::invalid_credentials))
}

/// The answer to a sign-in's outcome, either step; `refused` is what a wrong credential gets.
fn answer(outcome: ApiLogin, refused: fn() -> Problem) -> Response {
    match outcome {
        ApiLogin::Tokens(pair) => tokens(StatusCode::CREATED, &pair, None),
        ApiLogin::PasswordChangeRequired { change_ticket, expires_in } => {
            Problem::password_change_required(change_ticket.expose_secret().to_owned(), expires_in).into_response()
        }
        ApiLogin::Refused => refused().into_response(),
        ApiLogin::Throttled { retry_after } => Problem::throttled(retry_after).into_response(),
        ApiLogin::TemporaryPasswordExpired => Problem::temporary_password_expired().into_response(),
        ApiLogin::SecondFactorRequired { second_factor_ticket, expires_in, accepted } => {
            Problem::second_factor_required(second_factor_ticket.expose_secret().to_owned(), expires_in, &accepted)
                .into_response()
        }
        ApiLogin::TicketExpired => Problem::second_factor_ticket_expired().into_response(),
        ApiLogin::SecondFactorEnrolmentRequired => Problem::second_factor_enrolment_required(false).into_response(),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorRequest {
    /// The `second_factor_ticket` of the `second_factor_required` problem.
    pub second_factor_ticket: String,
    /// Six digits of the authenticator app, or a recovery code (`ABCD-EFGH-JKLM-NPQR`).
    pub code: String,
}

/// The second step of a sign-in: the ticket and a code. Grants what the password alone would
/// have granted (tokens, or a change ticket for a temporary password).
#[utoipa::path(post, path = "/api/v1/sessions/second-factor", request_body = SecondFactorRequest, responses(
    (status = 201, description = "Signed in", body = super::TokenResponse),
    (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
    (status = 401, description = "`wrong_second_factor` (try again with the same ticket) or `second_factor_ticket_expired` (sign in again)", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "`password_change_required` (with `change_ticket`)", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "Too many attempts; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
))]
pub async fn second_factor(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<SecondFactorRequest>,
) -> Result<Response, ApiError> {
    address_limit(&state, &client).await?;
    let proof = FactorProof::parse(&body.code);
    let ctx = client.context(Actor::Anonymous);
    let outcome = state.services.tokens.second_step(&body.second_factor_ticket, proof.as_ref(), &ctx).await?;
    Ok(answer(outcome, Problem::wrong_second_factor))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateSessionRequest {
    /// The application's name, shown in "Mon compte".
    #[serde(default)]
    pub client: Option<String>,
}

fn certificate_refused(refusal: Refusal) -> ApiError {
    Problem::new(StatusCode::UNAUTHORIZED, "certificate_refused", refusal.title(), refusal.explanation()).into()
}

/// Sign in with the client certificate of the TLS connection (mutual TLS), or the one a trusted
/// reverse proxy passes on. No temporary-password step: the card is the stronger factor.
#[utoipa::path(post, path = "/api/v1/sessions/certificate", request_body = CertificateSessionRequest, responses(
    (status = 201, description = "Signed in", body = super::TokenResponse),
    (status = 401, description = "`certificate_refused`: missing, not recognised, expired, not yet valid, revoked, wrong usage, or no account", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "Certificate sign-in is not enabled", body = Problem, content_type = "application/problem+json"),
))]
pub async fn create_certificate_session(
    State(state): State<AppState>,
    client: Client,
    PeerChain(chain): PeerChain,
    ApiJson(body): ApiJson<CertificateSessionRequest>,
) -> Result<Response, ApiError> {
    let Some(verifier) = state.certificates.0.clone() else {
        return Err(WebError::NotFound.into());
    };
    address_limit(&state, &client).await?;
    let ctx = client.context(Actor::Anonymous);
    let identity = judge(&verifier, &state.services, &chain, &ctx).await?.map_err(certificate_refused)?;
    let name = client_name(body.client.as_deref());
    match state.services.certificates.sign_in(&identity, Channel::Api { client: &name }, &ctx).await? {
        CertificateLogin::Tokens(pair) => Ok(tokens(StatusCode::CREATED, &pair, None)),
        CertificateLogin::NoAccount | CertificateLogin::SignedIn(_) => Err(certificate_refused(Refusal::NoAccount)),
    }
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
    state.services.tokens.sign_out(&principal, &client.context(Actor::Account(principal.account.id))).await?;
    Ok(StatusCode::NO_CONTENT)
}
