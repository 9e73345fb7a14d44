//! "Mot de passe oublié": request, link, new password, confirmation.
//!
//! The link's token leaves the address bar at once: opening the link stores it in a cookie
//! scoped to these pages and redirects. Opening it (as mail scanners do) uses nothing up; only
//! the final submission does.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use sesame_core::audit::Actor;
use sesame_core::limits::Attempt;
use sesame_core::policy::Violation;
use sesame_core::reset::{ResetOutcome, ResetToken};
use sesame_core::types::LoginIdentifier;

use super::{NewPasswordFields, address_limit, new_password_page};
use crate::captcha::{Answer, Challenge, new_challenge, passed};
use crate::error::WebError;
use crate::extract::CsrfForm;
use crate::request::Client;
use crate::state::AppState;
use crate::view::{FieldError, Page, see_other};

const RESET_COOKIE: &str = "sesame_reset";
const PATH: &str = "/mot-de-passe-oublie";
/// Where the link leads once its token is out of the address bar.
pub const NEW_PASSWORD_PATH: &str = "/mot-de-passe-oublie/nouveau";

/// The link's token, kept out of the address bar: scoped to these pages, for as long as a link
/// lives at most.
fn reset_cookie(state: &AppState, value: Option<&str>) -> HeaderValue {
    let max_age = state.services.reset.link_minutes().saturating_mul(60);
    state.cookies().scoped(RESET_COOKIE, value, PATH, Some(max_age))
}

fn request_page(errors: Vec<FieldError>, identifier: &str, captcha: Option<Challenge>) -> Page {
    Page::new("forgot.html", "Mot de passe oublié")
        .with("errors", errors)
        .with("identifier", identifier)
        .with("captcha", captcha)
}

async fn captcha(state: &AppState) -> Result<Option<Challenge>, WebError> {
    if state.settings.captcha.enabled { Ok(Some(new_challenge(&state.services).await?)) } else { Ok(None) }
}

fn invalid_link(state: &AppState, headers: &HeaderMap) -> Response {
    let page = Page::new("messages/invalid_link.html", "Lien invalide ou expiré").status(StatusCode::GONE);
    let mut response = state.views.render(headers, None, page);
    response.headers_mut().append(header::SET_COOKIE, reset_cookie(state, None));
    response
}

pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    Ok(state.views.render(&headers, None, request_page(Vec::new(), "", captcha(&state).await?)))
}

#[derive(Debug, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    identifiant: String,
    #[serde(flatten)]
    answer: Answer,
    #[serde(default)]
    nouveau_code: Option<String>,
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    CsrfForm(_, form): CsrfForm<RequestForm>,
) -> Result<Response, WebError> {
    if let Some(refusal) = address_limit(&state, &headers, &client, Attempt::Reset).await? {
        return Ok(refusal);
    }
    let typed = form.identifiant.trim();
    if form.nouveau_code.is_some() {
        return Ok(state.views.render(&headers, None, request_page(Vec::new(), typed, captcha(&state).await?)));
    }
    let identifier = LoginIdentifier::new(typed);
    let mut errors = Vec::new();
    if identifier.is_none() {
        errors.push(FieldError::on("identifiant", "Saisissez votre identifiant."));
    }
    if state.settings.captcha.enabled {
        if form.answer.is_empty() {
            errors.push(FieldError::on(
                "captcha",
                "Recopiez le code de l'image, ou utilisez la vérification sans image.",
            ));
        } else if !passed(&state.services, &form.answer).await? {
            errors.push(FieldError::on(
                "captcha",
                "Le code recopié est incorrect ou a expiré. Un nouveau code vous est proposé.",
            ));
        }
    }
    let Some(identifier) = identifier.filter(|_| errors.is_empty()) else {
        return Ok(state.views.render(&headers, None, request_page(errors, typed, captcha(&state).await?)));
    };
    let answer = state.services.reset.request(&identifier, &client.context(Actor::Anonymous)).await?;
    state.mail.queued();
    let page = Page::new("messages/reset_requested.html", "Confirmation")
        .with("masked_email", answer.masked_email)
        .with("link_minutes", state.services.reset.link_minutes());
    Ok(state.views.render(&headers, None, page))
}

#[derive(Debug, Deserialize)]
pub struct Link {
    #[serde(default)]
    jeton: String,
}

/// The link of the e-mail: checks it without using it, keeps the token out of the address bar.
pub async fn open_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Query(link): Query<Link>,
) -> Result<Response, WebError> {
    if let Some(refusal) = address_limit(&state, &headers, &client, Attempt::Reset).await? {
        return Ok(refusal);
    }
    let token = match ResetToken::parse(&link.jeton) {
        Some(token) if state.services.reset.link_is_valid(&token).await? => token,
        _ => return Ok(invalid_link(&state, &headers)),
    };
    let mut response = see_other(NEW_PASSWORD_PATH);
    response.headers_mut().append(header::SET_COOKIE, reset_cookie(&state, Some(token.expose())));
    Ok(response)
}

fn new_password(state: &AppState, errors: Vec<FieldError>, violations: &[Violation]) -> Page {
    new_password_page(Page::new("reset_new.html", "Choisir un nouveau mot de passe"), state, errors, violations)
}

fn token_of(state: &AppState, headers: &HeaderMap) -> Option<ResetToken> {
    state.cookies().get(headers, RESET_COOKIE).and_then(ResetToken::parse)
}

pub async fn show_new(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    match token_of(&state, &headers) {
        Some(token) if state.services.reset.link_is_valid(&token).await? => {
            Ok(state.views.render(&headers, None, new_password(&state, Vec::new(), &[])))
        }
        _ => Ok(invalid_link(&state, &headers)),
    }
}

pub async fn submit_new(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    CsrfForm(_, form): CsrfForm<NewPasswordFields>,
) -> Result<Response, WebError> {
    if let Some(refusal) = address_limit(&state, &headers, &client, Attempt::Reset).await? {
        return Ok(refusal);
    }
    let Some(token) = token_of(&state, &headers) else {
        return Ok(invalid_link(&state, &headers));
    };
    let (new, confirmation) = match form.parse() {
        Ok(fields) => fields,
        Err(errors) => return Ok(state.views.render(&headers, None, new_password(&state, errors, &[]))),
    };
    match state.services.reset.complete(&token, &new, &confirmation, &client.context(Actor::Anonymous)).await? {
        ResetOutcome::Done => {
            state.mail.queued();
            let page = Page::new("messages/reset_done.html", "Confirmation");
            let mut response = state.views.render(&headers, None, page);
            response.headers_mut().append(header::SET_COOKIE, reset_cookie(&state, None));
            Ok(response)
        }
        ResetOutcome::Refused(violations) => {
            Ok(state.views.render(&headers, None, new_password(&state, Vec::new(), &violations)))
        }
        ResetOutcome::InvalidLink => Ok(invalid_link(&state, &headers)),
    }
}
