//! The router's state: parts that know nothing of it, each reachable on its own by the
//! extractors (`FromRef`), so that no lower module of this crate depends on the whole.

use axum::extract::FromRef;
use sesame_core::Services;
use std::sync::Arc;

use crate::certs::{CertificateSignIn, Verifier};
use crate::request::CookieJar;
use crate::settings::WebSettings;
use crate::view::Views;

/// Wakes this process's delivery worker when a page has queued an e-mail.
#[derive(Debug, Clone, Default)]
pub struct MailWaker(Option<Arc<tokio::sync::Notify>>);

impl MailWaker {
    pub fn new(notify: Arc<tokio::sync::Notify>) -> Self {
        Self(Some(notify))
    }

    /// Called after a use case that may have queued e-mails committed.
    pub fn queued(&self) {
        if let Some(n) = &self.0 {
            n.notify_one();
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub settings: Arc<WebSettings>,
    pub views: Arc<Views>,
    pub certificates: CertificateSignIn,
    pub mail: MailWaker,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(services: Services, settings: WebSettings) -> Self {
        let views = Views::new(settings.branding.clone(), CookieJar::new(settings.https()));
        Self {
            services,
            settings: Arc::new(settings),
            views: Arc::new(views),
            certificates: CertificateSignIn::default(),
            mail: MailWaker::default(),
        }
    }

    /// Enables "Authentification par certificat client" with this verifier.
    #[must_use]
    pub fn with_certificates(mut self, verifier: Arc<Verifier>) -> Self {
        self.certificates = CertificateSignIn(Some(verifier));
        self
    }

    /// Wakes the delivery worker of this process whenever a page queues an e-mail.
    #[must_use]
    pub fn with_mail_waker(mut self, waker: Arc<tokio::sync::Notify>) -> Self {
        self.mail = MailWaker::new(waker);
        self
    }

    pub fn cookies(&self) -> CookieJar {
        CookieJar::new(self.settings.https())
    }
}

impl FromRef<AppState> for Services {
    fn from_ref(state: &AppState) -> Self {
        state.services.clone()
    }
}

impl FromRef<AppState> for Arc<WebSettings> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.settings)
    }
}

impl FromRef<AppState> for Arc<Views> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.views)
    }
}

impl FromRef<AppState> for CertificateSignIn {
    fn from_ref(state: &AppState) -> Self {
        state.certificates.clone()
    }
}
