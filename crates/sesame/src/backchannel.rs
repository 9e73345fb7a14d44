//! Back-channel logout, the HTTP half: POSTs the logout tokens that core signs
//! (`sesame_core::oidc::BackChannel`) to the services, and the loop that delivers them.

use async_trait::async_trait;
use sesame_core::oidc::backchannel::POST_TIMEOUT;
use sesame_core::oidc::{BackChannel, LogoutPoster};
use std::time::Duration;

use crate::error::CliError;

/// How often the queue is looked at: a session that ends reaches the services within this.
const POLL_EVERY: Duration = Duration::from_secs(2);

/// Sends a logout token as Back-Channel Logout 2.5 says: a form POST, nothing else. Redirects
/// are not followed (a service answers the POST itself), and a service gets `POST_TIMEOUT`.
#[derive(Debug, Clone)]
pub struct HttpPoster {
    client: reqwest::Client,
}

impl HttpPoster {
    pub fn new() -> Result<Self, CliError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(POST_TIMEOUT)
            .user_agent(concat!("Sesame/", env!("CARGO_PKG_VERSION"), " back-channel logout"))
            .build()
            .map_err(|e| CliError::Runtime(format!("cannot build the back-channel logout client: {e}")))?;
        Ok(Self { client })
    }
}

#[async_trait]
impl LogoutPoster for HttpPoster {
    async fn post(&self, uri: &str, logout_token: &str) -> Result<(), String> {
        let answer = self
            .client
            .post(uri)
            .header(reqwest::header::CACHE_CONTROL, "no-store")
            .form(&[("logout_token", logout_token)])
            .send()
            .await
            .map_err(|e| format!("not reached: {}", without_url(&e)))?;
        if answer.status().is_success() { Ok(()) } else { Err(format!("answered {}", answer.status())) }
    }
}

/// reqwest's error text without the URL (already in the audit details through the client).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(&format!(" ({url})"), "").replace(url.as_str(), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// Delivers the queue until `shutdown` resolves.
pub async fn run(backchannel: BackChannel, poster: HttpPoster, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        match backchannel.flush(&poster).await {
            Ok(r) if r.delivered + r.deferred > 0 => {
                tracing::info!(delivered = r.delivered, deferred = r.deferred, "back-channel logout tokens sent")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "back-channel logout delivery failed"),
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(POLL_EVERY) => {}
        }
    }
}
