//! What the store keeps, as domain types.

use std::fmt;
use time::OffsetDateTime;

use crate::types::{Email, Identifier, NationalId, PersonName};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub i64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Disabled,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub identifier: Identifier,
    pub email: Email,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub national_id: Option<NationalId>,
    pub status: AccountStatus,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Account {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// An account about to be inserted.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub identifier: Identifier,
    pub email: Email,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub national_id: Option<NationalId>,
}

/// The account's password, as stored: a PHC string, and whether it is a temporary one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordCredential {
    pub phc: String,
    /// `Some(expiry)` while the password is a temporary one issued by support.
    pub temporary_until: Option<OffsetDateTime>,
    pub changed_at: OffsetDateTime,
}

impl PasswordCredential {
    pub fn is_temporary(&self) -> bool {
        self.temporary_until.is_some()
    }
}

/// Filters of `account list`.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    pub status: Option<AccountStatus>,
    /// Case-insensitive substring of identifier, e-mail or names.
    pub search: Option<String>,
    pub limit: Option<u32>,
}

/// Which unique field a conflicting insert collided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    Identifier,
    Email,
    NationalId,
    Certificate,
}

impl fmt::Display for UniqueField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Identifier => "identifier",
            Self::Email => "e-mail address",
            Self::NationalId => "national identifier",
            Self::Certificate => "certificate (already pinned to an account)",
        })
    }
}
