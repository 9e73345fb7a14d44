//! "Mot de passe oublié": a link by e-mail, then a new password.
//!
//! The request answers the same whatever the identifier. The link carries 256 random bits, only
//! their digest is stored; it lives 60 minutes, is revoked by a newer request and by any password
//! change, and only the final submission uses it up, atomically.

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use time::Duration;

use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::deps::Deps;
use crate::error::AuthError;
use crate::mail::{MailMessage, OutboxMail};
use crate::model::{AccountId, AccountStatus, PasswordCredential};
use crate::passwords::{Passwords, password_changed};
use crate::policy::Violation;
use crate::secret::{digest, generate_token};
use crate::types::{LoginIdentifier, Password};

/// The path of the link in the e-mail; the web layer serves it.
pub const LINK_PATH: &str = "/mot-de-passe-oublie/lien";

/// A reset link's token: 256 random bits, base64url (43 characters). Only its digest is stored.
#[derive(Clone)]
pub struct ResetToken(SecretString);

impl ResetToken {
    const LEN: usize = 43;

    fn generate() -> Self {
        Self(generate_token(32))
    }

    /// The token of a link as it came back (address or cookie); `None` if it cannot be one.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let plausible =
            raw.len() == Self::LEN && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        plausible.then(|| Self(SecretString::from(raw.to_owned())))
    }

    /// The text to keep in the browser's cookie between the link and the form.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    fn digest(&self) -> Vec<u8> {
        digest(self.0.expose_secret())
    }

    fn link(&self, public_url: &str) -> String {
        format!("{public_url}{LINK_PATH}?jeton={}", self.0.expose_secret())
    }
}

impl std::fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetToken(***)")
    }
}

/// `[reset]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ResetSettings {
    /// How long a link works (minutes).
    pub link_minutes: u32,
    /// Reset e-mails per account and hour; more requests are silently ignored.
    pub max_per_hour: u32,
    /// Show `*******@domaine.fr` on the confirmation page, as the guide does. Off by default: it
    /// tells whoever types an identifier that the account exists.
    pub show_masked_email: bool,
}

impl Default for ResetSettings {
    fn default() -> Self {
        Self { link_minutes: 60, max_per_hour: 3, show_masked_email: false }
    }
}

impl ResetSettings {
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(5..=24 * 60).contains(&self.link_minutes) {
            out.push(("reset.link_minutes", "must be between 5 and 1440".to_owned()));
        }
        if self.max_per_hour == 0 {
            out.push(("reset.max_per_hour", "must be at least 1".to_owned()));
        }
        out
    }
}

/// What the requester is told (the same page in every case but, when configured, the address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAnswer {
    pub masked_email: Option<String>,
}

#[derive(Debug)]
pub enum ResetOutcome {
    /// Changed; every session, token and link of the account ended. No one is signed in.
    Done,
    /// Nothing changed; every failed rule.
    Refused(Vec<Violation>),
    /// Unknown, used, revoked or expired link: one answer for all.
    InvalidLink,
}

#[derive(Debug, Clone)]
pub struct ResetService {
    deps: Deps,
    passwords: Passwords,
    settings: ResetSettings,
    public_url: String,
}

impl ResetService {
    pub fn new(deps: Deps, passwords: Passwords, settings: ResetSettings, public_url: &str) -> Self {
        let public_url = public_url.trim_end_matches('/').to_owned();
        Self { deps, passwords, settings, public_url }
    }

    /// How long a link works, in minutes (`reset.link_minutes`).
    pub fn link_minutes(&self) -> u32 {
        self.settings.link_minutes
    }

