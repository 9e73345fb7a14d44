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
}

impl Default for OidcSettings {
    fn default() -> Self {
        Self { key_retention_hours: 24 }
    }
}

impl OidcSettings {
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(1..=24 * 90).contains(&self.key_retention_hours) {
            out.push(("oidc.key_retention_hours", "must be between 1 and 2160 (90 days)".to_owned()));
        }
        out
    }

    pub fn key_retention(&self) -> Duration {
        Duration::hours(i64::from(self.key_retention_hours))
    }
}
