//! Per-client-address limits on what can be tried many times: sign-in, "Mot de passe oublié",
//! the desktop API, violation reports. Counted in the database, so every node shares them.

use time::Duration;

use crate::deps::Deps;
use crate::error::AuthError;
use crate::throttle::ThrottleSettings;

/// The window of every per-address limit: so many attempts a minute.
pub const ADDRESS_WINDOW: Duration = Duration::minutes(1);

/// What an address is trying; each has its own counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Login,
    Reset,
    Api,
    CspReport,
}

impl Attempt {
    fn bucket(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Reset => "reset",
            Self::Api => "api",
            Self::CspReport => "csp",
        }
    }
}

/// An address over its limit, and when it may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverLimit {
    /// Seconds until the window ends, for `Retry-After`.
    pub retry_after: i64,
}

#[derive(Debug, Clone)]
pub struct AddressLimits {
    deps: Deps,
    settings: ThrottleSettings,
}

impl AddressLimits {
    pub fn new(deps: Deps, settings: ThrottleSettings) -> Self {
        Self { deps, settings }
    }

    /// Counts one attempt from `ip`; `Err(OverLimit)` when it is past the per-minute limit.
    pub async fn hit(&self, attempt: Attempt, ip: &str) -> Result<Result<(), OverLimit>, AuthError> {
        if !self.settings.enabled {
            return Ok(Ok(()));
        }
        let bucket = format!("{}:{ip}", attempt.bucket());
        let hits = self.deps.store.hit_rate_limit(&bucket, self.deps.now(), ADDRESS_WINDOW).await?;
        Ok(if hits > self.settings.per_address_per_minute {
            Err(OverLimit { retry_after: ADDRESS_WINDOW.whole_seconds() })
        } else {
            Ok(())
        })
    }
}
