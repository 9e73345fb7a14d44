//! "Authentification par certificat client" from the sign-in page.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use sesame_core::audit::Actor;
use sesame_core::certificate::{CertificateLogin, Channel};
use sesame_core::limits::Attempt;

use super::{address_limit, signed_in_redirect};
use crate::certs::{PeerChain, Refusal, judge};
use crate::error::WebError;
use crate::request::Client;
use crate::state::AppState;
use crate::view::Page;

fn refused_page(refusal: Refusal) -> Page {
    Page::new("messages/certificate_refused.html", refusal.title())
        .status(StatusCode::FORBIDDEN)
        .with("explanation", refusal.explanation())
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    PeerChain(chain): PeerChain,
) -> Result<Response, WebError> {
    let Some(verifier) = state.certificates.0.clone() else {
        return Err(WebError::NotFound);
    };
    if let Some(refusal) = address_limit(&state, &headers, &client, Attempt::Login).await? {
        return Ok(refusal);
    }
    let ctx = client.context(Actor::Anonymous);
    let identity = match judge(&verifier, &state.services, &chain, &ctx).await? {
        Ok(identity) => identity,
        Err(refusal) => return Ok(state.views.render(&headers, None, refused_page(refusal))),
    };
    match state.services.certificates.sign_in(&identity, Channel::Browser, &ctx).await? {
        CertificateLogin::SignedIn(opened) => Ok(signed_in_redirect(&state, &opened, "/services")),
        CertificateLogin::NoAccount | CertificateLogin::Tokens(_) => {
            Ok(state.views.render(&headers, None, refused_page(Refusal::NoAccount)))
        }
    }
}
