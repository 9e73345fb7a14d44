//! `/api/v1/me`: who the access token belongs to.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::Bearer;
use crate::problem::Problem;

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
