//! "Mon compte": identity, "Changer mon mot de passe", sessions, sign-out.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use sesame_core::audit::Actor;
use sesame_core::factor::FactorKind;
use sesame_core::passwords::{ChangeOutcome, Proof};
use sesame_core::policy::Violation;
use sesame_core::session::{AuthMethod, Session, SessionId};
use sesame_core::sessions::SignedIn as User;
use time::macros::format_description;

use super::{NewPasswordFields, logged_out_redirect, new_password_page, password_field, signed_in_redirect};
use crate::error::WebError;
use crate::extract::{CsrfForm, NoFields, SignedIn, Visitor};
use crate::request::Client;
use crate::state::AppState;
use crate::view::{FieldError, Page, see_other};

#[derive(Debug, Deserialize)]
pub struct Confirmation {
    confirmation: Option<String>,
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

fn capitalised(label: &str) -> String {
    let mut chars = label.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn method_label(method: AuthMethod) -> &'static str {
    match method {
        AuthMethod::Password => "Identifiant et mot de passe",
        AuthMethod::PasswordTotp => "Mot de passe et application d'authentification",
        AuthMethod::PasswordRecoveryCode => "Mot de passe et code de secours",
        AuthMethod::PasswordHardwareKey => "Mot de passe et clé de sécurité",
        AuthMethod::PasswordSoftwareKey => "Mot de passe et clé d'accès synchronisée",
        AuthMethod::Certificate => "Certificat client",
    }
}

fn session_view(s: &Session, current: SessionId) -> serde_json::Value {
    json!({
        "id": s.id.0,
        "application": null,
        "service": null,
        "current": s.id == current,
        "device": device(s.user_agent.as_deref()),
        "method": method_label(s.auth_method),
        "ip": s.ip.as_deref().unwrap_or("inconnue"),
        "created": when(s.created_at),
        "last_seen": when(s.last_seen_at),
    })
}

async fn account_page(
    state: &AppState,
    user: &User,
    errors: Vec<FieldError>,
    violations: &[Violation],
    notice: Option<&str>,
) -> Result<Page, WebError> {
    let sessions = &state.services.sessions;
    let mut views: Vec<_> =
        sessions.of(user.account.id).await?.iter().map(|s| session_view(s, user.session.id)).collect();
    views.extend(sessions.desktop_of(user.account.id).await?.iter().map(|t| {
        json!({
            "id": null,
            "application": t.family,
            "service": null,
            "current": false,
            "device": format!("Application : {}", t.client_name.as_deref().unwrap_or("sans nom")),
            "method": method_label(t.auth_method),
            "ip": t.ip.as_deref().unwrap_or("inconnue"),
            "created": when(t.created_at),
            "last_seen": when(t.created_at),
        })
    }));
    views.extend(state.services.oidc_tokens.families_of(&user.account).await?.iter().map(|f| {
        json!({
            "id": null,
            "application": null,
            "service": f.code_id,
            "current": false,
            "device": format!("Service : {}{}", f.client_name, if f.offline { " (accès prolongé)" } else { "" }),
            "method": method_label(f.auth_method),
            "ip": "—",
            "created": when(f.auth_time),
            "last_seen": when(f.last_used_at),
        })
    }));
    let second = state.services.factors.of(&user.account).await?;
    let factors: Vec<_> = second
        .factors
        .iter()
        .map(|f| {
            json!({
                "id": f.id.0,
                "kind": capitalised(f.kind.label()),
                "app": f.kind == FactorKind::Totp,
                "name": f.name,
                "created": when(f.created_at),
                "last_used": f.last_used_at.map(when),
            })
        })
        .collect();
    let applications: Vec<_> = state
        .services
        .authorizations
        .consents(user)
        .await?
        .iter()
        .map(|c| json!({ "client_id": c.client_id, "name": c.client_name, "granted": when(c.granted_at), "scopes": scope_labels(&c.scopes) }))
        .collect();
    let page = Page::new("account.html", "Mon compte")
        .current("account")
        .with("sessions", views)
        .with("applications", applications)
        .with("notice", notice)
        .with("has_app", second.factors.iter().any(|f| f.kind == FactorKind::Totp))
        .with("keys_offered", state.services.factors.keys_offered())
        .with("factors", factors)
        .with("recovery_codes_left", second.recovery_codes_left);
    Ok(new_password_page(page, state, errors, violations))
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(user): SignedIn,
    Query(q): Query<Confirmation>,
) -> Result<Response, WebError> {
    let notice = q.confirmation.as_deref().filter(|c| {
        [
            "mot-de-passe",
            "session-terminee",
            "sessions-terminees",
            "facteur-ajoute",
            "facteur-retire",
            "cle-ajoutee",
            "cle-expiree",
            "mot-de-passe-incorrect",
            "mot-de-passe-requis",
            "application-retiree",
        ]
        .contains(c)
    });
    let page = account_page(&state, &user, Vec::new(), &[], notice).await?;
    Ok(state.views.render(&headers, Some(&user), page))
}

#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    mot_de_passe_actuel: String,
    #[serde(flatten)]
    new: NewPasswordFields,
}

