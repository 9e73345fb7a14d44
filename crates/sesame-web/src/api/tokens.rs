//! `/api/v1/tokens/refresh`: rotating refresh tokens, with reuse detection.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use sesame_core::audit::Actor;
use utoipa::ToSchema;

use super::{address_limit, tokens};
use crate::problem::{ApiError, ApiJson, Problem};
use crate::request::Client;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchange a refresh token for a new pair. Each refresh token works once; presenting a used
/// one ends the whole sign-in (reuse detection).
#[utoipa::path(post, path = "/api/v1/tokens/refresh", request_body = RefreshRequest, responses(
    (status = 200, description = "A new pair", body = super::TokenResponse),
    (status = 401, description = "`invalid_grant`: unknown, used, revoked or expired", body = Problem, content_type = "application/problem+json"),
))]
pub async fn refresh(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Response, ApiError> {
    address_limit(&state, &client).await?;
    let ctx = client.context(Actor::Anonymous);
    match state.services.tokens.refresh(body.refresh_token.trim(), &ctx).await? {
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
