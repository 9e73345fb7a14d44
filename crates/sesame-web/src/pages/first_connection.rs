//! "Définir mon mot de passe personnel": the only page a temporary-password session reaches.

use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use sesame_core::audit::Actor;
use sesame_core::auth::{ChangeOutcome, Proof, SignedIn};

use super::{failed_rules, new_password_fields, violation_errors};
use crate::AppState;
use crate::error::WebError;
use crate::request::Client;
use crate::view::{FieldError, Page, see_other};

fn page(state: &AppState, errors: Vec<FieldError>, failed: Vec<&'static str>) -> Page {
    Page::new("first_connection.html", "Définir mon mot de passe personnel")
        .with("errors", errors)
        .with("failed", failed)
        .with("requirements", state.auth.policy().requirements())
}

async fn temporary_session(state: &AppState, headers: &HeaderMap) -> Result<Result<SignedIn, Response>, WebError> {
    let visitor = state.visitor(headers).await?;
    Ok(match visitor.user {
        Some(user) if user.session.must_change_password => Ok(user),
        Some(_) => Err(see_other("/services")),
        None => Err(see_other("/")),
    })
}

pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    let user = match temporary_session(&state, &headers).await? {
        Ok(user) => user,
        Err(redirect) => return Ok(redirect),
    };
    Ok(state.render(&headers, Some(&user), page(&state, Vec::new(), Vec::new())))
}

#[derive(Debug, Deserialize)]
pub struct NewPasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nouveau_mot_de_passe: String,
    #[serde(default)]
    confirmation: String,
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Form(form): Form<NewPasswordForm>,
) -> Result<Response, WebError> {
    if let Some(refusal) = state.csrf_refusal(&headers, &form.csrf) {
        return Ok(refusal);
    }
    let user = match temporary_session(&state, &headers).await? {
        Ok(user) => user,
        Err(redirect) => return Ok(redirect),
    };
    let (new, confirmation) = match new_password_fields(&form.nouveau_mot_de_passe, &form.confirmation) {
        Ok(fields) => fields,
        Err(errors) => {
            return Ok(state.render(&headers, Some(&user), page(&state, errors, Vec::new())));
        }
    };
    let ctx = client.context(Actor::Account(user.account.id));
    match state.auth.change_password(&user, Proof::TemporarySession, &new, &confirmation, &ctx).await? {
        ChangeOutcome::Changed(opened) => {
            state.mail_queued();
            Ok(state.signed_in_redirect(&opened, "/services?confirmation=premiere-connexion"))
        }
        ChangeOutcome::Refused(violations) => {
            let p = page(&state, violation_errors(&violations), failed_rules(&violations));
            Ok(state.render(&headers, Some(&user), p))
        }
        ChangeOutcome::TemporaryPasswordExpired => {
            state.auth.logout(&user, &ctx).await?;
            let p = super::temporary_password_expired("Votre mot de passe provisoire a expiré avant d'être remplacé.");
            let mut response = state.render(&headers, None, p);
            response.headers_mut().append(
                axum::http::header::SET_COOKIE,
                crate::request::set_cookie(&state.settings, crate::request::SESSION_COOKIE, None),
            );
            Ok(response)
        }
        ChangeOutcome::WrongCurrentPassword => Ok(see_other("/")),
    }
}
