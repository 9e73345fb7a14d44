//! Sessions, throttling counters and captcha challenges as the store keeps them.

use time::OffsetDateTime;

use crate::model::AccountId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub i64);

/// How the user proved who they are (kept for later `amr`/`acr` claims).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Password,
    Certificate,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Certificate => "certificate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "password" => Some(Self::Password),
            "certificate" => Some(Self::Certificate),
            _ => None,
        }
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
