//! Sessions, throttling counters and captcha challenges as the store keeps them.

use time::OffsetDateTime;

use crate::model::AccountId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub i64);

/// How the user proved who they are: shown in "Mon compte" and the audit trail, and what the
/// OpenID Connect provider turns into `amr` (RFC 8176) and `acr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A password alone.
    Password,
    /// A password, then a code of an authenticator app.
    PasswordTotp,
    /// A password, then one of the recovery codes.
    PasswordRecoveryCode,
    /// A password, then a security key bound to its hardware.
    PasswordHardwareKey,
    /// A password, then a passkey that can be copied between devices (synced).
    PasswordSoftwareKey,
    /// A client certificate: the card and its PIN, two factors already.
    Certificate,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::PasswordTotp => "password+totp",
            Self::PasswordRecoveryCode => "password+recovery_code",
            Self::PasswordHardwareKey => "password+hwk",
            Self::PasswordSoftwareKey => "password+swk",
            Self::Certificate => "certificate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "password" => Some(Self::Password),
            "password+totp" => Some(Self::PasswordTotp),
            "password+recovery_code" => Some(Self::PasswordRecoveryCode),
            "password+hwk" => Some(Self::PasswordHardwareKey),
            "password+swk" => Some(Self::PasswordSoftwareKey),
            "certificate" => Some(Self::Certificate),
            _ => None,
        }
    }

    /// The RFC 8176 method references: `pwd`, `otp` (an app's code or a single-use recovery
    /// code), `hwk` or `swk` for a key (bound to its hardware or not), `sc` and `pin` for the
    /// card, and `mfa` whenever two factors were used.
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            Self::Password => &["pwd"],
            Self::PasswordTotp | Self::PasswordRecoveryCode => &["pwd", "otp", "mfa"],
            Self::PasswordHardwareKey => &["pwd", "hwk", "mfa"],
            Self::PasswordSoftwareKey => &["pwd", "swk", "mfa"],
            // The card holds its key in hardware (hwk), a smart card (sc), unlocked by its PIN.
            Self::Certificate => &["hwk", "sc", "pin", "mfa"],
        }
    }

    /// Whether two factors were used.
    pub fn is_multi_factor(self) -> bool {
        self.amr().contains(&"mfa")
    }
}

/// A session to open. The token itself never reaches the store: only its digest.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: Vec<u8>,
    pub account_id: AccountId,
    pub auth_method: AuthMethod,
    /// Opened with a temporary password: nothing but setting a personal one is allowed.
    pub must_change_password: bool,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: OffsetDateTime,
    pub idle_expires_at: OffsetDateTime,
    pub absolute_expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub account_id: AccountId,
    pub auth_method: AuthMethod,
    pub must_change_password: bool,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub idle_expires_at: OffsetDateTime,
    pub absolute_expires_at: OffsetDateTime,
}

/// Failed sign-ins of one identifier (known or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleState {
    pub consecutive_failures: u32,
    pub window_started_at: Option<OffsetDateTime>,
    pub window_failures: u32,
    pub blocked_until: Option<OffsetDateTime>,
}

/// What an API token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Short-lived bearer token for `/api/v1`.
    Access,
    /// Long-lived, single-use, rotated at each refresh; a reuse revokes its whole family.
    Refresh,
    /// Single-use ticket allowing only to replace a temporary password.
    ChangeTicket,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
            Self::ChangeTicket => "change_ticket",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "access" => Some(Self::Access),
            "refresh" => Some(Self::Refresh),
            "change_ticket" => Some(Self::ChangeTicket),
            _ => None,
        }
    }
}

/// A token to store: only its digest.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub token_hash: Vec<u8>,
    pub account_id: AccountId,
    pub kind: TokenKind,
    /// Tokens of one sign-in share a family (one line in "Mon compte").
    pub family: String,
    pub client_name: Option<String>,
    pub auth_method: AuthMethod,
    pub ip: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub account_id: AccountId,
    pub kind: TokenKind,
    pub family: String,
    pub client_name: Option<String>,
    pub auth_method: AuthMethod,
    pub ip: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiToken {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.used_at.is_none() && self.revoked_at.is_none() && self.expires_at > now
    }
}
