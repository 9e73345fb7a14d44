//! OpenID Connect Back-Channel Logout 1.0: when a browser session ends, every service that
//! signed the person in through it and registered a back-channel logout URI is told, server to
//! server, with a logout token.
//!
//! The store queues one notice per service and session in the transaction that ends the session
//! (see `store::LogoutNoticeStore`); [`BackChannel::flush`] delivers them like the outbox
//! delivers e-mails: claimed with a lease (a node that dies mid-way leaves them to another),
//! retried with exponential backoff until the service accepts one, never dropped. The logout
//! token is signed when it is sent, with the client's ID token algorithm, so that its short
//! lifetime starts then. The HTTP call itself is the caller's ([`LogoutPoster`]): core speaks no
//! HTTP.

use async_trait::async_trait;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::deps::Deps;
use crate::model::AccountId;
use crate::oidc::claims::{session_id, subject};
use crate::oidc::keys::SigningKeys;
use crate::secret::generate_token;
use crate::session::SessionId;
use crate::store::{LogoutNotice, StoreError};
use secrecy::ExposeSecret as _;

/// The event a logout token carries (Back-Channel Logout 2.4).
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How long a logout token is valid: the specification recommends two minutes at most.
pub const LOGOUT_TOKEN_LIFETIME: Duration = Duration::minutes(2);
/// How long the service has to answer one POST.
pub const POST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Longer than a batch of POSTs that all time out: a live node finishes before its lease ends.
const LEASE: Duration = Duration::minutes(10);
const BATCH: u32 = 20;
/// The first retry comes after this, then twice as long each time, up to [`RETRY_MAX`].
const RETRY_BASE: Duration = Duration::seconds(5);
const RETRY_MAX: Duration = Duration::hours(1);

/// Sends one logout token (`application/x-www-form-urlencoded`, `logout_token=…`).
#[async_trait]
pub trait LogoutPoster: Send + Sync + std::fmt::Debug {
    /// `Ok` when the service answered with a 2xx status; otherwise what went wrong, for the
    /// log and the audit trail (a status, a timeout, a refused connection).
    async fn post(&self, uri: &str, logout_token: &str) -> Result<(), String>;
}

/// What one flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackChannelReport {
    pub delivered: u32,
    pub deferred: u32,
    /// Owed to a client that no longer has a back-channel logout URI: nothing to send.
    pub moot: u32,
}

#[derive(Debug, Clone)]
pub struct BackChannel {
    deps: Deps,
    keys: SigningKeys,
    issuer: String,
}

impl BackChannel {
    pub fn new(deps: Deps, keys: SigningKeys, public_url: &str) -> Self {
        Self { deps, keys, issuer: public_url.trim_end_matches('/').to_owned() }
    }

    /// Delivers every notice due now, then returns.
    pub async fn flush(&self, poster: &dyn LogoutPoster) -> Result<BackChannelReport, StoreError> {
        let mut report = BackChannelReport::default();
        loop {
            let now = self.deps.clock.now();
            let batch = self.deps.store.claim_logout_notices(now, now + LEASE, BATCH).await?;
            if batch.is_empty() {
                return Ok(report);
            }
            for notice in batch {
                match self.deliver(&notice, poster).await? {
                    Delivery::Delivered => report.delivered += 1,
                    Delivery::Deferred => report.deferred += 1,
                    Delivery::Moot => report.moot += 1,
                }
            }
        }
    }

