//! "Mot de passe oublié": request, link, new password, confirmation.
//!
//! The link's token leaves the address bar at once: opening the link stores it in a cookie
//! scoped to these pages and redirects. Opening it (as mail scanners do) uses nothing up; only
//! the final submission does.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use sesame_core::audit::Actor;
use sesame_core::reset::ResetOutcome;

use super::{failed_rules, new_password_fields, too_many_requests, violation_errors};
use crate::AppState;
use crate::captcha::Answer;
use crate::error::WebError;
use crate::request::{Client, cookie, cookie_name};
use crate::view::{FieldError, Page, see_other};

const RESET_COOKIE: &str = "sesame_reset";
const PATH: &str = "/mot-de-passe-oublie";

/// The link's token, kept out of the address bar: scoped to these pages, for as long as a link
/// lives at most.
fn reset_cookie(state: &AppState, value: Option<&str>) -> HeaderValue {
    let max_age = state.reset.link_minutes().saturating_mul(60);
    crate::request::scoped_cookie(&state.settings, RESET_COOKIE, value, PATH, Some(max_age))
}

fn request_page(errors: Vec<FieldError>, identifier: &str, captcha: Option<crate::captcha::Challenge>) -> Page {
    Page::new("forgot.html", "Mot de passe oublié")
        .with("errors", errors)
        .with("identifier", identifier)
        .with("captcha", captcha)
}

impl AppState {
    async fn reset_captcha(&self) -> Result<Option<crate::captcha::Challenge>, WebError> {
        if self.settings.captcha.enabled { Ok(Some(self.new_captcha().await?)) } else { Ok(None) }
    }

    fn invalid_link(&self, headers: &HeaderMap) -> Response {
        let page = Page::new("message.html", "Lien invalide ou expiré")
            .status(StatusCode::GONE)
            .with(
                "paragraphs",
                [
                    "Ce lien de changement de mot de passe n'est plus valable : il a expiré, il a déjà servi, ou une demande plus récente l'a remplacé.",
                    "Vous pouvez faire une nouvelle demande.",
                ],
            )
            .with("links", [serde_json::json!({ "href": PATH, "label": "Nouvelle demande", "button": true })]);
        let mut response = self.render(headers, None, page);
        response.headers_mut().append(header::SET_COOKIE, reset_cookie(self, None));
        response
    }
}

pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    let captcha = state.reset_captcha().await?;
    Ok(state.render(&headers, None, request_page(Vec::new(), "", captcha)))
}

#[derive(Debug, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    csrf: String,
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
    Form(form): Form<RequestForm>,
) -> Result<Response, WebError> {
    if let Some(refusal) = state.csrf_refusal(&headers, &form.csrf) {
        return Ok(refusal);
    }
    if state.auth.address_over_limit("reset", &client.ip_text()).await? {
        return Ok(too_many_requests(&state, &headers));
    }
    let identifier = form.identifiant.trim();
    if form.nouveau_code.is_some() {
        return Ok(state.render(&headers, None, request_page(Vec::new(), identifier, state.reset_captcha().await?)));
    }
    let mut errors = Vec::new();
    if identifier.is_empty() {
        errors.push(FieldError::on("identifiant", "Saisissez votre identifiant."));
    }
    if state.settings.captcha.enabled {
        if form.answer.is_empty() {
            errors.push(FieldError::on(
                "captcha",
                "Recopiez le code de l'image, ou utilisez la vérification sans image.",
            ));
        } else if !state.check_captcha(&form.answer).await? {
            errors.push(FieldError::on(
                "captcha",
                "Le code recopié est incorrect ou a expiré. Un nouveau code vous est proposé.",
            ));
        }
    }
    if !errors.is_empty() {
        return Ok(state.render(&headers, None, request_page(errors, identifier, state.reset_captcha().await?)));
    }
    let answer = state.reset.request(identifier, &client.context(Actor::Anonymous)).await?;
    state.mail_queued();
    let sentence = match &answer.masked_email {
        Some(masked) => format!("Votre demande de changement de mot de passe est prise en compte. Vous allez recevoir un mail de confirmation à l'adresse {masked}."),
        None => "Votre demande de changement de mot de passe est prise en compte. Vous allez recevoir un mail de confirmation.".to_owned(),
    };
    let page = Page::new("message.html", "Confirmation").with(
        "paragraphs",
        [
            sentence.as_str(),
            &format!(
                "Cliquez sur « Valider » dans ce mail pour choisir votre nouveau mot de passe. Le lien est valable {} minutes.",
                state.reset.link_minutes()
            ),
            "Si rien n'arrive dans quelques minutes, vérifiez l'identifiant saisi et votre dossier de courriers indésirables, ou contactez le support.",
        ],
    )
    .with("support", true);
    Ok(state.render(&headers, None, page))
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
    if state.auth.address_over_limit("reset", &client.ip_text()).await? {
        return Ok(too_many_requests(&state, &headers));
    }
    let token = link.jeton.trim();
    let plausible = !token.is_empty()
        && token.len() <= 64
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !plausible || !state.reset.link_is_valid(token).await? {
        return Ok(state.invalid_link(&headers));
    }
    let mut response = see_other("/mot-de-passe-oublie/nouveau");
    response.headers_mut().append(header::SET_COOKIE, reset_cookie(&state, Some(token)));
    Ok(response)
}

