//! "Définir mon mot de passe personnel": the only page a temporary-password session reaches.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use sesame_core::audit::Actor;
use sesame_core::passwords::{ChangeOutcome, Proof};

use super::{NewPasswordFields, new_password_page, signed_in_redirect, temporary_password_expired};
use crate::error::WebError;
use crate::extract::{CsrfForm, TemporarySession};
use crate::request::{Client, SESSION_COOKIE};
use crate::state::AppState;
use crate::view::{FieldError, Page, see_other};
use sesame_core::policy::Violation;

fn page(state: &AppState, errors: Vec<FieldError>, violations: &[Violation]) -> Page {
    let page = Page::new("first_connection.html", "Définir mon mot de passe personnel");
    new_password_page(page, state, errors, violations)
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    TemporarySession(user): TemporarySession,
) -> Response {
    state.views.render(&headers, Some(&user), page(&state, Vec::new(), &[]))
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    CsrfForm(TemporarySession(user), form): CsrfForm<NewPasswordFields, TemporarySession>,
) -> Result<Response, WebError> {
    let (new, confirmation) = match form.parse() {
        Ok(fields) => fields,
        Err(errors) => return Ok(state.views.render(&headers, Some(&user), page(&state, errors, &[]))),
    };
    let ctx = client.context(Actor::Account(user.account.id));
    match state.services.passwords.change(&user, Proof::TemporarySession, &new, &confirmation, &ctx).await? {
        ChangeOutcome::Changed(opened) => {
            state.mail.queued();
            Ok(signed_in_redirect(&state, &opened, "/services?confirmation=premiere-connexion"))
        }
        ChangeOutcome::Refused(violations) => {
            Ok(state.views.render(&headers, Some(&user), page(&state, Vec::new(), &violations)))
        }
        ChangeOutcome::TemporaryPasswordExpired => {
            state.services.sessions.logout(&user, &ctx).await?;
            let mut response = state.views.render(&headers, None, temporary_password_expired("first_connection"));
            response.headers_mut().append(header::SET_COOKIE, state.cookies().set(SESSION_COOKIE, None));
            Ok(response)
        }
        ChangeOutcome::WrongCurrentPassword => Ok(see_other("/")),
    }
}
