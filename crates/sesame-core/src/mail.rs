//! E-mails decided by the domain. The store keeps them in the outbox, in the same transaction as
//! the change that caused them; the delivery worker (`sesame-mail`) renders and sends them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::keys::OpenError;
use crate::model::AccountId;
use crate::types::Email;

/// Why a temporary password was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueReason {
    AccountCreated,
    PasswordReset,
}

/// What to tell; each kind has its templates in `sesame-mail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MailMessage {
    /// First of the two separate e-mails: the sign-in identifier.
    IdentifierIssued { first_name: String, last_name: String, identifier: String, reason: IssueReason },
    /// Second one: the temporary password and its validity.
    TemporaryPassword {
        first_name: String,
        last_name: String,
        temporary_password: String,
        #[serde(with = "time::serde::rfc3339")]
        valid_until: OffsetDateTime,
        valid_days: u32,
        reason: IssueReason,
    },
    /// "Une demande de changement de mot de passe sur votre compte a été demandée…" with the link.
    ResetLink { first_name: String, last_name: String, link: String, valid_minutes: u32 },
    /// "Votre changement de mot de passe a bien été pris en compte…" (any path).
    PasswordChanged {
        first_name: String,
        last_name: String,
        #[serde(with = "time::serde::rfc3339")]
        changed_at: OffsetDateTime,
    },
    /// A successful sign-in right after several failures.
    LoginAfterFailures {
        first_name: String,
        last_name: String,
        failures: u32,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        ip: Option<String>,
    },
    /// A client certificate was pinned to the account (or removed).
    CertificateBound { first_name: String, last_name: String, subject: String, fingerprint: String, bound: bool },
    /// A second factor was added or removed, a recovery code used, a new batch issued.
    SecondFactor {
        first_name: String,
        last_name: String,
        change: FactorChange,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        ip: Option<String>,
    },
    /// `sesame mail test`.
    Test,
}

/// What happened to an account's second factors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FactorChange {
    /// `kind` as pages name it ("application d'authentification"), `name` the holder's.
    Added {
        kind: String,
        name: String,
    },
    Removed {
        kind: String,
        name: String,
        by_support: bool,
    },
    RecoveryCodeUsed {
        remaining: u32,
    },
    RecoveryCodesRenewed,
    /// A key's counter went backwards at a sign-in, which was refused: it may have been cloned.
    KeyPossiblyCloned {
        name: String,
    },
}

/// Replaces what a delivered message must not keep at rest.
pub const REDACTED: &str = "[effacé après envoi]";

impl MailMessage {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::IdentifierIssued { .. } => "identifier_issued",
            Self::TemporaryPassword { .. } => "temporary_password",
            Self::ResetLink { .. } => "reset_link",
            Self::PasswordChanged { .. } => "password_changed",
            Self::LoginAfterFailures { .. } => "login_after_failures",
            Self::CertificateBound { .. } => "certificate_bound",
            Self::SecondFactor { .. } => "second_factor",
            Self::Test => "test",
        }
    }

    /// The message with its secrets removed: what the outbox keeps once it is sent.
    #[must_use]
    pub fn redacted(&self) -> Self {
        match self {
            Self::TemporaryPassword { first_name, last_name, valid_until, valid_days, reason, .. } => {
                Self::TemporaryPassword {
                    first_name: first_name.clone(),
                    last_name: last_name.clone(),
                    temporary_password: REDACTED.into(),
                    valid_until: *valid_until,
                    valid_days: *valid_days,
                    reason: *reason,
                }
            }
            Self::ResetLink { first_name, last_name, valid_minutes, .. } => Self::ResetLink {
                first_name: first_name.clone(),
                last_name: last_name.clone(),
                link: REDACTED.into(),
                valid_minutes: *valid_minutes,
            },
            other => other.clone(),
        }
    }
}

impl MailMessage {
    /// What of the message must never rest in clear (the outbox seals it): the temporary
    /// password, the reset link. `None` for messages without a secret.
    pub fn secret(&self) -> Option<&str> {
        match self {
            Self::TemporaryPassword { temporary_password, .. } => Some(temporary_password),
            Self::ResetLink { link, .. } => Some(link),
            _ => None,
        }
    }

    /// The message with its secret put back, once opened ([`MailMessage::secret`]'s inverse on a
    /// redacted message).
    #[must_use]
    pub fn with_secret(mut self, secret: String) -> Self {
        match &mut self {
            Self::TemporaryPassword { temporary_password, .. } => *temporary_password = secret,
            Self::ResetLink { link, .. } => *link = secret,
            _ => {}
        }
        self
    }

    /// The additional data a queued message's secret is sealed with: it opens only in a row of
    /// the same kind for the same recipient.
    pub fn sealing_context(kind: &str, recipient: &str) -> Vec<u8> {
        format!("sesame/outbox/v1/{kind}/{recipient}").into_bytes()
    }
}

/// An e-mail to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    /// The account the message is about, if any (for the audit trail).
    pub account_id: Option<AccountId>,
    pub to: Email,
    pub to_name: String,
    pub message: MailMessage,
}

impl OutboxMail {
    /// An e-mail about `account`, to its address.
    pub fn about(account: &crate::model::Account, message: MailMessage) -> Self {
        Self { account_id: Some(account.id), to: account.email.clone(), to_name: account.display_name(), message }
    }
}

/// An e-mail claimed from the outbox for delivery.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: i64,
    pub account_id: Option<AccountId>,
    /// [`MailMessage::kind`], known even when the message cannot be opened.
    pub kind: String,
    pub to: String,
    pub to_name: String,
    /// The message, its secret opened; or why it cannot be (its key is not in the ring): such
    /// a message is dropped, never sent garbled.
    pub message: Result<MailMessage, OpenError>,
    pub attempts: u32,
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn redaction_removes_the_temporary_password_only() {
        let m = MailMessage::TemporaryPassword {
            first_name: "Jeanne".into(),
            last_name: "Dupont".into(),
            temporary_password: "s3cr3tXXXXXXXXXXXXXX".into(),
            valid_until: datetime!(2026-12-01 10:00 UTC),
            valid_days: 7,
            reason: IssueReason::AccountCreated,
        };
        let json = serde_json::to_string(&m.redacted()).expect("json");
        assert!(!json.contains("s3cr3t"));
        assert!(json.contains("Jeanne"));
        assert_eq!(m.secret(), Some("s3cr3tXXXXXXXXXXXXXX"));
        assert_eq!(m.redacted().with_secret("s3cr3tXXXXXXXXXXXXXX".into()), m, "the secret goes back in place");
        assert_eq!(MailMessage::Test.secret(), None);
    }
}
