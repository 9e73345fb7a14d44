//! The preambles of the pages, as extractors: who is signed in ([`Visitor`], [`SignedIn`],
//! [`TemporarySession`]) and the CSRF proof of a form ([`CsrfForm`]). Each rejection is the
//! response to send instead: a redirect, or the refusal page.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use sesame_core::Services;
use std::sync::Arc;

use crate::error::WebError;
use crate::request::{CookieJar, SESSION_COOKIE, csrf_ok};
use crate::settings::WebSettings;
use crate::view::{Page, Views, see_other};

/// A redirect that also clears the session cookie.
pub fn signed_out_redirect(cookies: CookieJar, to: &str) -> Response {
    let mut response = see_other(to);
    response.headers_mut().append(header::SET_COOKIE, cookies.set(SESSION_COOKIE, None));
    response
}

/// Who is signed in, if anyone; `expired` when a session cookie came but leads nowhere.
#[derive(Debug)]
pub struct Visitor {
    pub user: Option<sesame_core::sessions::SignedIn>,
    pub expired: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Visitor
where
    Services: FromRef<S>,
    Arc<WebSettings>: FromRef<S>,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let cookies = CookieJar::new(Arc::<WebSettings>::from_ref(state).https());
        let Some(token) = cookies.get(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
            return Ok(Self { user: None, expired: false });
        };
        let user = Services::from_ref(state).sessions.resolve(token).await?;
        let expired = user.is_none();
        Ok(Self { user, expired })
    }
}

/// A signed-in professional with a personal password. Otherwise: to the sign-in page (with
/// "session expirée" when a cookie came), or to the first-connection page.
#[derive(Debug)]
pub struct SignedIn(pub sesame_core::sessions::SignedIn);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn
where
    Services: FromRef<S>,
    Arc<WebSettings>: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let cookies = CookieJar::new(Arc::<WebSettings>::from_ref(state).https());
        match visitor.user {
            Some(user) if user.session.must_change_password => Err(see_other("/premiere-connexion")),
            Some(user) => {
                let factors = &Services::from_ref(state).factors;
                match factors.must_enrol(&user.account, user.session.auth_method).await {
                    Ok(true) => Err(see_other(ENROL_PATH)),
                    Ok(false) => Ok(Self(user)),
                    Err(e) => Err(WebError::from(e).into_response()),
                }
            }
            None if visitor.expired => Err(signed_out_redirect(cookies, "/?info=session-expiree")),
            None => Err(see_other("/")),
        }
    }
}

/// Where a sign-in that must enrol a second factor is sent.
pub const ENROL_PATH: &str = "/mon-compte/second-facteur/application";

/// A signed-in professional with a personal password, who may still have to enrol a second
/// factor: the enrolment pages accept them (every other page sends them there).
#[derive(Debug)]
pub struct Enrolling(pub sesame_core::sessions::SignedIn);

impl<S: Send + Sync> FromRequestParts<S> for Enrolling
where
    Services: FromRef<S>,
    Arc<WebSettings>: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let cookies = CookieJar::new(Arc::<WebSettings>::from_ref(state).https());
        match visitor.user {
            Some(user) if user.session.must_change_password => Err(see_other("/premiere-connexion")),
            Some(user) => Ok(Self(user)),
            None if visitor.expired => Err(signed_out_redirect(cookies, "/?info=session-expiree")),
            None => Err(see_other("/")),
        }
    }
}

/// A session opened with a temporary password: it reaches only the first-connection page.
#[derive(Debug)]
pub struct TemporarySession(pub sesame_core::sessions::SignedIn);

impl<S: Send + Sync> FromRequestParts<S> for TemporarySession
where
    Services: FromRef<S>,
    Arc<WebSettings>: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        match visitor.user {
            Some(user) if user.session.must_change_password => Ok(Self(user)),
            Some(_) => Err(see_other("/services")),
            None => Err(see_other("/")),
        }
    }
}

/// Anybody: a form that needs no session.
#[derive(Debug)]
pub struct Anyone;

impl<S: Send + Sync> FromRequestParts<S> for Anyone {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self)
    }
}

/// A form with nothing but its CSRF token (sign-out, "terminer toutes les autres sessions").
#[derive(Debug, serde::Deserialize)]
pub struct NoFields {}

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// A form posted from our own page: its CSRF token (derived from the browser's CSRF cookie)
/// and the browser's `Origin`/`Sec-Fetch-Site` are checked first, then who posts it (`W`),
/// then the form is read. A failed check changes nothing and answers the refusal page.
#[derive(Debug)]
pub struct CsrfForm<T, W = Anyone>(pub W, pub T);

impl<S, T, W> FromRequest<S> for CsrfForm<T, W>
where
    S: Send + Sync,
    T: DeserializeOwned,
    W: FromRequestParts<S>,
    W::Rejection: IntoResponse,
    Arc<WebSettings>: FromRef<S>,
    Arc<Views>: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let token = serde_urlencoded::from_bytes::<CsrfField>(&bytes).map(|f| f.csrf).unwrap_or_default();
        let settings = Arc::<WebSettings>::from_ref(state);
        if !csrf_ok(&parts.headers, &settings, &token) {
            tracing::warn!("CSRF check failed");
            return Err(csrf_refusal(&Arc::<Views>::from_ref(state), &parts.headers));
        }
        let who = W::from_request_parts(&mut parts, state).await.map_err(IntoResponse::into_response)?;
        let form = serde_urlencoded::from_bytes::<T>(&bytes).map_err(|e| {
            (StatusCode::UNPROCESSABLE_ENTITY, format!("Failed to deserialize form body: {e}")).into_response()
        })?;
        Ok(Self(who, form))
    }
}

/// "Formulaire expiré": the request did not prove it comes from our page; nothing changed.
fn csrf_refusal(views: &Views, headers: &HeaderMap) -> Response {
    let page = Page::new("messages/csrf_refused.html", "Formulaire expiré").status(StatusCode::FORBIDDEN);
    views.render(headers, None, page)
}
