//! "Mes services e-santé", "Mon compte", sessions and sign-out.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use sesame_core::audit::Actor;
use sesame_core::auth::{ChangeOutcome, Proof, SignedIn};
use sesame_core::session::{AuthMethod, Session, SessionId};
use time::macros::format_description;

use super::{failed_rules, new_password_fields, password_field, violation_errors};
use crate::AppState;
use crate::error::WebError;
use crate::request::Client;
use crate::view::{FieldError, Page, see_other};

#[derive(Debug, Deserialize)]
pub struct Confirmation {
    confirmation: Option<String>,
}

fn notice(code: Option<&str>) -> Option<&'static str> {
    match code {
        Some("mot-de-passe" | "premiere-connexion") => {
            Some("Votre changement de mot de passe est effectué. Vous allez recevoir un e-mail de confirmation.")
        }
        Some("session-terminee") => Some("La session a été terminée."),
        Some("sessions-terminees") => Some("Toutes vos autres sessions ont été terminées."),
        _ => None,
    }
}

pub async fn services(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Confirmation>,
) -> Result<Response, WebError> {
    let user = match state.require_user(&headers).await? {
        Ok(user) => user,
        Err(redirect) => return Ok(redirect),
    };
    let mut applications = super::install::applications_for(&state, &headers);
    let services: Vec<serde_json::Value> = state
        .settings
        .services
        .iter()
        .map(|s| {
            let own: Vec<_> = applications.iter().filter(|a| a.service.as_deref() == Some(&s.name)).collect();
            let mut view = serde_json::to_value(s).unwrap_or_default();
            view["applications"] = serde_json::to_value(own).unwrap_or_default();
            view
        })
        .collect();
    let names: Vec<&str> = state.settings.services.iter().map(|s| s.name.as_str()).collect();
    let others: Vec<_> =
        applications.iter().filter(|a| a.service.as_deref().is_none_or(|s| !names.contains(&s))).cloned().collect();
    let first_connection = q.confirmation.as_deref() == Some("premiere-connexion");
    if !first_connection {
        applications.clear();
    }
    let page = Page::new("services.html", "Mes services e-santé")
        .current("services")
        .with("services", services)
        .with("other_applications", others)
        .with("applications", applications)
        .with("first_connection", first_connection)
        .with("notice", notice(q.confirmation.as_deref()));
    Ok(state.render(&headers, Some(&user), page))
}

fn when(t: time::OffsetDateTime) -> String {
    let paris = t.to_offset(sesame_core::clock::paris_offset(t));
    paris.format(format_description!("[day]/[month]/[year] à [hour]:[minute]")).unwrap_or_default()
}

/// A readable device name from a user agent: browser and system, nothing more.
fn device(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or_default();
    let browser = [("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari")]
        .iter()
        .find(|(marker, _)| ua.contains(marker))
        .map(|(_, name)| *name);
    let system = [
        ("Windows", "Windows"),
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Mac OS", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} sur {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => s.to_owned(),
        (None, None) if ua.is_empty() => "Appareil inconnu".to_owned(),
        (None, None) => ua.chars().take(40).collect(),
    }
}

fn session_view(s: &Session, current: SessionId) -> serde_json::Value {
    json!({
        "id": s.id.0,
        "current": s.id == current,
        "device": device(s.user_agent.as_deref()),
        "method": match s.auth_method { AuthMethod::Password => "Identifiant et mot de passe", AuthMethod::Certificate => "Certificat client" },
        "ip": s.ip.as_deref().unwrap_or("inconnue"),
        "created": when(s.created_at),
        "last_seen": when(s.last_seen_at),
    })
}

async fn account_page(
    state: &AppState,
    user: &SignedIn,
    errors: Vec<FieldError>,
    failed: Vec<&'static str>,
    notice_text: Option<&str>,
) -> Result<Page, WebError> {
    let mut sessions: Vec<_> =
        state.auth.sessions_of(user.account.id).await?.iter().map(|s| session_view(s, user.session.id)).collect();
    let desktop = state.auth.store().api_sessions_of(user.account.id, state.auth.now()).await?;
    sessions.extend(desktop.iter().map(|t| {
        json!({
            "application": t.family,
            "current": false,
            "device": format!("Application : {}", t.client_name.as_deref().unwrap_or("sans nom")),
            "method": "Identifiant et mot de passe",
            "ip": t.ip.as_deref().unwrap_or("inconnue"),
            "created": when(t.created_at),
            "last_seen": when(t.created_at),
        })
    }));
    Ok(Page::new("account.html", "Mon compte")
        .current("account")
        .with("errors", errors)
        .with("failed", failed)
        .with("requirements", state.auth.policy().requirements())
        .with("sessions", sessions)
        .with("notice", notice_text))
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Confirmation>,
) -> Result<Response, WebError> {
    let user = match state.require_user(&headers).await? {
        Ok(user) => user,
        Err(redirect) => return Ok(redirect),
    };
    let page = account_page(&state, &user, Vec::new(), Vec::new(), notice(q.confirmation.as_deref())).await?;
    Ok(state.render(&headers, Some(&user), page))
}

