//! "Mon compte" → "Ajouter une clé de sécurité": a name and the password, then the browser asks
//! the key (or the phone, or the passkey) to register; its answer comes back in a hidden field.
//! Every answer is checked by the core; a refused one changes nothing.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use sesame_core::audit::Actor;
use sesame_core::factor::{FactorId, FactorKind};
use sesame_core::factors::{ConfirmOutcome, KeyEnrolment, KeyStart};
use sesame_core::sessions::SignedIn as User;

use super::factors::{WRONG_PASSWORD, codes_page};
use super::password_field;
use crate::error::WebError;
use crate::extract::{CsrfForm, Enrolling};
use crate::request::Client;
use crate::state::AppState;
use crate::view::{FieldError, Page, see_other};

const TITLE: &str = "Ajouter une clé de sécurité";

async fn start_page(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    errors: Vec<FieldError>,
    name: &str,
) -> Result<Response, WebError> {
    let required = state.services.factors.must_enrol(&user.account, user.session.auth_method).await?;
    let page = Page::new("key_start.html", TITLE)
        .current("account")
        .with("errors", errors)
        .with("name", name)
        .with("required", required)
        .with("offered", state.services.factors.keys_offered());
    Ok(state.views.render(headers, Some(user), page))
}

pub async fn show_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Enrolling(user): Enrolling,
) -> Result<Response, WebError> {
    start_page(&state, &headers, &user, Vec::new(), "").await
}

#[derive(Debug, Deserialize)]
pub struct StartForm {
    #[serde(default)]
    mot_de_passe: String,
    #[serde(default)]
    nom: String,
}

pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    CsrfForm(Enrolling(user), form): CsrfForm<StartForm, Enrolling>,
) -> Result<Response, WebError> {
    let password = match password_field(&form.mot_de_passe, "mot_de_passe", "Saisissez votre mot de passe.") {
        Ok(password) => password,
        Err(error) => return start_page(&state, &headers, &user, vec![error], &form.nom).await,
    };
    let ctx = client.context(Actor::Account(user.account.id));
    match state.services.factors.start_key(&user, &password, &form.nom, &ctx).await? {
        KeyStart::Started(enrolment) => {
            Ok(see_other(&format!("/mon-compte/second-facteur/cle/{}", enrolment.factor.0)))
        }
        KeyStart::WrongPassword => {
            let errors = vec![FieldError::on("mot_de_passe", WRONG_PASSWORD)];
            start_page(&state, &headers, &user, errors, &form.nom).await
        }
        KeyStart::Unavailable => start_page(&state, &headers, &user, Vec::new(), &form.nom).await,
    }
}

fn register_page(enrolment: &KeyEnrolment, errors: Vec<FieldError>) -> Page {
    Page::new("key_register.html", TITLE)
        .current("account")
        .with("errors", errors)
        .with("factor", enrolment.factor.0)
        .with("name", &enrolment.name)
        .with("options", &enrolment.options)
}

/// The registration page of a waiting key; back to "Mon compte" when there is none (confirmed,
/// past its five minutes, another account's).
async fn registration(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    id: FactorId,
    errors: Vec<FieldError>,
) -> Result<Response, WebError> {
    Ok(match state.services.factors.pending_key(&user.account, id).await? {
        Some(enrolment) => state.views.render(headers, Some(user), register_page(&enrolment, errors)),
        None => see_other("/mon-compte?confirmation=cle-expiree"),
    })
}

pub async fn show_register(
    State(state): State<AppState>,
    headers: HeaderMap,
    Enrolling(user): Enrolling,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    registration(&state, &headers, &user, FactorId(id), Vec::new()).await
}

#[derive(Debug, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    cle: String,
}

pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<i64>,
    CsrfForm(Enrolling(user), form): CsrfForm<RegisterForm, Enrolling>,
) -> Result<Response, WebError> {
    let ctx = client.context(Actor::Account(user.account.id));
    let refused = |message: &str| vec![FieldError::form(message)];
    let errors = match state.services.factors.confirm_key(&user, FactorId(id), &form.cle, &ctx).await? {
        ConfirmOutcome::Confirmed { recovery_codes: Some(codes) } => {
            state.mail.queued();
            let page = codes_page(&state, &codes, Some(FactorKind::SecurityKey));
            return Ok(state.views.render(&headers, Some(&user), page));
        }
        ConfirmOutcome::Confirmed { recovery_codes: None } => {
            state.mail.queued();
            return Ok(see_other("/mon-compte?confirmation=cle-ajoutee"));
        }
        ConfirmOutcome::Unknown => return Ok(see_other("/mon-compte?confirmation=cle-expiree")),
        ConfirmOutcome::AlreadyRegistered => refused("Cette clé est déjà enregistrée : utilisez-en une autre."),
        ConfirmOutcome::WrongCode => refused(
            "La clé de sécurité n'a pas pu être enregistrée. Cliquez sur le bouton et suivez les instructions de votre navigateur.",
        ),
    };
    registration(&state, &headers, &user, FactorId(id), errors).await
}
