//! The HTTP face of Sésame: the portal's pages, health and readiness.
//!
//! Handlers stay thin: they check the request (CSRF, per-address limits), parse the form into
//! domain types, call a use case of `sesame-core`, then render a template or redirect.

pub mod api;
pub mod captcha;
pub mod certs;
mod csp;
pub mod downloads;
pub mod error;
pub mod help;
pub mod pages;
pub mod request;
pub mod settings;
pub mod tls;
pub mod view;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sesame_core::auth::AuthService;
use sesame_core::branding::Branding;
use sesame_core::reset::ResetService;
use std::sync::Arc;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use settings::{CaptchaSettings, IpNet, PortalService, WebSettings};

/// What every handler may use.
#[derive(Clone)]
pub struct AppState {
    pub auth: AuthService,
    pub reset: ResetService,
    pub settings: Arc<WebSettings>,
    pub branding: Arc<Branding>,
    templates: Arc<minijinja::Environment<'static>>,
    mail_waker: Option<Arc<tokio::sync::Notify>>,
    /// Present when certificate sign-in is enabled.
    pub certificates: Option<Arc<certs::Verifier>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(auth: AuthService, reset: ResetService, settings: WebSettings, branding: Branding) -> Self {
        Self {
            auth,
            reset,
            settings: Arc::new(settings),
            branding: Arc::new(branding),
            templates: Arc::new(view::environment()),
            mail_waker: None,
            certificates: None,
        }
    }

    /// Enables "Authentification par certificat client" with this verifier.
    #[must_use]
    pub fn with_certificates(mut self, verifier: Arc<certs::Verifier>) -> Self {
        self.certificates = Some(verifier);
        self
    }

    /// Wakes the delivery worker of this process whenever a page queues an e-mail.
    #[must_use]
    pub fn with_mail_waker(mut self, waker: Arc<tokio::sync::Notify>) -> Self {
        self.mail_waker = Some(waker);
        self
    }

    /// Called after a use case that may have queued e-mails committed.
    pub fn mail_queued(&self) {
        if let Some(w) = &self.mail_waker {
            w.notify_one();
        }
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Forms are small; anything bigger is refused before it is read.
const BODY_LIMIT: usize = 64 * 1024;

/// The whole application: one route table, then the layers every response goes through.
pub fn router(state: AppState) -> Router {
    let https = state.settings.https();
    let mut app = Router::new()
        .route("/", get(pages::login::show))
        .route("/connexion", get(pages::login::show).post(pages::login::submit))
        .route("/connexion/certificat", get(pages::certificate::login))
        .route("/premiere-connexion", get(pages::first_connection::show).post(pages::first_connection::submit))
        .route("/services", get(pages::account::services))
        .route("/installer", get(pages::install::show))
        .route("/aide", get(pages::help::show))
        .route("/mon-compte", get(pages::account::show))
        .route("/mon-compte/mot-de-passe", post(pages::account::change_password))
        .route("/mon-compte/sessions/terminer", post(pages::account::end_session))
        .route("/mon-compte/sessions/terminer-autres", post(pages::account::end_other_sessions))
        .route("/deconnexion", post(pages::account::logout))
        .route("/mot-de-passe-oublie", get(pages::reset::show).post(pages::reset::submit))
        .route("/mot-de-passe-oublie/lien", get(pages::reset::open_link))
        .route("/mot-de-passe-oublie/nouveau", get(pages::reset::show_new).post(pages::reset::submit_new))
        .route("/static/sesame.css", get(stylesheet))
        .route("/static/sesame.js", get(script))
        .route("/csp-report", post(csp::report).layer(DefaultBodyLimit::max(csp::BODY_LIMIT)))
        .merge(api::router())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), error::error_pages))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state);
    let mut headers = vec![
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; report-to csp; report-uri /csp-report",
        ),
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
async fn readyz(State(state): State<AppState>) -> Response {
    match state.auth.store().ping().await {
        Ok(()) => "ok".into_response(),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], "database unavailable").into_response()
        }
    }
}
