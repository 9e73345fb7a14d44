//! The authorization endpoint (`/oidc/authorize`, GET and POST) and the consent form: the
//! request checked, then Sésame's own sign-in, the consent page, and the code sent back.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use sesame_core::audit::Actor;
use sesame_core::oidc::request::{self, AuthorizationRequest, Redirect, RequestError, Scope};
use sesame_core::oidc::{Decision, authorize::decide};
use sesame_core::sessions::SignedIn;

use crate::error::WebError;
use crate::extract::{CsrfForm, Visitor};
use crate::pages::second_step;
use crate::request::Client;
use crate::resume::{self, Pending};
use crate::state::AppState;
use crate::view::{Page, see_other};

type Params = Vec<(String, String)>;

pub async fn get(
    state: State<AppState>,
    headers: HeaderMap,
    visitor: Visitor,
    client: Client,
    Query(params): Query<Params>,
) -> Result<Response, WebError> {
    authorize(state, headers, visitor, client, params).await
}

pub async fn post(
    state: State<AppState>,
    headers: HeaderMap,
    visitor: Visitor,
    client: Client,
    axum::Form(params): axum::Form<Params>,
) -> Result<Response, WebError> {
    authorize(state, headers, visitor, client, params).await
}

async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    visitor: Visitor,
    client: Client,
    params: Params,
) -> Result<Response, WebError> {
    let request = match checked(&state, &params).await? {
        Ok(request) => request,
        Err(refusal) => return Ok(refused(&state, &headers, refusal)),
    };
    let query = serde_urlencoded::to_string(&params).unwrap_or_default();
    answer(&state, &headers, &client, &request, &query, visitor.user.as_ref(), None).await
}

/// What the request gets from this browser now. `consent`: the person's answer on the consent
/// page, if they just gave one.
async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    client: &Client,
    request: &AuthorizationRequest,
    query: &str,
    user: Option<&SignedIn>,
    consent: Option<bool>,
) -> Result<Response, WebError> {
    let jar = state.cookies();
    let pending = resume::read(headers, jar).filter(|p| p.query == query);
    let services = &state.services.authorizations;
    // Read only when the decision depends on them.
    let (has_factor, consented) = match user {
        Some(u) => (
            request.two_factors && !u.session.auth_method.is_multi_factor() && services.has_second_factor(u).await?,
            !request.client.first_party && services.consented(u, request).await?,
        ),
        None => (false, false),
    };
    let now = state.services.now();
    let decision = decide(request, user, pending.as_ref().map(|p| p.asked_at), has_factor, consented, now);
    let mut response = match (decision, user) {
        (Decision::SignIn { again }, _) => {
            return Ok(to_sign_in(
                state,
                now,
                query,
                if again { "/connexion?encore=service" } else { "/connexion?pour=service" },
            ));
        }
        (Decision::SecondStep, Some(user)) => {
            let ctx = client.context(Actor::Account(user.account.id));
            return Ok(match state.services.factors.step_up(user, &ctx).await? {
                Some(ticket) => {
                    let mut response = to_sign_in(state, now, query, second_step::PATH);
                    let cookie = second_step::ticket_cookie(state, Some(ticket.expose_secret()));
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                    response
                }
                // The factor went away meanwhile: both factors from the start.
                None => to_sign_in(state, now, query, "/connexion?encore=service"),
            });
        }
        (Decision::Refuse { error, description }, _) => back_error(state, request, error, description),
        (Decision::Consent, Some(_)) if consent.is_none() => {
            // The sign-in made for this request still counts when the answer comes.
            return Ok(consent_page(state, headers, user, request, query));
        }
        (Decision::Consent | Decision::Grant, Some(user)) => {
            let ctx = client.context(Actor::Account(user.account.id));
            if consent == Some(false) {
                services.deny(request, user, &ctx).await?;
                back_error(state, request, "access_denied", "the person refused")
            } else {
                let code = services.grant(request, user, consent == Some(true), &ctx).await?;
                back_code(state, request, code.expose_secret())
            }
        }
        (Decision::Consent | Decision::Grant | Decision::SecondStep, None) => see_other("/"), // decide asks for a sign-in first
    };
    if pending.is_some() {
        response.headers_mut().append(header::SET_COOKIE, resume::clear(jar));
    }
    // The consent form's answer goes to the service: not as a redirect of the form's navigation.
    Ok(if consent.is_some() { crate::view::fresh_navigation(response) } else { response })
}

