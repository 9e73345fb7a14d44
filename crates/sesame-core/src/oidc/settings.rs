//! `[oidc]`: the OpenID Connect provider's settings.

use serde::{Deserialize, Serialize};
use time::Duration;

/// `[oidc]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct OidcSettings {
    /// How long a replaced signing key stays published in the JWK Set (hours): the tokens it
    /// signed must still verify, and an ID token is sent back at logout (`id_token_hint`)
    /// until the service's own session ends.
    pub key_retention_hours: u32,
    /// How long an access token and an ID token are valid (minutes).
    pub access_token_minutes: u32,
    /// How long a refresh token waits for its use (days). Each refresh gives a new one; without
    /// `offline_access` it also ends with the browser session it was issued in.
    pub refresh_token_days: u32,
}

impl Default for OidcSettings {
    fn default() -> Self {
        Self { key_retention_hours: 24, access_token_minutes: 10, refresh_token_days: 30 }
    }
}

impl OidcSettings {
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(1..=24 * 90).contains(&self.key_retention_hours) {
            out.push(("oidc.key_retention_hours", "must be between 1 and 2160 (90 days)".to_owned()));
        }
        if !(1..=60).contains(&self.access_token_minutes) {
            out.push(("oidc.access_token_minutes", "must be between 1 and 60".to_owned()));
        }
        if !(1..=365).contains(&self.refresh_token_days) {
            out.push(("oidc.refresh_token_days", "must be between 1 and 365".to_owned()));
        }
        out
    }

    pub fn access_token_lifetime(&self) -> Duration {
        Duration::minutes(i64::from(self.access_token_minutes))
    }

    pub fn refresh_token_lifetime(&self) -> Duration {
        Duration::days(i64::from(self.refresh_token_days))
    }

    pub fn key_retention(&self) -> Duration {
        Duration::hours(i64::from(self.key_retention_hours))
    }
}
