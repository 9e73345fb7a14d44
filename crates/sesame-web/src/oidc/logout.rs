//! RP-initiated logout (`/oidc/logout`, GET and POST, and its confirmation form): the request
//! checked by core (`oidc::Logouts`), the portal session ended, the browser sent back to the
//! service's registered address with its `state`.
//!
//! GET changes nothing by itself, except when the service proves it knows this very browser
//! session: an `id_token_hint` Sésame signed whose `sid` is the session's. Otherwise the person
//! confirms with a form (CSRF) or stays signed in.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use sesame_core::audit::Actor;
use sesame_core::oidc::LogoutRequest;
use sesame_core::oidc::claims::session_id;
use sesame_core::sessions::SignedIn;

use crate::error::WebError;
use crate::extract::{CsrfForm, Visitor, signed_out_redirect};
use crate::request::Client;
use crate::state::AppState;
use crate::view::Page;

type Params = Vec<(String, String)>;

pub async fn get(
    state: State<AppState>,
    headers: HeaderMap,
    visitor: Visitor,
    client: Client,
    Query(params): Query<Params>,
) -> Result<Response, WebError> {
    logout(state, headers, visitor, client, params).await
}

pub async fn post(
    state: State<AppState>,
    headers: HeaderMap,
    visitor: Visitor,
    client: Client,
    axum::Form(params): axum::Form<Params>,
) -> Result<Response, WebError> {
    logout(state, headers, visitor, client, params).await
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    visitor: Visitor,
    client: Client,
    params: Params,
) -> Result<Response, WebError> {
    let request = match state.services.logouts.check(&params).await? {
        Ok(request) => request,
        Err(reason) => return Ok(refused(&state, &headers, reason)),
    };
    match visitor.user {
        None => Ok(done(&state, &request)),
        Some(user) if request.hint_sid.as_deref() == Some(session_id(user.session.id).as_str()) => {
            end(&state, &user, &client).await?;
            Ok(done(&state, &request))
        }
        Some(user) => {
            let query = serde_urlencoded::to_string(&params).unwrap_or_default();
            let page = Page::new("oidc_logout.html", "Se déconnecter")
                .with("client", request.client_name.as_deref().unwrap_or_default())
                .with("request", query);
            Ok(state.views.render(&headers, Some(&user), page))
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    demande: String,
}

/// "Se déconnecter" on the confirmation page: the request checked again.
pub async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    CsrfForm(visitor, form): CsrfForm<ConfirmForm, Visitor>,
) -> Result<Response, WebError> {
    let params: Params = serde_urlencoded::from_str(&form.demande).unwrap_or_default();
    let request = match state.services.logouts.check(&params).await? {
        Ok(request) => request,
        Err(reason) => return Ok(refused(&state, &headers, reason)),
    };
    if let Some(user) = &visitor.user {
        end(&state, user, &client).await?;
    }
    Ok(crate::view::fresh_navigation(done(&state, &request)))
}

async fn end(state: &AppState, user: &SignedIn, client: &Client) -> Result<(), WebError> {
    let ctx = client.context(Actor::Account(user.account.id));
    Ok(state.services.sessions.logout(user, &ctx).await?)
}

/// Signed out: back to the service with its `state`, or to the portal's home page.
fn done(state: &AppState, request: &LogoutRequest) -> Response {
    let Some(uri) = &request.redirect else {
        return crate::pages::logged_out_redirect(state);
    };
    let target = match &request.state {
        Some(s) => {
            let separator = if uri.contains('?') { '&' } else { '?' };
            format!("{uri}{separator}{}", serde_urlencoded::to_string([("state", s)]).unwrap_or_default())
        }
        None => uri.clone(),
    };
    let mut response = signed_out_redirect(state.cookies(), &target);
    response.headers_mut().insert(
        axum::http::HeaderName::from_static("clear-site-data"),
        HeaderValue::from_static("\"cache\", \"cookies\", \"storage\""),
    );
    response
}

fn refused(state: &AppState, headers: &HeaderMap, reason: &str) -> Response {
    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let page = Page::new("messages/oidc_refused.html", "Déconnexion impossible")
        .status(StatusCode::BAD_REQUEST)
        .with("reason", reason)
        .with("request_id", request_id);
    state.views.render(headers, None, page)
}
