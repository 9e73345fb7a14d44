//! "Je me connecte".

use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use sesame_core::audit::Actor;
use sesame_core::auth::LoginOutcome;

use super::{password_field, too_many_requests};
use crate::AppState;
use crate::error::WebError;
use crate::request::Client;
use crate::view::{FieldError, Page, see_other};

#[derive(Debug, Deserialize)]
pub struct Info {
    info: Option<String>,
}

/// The sign-in page, or where a signed-in user belongs.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Info>,
) -> Result<Response, WebError> {
    let visitor = state.visitor(&headers).await?;
    if let Some(user) = visitor.user {
        return Ok(see_other(if user.session.must_change_password { "/premiere-connexion" } else { "/services" }));
    }
    let notice = match q.info.as_deref() {
        Some("deconnecte") => Some("Vous êtes déconnecté."),
        Some("session-expiree") => Some("Votre session a expiré ou a été fermée. Reconnectez-vous."),
        _ if visitor.expired => Some("Votre session a expiré ou a été fermée. Reconnectez-vous."),
        _ => None,
    };
    let page =
        login_page(Vec::new(), None).with("notice", notice).with("certificate_login", state.certificates.is_some());
    let mut response = state.render(&headers, None, page);
    if visitor.expired {
        response.headers_mut().append(
            axum::http::header::SET_COOKIE,
            crate::request::set_cookie(&state.settings, crate::request::SESSION_COOKIE, None),
        );
    }
    Ok(response)
}

fn login_page(errors: Vec<FieldError>, captcha: Option<crate::captcha::Challenge>) -> Page {
    Page::new("login.html", "Je me connecte")
        .with("errors", errors)
        .with("captcha", captcha)
        .with("certificate_login", false)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    identifiant: String,
    #[serde(default)]
    mot_de_passe: String,
    #[serde(flatten)]
    answer: crate::captcha::Answer,
    #[serde(default)]
    nouveau_code: Option<String>,
}

/// The one message for every credential failure.
pub const REFUSED: &str = "Identifiant ou mot de passe incorrect. Après plusieurs échecs, la connexion est suspendue quelques minutes : réessayez plus tard, ou utilisez « Mot de passe oublié ».";

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    if let Some(refusal) = state.csrf_refusal(&headers, &form.csrf) {
        return Ok(refusal);
    }
    if state.auth.address_over_limit("login", &client.ip_text()).await? {
        return Ok(too_many_requests(&state, &headers));
    }
    let captcha_on = state.settings.captcha.enabled;
    let identifier = form.identifiant.trim();
    let render = |errors, captcha| {
        state.render(
            &headers,
            None,
            login_page(errors, captcha).with("certificate_login", state.certificates.is_some()),
        )
    };
    let new_captcha = async || -> Result<Option<crate::captcha::Challenge>, WebError> {
        if captcha_on && state.auth.captcha_required(identifier).await? {
            Ok(Some(state.new_captcha().await?))
        } else {
            Ok(None)
        }
    };
    if form.nouveau_code.is_some() {
        return Ok(render(Vec::new(), new_captcha().await?));
    }
    let mut errors = Vec::new();
    if identifier.is_empty() {
        errors.push(FieldError::on("identifiant", "Saisissez votre identifiant."));
    }
    let password = password_field(&form.mot_de_passe, "mot_de_passe", "Saisissez votre mot de passe.")
        .map_err(|e| errors.push(e))
        .ok();
    let Some(password) = password.filter(|_| errors.is_empty()) else {
        return Ok(render(errors, new_captcha().await?));
    };
    let captcha_passed = !captcha_on || (!form.answer.is_empty() && state.check_captcha(&form.answer).await?);
    let ctx = client.context(Actor::Anonymous);
    match state.auth.login(identifier, &password, captcha_passed, &ctx).await? {
        LoginOutcome::SignedIn(opened) => {
            state.mail_queued();
            let to = if opened.signed_in.session.must_change_password { "/premiere-connexion" } else { "/services" };
            Ok(state.signed_in_redirect(&opened, to))
        }
        LoginOutcome::Refused { .. } => Ok(render(vec![FieldError::form(REFUSED)], new_captcha().await?)),
        LoginOutcome::CaptchaFailed => {
            let message = if form.answer.is_empty() {
                "Recopiez le code de l'image : il est demandé après plusieurs échecs de connexion."
            } else {
                "Le code recopié est incorrect ou a expiré. Un nouveau code vous est proposé."
            };
            Ok(render(vec![FieldError::on("captcha", message)], new_captcha().await?))
        }
        LoginOutcome::TemporaryPasswordExpired => {
            let page = super::temporary_password_expired(
                "Votre mot de passe provisoire n'est plus valable : il devait être remplacé dans les jours suivant son envoi.",
            );
            Ok(state.render(&headers, None, page))
        }
    }
}
