//! "Je me connecte".

use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde::Deserialize;
use sesame_core::audit::Actor;
use sesame_core::limits::Attempt;
use sesame_core::signin::LoginOutcome;
use sesame_core::types::LoginIdentifier;

use super::{address_limit, password_field, second_step, signed_in_redirect, temporary_password_expired};
use crate::captcha::{Answer, Challenge, new_challenge, passed};
use crate::error::WebError;
use crate::extract::{CsrfForm, Visitor};
use crate::problem::REFUSED;
use crate::request::{Client, SESSION_COOKIE};
use crate::state::AppState;
use crate::view::{FieldError, Page, see_other};
use secrecy::ExposeSecret as _;

#[derive(Debug, Deserialize)]
pub struct Info {
    info: Option<String>,
    /// Sent here by the authorization endpoint (`service`).
    pour: Option<String>,
    /// Sent here to sign in again for a service, though signed in.
    encore: Option<String>,
}

/// The sign-in page, or where a signed-in user belongs.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    visitor: Visitor,
    Query(q): Query<Info>,
) -> Response {
    let for_service = crate::resume::read(&headers, state.cookies()).is_some();
    let again = for_service && q.encore.is_some();
    if let Some(user) = visitor.user.as_ref().filter(|_| !again) {
        return see_other(if user.session.must_change_password { "/premiere-connexion" } else { "/services" });
    }
    let notice = match q.info.as_deref() {
        _ if again => Some("service-encore"),
        _ if for_service && q.pour.is_some() => Some("service"),
        Some("deconnecte") => Some("deconnecte"),
        Some("session-expiree") => Some("session-expiree"),
        Some("second-facteur-expire") => Some("second-facteur-expire"),
        _ if visitor.expired => Some("session-expiree"),
        _ => None,
    };
    let mut response =
        state.views.render(&headers, None, login_page(&state, Vec::new(), "", None).with("notice", notice));
    if visitor.expired {
        response.headers_mut().append(header::SET_COOKIE, state.cookies().set(SESSION_COOKIE, None));
    }
    response
}

fn login_page(state: &AppState, errors: Vec<FieldError>, identifier: &str, captcha: Option<Challenge>) -> Page {
    Page::new("login.html", "Je me connecte")
        .with("errors", errors)
        .with("identifier", identifier)
        .with("captcha", captcha)
        .with("certificate_login", state.certificates.0.is_some())
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    identifiant: String,
    #[serde(default)]
    mot_de_passe: String,
    #[serde(flatten)]
    answer: Answer,
    #[serde(default)]
    nouveau_code: Option<String>,
}

/// A new captcha when this identifier needs one now.
async fn captcha_for(state: &AppState, identifier: Option<&LoginIdentifier>) -> Result<Option<Challenge>, WebError> {
    match identifier {
        Some(identifier)
            if state.settings.captcha.enabled && state.services.sign_in.captcha_required(identifier).await? =>
        {
            Ok(Some(new_challenge(&state.services).await?))
        }
        _ => Ok(None),
    }
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    CsrfForm(_, form): CsrfForm<LoginForm>,
) -> Result<Response, WebError> {
    if let Some(refusal) = address_limit(&state, &headers, &client, Attempt::Login).await? {
        return Ok(refusal);
    }
    let identifier = LoginIdentifier::new(&form.identifiant);
    // The identifier is not echoed: a refusal page is the same whatever was typed.
    let render = async |errors: Vec<FieldError>| -> Result<Response, WebError> {
        let captcha = captcha_for(&state, identifier.as_ref()).await?;
        Ok(state.views.render(&headers, None, login_page(&state, errors, "", captcha)))
    };
    if form.nouveau_code.is_some() {
        return render(Vec::new()).await;
    }
    let mut errors = Vec::new();
    if identifier.is_none() {
        errors.push(FieldError::on("identifiant", "Saisissez votre identifiant."));
    }
    let password = password_field(&form.mot_de_passe, "mot_de_passe", "Saisissez votre mot de passe.")
        .map_err(|e| errors.push(e))
        .ok();
    let (Some(identifier), Some(password)) = (&identifier, password.filter(|_| errors.is_empty())) else {
        return render(errors).await;
    };
    let captcha_on = state.settings.captcha.enabled;
    let captcha_passed = !captcha_on || (!form.answer.is_empty() && passed(&state.services, &form.answer).await?);
    let ctx = client.context(Actor::Anonymous);
    match state.services.sign_in.login(identifier, &password, captcha_passed, &ctx).await? {
        LoginOutcome::SignedIn(opened) => {
            state.mail.queued();
            let to = if opened.signed_in.session.must_change_password { "/premiere-connexion" } else { "/services" };
            Ok(signed_in_redirect(&state, &opened, to))
        }
        LoginOutcome::SecondFactorRequired { ticket } => {
            let mut response = see_other(second_step::PATH);
            let cookie = second_step::ticket_cookie(&state, Some(ticket.expose_secret()));
            response.headers_mut().append(header::SET_COOKIE, cookie);
            Ok(response)
        }
        LoginOutcome::Refused { .. } => render(vec![FieldError::form(REFUSED)]).await,
        LoginOutcome::CaptchaFailed => {
            let message = if form.answer.is_empty() {
                "Recopiez le code de l'image : il est demandé après plusieurs échecs de connexion."
            } else {
                "Le code recopié est incorrect ou a expiré. Un nouveau code vous est proposé."
            };
            render(vec![FieldError::on("captcha", message)]).await
        }
        LoginOutcome::TemporaryPasswordExpired => {
            Ok(state.views.render(&headers, None, temporary_password_expired("login")))
        }
    }
}
