//! RFC 9457 problem documents: every error of `/api/v1`, with a stable type and a French
//! `detail` for the person in front of the application.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sesame_core::policy::Violation;
use utoipa::ToSchema;

use crate::error::WebError;

/// The one refusal of every credential failure, pages and API alike.
pub const REFUSED: &str = "Identifiant ou mot de passe incorrect. Après plusieurs échecs, la connexion est suspendue quelques minutes : réessayez plus tard, ou utilisez « Mot de passe oublié ».";

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
    /// `second_factor_required`: the single-use ticket for `POST /api/v1/sessions/second-factor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_factor_ticket: Option<String>,
    /// `second_factor_required`: what the second step accepts (`totp`, `recovery_code`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Vec<String>>,
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
    pub fn new(status: StatusCode, code: &str, title: &str, detail: &str) -> Self {
        Self {
            kind: format!("/api/v1/problems/{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.to_owned(),
            change_ticket: None,
            second_factor_ticket: None,
            accepted: None,
            expires_in: None,
            violations: None,
            retry_after: None,
        }
    }

    #[must_use]
    pub fn retry_after(mut self, seconds: i64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn invalid_request(detail: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", "Invalid request", detail)
    }

    /// The problem of an error page's status under `/api/`.
    pub fn for_status(status: StatusCode) -> Self {
        let detail = match status {
            StatusCode::NOT_FOUND => "Cette adresse n'existe pas dans l'API.",
            StatusCode::METHOD_NOT_ALLOWED => "Cette adresse n'accepte pas cette méthode.",
            _ => "La requête n'a pas pu être traitée.",
        };
        let mut problem = Self::invalid_request(detail);
        problem.status = status.as_u16();
        problem
    }

    pub fn invalid_credentials() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "Invalid credentials", REFUSED)
    }

    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "Invalid or expired token",
            "Votre session a expiré : reconnectez-vous.",
        )
    }

    pub fn throttled(retry_after: i64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            "Too many attempts",
            "Trop de tentatives : réessayez plus tard, ou utilisez « Mot de passe oublié » sur le portail.",
        )
        .retry_after(retry_after)
    }

    pub fn temporary_password_expired() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "temporary_password_expired",
            "Temporary password expired",
            "Votre mot de passe provisoire a expiré : utilisez « Mot de passe oublié » sur le portail ou contactez le support.",
        )
    }

    pub fn policy(violations: &[Violation]) -> Self {
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

    pub fn password_change_required(change_ticket: String, expires_in: i64) -> Self {
        let mut p = Self::new(
            StatusCode::FORBIDDEN,
            "password_change_required",
            "Password change required",
            "Première connexion : définissez votre mot de passe personnel pour remplacer le mot de passe provisoire.",
        );
        p.change_ticket = Some(change_ticket);
        p.expires_in = Some(expires_in);
        p
    }

    /// `accepted`: `totp` when the account has an app, `recovery_code` always.
    pub fn second_factor_required(ticket: String, expires_in: i64, accepted: &[&str]) -> Self {
        let detail = if accepted.contains(&"totp") {
            "Saisissez le code à 6 chiffres de votre application d'authentification, ou un de vos codes de secours."
        } else {
            "Votre compte est protégé par une clé de sécurité, que cette application ne peut pas utiliser : saisissez un de vos codes de secours, ou connectez-vous sur le portail."
        };
        let mut p = Self::new(StatusCode::FORBIDDEN, "second_factor_required", "Second factor required", detail);
        p.second_factor_ticket = Some(ticket);
        p.accepted = Some(accepted.iter().map(|&a| a.to_owned()).collect());
        p.expires_in = Some(expires_in);
        p
    }

    pub fn second_factor_enrolment_required(password_changed: bool) -> Self {
        let detail = if password_changed {
            "Votre mot de passe est changé. Ce portail demande une vérification en deux étapes : ajoutez une application d'authentification depuis « Mon compte » sur le portail, puis reconnectez-vous."
        } else {
            "Ce portail demande une vérification en deux étapes : ajoutez une application d'authentification depuis « Mon compte » sur le portail, puis reconnectez-vous."
        };
        Self::new(StatusCode::FORBIDDEN, "second_factor_enrolment_required", "Second factor enrolment required", detail)
    }

    pub fn second_factor_ticket_expired() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "second_factor_ticket_expired",
            "Second factor ticket expired",
            "La connexion a expiré : saisissez à nouveau votre identifiant et votre mot de passe.",
        )
    }

    pub fn wrong_second_factor() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "wrong_second_factor",
            "Wrong second factor",
            "Code incorrect. Saisissez le code affiché maintenant par votre application, ou un code de secours non encore utilisé.",
        )
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
            WebError::Overloaded => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Overloaded",
                "Service momentanément surchargé : réessayez dans quelques secondes.",
            )
            .retry_after(5),
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

impl From<sesame_core::AuthError> for ApiError {
    fn from(e: sesame_core::AuthError) -> Self {
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
