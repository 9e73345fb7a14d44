//! What every use case needs, shared by the services of [`crate::services::Services`]: the
//! store, the clock, the hasher, and what the portal is (branding, password policy).

use std::sync::Arc;
use time::OffsetDateTime;

use crate::audit::AuditEvent;
use crate::branding::Branding;
use crate::clock::Clock;
use crate::error::AuthError;
use crate::hashing::PasswordHasher;
use crate::policy::PasswordPolicy;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct Deps {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) hasher: PasswordHasher,
    pub(crate) policy: PasswordPolicy,
    pub(crate) branding: Branding,
}

impl Deps {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        branding: Branding,
    ) -> Self {
        Self { store, clock, hasher, policy, branding }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub fn policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// Records an event that changes nothing else, in a statement of its own.
    pub(crate) async fn audit(&self, event: AuditEvent) -> Result<(), AuthError> {
        Ok(self.store.append_audit(&event, self.clock.now()).await?)
    }
}