    async fn deliver(&self, notice: &LogoutNotice, poster: &dyn LogoutPoster) -> Result<Delivery, StoreError> {
        let store = &self.deps.store;
        let client = store.oidc_client(&notice.client_id).await?;
        let Some((uri, alg)) = client.and_then(|c| Some((c.backchannel_logout_uri?, c.id_token_alg))) else {
            store.logout_notice_delivered(notice.id, self.deps.clock.now()).await?;
            return Ok(Delivery::Moot);
        };
        let now = self.deps.clock.now();
        let signed = match self.keys.current().await {
            Ok(keys) => keys
                .signer(alg)
                .ok_or_else(|| format!("no {} signing key", alg.as_str()))
                .and_then(|s| s.sign("logout+jwt", &self.claims(notice, now)).map_err(|e| e.to_string())),
            Err(e) => Err(e.to_string()),
        };
        let sent = match signed {
            Ok(token) => poster.post(&uri, &token).await,
            Err(e) => Err(format!("logout token not signed: {e}")),
        };
        let now = self.deps.clock.now();
        let mut details = json!({ "client_id": notice.client_id, "attempt": notice.attempts });
        let (action, outcome, delivery) = match sent {
            Ok(()) => {
                store.logout_notice_delivered(notice.id, now).await?;
                (AuditAction::BackchannelLogoutSent, Outcome::Success, Delivery::Delivered)
            }
            Err(error) => {
                tracing::warn!(client_id = %notice.client_id, attempt = notice.attempts, %error, "back-channel logout not accepted, retried later");
                store.reschedule_logout_notice(notice.id, now + retry_delay(notice.attempts), &error).await?;
                details["error"] = json!(error);
                (AuditAction::BackchannelLogoutDeferred, Outcome::Failure, Delivery::Deferred)
            }
        };
        let event = AuditEvent::new(action, outcome, Some(notice.account), &RequestContext::system());
        store.append_audit(&event.with_details(details), now).await?;
        Ok(delivery)
    }

    fn claims(&self, notice: &LogoutNotice, now: OffsetDateTime) -> Value {
        logout_claims(&self.issuer, &notice.client_id, notice.account, notice.session, now)
    }
}

enum Delivery {
    Delivered,
    Deferred,
    Moot,
}

/// The claims of a logout token (Back-Channel Logout 2.4): who issued it, for which service,
/// about which person (`sub`, as in their ID tokens) and which session (`sid`), the logout
/// event, a unique `jti`, and never a `nonce`.
pub fn logout_claims(
    issuer: &str,
    client_id: &str,
    account: AccountId,
    session: SessionId,
    now: OffsetDateTime,
) -> Value {
    json!({
        "iss": issuer,
        "aud": client_id,
        "iat": now.unix_timestamp(),
        "exp": (now + LOGOUT_TOKEN_LIFETIME).unix_timestamp(),
        "jti": generate_token(16).expose_secret(),
        "sub": subject(account),
        "sid": session_id(session),
        "events": { LOGOUT_EVENT: {} },
    })
}

/// After the `attempts`-th failure: 5 s, 10 s, 20 s … up to an hour.
pub fn retry_delay(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    let delay = RETRY_BASE * 2_i32.pow(doublings);
    delay.min(RETRY_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_up_to_an_hour() {
        assert_eq!(retry_delay(1), Duration::seconds(5));
        assert_eq!(retry_delay(2), Duration::seconds(10));
        assert_eq!(retry_delay(4), Duration::seconds(40));
        assert_eq!(retry_delay(11), Duration::hours(1));
        assert_eq!(retry_delay(u32::MAX), Duration::hours(1));
    }

    #[test]
    fn a_logout_token_names_the_session_and_never_a_nonce() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let claims = logout_claims("https://sesame.example", "rdv", AccountId(7), SessionId(9), now);
        assert_eq!(claims["aud"], "rdv");
        assert_eq!(claims["sub"], subject(AccountId(7)));
        assert_eq!(claims["sid"], session_id(SessionId(9)));
        assert_eq!(claims["exp"].as_i64(), Some(1_800_000_120));
        assert!(claims["events"][LOGOUT_EVENT].is_object());
        assert!(claims.get("nonce").is_none());
        assert_ne!(
            claims["jti"],
            logout_claims("https://sesame.example", "rdv", AccountId(7), SessionId(9), now)["jti"]
        );
    }
}
