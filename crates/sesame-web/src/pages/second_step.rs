//! "Vérification en deux étapes": after a correct password, a security key, the code of the
//! authenticator app, or a recovery code. Until then the browser holds a ticket (its own cookie, five minutes),
//! not a session: nothing else is reachable.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use sesame_core::audit::Actor;
use sesame_core::factors::{FactorProof, StepChoices, StepOutcome};
use sesame_core::signin::TICKET_LIFETIME;

use super::signed_in_redirect;
use crate::error::WebError;
use crate::extract::CsrfForm;
use crate::request::Client;
use crate::state::AppState;
use crate::view::{FieldError, Page, see_other};

/// The cookie that carries a sign-in from its password to its second step.
pub const TICKET_COOKIE: &str = "sesame_second_step";
pub const PATH: &str = "/connexion/second-facteur";

/// `Set-Cookie` for the ticket (`None`: delete it).
pub fn ticket_cookie(state: &AppState, ticket: Option<&str>) -> header::HeaderValue {
    let lifetime = u32::try_from(TICKET_LIFETIME.whole_seconds()).unwrap_or(300);
    state.cookies().scoped(TICKET_COOKIE, ticket, "/connexion", ticket.map(|_| lifetime))
}

fn page(choices: &StepChoices, errors: Vec<FieldError>) -> Page {
    Page::new("second_step.html", "Vérification en deux étapes")
        .with("errors", errors)
        .with("app", choices.app)
        .with("key_options", &choices.key_options)
}

/// The page again, with a fresh challenge for the keys; `None` once the ticket is gone.
async fn again(state: &AppState, headers: &HeaderMap, ticket: &str, error: FieldError) -> Result<Response, WebError> {
    Ok(match state.services.factors.step_choices(ticket).await? {
        Some(choices) => state.views.render(headers, None, page(&choices, vec![error])),
        None => start_again(state),
    })
}

/// Back to the sign-in page: the ticket expired, was used, or never came.
fn start_again(state: &AppState) -> Response {
    let mut response = see_other("/?info=second-facteur-expire");
    response.headers_mut().append(header::SET_COOKIE, ticket_cookie(state, None));
    response
}

pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    let choices = match state.cookies().get(&headers, TICKET_COOKIE) {
        Some(ticket) => state.services.factors.step_choices(ticket).await?,
        None => None,
    };
    Ok(match choices {
        Some(choices) => state.views.render(&headers, None, page(&choices, Vec::new())),
        None => start_again(&state),
    })
}

#[derive(Debug, Deserialize)]
pub struct StepForm {
    #[serde(default)]
    code: String,
    /// A security key's answer, filled by the page's script.
    #[serde(default)]
    cle: String,
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    CsrfForm(_, form): CsrfForm<StepForm>,
) -> Result<Response, WebError> {
    let Some(ticket) = state.cookies().get(&headers, TICKET_COOKIE).map(str::to_owned) else {
        return Ok(start_again(&state));
    };
    let key = !form.cle.trim().is_empty();
    if !key && form.code.trim().is_empty() {
        let error = FieldError::on("code", "Saisissez le code affiché par votre application, ou un code de secours.");
        return again(&state, &headers, &ticket, error).await;
    }
    let proof = if key { Some(FactorProof::Key(form.cle)) } else { FactorProof::parse(&form.code) };
    let ctx = client.context(Actor::Anonymous);
    match state.services.factors.complete_browser(&ticket, proof.as_ref(), &ctx).await? {
        StepOutcome::Passed(opened) => {
            state.mail.queued();
            let to = if opened.signed_in.session.must_change_password { "/premiere-connexion" } else { "/services" };
            let mut response = signed_in_redirect(&state, &opened, to);
            response.headers_mut().append(header::SET_COOKIE, ticket_cookie(&state, None));
            Ok(response)
        }
        StepOutcome::Wrong if key => {
            let error = FieldError::form(
                "La clé de sécurité n'a pas été reconnue. Réessayez avec une clé enregistrée sur votre compte, ou saisissez un code.",
            );
            again(&state, &headers, &ticket, error).await
        }
        StepOutcome::Wrong => {
            let error = FieldError::on(
                "code",
                "Code incorrect. Saisissez le code affiché maintenant par votre application (il change toutes les 30 secondes), ou un code de secours non encore utilisé.",
            );
            again(&state, &headers, &ticket, error).await
        }
        StepOutcome::Throttled { until } => {
            let minutes = until.map_or(1, |u| ((u - state.services.now()).whole_seconds() + 59).max(60) / 60);
            let error = FieldError::form(format!(
                "Trop de codes incorrects : la connexion à ce compte est suspendue. Réessayez dans {minutes} minute{}.",
                if minutes > 1 { "s" } else { "" }
            ));
            let choices = StepChoices { app: true, key_options: None };
            Ok(state.views.render(&headers, None, page(&choices, vec![error]).status(StatusCode::TOO_MANY_REQUESTS)))
        }
        StepOutcome::Expired => Ok(start_again(&state)),
    }
}
