//! The portal's pages. Each handler: its extractors check the request (session, CSRF), it parses
//! the form, calls the use case, then renders or redirects (Post/Redirect/Get).

pub mod account;
pub mod certificate;
pub mod factors;
pub mod first_connection;
pub mod help;
pub mod install;
pub mod keys;
pub mod login;
pub mod reset;
pub mod second_step;
pub mod services;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use secrecy::ExposeSecret as _;
use sesame_core::limits::{Attempt, OverLimit};
use sesame_core::policy::{Rule, Violation};
use sesame_core::secret::generate_token;
use sesame_core::sessions::OpenedSession;
use sesame_core::types::{Password, PasswordInputError};

use crate::error::WebError;
use crate::extract::signed_out_redirect;
use crate::request::{CSRF_COOKIE, Client, SESSION_COOKIE};
use crate::state::AppState;
use crate::view::{FieldError, Page, see_other};

const CLEAR_SITE_DATA: HeaderName = HeaderName::from_static("clear-site-data");

/// After "Se déconnecter": the session cookie cleared, and the browser told to forget what it
/// kept of the portal (cache, cookies, storage).
pub fn logged_out_redirect(state: &AppState) -> Response {
    let mut response = signed_out_redirect(state.cookies(), "/?info=deconnecte");
    response.headers_mut().insert(CLEAR_SITE_DATA, HeaderValue::from_static("\"cache\", \"cookies\", \"storage\""));
    response
}

/// A redirect that installs a new session (new id) and a new CSRF cookie.
pub fn signed_in_redirect(state: &AppState, opened: &OpenedSession, to: &str) -> Response {
    let mut response = see_other(to);
    let cookies = state.cookies();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, cookies.set(SESSION_COOKIE, Some(opened.token.expose_secret())));
    headers.append(header::SET_COOKIE, cookies.set(CSRF_COOKIE, Some(generate_token(32).expose_secret())));
    response
}

/// Counts an attempt of the client's address; over the limit, the 429 page to answer instead.
pub async fn address_limit(
    state: &AppState,
    headers: &HeaderMap,
    client: &Client,
    attempt: Attempt,
) -> Result<Option<Response>, WebError> {
    Ok(match state.services.limits.hit(attempt, &client.ip_text()).await? {
        Ok(()) => None,
        Err(over) => Some(too_many_requests(state, headers, over)),
    })
}

/// 429 with `Retry-After` for a client address over its limit.
fn too_many_requests(state: &AppState, headers: &HeaderMap, over: OverLimit) -> Response {
    let page = Page::new("messages/too_many_requests.html", "Trop de tentatives")
        .status(StatusCode::TOO_MANY_REQUESTS)
        .with("retry_after", over.retry_after);
    let mut response = state.views.render(headers, None, page);
    if let Ok(value) = HeaderValue::from_str(&over.retry_after.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// "Mot de passe provisoire expiré": why (`during` a sign-in or a first connection), and the
/// way out (Mot de passe oublié, support).
pub fn temporary_password_expired(during: &'static str) -> Page {
    Page::new("messages/temporary_password_expired.html", "Mot de passe provisoire expiré")
        .status(StatusCode::FORBIDDEN)
        .with("during", during)
}

/// Reads a password field; an empty one or one over the ceiling is a field error.
pub fn password_field(raw: &str, field: &'static str, empty_message: &str) -> Result<Password, FieldError> {
    Password::parse(raw).map_err(|e| match e {
        PasswordInputError::Empty => FieldError::on(field, empty_message),
        PasswordInputError::TooLong => FieldError::on(field, "Le mot de passe ne doit pas dépasser 256 caractères."),
    })
}

/// The two new-password fields every new-password form has.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NewPasswordFields {
    #[serde(default)]
    pub nouveau_mot_de_passe: String,
    #[serde(default)]
    pub confirmation: String,
}

impl NewPasswordFields {
    /// Both passwords; every empty or overlong one is an error.
    pub fn parse(&self) -> Result<(Password, Password), Vec<FieldError>> {
        let new =
            password_field(&self.nouveau_mot_de_passe, "nouveau_mot_de_passe", "Saisissez votre nouveau mot de passe.");
        let confirmation =
            password_field(&self.confirmation, "confirmation", "Saisissez à nouveau votre nouveau mot de passe.");
        match (new, confirmation) {
            (Ok(n), Ok(c)) => Ok((n, c)),
            (n, c) => Err([n.err(), c.err()].into_iter().flatten().collect()),
        }
    }
}

/// A new-password form's page: its errors next to the fields, the refused rules marked in
/// the checklist.
pub fn new_password_page(page: Page, state: &AppState, errors: Vec<FieldError>, violations: &[Violation]) -> Page {
    let mut errors = errors;
    errors.extend(violations.iter().map(|v| match v.rule {
        Rule::Confirmation => FieldError::on("confirmation", v.message.clone()),
        _ => FieldError::on("nouveau_mot_de_passe", v.message.clone()),
    }));
    let failed: Vec<&'static str> = violations.iter().map(|v| v.rule.code()).collect();
    page.with("errors", errors).with("failed", failed).with("requirements", state.services.policy().requirements())
}
