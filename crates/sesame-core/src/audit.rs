//! The audit trail: who did what to which account, when, from where, with what outcome.
//! Never a secret.

use serde::Serialize;
use std::fmt;
use time::OffsetDateTime;

use crate::model::{Account, AccountId};

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An operator at the command line (the operating-system user name).
    Cli(String),
    /// The account holder.
    Account(AccountId),
    /// Sésame itself (delivery worker, purges).
    System,
    /// Somebody not signed in.
    Anonymous,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cli(user) => write!(f, "cli:{user}"),
            Self::Account(id) => write!(f, "account:{id}"),
            Self::System => f.write_str("system"),
            Self::Anonymous => f.write_str("anonymous"),
        }
    }
}

/// Where a request came from; passed to every use case.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub actor: Actor,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The `X-Request-Id` of the HTTP request (also on error pages), to correlate logs.
    pub request_id: Option<String>,
}

impl RequestContext {
    pub fn cli() -> Self {
        let user = std::env::var("SUDO_USER")
            .or_else(|_| std::env::var("USER"))
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        Self { actor: Actor::Cli(user), ip: None, user_agent: None, request_id: None }
    }

    pub fn system() -> Self {
        Self { actor: Actor::System, ip: None, user_agent: None, request_id: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    AccountCreated,
    TemporaryPasswordIssued,
    AccountDisabled,
    AccountEnabled,
    MailSent,
    MailDeferred,
    MailDropped,
    LoginSucceeded,
    LoginFailed,
    LoginThrottled,
    LoginRefusedExpiredTemporary,
    PasswordChanged,
    PasswordChangeRefused,
    SessionEnded,
    Logout,
    RateLimited,
    ResetRequested,
    ResetCompleted,
    ResetRefused,
    CertificateLoginRefused,
    CertificateBound,
    CertificateUnbound,
    SecondFactorRequired,
    SecondFactorSucceeded,
    SecondFactorFailed,
    SecondFactorAdded,
    SecondFactorEnrolmentRefused,
    SecondFactorRemoved,
    RecoveryCodeUsed,
    RecoveryCodesRenewed,
    ClientCreated,
    ClientSecretRotated,
    ClientDeleted,
    SigningKeysGenerated,
    SigningKeyRemoved,
    ConsentGranted,
    ConsentDenied,
    ConsentWithdrawn,
    AuthorizationCodeIssued,
    OidcTokensIssued,
    OidcTokensRefreshed,
    OidcCodeReused,
    OidcRefreshReused,
    OidcTokenRevoked,
    BackchannelLogoutSent,
    BackchannelLogoutDeferred,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccountCreated => "account_created",
            Self::TemporaryPasswordIssued => "temporary_password_issued",
            Self::AccountDisabled => "account_disabled",
            Self::AccountEnabled => "account_enabled",
            Self::MailSent => "mail_sent",
            Self::MailDeferred => "mail_deferred",
            Self::MailDropped => "mail_dropped",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::LoginThrottled => "login_throttled",
            Self::LoginRefusedExpiredTemporary => "login_refused_expired_temporary_password",
            Self::PasswordChanged => "password_changed",
            Self::PasswordChangeRefused => "password_change_refused",
            Self::SessionEnded => "session_ended",
            Self::Logout => "logout",
            Self::RateLimited => "rate_limited",
            Self::ResetRequested => "reset_requested",
            Self::ResetCompleted => "reset_completed",
            Self::ResetRefused => "reset_refused",
            Self::CertificateLoginRefused => "certificate_login_refused",
            Self::CertificateBound => "certificate_bound",
            Self::CertificateUnbound => "certificate_unbound",
            Self::SecondFactorRequired => "second_factor_required",
            Self::SecondFactorSucceeded => "second_factor_succeeded",
            Self::SecondFactorFailed => "second_factor_failed",
            Self::SecondFactorAdded => "second_factor_added",
            Self::SecondFactorEnrolmentRefused => "second_factor_enrolment_refused",
            Self::SecondFactorRemoved => "second_factor_removed",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::RecoveryCodesRenewed => "recovery_codes_renewed",
            Self::ClientCreated => "oidc_client_created",
            Self::ClientSecretRotated => "oidc_client_secret_rotated",
            Self::ClientDeleted => "oidc_client_deleted",
            Self::SigningKeysGenerated => "oidc_signing_keys_generated",
            Self::SigningKeyRemoved => "oidc_signing_key_removed",
            Self::ConsentGranted => "oidc_consent",
            Self::ConsentDenied => "oidc_consent_denied",
            Self::ConsentWithdrawn => "oidc_consent_withdrawn",
            Self::AuthorizationCodeIssued => "oidc_code_issued",
            Self::OidcTokensIssued => "oidc_tokens_issued",
            Self::OidcTokensRefreshed => "oidc_tokens_refreshed",
            Self::OidcCodeReused => "oidc_code_reused",
            Self::OidcRefreshReused => "oidc_refresh_reused",
            Self::OidcTokenRevoked => "oidc_token_revoked",
            Self::BackchannelLogoutSent => "backchannel_logout_sent",
            Self::BackchannelLogoutDeferred => "backchannel_logout_deferred",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    /// Nothing was done on purpose (limit reached, unknown or disabled account).
    Ignored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Ignored => "ignored",
        }
    }
}