pub async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    CsrfForm(SignedIn(user), form): CsrfForm<ChangeForm, SignedIn>,
) -> Result<Response, WebError> {
    let current =
        password_field(&form.mot_de_passe_actuel, "mot_de_passe_actuel", "Saisissez votre mot de passe actuel.");
    let (current, new, confirmation) = match (current, form.new.parse()) {
        (Ok(current), Ok((new, confirmation))) => (current, new, confirmation),
        (current, fields) => {
            let errors = current.err().into_iter().chain(fields.err().into_iter().flatten()).collect();
            let page = account_page(&state, &user, errors, &[], None).await?;
            return Ok(state.views.render(&headers, Some(&user), page));
        }
    };
    let ctx = client.context(Actor::Account(user.account.id));
    let proof = Proof::CurrentPassword(&current);
    let (errors, violations) = match state.services.passwords.change(&user, proof, &new, &confirmation, &ctx).await? {
        ChangeOutcome::Changed(opened) => {
            state.mail.queued();
            return Ok(signed_in_redirect(&state, &opened, "/mon-compte?confirmation=mot-de-passe"));
        }
        ChangeOutcome::Refused(violations) => (Vec::new(), violations),
        ChangeOutcome::WrongCurrentPassword => {
            (vec![FieldError::on("mot_de_passe_actuel", "Le mot de passe actuel est incorrect.")], Vec::new())
        }
        ChangeOutcome::TemporaryPasswordExpired => return Ok(see_other("/premiere-connexion")),
    };
    let page = account_page(&state, &user, errors, &violations, None).await?;
    Ok(state.views.render(&headers, Some(&user), page))
}

/// Which row's "Terminer cette session" was pressed. Numbers are read by the handler: a
/// tampered value ends nothing and is no error page.
#[derive(Debug, Deserialize)]
pub struct SessionForm {
    #[serde(default)]
    session: Option<String>,
    /// A desktop application's sign-in (token family).
    #[serde(default)]
    application: Option<String>,
    /// A service's tokens (OpenID Connect family, by its code's id).
    #[serde(default)]
    service: Option<String>,
}

pub async fn end_session(
    State(state): State<AppState>,
    client: Client,
    CsrfForm(SignedIn(user), form): CsrfForm<SessionForm, SignedIn>,
) -> Result<Response, WebError> {
    let ctx = client.context(Actor::Account(user.account.id));
    if let Some(family) = form.application.as_deref().filter(|f| !f.is_empty()) {
        state.services.tokens.end_family(&user.account, family, &ctx).await?;
        return Ok(see_other("/mon-compte?confirmation=session-terminee"));
    }
    if let Some(family) = form.service.filter(|f| !f.is_empty()) {
        let ended = match family.parse() {
            Ok(family) => state.services.oidc_tokens.end_family(&user.account, family, &ctx).await?,
            Err(_) => false,
        };
        return Ok(see_other(if ended { "/mon-compte?confirmation=session-terminee" } else { "/mon-compte" }));
    }
    let Some(id) = form.session.and_then(|s| s.parse::<i64>().ok()) else {
        return Ok(see_other("/mon-compte"));
    };
    state.services.sessions.end_one(&user, SessionId(id), &ctx).await?;
    if id == user.session.id.0 {
        return Ok(logged_out_redirect(&state));
    }
    Ok(see_other("/mon-compte?confirmation=session-terminee"))
}

pub async fn end_other_sessions(
    State(state): State<AppState>,
    client: Client,
    CsrfForm(SignedIn(user), NoFields {}): CsrfForm<NoFields, SignedIn>,
) -> Result<Response, WebError> {
    state.services.sessions.end_others(&user, &client.context(Actor::Account(user.account.id))).await?;
    Ok(see_other("/mon-compte?confirmation=sessions-terminees"))
}

pub async fn logout(
    State(state): State<AppState>,
    client: Client,
    CsrfForm(visitor, NoFields {}): CsrfForm<NoFields, Visitor>,
) -> Result<Response, WebError> {
    if let Some(user) = visitor.user {
        state.services.sessions.logout(&user, &client.context(Actor::Account(user.account.id))).await?;
    }
    Ok(logged_out_redirect(&state))
}

/// What a consent let the service have, in words.
fn scope_labels(scopes: &str) -> String {
    let labels: Vec<&str> = scopes
        .split(' ')
        .filter_map(|s| match s {
            "profile" => Some("nom et identifiant"),
            "email" => Some("adresse e-mail"),
            "sante" => Some("identifiant national"),
            "offline_access" => Some("accès prolongé"),
            _ => None,
        })
        .collect();
    if labels.is_empty() { "connexion seule".to_owned() } else { labels.join(", ") }
}

#[derive(Debug, Deserialize)]
pub struct ApplicationForm {
    #[serde(default)]
    client_id: String,
}

/// "Retirer l'autorisation": the service asks again at the next sign-in.
pub async fn withdraw_application(
    State(state): State<AppState>,
    client: Client,
    CsrfForm(SignedIn(user), form): CsrfForm<ApplicationForm, SignedIn>,
) -> Result<Response, WebError> {
    let ctx = client.context(Actor::Account(user.account.id));
    if state.services.authorizations.withdraw(&user, &form.client_id, &ctx).await? {
        return Ok(see_other("/mon-compte?confirmation=application-retiree"));
    }
    Ok(see_other("/mon-compte"))
}
