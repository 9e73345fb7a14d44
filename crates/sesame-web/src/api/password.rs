//! `/api/v1/password` and `/api/v1/password-policy`: setting the personal password from a
//! desktop application (first connection with a change ticket, or a change with the current one).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sesame_core::audit::Actor;
use sesame_core::tokens::{ApiChange, ApiProof};
use utoipa::ToSchema;

use super::{address_limit, authenticate, client_name, password, tokens};
use crate::problem::{ApiError, ApiJson, Problem};
use crate::request::Client;
use crate::state::AppState;

pub const CONFIRMATION: &str = "Votre changement de mot de passe a bien été pris en compte.";

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
    (status = 200, description = "Changed: a fresh token pair and the French confirmation", body = super::TokenResponse),
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
    let tokens_service = &state.services.tokens;
    let outcome = match (&body.change_ticket, &body.current_password) {
        (Some(ticket), None) => {
            let ctx = client.context(Actor::Anonymous);
            tokens_service.change_password(ApiProof::ChangeTicket(ticket.trim()), &new, &name, &ctx).await?
        }
        (None, Some(current)) => {
            let principal = authenticate(&headers, &state.services).await?;
            let current = password(current, "current_password")?;
            let ctx = client.context(Actor::Account(principal.account.id));
            let proof = ApiProof::AccessToken { principal: &principal, current_password: &current };
            tokens_service.change_password(proof, &new, &name, &ctx).await?
        }
        _ => {
            return Err(Problem::invalid_request(
                "Donnez soit « change_ticket », soit « current_password » avec un jeton d'accès.",
            )
            .into());
        }
    };
    state.mail.queued();
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
        ApiChange::ChangedEnrolmentRequired => Problem::second_factor_enrolment_required(true).into_response(),
    })
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
    let requirements = state.services.policy().requirements();
    Json(requirements.into_iter().map(|r| PolicyRule { code: r.rule.code().to_owned(), label: r.label }).collect())
}