#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mot_de_passe_actuel: String,
    #[serde(default)]
    nouveau_mot_de_passe: String,
    #[serde(default)]
    confirmation: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Form(form): Form<ChangeForm>,
) -> Result<Response, WebError> {
    let user = match state.signed_in_post(&headers, &form.csrf).await? {
        Ok(user) => user,
        Err(response) => return Ok(response),
    };
    let current =
        password_field(&form.mot_de_passe_actuel, "mot_de_passe_actuel", "Saisissez votre mot de passe actuel.");
    let (current, new, confirmation) =
        match (current, new_password_fields(&form.nouveau_mot_de_passe, &form.confirmation)) {
            (Ok(current), Ok((new, confirmation))) => (current, new, confirmation),
            (current, fields) => {
                let errors = current.err().into_iter().chain(fields.err().into_iter().flatten()).collect();
                let page = account_page(&state, &user, errors, Vec::new(), None).await?;
                return Ok(state.render(&headers, Some(&user), page));
            }
        };
    let ctx = client.context(Actor::Account(user.account.id));
    let (errors, failed) =
        match state.auth.change_password(&user, Proof::CurrentPassword(&current), &new, &confirmation, &ctx).await? {
            ChangeOutcome::Changed(opened) => {
                state.mail_queued();
                return Ok(state.signed_in_redirect(&opened, "/mon-compte?confirmation=mot-de-passe"));
            }
            ChangeOutcome::Refused(violations) => (violation_errors(&violations), failed_rules(&violations)),
            ChangeOutcome::WrongCurrentPassword => {
                (vec![FieldError::on("mot_de_passe_actuel", "Le mot de passe actuel est incorrect.")], Vec::new())
            }
            ChangeOutcome::TemporaryPasswordExpired => return Ok(see_other("/premiere-connexion")),
        };
    let page = account_page(&state, &user, errors, failed, None).await?;
    Ok(state.render(&headers, Some(&user), page))
}

#[derive(Debug, Deserialize)]
pub struct SessionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    session: Option<i64>,
    /// A desktop application's sign-in (token family).
    #[serde(default)]
    application: Option<String>,
}

pub async fn end_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Form(form): Form<SessionForm>,
) -> Result<Response, WebError> {
    let user = match state.signed_in_post(&headers, &form.csrf).await? {
        Ok(user) => user,
        Err(response) => return Ok(response),
    };
    if let Some(family) = form.application.as_deref().filter(|f| !f.is_empty()) {
        state.auth.end_api_session(&user.account, family, &client.context(Actor::Account(user.account.id))).await?;
        return Ok(see_other("/mon-compte?confirmation=session-terminee"));
    }
    let Some(id) = form.session else {
        return Ok(see_other("/mon-compte"));
    };
    state.auth.end_session(&user, Some(SessionId(id)), &client.context(Actor::Account(user.account.id))).await?;
    if id == user.session.id.0 {
        return Ok(state.logged_out_redirect());
    }
    Ok(see_other("/mon-compte?confirmation=session-terminee"))
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn end_other_sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let user = match state.signed_in_post(&headers, &form.csrf).await? {
        Ok(user) => user,
        Err(response) => return Ok(response),
    };
    state.auth.end_session(&user, None, &client.context(Actor::Account(user.account.id))).await?;
    Ok(see_other("/mon-compte?confirmation=sessions-terminees"))
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    if let Some(refusal) = state.csrf_refusal(&headers, &form.csrf) {
        return Ok(refusal);
    }
    if let Some(user) = state.visitor(&headers).await?.user {
        state.auth.logout(&user, &client.context(Actor::Account(user.account.id))).await?;
    }
    Ok(state.logged_out_redirect())
}
