//! The portal's pages. Each handler: check the request (CSRF, address limit), parse the form,
//! call the use case, then render or redirect (Post/Redirect/Get).

pub mod account;
pub mod certificate;
pub mod first_connection;
pub mod help;
pub mod install;
pub mod login;
pub mod reset;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret as _;
use sesame_core::auth::{OpenedSession, SignedIn};
use sesame_core::policy::{Rule, Violation};
use sesame_core::secret::generate_token;
use sesame_core::types::{Password, PasswordInputError};

use crate::AppState;
use crate::error::WebError;
use crate::request::{CSRF_COOKIE, SESSION_COOKIE, cookie, cookie_name, csrf_ok, set_cookie};
use crate::view::{FieldError, see_other};

const CLEAR_SITE_DATA: axum::http::HeaderName = axum::http::HeaderName::from_static("clear-site-data");

/// Who is signed in, if anyone; `expired` when a session cookie came but leads nowhere.
#[derive(Debug)]
pub struct Visitor {
    pub user: Option<SignedIn>,
    pub expired: bool,
}

impl AppState {
    pub async fn visitor(&self, headers: &HeaderMap) -> Result<Visitor, WebError> {
        let Some(token) = cookie(headers, &cookie_name(&self.settings, SESSION_COOKIE)).filter(|t| !t.is_empty())
        else {
            return Ok(Visitor { user: None, expired: false });
        };
        let user = self.auth.resolve(token).await?;
        let expired = user.is_none();
        Ok(Visitor { user, expired })
    }

    /// The signed-in user of a page that needs one with a personal password; otherwise where
    /// to go instead (sign-in, or the first-connection page).
    pub async fn require_user(&self, headers: &HeaderMap) -> Result<Result<SignedIn, Response>, WebError> {
        let visitor = self.visitor(headers).await?;
        Ok(match visitor.user {
            Some(user) if user.session.must_change_password => Err(see_other("/premiere-connexion")),
            Some(user) => Ok(user),
            None if visitor.expired => Err(self.signed_out_redirect("/?info=session-expiree")),
            None => Err(see_other("/")),
        })
    }

    /// A redirect that also clears the session cookie.
    pub fn signed_out_redirect(&self, to: &str) -> Response {
        let mut response = see_other(to);
        response.headers_mut().append(header::SET_COOKIE, set_cookie(&self.settings, SESSION_COOKIE, None));
        response
    }

    /// After "Se déconnecter": the session cookie cleared, and the browser told to forget what
    /// it kept of the portal (cache, cookies, storage).
    pub fn logged_out_redirect(&self) -> Response {
        let mut response = self.signed_out_redirect("/?info=deconnecte");
        response.headers_mut().insert(CLEAR_SITE_DATA, HeaderValue::from_static("\"cache\", \"cookies\", \"storage\""));
        response
    }

    /// A redirect that installs a new session (new id) and a new CSRF cookie.
    pub fn signed_in_redirect(&self, opened: &OpenedSession, to: &str) -> Response {
        let mut response = see_other(to);
        let headers = response.headers_mut();
        headers
            .append(header::SET_COOKIE, set_cookie(&self.settings, SESSION_COOKIE, Some(opened.token.expose_secret())));
        let csrf = generate_token(32);
        headers.append(header::SET_COOKIE, set_cookie(&self.settings, CSRF_COOKIE, Some(csrf.expose_secret())));
        response
    }

    /// The preamble of every signed-in form: the CSRF check, then the signed-in user (or the
    /// response to send instead).
    pub async fn signed_in_post(
        &self,
        headers: &HeaderMap,
        csrf: &str,
    ) -> Result<Result<SignedIn, Response>, WebError> {
        if let Some(refusal) = self.csrf_refusal(headers, csrf) {
            return Ok(Err(refusal));
        }
        self.require_user(headers).await
    }

    /// Refuses a state-changing request that does not prove it comes from our page.
    pub fn csrf_refusal(&self, headers: &HeaderMap, token: &str) -> Option<Response> {
        if csrf_ok(headers, &self.settings, token) {
            return None;
        }
        tracing::warn!("CSRF check failed");
        let page = crate::view::Page::new("message.html", "Formulaire expiré")
            .status(StatusCode::FORBIDDEN)
            .with(
                "paragraphs",
                [
                    "Ce formulaire a expiré ou ne provient pas de ce portail. Rien n'a été modifié.",
                    "Rechargez la page et recommencez.",
                ],
            )
            .with("links", [serde_json::json!({ "href": "/", "label": "Retour à l'accueil" })]);
        Some(self.render(headers, None, page))
    }
}

/// "Mot de passe provisoire expiré": why, and the way out (Mot de passe oublié, support).
pub fn temporary_password_expired(why: &'static str) -> crate::view::Page {
    crate::view::Page::new("message.html", "Mot de passe provisoire expiré")
        .status(StatusCode::FORBIDDEN)
        .with("paragraphs", [why, "Demandez-en un nouveau avec « Mot de passe oublié », ou contactez le support."])
        .with("support", true)
        .with(
            "links",
            [serde_json::json!({ "href": "/mot-de-passe-oublie", "label": "Mot de passe oublié", "button": true })],
        )
}

/// 429 with `Retry-After` for a client address over its limit.
pub fn too_many_requests(state: &AppState, headers: &HeaderMap) -> Response {
    let page = crate::view::Page::new("message.html", "Trop de tentatives").status(StatusCode::TOO_MANY_REQUESTS).with(
        "paragraphs",
        ["Trop de tentatives ont été faites depuis votre adresse. Patientez une minute avant de réessayer."],
    );
    let mut response = state.render(headers, None, page);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    response.into_response()
}

/// Reads a password field; an empty one or one over the ceiling is a field error.
pub fn password_field(raw: &str, field: &'static str, empty_message: &str) -> Result<Password, FieldError> {
    Password::parse(raw).map_err(|e| match e {
        PasswordInputError::Empty => FieldError::on(field, empty_message),
        PasswordInputError::TooLong => FieldError::on(field, "Le mot de passe ne doit pas dépasser 256 caractères."),
    })
}

/// Reads the two new-password fields of a form; every empty or overlong one is an error.
pub fn new_password_fields(new: &str, confirmation: &str) -> Result<(Password, Password), Vec<FieldError>> {
    let new = password_field(new, "nouveau_mot_de_passe", "Saisissez votre nouveau mot de passe.");
    let confirmation = password_field(confirmation, "confirmation", "Saisissez à nouveau votre nouveau mot de passe.");
    match (new, confirmation) {
        (Ok(n), Ok(c)) => Ok((n, c)),
        (n, c) => Err([n.err(), c.err()].into_iter().flatten().collect()),
    }
}

/// Policy refusals shown next to the new-password fields.
pub fn violation_errors(violations: &[Violation]) -> Vec<FieldError> {
    violations
        .iter()
        .map(|v| match v.rule {
            Rule::Confirmation => FieldError::on("confirmation", v.message.clone()),
            _ => FieldError::on("nouveau_mot_de_passe", v.message.clone()),
        })
        .collect()
}

/// The rule codes of refused rules, to mark them in the checklist.
pub fn failed_rules(violations: &[Violation]) -> Vec<&'static str> {
    violations.iter().map(|v| v.rule.code()).collect()
}