fn new_password_page(state: &AppState, errors: Vec<FieldError>, failed: Vec<&'static str>) -> Page {
    Page::new("reset_new.html", "Choisir un nouveau mot de passe")
        .with("errors", errors)
        .with("failed", failed)
        .with("requirements", state.reset.policy().requirements())
}

fn token_of<'a>(state: &AppState, headers: &'a HeaderMap) -> Option<&'a str> {
    cookie(headers, &cookie_name(&state.settings, RESET_COOKIE)).filter(|t| !t.is_empty())
}

pub async fn show_new(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    match token_of(&state, &headers) {
        Some(token) if state.reset.link_is_valid(token).await? => {
            Ok(state.render(&headers, None, new_password_page(&state, Vec::new(), Vec::new())))
        }
        _ => Ok(state.invalid_link(&headers)),
    }
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

pub async fn submit_new(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Form(form): Form<NewPasswordForm>,
) -> Result<Response, WebError> {
    if let Some(refusal) = state.csrf_refusal(&headers, &form.csrf) {
        return Ok(refusal);
    }
    if state.auth.address_over_limit("reset", &client.ip_text()).await? {
        return Ok(too_many_requests(&state, &headers));
    }
    let Some(token) = token_of(&state, &headers) else {
        return Ok(state.invalid_link(&headers));
    };
    let (new, confirmation) = match new_password_fields(&form.nouveau_mot_de_passe, &form.confirmation) {
        Ok(fields) => fields,
        Err(errors) => {
            return Ok(state.render(&headers, None, new_password_page(&state, errors, Vec::new())));
        }
    };
    match state.reset.complete(token, &new, &confirmation, &client.context(Actor::Anonymous)).await? {
        ResetOutcome::Done => {
            state.mail_queued();
            let page = Page::new("message.html", "Confirmation")
                .with(
                    "paragraphs",
                    ["Votre changement de mot de passe est effectué. Vous allez recevoir un e-mail de confirmation."],
                )
                .with("links", [serde_json::json!({ "href": "/", "label": "Se connecter", "button": true })]);
            let mut response = state.render(&headers, None, page);
            response.headers_mut().append(header::SET_COOKIE, reset_cookie(&state, None));
            Ok(response)
        }
        ResetOutcome::Refused(violations) => Ok(state.render(
            &headers,
            None,
            new_password_page(&state, violation_errors(&violations), failed_rules(&violations)),
        )),
        ResetOutcome::InvalidLink => Ok(state.invalid_link(&headers)),
    }
}
