//! The HTTP face of Sésame: the portal's pages, `/api/v1`, health and readiness.
//!
//! Floors, from the bottom: settings, errors and the pure pieces (downloads, help, problem
//! documents); requests, views, certificates and the captcha's image; the state's parts
//! ([`state`]); the extractors that carry the pages' preambles ([`extract`]); the handlers
//! ([`pages`], [`api`], [`oidc`], CSP reports, error pages); and this file, the route table, on top. No
//! module imports a floor above its own.

pub mod api;
pub mod captcha;
pub mod certs;
mod csp;
pub mod downloads;
pub mod error;
mod error_pages;
pub mod extract;
pub mod help;
pub mod oidc;
pub mod pages;
pub mod problem;
pub mod request;
pub mod resume;
pub mod settings;
pub mod state;
pub mod tls;
pub mod view;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sesame_core::Services;
use std::sync::Arc;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use settings::{CaptchaSettings, IpNet, PortalService, WebSettings};
pub use state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Forms are small; anything bigger is refused before it is read.
const BODY_LIMIT: usize = 64 * 1024;
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; report-to csp; report-uri /csp-report";

/// The portal's pages.
fn pages() -> Router<AppState> {
    use pages::{
        account, certificate, factors, first_connection, help, install, keys, login, reset, second_step, services,
    };
    Router::new()
        .route("/", get(login::show))
        .route("/connexion", get(login::show).post(login::submit))
        .route("/connexion/certificat", get(certificate::login))
        .route(second_step::PATH, get(second_step::show).post(second_step::submit))
        .route("/premiere-connexion", get(first_connection::show).post(first_connection::submit))
        .route("/services", get(services::show))
        .route("/installer", get(install::show))
        .route("/aide", get(help::show))
        .route("/mon-compte", get(account::show))
        .route("/mon-compte/mot-de-passe", post(account::change_password))
        .route("/mon-compte/sessions/terminer", post(account::end_session))
        .route("/mon-compte/sessions/terminer-autres", post(account::end_other_sessions))
        .route("/mon-compte/second-facteur/application", get(factors::show_start).post(factors::start))
        .route("/mon-compte/second-facteur/application/{id}", get(factors::show_enrol).post(factors::confirm))
        .route("/mon-compte/second-facteur/cle", get(keys::show_start).post(keys::start))
        .route("/mon-compte/second-facteur/cle/{id}", get(keys::show_register).post(keys::register))
        .route("/mon-compte/second-facteur/{id}/retirer", get(factors::show_remove).post(factors::remove))
        .route("/mon-compte/codes-de-secours", post(factors::renew_codes))
        .route("/mon-compte/applications/retirer", post(account::withdraw_application))
        .route("/deconnexion", post(account::logout))
        .route("/mot-de-passe-oublie", get(reset::show).post(reset::submit))
        .route(sesame_core::reset::LINK_PATH, get(reset::open_link))
        .route(reset::NEW_PASSWORD_PATH, get(reset::show_new).post(reset::submit_new))
}

/// The whole application: one route table, then the layers every response goes through.
pub fn router(state: AppState) -> Router {
    let https = state.settings.https();
    let views = Arc::clone(&state.views);
    let mut app = pages()
        .route("/static/sesame.css", get(stylesheet))
        .route("/static/sesame.js", get(script))
        .route("/csp-report", post(csp::report).layer(DefaultBodyLimit::max(csp::BODY_LIMIT)))
        .merge(api::router())
        .merge(oidc::router())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(views, error_pages::error_pages))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state);
    let mut headers = vec![
        (header::CONTENT_SECURITY_POLICY, CSP),
        (HeaderName::from_static("reporting-endpoints"), "csp=\"/csp-report\""),
        // Nothing dynamic is cached, redirects included; static files say otherwise.
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=()"),
    ];
    if https {
        headers.push((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains"));
    }
    for (name, value) in headers {
        app = app.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)));
    }
    app.layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

async fn stylesheet() -> Response {
    static_file("text/css; charset=utf-8", include_str!("../static/sesame.css"))
}

async fn script() -> Response {
    static_file("text/javascript; charset=utf-8", include_str!("../static/sesame.js"))
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// Alive: the process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// Ready: the database answers too.
async fn readyz(State(services): State<Services>) -> Response {
    match services.ping().await {
        Ok(()) => "ok".into_response(),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], "database unavailable").into_response()
        }
    }
}
