//! "Mon compte" → "Vérification en deux étapes": enrol an authenticator app (QR code drawn
//! here, the key in groups, the `otpauth://` URI), confirm it with a first code, the recovery
//! codes shown once, a new batch, removing a factor. Every change asks for the password again.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use percent_encoding::utf8_percent_encode;
use qrcode::QrCode;
use qrcode::render::svg;
use serde::Deserialize;
use sesame_core::audit::Actor;
use sesame_core::factor::{FactorId, FactorKind, RecoveryCode};
use sesame_core::factors::{ConfirmOutcome, EnrolOutcome, FactorProof, RemoveOutcome, RenewOutcome, TotpEnrolment};
use sesame_core::sessions::SignedIn as User;
use sesame_core::totp::UNRESERVED;

use super::password_field;
use crate::error::WebError;
use crate::extract::{CsrfForm, Enrolling, SignedIn};
use crate::request::Client;
use crate::state::AppState;
use crate::view::{FieldError, Page, see_other};

pub(super) const WRONG_PASSWORD: &str = "Le mot de passe est incorrect.";

/// The QR code of an `otpauth://` URI, as inline SVG (no script, no third party).
fn qr_svg(uri: &str) -> String {
    match QrCode::new(uri.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<svg::Color<'_>>()
                .min_dimensions(220, 220)
                .quiet_zone(true)
                .dark_color(svg::Color("#000000"))
                .light_color(svg::Color("#ffffff"))
                .build();
            // Inline in the page: the XML declaration has no place there.
            let start = svg.find("<svg").unwrap_or(0);
            svg[start..].replacen("<svg", "<svg role=\"img\" aria-labelledby=\"qr-titre\"", 1).replacen(
                '>',
                "><title id=\"qr-titre\">QR code à scanner avec votre application d'authentification</title>",
                1,
            )
        }
        Err(_) => String::new(),
    }
}

/// The first enrolment page, rendered; `required` when the policy lets this session reach
/// nothing else until it has enrolled.
async fn start_page(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    errors: Vec<FieldError>,
    name: &str,
) -> Result<Response, WebError> {
    let required = state.services.factors.must_enrol(&user.account, user.session.auth_method).await?;
    let page = Page::new("factor_start.html", "Ajouter une application d'authentification")
        .current("account")
        .with("errors", errors)
        .with("name", name)
        .with("required", required);
    Ok(state.views.render(headers, Some(user), page))
}

fn enrol_page(enrolment: &TotpEnrolment, errors: Vec<FieldError>) -> Page {
    Page::new("factor_enrol.html", "Ajouter une application d'authentification")
        .current("account")
        .with("errors", errors)
        .with("factor", enrolment.factor.0)
        .with("name", &enrolment.name)
        .with("qr", qr_svg(&enrolment.uri))
        .with("key", enrolment.secret.grouped())
        .with("uri", &enrolment.uri)
}

/// The recovery codes, shown once; the text file is a `data:` link built from the same codes.
/// `added` names the first factor they come with.
pub(super) fn codes_page(state: &AppState, codes: &[RecoveryCode], added: Option<FactorKind>) -> Page {
    let list: Vec<&str> = codes.iter().map(RecoveryCode::expose).collect();
    let portal = &state.views.branding().portal_name;
    let text = format!(
        "Codes de secours - {portal}\r\nChaque code ne sert qu'une fois, à la place du code de votre application.\r\n\r\n{}\r\n",
        list.join("\r\n")
    );
    Page::new("recovery_codes.html", "Vos codes de secours")
        .current("account")
        .with("codes", list)
        .with("first", added.is_some())
        .with("added", added.map(FactorKind::label))
        .with("download", format!("data:text/plain;charset=utf-8,{}", utf8_percent_encode(&text, UNRESERVED)))
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
    match state.services.factors.start_totp(&user, &password, &form.nom, &ctx).await? {
        EnrolOutcome::Started(enrolment) => {
            Ok(see_other(&format!("/mon-compte/second-facteur/application/{}", enrolment.factor.0)))
        }
        EnrolOutcome::WrongPassword => {
            let errors = vec![FieldError::on("mot_de_passe", WRONG_PASSWORD)];
            start_page(&state, &headers, &user, errors, &form.nom).await
        }
    }
}

pub async fn show_enrol(
    State(state): State<AppState>,
    headers: HeaderMap,
    Enrolling(user): Enrolling,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    enrolment_page(&state, &headers, &user, FactorId(id), Vec::new()).await
}

#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    code: String,
}

pub async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<i64>,
    CsrfForm(Enrolling(user), form): CsrfForm<ConfirmForm, Enrolling>,
) -> Result<Response, WebError> {
    let ctx = client.context(Actor::Account(user.account.id));
    let wrong = |message: &str| vec![FieldError::on("code", message)];
    let errors = match state.services.factors.confirm_totp(&user, FactorId(id), &form.code, &ctx).await? {
        ConfirmOutcome::Confirmed { recovery_codes: Some(codes) } => {
            state.mail.queued();
            return Ok(state.views.render(&headers, Some(&user), codes_page(&state, &codes, Some(FactorKind::Totp))));
        }
        ConfirmOutcome::Confirmed { recovery_codes: None } => {
            state.mail.queued();
            return Ok(see_other("/mon-compte?confirmation=facteur-ajoute"));
        }
        ConfirmOutcome::Unknown | ConfirmOutcome::AlreadyRegistered => return Ok(see_other("/mon-compte")),
        ConfirmOutcome::WrongCode if form.code.trim().is_empty() => {
            wrong("Saisissez le code à 6 chiffres affiché par votre application.")
        }
        ConfirmOutcome::WrongCode => wrong(
            "Code incorrect. Vérifiez que l'heure de votre téléphone est à jour et saisissez le code affiché maintenant.",
        ),
    };
    enrolment_page(&state, &headers, &user, FactorId(id), errors).await
}