/// To a sign-in page (`to`), the request kept in the cookie to resume from "Mes services".
fn to_sign_in(state: &AppState, now: time::OffsetDateTime, query: &str, to: &str) -> Response {
    let pending = Pending { asked_at: now, query: query.to_owned() };
    let mut response = see_other(to);
    response.headers_mut().append(header::SET_COOKIE, resume::set(state.cookies(), &pending));
    response
}

/// The request checked against its client: `Err` is the refusal to answer.
async fn checked(state: &AppState, params: &Params) -> Result<Result<AuthorizationRequest, RequestError>, WebError> {
    let client_id = match request::client_id(params) {
        Ok(id) => id,
        Err(e) => return Ok(Err(e)),
    };
    // A store that does not answer is an error page of its own, not an "unknown client".
    let client = match state.services.clients.get(client_id).await {
        Ok(client) => Some(client),
        Err(sesame_core::oidc::ClientError::Auth(e)) => return Err(e.into()),
        Err(_) => None,
    };
    Ok(request::check(params, client))
}

fn refused(state: &AppState, headers: &HeaderMap, refusal: RequestError) -> Response {
    match refusal {
        RequestError::Page(reason) => {
            let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
            let page = Page::new("messages/oidc_refused.html", "Connexion au service impossible")
                .status(StatusCode::BAD_REQUEST)
                .with("reason", reason)
                .with("request_id", request_id);
            state.views.render(headers, None, page)
        }
        RequestError::Redirect(redirect) => back(state, &redirect),
    }
}

/// The service's redirect URI with `error`, `error_description`, `state` and `iss` (RFC 9207).
fn back(state: &AppState, redirect: &Redirect) -> Response {
    let mut pairs = vec![("error", redirect.error), ("error_description", redirect.description.as_str())];
    if let Some(s) = &redirect.state {
        pairs.push(("state", s));
    }
    to_client(state, &redirect.redirect_uri, pairs)
}

fn back_error(state: &AppState, request: &AuthorizationRequest, error: &'static str, description: &str) -> Response {
    let redirect = Redirect {
        redirect_uri: request.redirect_uri.clone(),
        state: request.state.clone(),
        error,
        description: description.to_owned(),
    };
    back(state, &redirect)
}

/// The service's redirect URI with `code`, `state` and `iss`.
fn back_code(state: &AppState, request: &AuthorizationRequest, code: &str) -> Response {
    let mut pairs = vec![("code", code)];
    if let Some(s) = &request.state {
        pairs.push(("state", s));
    }
    to_client(state, &request.redirect_uri, pairs)
}

fn to_client<'a>(state: &'a AppState, redirect_uri: &str, mut pairs: Vec<(&'a str, &'a str)>) -> Response {
    pairs.push(("iss", state.settings.issuer()));
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    see_other(&format!("{redirect_uri}{separator}{query}"))
}

/// What each scope gives the service, as the consent page says it.
fn claims(scopes: &[Scope]) -> Vec<&'static str> {
    scopes
        .iter()
        .map(|s| match s {
            Scope::OpenId => "un identifiant qui vous désigne auprès de ce service",
            Scope::Profile => "vos nom et prénom, et votre identifiant Sésame",
            Scope::Email => "votre adresse e-mail",
            Scope::Sante => "votre identifiant national de professionnel de santé (RPPS ou ADELI)",
            Scope::OfflineAccess => {
                "un accès qui dure après la fermeture de votre navigateur, jusqu'à ce que vous le retiriez"
            }
        })
        .collect()
}

fn consent_page(
    state: &AppState,
    headers: &HeaderMap,
    user: Option<&SignedIn>,
    request: &AuthorizationRequest,
    query: &str,
) -> Response {
    let page = Page::new("oidc_consent.html", "Autoriser un service")
        .with("client", &request.client.name)
        .with("claims", claims(&request.scopes))
        .with("request", query);
    state.views.render(headers, user, page)
}

#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    demande: String,
    #[serde(default)]
    decision: String,
}

/// "Autoriser" or "Refuser" on the consent page: the request checked again from scratch, and
/// the sign-in too (a form posted by hand skips nothing).
pub async fn consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    CsrfForm(crate::extract::SignedIn(user), form): CsrfForm<ConsentForm, crate::extract::SignedIn>,
) -> Result<Response, WebError> {
    let params: Params = serde_urlencoded::from_str(&form.demande).unwrap_or_default();
    let request = match checked(&state, &params).await? {
        Ok(request) => request,
        Err(refusal) => return Ok(refused(&state, &headers, refusal)),
    };
    let query = serde_urlencoded::to_string(&params).unwrap_or_default();
    let agreed = form.decision == "accepter";
    answer(&state, &headers, &client, &request, &query, Some(&user), Some(agreed)).await
}
