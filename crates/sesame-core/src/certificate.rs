//! Signing in with a client certificate (the health professional's card, CPS, or an equivalent
//! software certificate), and pinning certificates to accounts.
//!
//! The web layer verifies the certificate (chain, dates, usages, revocation) and extracts its
//! [`CertificateIdentity`]; here it is mapped to an account: a certificate pinned by fingerprint
//! first, otherwise the national identifier (`idNat_PS`) read from the subject. The card is the
//! stronger factor: no temporary-password step.

use crate::accounts::{AccountError, AccountService};
use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::deps::Deps;
use crate::error::AuthError;
use crate::mail::{MailMessage, OutboxMail};
use crate::model::{Account, AccountId, AccountStatus};
use crate::session::AuthMethod;
use crate::sessions::{OpenedSession, Sessions};
use crate::tokens::{ApiTokens, TokenPair};
use crate::types::NationalId;

/// What a verified certificate says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateIdentity {
    /// SHA-256 of the DER, lower-case hex.
    pub fingerprint: String,
    pub subject: String,
    pub national_id: Option<NationalId>,
}

#[derive(Debug)]
pub enum CertificateLogin {
    SignedIn(Box<OpenedSession>),
    Tokens(TokenPair),
    /// No active account is pinned to this certificate or holds its national identifier.
    NoAccount,
}

/// Where a certificate sign-in goes: a browser session, or a desktop application's tokens.
#[derive(Debug, Clone, Copy)]
pub enum Channel<'a> {
    Browser,
    Api { client: &'a str },
}

#[derive(Debug, Clone)]
pub struct Certificates {
    deps: Deps,
    sessions: Sessions,
    tokens: ApiTokens,
}

impl Certificates {
    pub fn new(deps: Deps, sessions: Sessions, tokens: ApiTokens) -> Self {
        Self { deps, sessions, tokens }
    }

    async fn account_of(&self, identity: &CertificateIdentity) -> Result<Option<Account>, AuthError> {
        if let Some(account) = self.deps.store.account_by_certificate(&identity.fingerprint).await? {
            return Ok(Some(account));
        }
        match &identity.national_id {
            Some(id) => Ok(self.deps.store.account_by_national_id(&id.id_nat_ps()).await?),
            None => Ok(None),
        }
    }

    /// Signs in with a verified certificate: a browser session, or a token pair.
    pub async fn sign_in(
        &self,
        identity: &CertificateIdentity,
        channel: Channel<'_>,
        ctx: &RequestContext,
    ) -> Result<CertificateLogin, AuthError> {
        let Some(account) = self.account_of(identity).await? else {
            self.refused("no_account", Some(identity), None, ctx).await?;
            return Ok(CertificateLogin::NoAccount);
        };
        if account.status != AccountStatus::Active {
            self.refused("account_disabled", Some(identity), Some(account.id), ctx).await?;
            return Ok(CertificateLogin::NoAccount);
        }
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        let (outcome, channel_name) = match channel {
            Channel::Browser => {
                let opened =
                    self.sessions.open_in(tx.as_mut(), &account, AuthMethod::Certificate, false, ctx, now).await?;
                (CertificateLogin::SignedIn(Box::new(opened)), "browser")
            }
            Channel::Api { client } => {
                let pair = self.tokens.issue_certificate_pair(tx.as_mut(), &account, client, ctx, now).await?;
                (CertificateLogin::Tokens(pair), "api")
            }
        };
        let details = serde_json::json!({ "method": "certificate", "channel": channel_name, "fingerprint": identity.fingerprint });
        let event =
            AuditEvent::about(AuditAction::LoginSucceeded, Outcome::Success, &account, ctx).with_details(details);
        tx.append_audit(&event, now).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Records a refused certificate (unknown, expired, revoked, unmapped…).
    pub async fn refused(
        &self,
        reason: &str,
        identity: Option<&CertificateIdentity>,
        account: Option<AccountId>,
        ctx: &RequestContext,
    ) -> Result<(), AuthError> {
        let details = serde_json::json!({
            "reason": reason,
            "subject": identity.map(|i| i.subject.as_str()),
            "fingerprint": identity.map(|i| i.fingerprint.as_str()),
        });
        self.deps
            .audit(
                AuditEvent::new(AuditAction::CertificateLoginRefused, Outcome::Failure, account, ctx)
                    .with_details(details),
            )
            .await
    }
}

impl AccountService {
    /// Pins (or, with `bind = false`, unpins) a certificate to an account and tells the holder.
    pub async fn pin_certificate(
        &self,
        account: &Account,
        fingerprint: &str,
        subject: &str,
        bind: bool,
        ctx: &RequestContext,
    ) -> Result<bool, AccountError> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let changed = if bind {
            tx.bind_certificate(account.id, fingerprint, subject, now).await?;
            true
        } else {
            tx.unbind_certificate(account.id, fingerprint).await?
        };
        if !changed {
            return Ok(false);
        }
        let message = MailMessage::CertificateBound {
            first_name: account.first_name.to_string(),
            last_name: account.last_name.to_string(),
            subject: subject.to_owned(),
            fingerprint: fingerprint.to_owned(),
            bound: bind,
        };
        tx.enqueue_mail(&OutboxMail::about(account, message), now).await?;
        let action = if bind { AuditAction::CertificateBound } else { AuditAction::CertificateUnbound };
        let details = serde_json::json!({ "fingerprint": fingerprint, "subject": subject });
        tx.append_audit(&AuditEvent::about(action, Outcome::Success, account, ctx).with_details(details), now).await?;
        tx.commit().await?;
        Ok(true)
    }
}