/// An event to append.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub action: AuditAction,
    pub outcome: Outcome,
    pub account_id: Option<AccountId>,
    /// The account's sign-in identifier, when the use case has the account at hand (for the log:
    /// the database joins it from `account_id`).
    pub identifier: Option<String>,
    pub context: RequestContext,
    /// Extra facts, never a secret (e.g. `{"reason": "created"}`).
    pub details: serde_json::Value,
}

impl AuditEvent {
    pub fn new(action: AuditAction, outcome: Outcome, account_id: Option<AccountId>, context: &RequestContext) -> Self {
        Self {
            action,
            outcome,
            account_id,
            identifier: None,
            context: context.clone(),
            details: serde_json::Value::Null,
        }
    }

    /// An event about `account`, known by its id and its identifier.
    pub fn about(action: AuditAction, outcome: Outcome, account: &Account, context: &RequestContext) -> Self {
        Self {
            identifier: Some(account.identifier.to_string()),
            ..Self::new(action, outcome, Some(account.id), context)
        }
    }

    /// An event about an account if there is one (a failure may name nobody).
    pub fn about_maybe(
        action: AuditAction,
        outcome: Outcome,
        account: Option<&Account>,
        context: &RequestContext,
    ) -> Self {
        match account {
            Some(account) => Self::about(action, outcome, account, context),
            None => Self::new(action, outcome, None, context),
        }
    }

    /// Emits the event as one structured log line, target `audit`, once it is durable (the store
    /// calls this after the commit). With `log.format = "json"` it is one JSON object per event;
    /// `audit.log = false` filters the target out. Never a secret: the details are the ones the
    /// trail keeps, and the trail holds no password, token or full e-mail address.
    pub fn log(&self) {
        let details = if self.details.is_null() { String::new() } else { self.details.to_string() };
        tracing::info!(
            target: "audit",
            kind = self.action.as_str(),
            outcome = self.outcome.as_str(),
            actor = %self.context.actor,
            account_id = self.account_id.map(|a| a.0),
            account = self.identifier.as_deref(),
            ip = self.context.ip.as_deref(),
            request_id = self.context.request_id.as_deref(),
            details = %details,
            "audit event"
        );
    }

    #[must_use]
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// An event as read back from the trail.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub action: String,
    pub outcome: String,
    pub actor: String,
    pub account_id: Option<i64>,
    pub account_identifier: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Value,
    pub request_id: Option<String>,
}

/// Filters of `sesame audit`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub account_id: Option<AccountId>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub limit: Option<u32>,
}