/// The enrolment page of a waiting app, with its QR code; back to "Mon compte" when there is
/// no such enrolment (confirmed meanwhile, another account's).
async fn enrolment_page(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    id: FactorId,
    errors: Vec<FieldError>,
) -> Result<Response, WebError> {
    Ok(match state.services.factors.pending_totp(&user.account, id).await? {
        Some(enrolment) => state.views.render(headers, Some(user), enrol_page(&enrolment, errors)),
        None => see_other("/mon-compte"),
    })
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    mot_de_passe_codes: String,
}

pub async fn renew_codes(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    CsrfForm(SignedIn(user), form): CsrfForm<PasswordForm, SignedIn>,
) -> Result<Response, WebError> {
    let Ok(password) = password_field(&form.mot_de_passe_codes, "mot_de_passe_codes", "") else {
        return Ok(see_other("/mon-compte?confirmation=mot-de-passe-requis"));
    };
    let ctx = client.context(Actor::Account(user.account.id));
    Ok(match state.services.factors.renew_recovery_codes(&user, &password, &ctx).await? {
        RenewOutcome::Renewed(codes) => {
            state.mail.queued();
            state.views.render(&headers, Some(&user), codes_page(&state, &codes, None))
        }
        RenewOutcome::WrongPassword => see_other("/mon-compte?confirmation=mot-de-passe-incorrect"),
        RenewOutcome::NoFactor => see_other("/mon-compte"),
    })
}

/// The removal page; with the account's keys, a fresh challenge for them.
async fn remove_page(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    (id, name): (i64, &str),
    errors: Vec<FieldError>,
) -> Result<Response, WebError> {
    let key_options = state.services.factors.key_request(&user.account).await?;
    let page = Page::new("factor_remove.html", "Retirer un second facteur")
        .current("account")
        .with("factor", id)
        .with("name", name)
        .with("key_options", key_options)
        .with("errors", errors);
    Ok(state.views.render(headers, Some(user), page))
}

async fn factor_name(state: &AppState, user: &User, id: i64) -> Result<Option<String>, WebError> {
    let view = state.services.factors.of(&user.account).await?;
    Ok(view.factors.into_iter().find(|f| f.id.0 == id).map(|f| f.name))
}

pub async fn show_remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(user): SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    match factor_name(&state, &user, id).await? {
        Some(name) => remove_page(&state, &headers, &user, (id, &name), Vec::new()).await,
        None => Ok(see_other("/mon-compte")),
    }
}

#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    mot_de_passe: String,
    #[serde(default)]
    code: String,
    /// A security key's answer, filled by the page's script.
    #[serde(default)]
    cle: String,
}

pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<i64>,
    CsrfForm(SignedIn(user), form): CsrfForm<RemoveForm, SignedIn>,
) -> Result<Response, WebError> {
    let Some(name) = factor_name(&state, &user, id).await? else {
        return Ok(see_other("/mon-compte"));
    };
    let render = |errors| remove_page(&state, &headers, &user, (id, &name), errors);
    let mut errors = Vec::new();
    let password = password_field(&form.mot_de_passe, "mot_de_passe", "Saisissez votre mot de passe.")
        .map_err(|e| errors.push(e))
        .ok();
    let key = !form.cle.trim().is_empty();
    let proof = if key { Some(FactorProof::Key(form.cle.clone())) } else { FactorProof::parse(&form.code) };
    if proof.is_none() {
        errors.push(FieldError::on(
            "code",
            "Saisissez le code à 6 chiffres de votre application, ou un code de secours.",
        ));
    }
    let Some(password) = password.filter(|_| errors.is_empty()) else {
        return render(errors).await;
    };
    let ctx = client.context(Actor::Account(user.account.id));
    let errors = match state.services.factors.remove(&user, FactorId(id), &password, proof.as_ref(), &ctx).await? {
        RemoveOutcome::Removed => {
            state.mail.queued();
            return Ok(see_other("/mon-compte?confirmation=facteur-retire"));
        }
        RemoveOutcome::Unknown => return Ok(see_other("/mon-compte")),
        RemoveOutcome::WrongPassword => vec![FieldError::on("mot_de_passe", WRONG_PASSWORD)],
        RemoveOutcome::WrongProof if key => vec![FieldError::form("La clé de sécurité n'a pas été reconnue.")],
        RemoveOutcome::WrongProof => vec![FieldError::on("code", "Code incorrect, ou déjà utilisé.")],
        RemoveOutcome::LastFactorRequired => vec![FieldError::form(
            "La vérification en deux étapes est obligatoire sur ce portail : ajoutez d'abord un autre second facteur (une nouvelle application remplace celle-ci).",
        )],
    };
    render(errors).await
}