    /// Sends a link if the identifier names an active account under its hourly limit. The
    /// answer does not depend on it (except the masked address, when configured).
    pub async fn request(
        &self,
        identifier: &LoginIdentifier,
        ctx: &RequestContext,
    ) -> Result<RequestAnswer, AuthError> {
        let now = self.deps.now();
        let since = now - Duration::hours(1);
        let (account, recent) = match self.deps.store.account_and_reset_links_since(identifier.key(), since).await? {
            Some((account, recent)) => (Some(account), recent),
            None => (None, 0),
        };
        let masked = account.as_ref().filter(|_| self.settings.show_masked_email).map(|a| a.email.masked());
        let (outcome, reason) = match &account {
            None => (Outcome::Ignored, "unknown_identifier"),
            Some(a) if a.status == AccountStatus::Disabled => (Outcome::Ignored, "account_disabled"),
            Some(_) if recent >= self.settings.max_per_hour => (Outcome::Ignored, "hourly_limit"),
            Some(_) => (Outcome::Success, "sent"),
        };
        let event = AuditEvent::about_maybe(AuditAction::ResetRequested, outcome, account.as_ref(), ctx)
            .with_details(serde_json::json!({ "result": reason }));
        match (&account, outcome) {
            (Some(account), Outcome::Success) => {
                let token = ResetToken::generate();
                let minutes = self.settings.link_minutes;
                let mut tx = self.deps.store.begin().await?;
                tx.insert_reset_token(account.id, &token.digest(), now, now + Duration::minutes(i64::from(minutes)))
                    .await?;
                let message = MailMessage::ResetLink {
                    first_name: account.first_name.to_string(),
                    last_name: account.last_name.to_string(),
                    link: token.link(&self.public_url),
                    valid_minutes: minutes,
                };
                tx.enqueue_mail(&OutboxMail::about(account, message), now).await?;
                tx.append_audit(&event, now).await?;
                tx.commit().await?;
            }
            // Nothing is sent: the event is all there is to write.
            _ => self.deps.store.append_audit(&event, now).await?,
        }
        Ok(RequestAnswer { masked_email: masked })
    }

    /// Whether a link is live, without using it (mail scanners open links).
    pub async fn link_is_valid(&self, token: &ResetToken) -> Result<bool, AuthError> {
        Ok(self.deps.store.reset_token_account(&token.digest(), self.deps.now()).await?.is_some())
    }

    /// Sets the new password through a live link. Uses the link up only when everything is
    /// accepted; of two concurrent submissions, one succeeds.
    pub async fn complete(
        &self,
        token: &ResetToken,
        new: &Password,
        confirmation: &Password,
        ctx: &RequestContext,
    ) -> Result<ResetOutcome, AuthError> {
        let hash = token.digest();
        let Some(account_id) = self.deps.store.reset_token_account(&hash, self.deps.now()).await? else {
            self.refused(None, "invalid_link", ctx).await?;
            return Ok(ResetOutcome::InvalidLink);
        };
        let active = self.deps.store.account_by_id(account_id).await?.filter(|a| a.status == AccountStatus::Active);
        let Some(account) = active else {
            self.refused(Some(account_id), "account_disabled", ctx).await?;
            return Ok(ResetOutcome::InvalidLink);
        };
        let violations = self.passwords.violations(&account, new, confirmation).await?;
        if !violations.is_empty() {
            let codes: Vec<&str> = violations.iter().map(|v| v.rule.code()).collect();
            self.refused(Some(account.id), &codes.join(","), ctx).await?;
            return Ok(ResetOutcome::Refused(violations));
        }
        let phc = self.deps.hasher.hash(new).await?;
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        if tx.consume_reset_token(&hash, now).await? != Some(account.id) {
            drop(tx);
            self.refused(Some(account.id), "link_already_used", ctx).await?;
            return Ok(ResetOutcome::InvalidLink);
        }
        tx.set_password(account.id, &PasswordCredential { phc, temporary_until: None, changed_at: now }).await?;
        tx.revoke_all_access(account.id, now).await?;
        tx.clear_login_failures(&account.identifier.key()).await?;
        tx.enqueue_mail(&OutboxMail::about(&account, password_changed(&account, now)), now).await?;
        tx.append_audit(&AuditEvent::about(AuditAction::ResetCompleted, Outcome::Success, &account, ctx), now).await?;
        tx.commit().await?;
        Ok(ResetOutcome::Done)
    }

    async fn refused(&self, account: Option<AccountId>, reason: &str, ctx: &RequestContext) -> Result<(), AuthError> {
        let event = AuditEvent::new(AuditAction::ResetRefused, Outcome::Failure, account, ctx)
            .with_details(serde_json::json!({ "reason": reason }));
        self.deps.audit(event).await
    }
}
