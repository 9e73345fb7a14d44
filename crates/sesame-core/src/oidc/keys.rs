//! The keys that sign ID tokens and logout tokens, and their life: one ES256 and one RS256 key
//! sign at a time; a new key is published in the JWK Set before it signs (relying parties cache
//! the set), and a key replaced stays published until every token it signed has expired.
//!
//! Keys live in the store, sealed under the key ring; every node reads them from there, so a
//! rotation made on one node reaches the others at their next reload (at most a minute).

use std::sync::{Arc, RwLock};
use time::{Duration, OffsetDateTime};

use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::deps::Deps;
use crate::error::AuthError;
use crate::oidc::OidcSettings;
use crate::signing::{self, Alg, Signer, SigningError};
use crate::store::StoredSigningKey;

/// How often a node reads the keys again, at most, when nothing it knows of is due to change.
const RELOAD_EVERY: Duration = Duration::minutes(1);
/// How long relying parties may keep the JWK Set (its `Cache-Control`): a new key must be
/// published for longer than this before it signs.
pub const JWKS_MAX_AGE: Duration = Duration::minutes(10);

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published; signs from its `active_from`.
    Next,
    /// The key of its algorithm that signs now.
    Signing,
    /// Replaced: still published, so that the tokens it signed verify, until then.
    Retired { remove_after: OffsetDateTime },
    /// The key ring cannot open it (its sealing key was pruned): never used nor published.
    Unreadable,
}

#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: Alg,
    pub created_at: OffsetDateTime,
    pub active_from: OffsetDateTime,
    pub state: KeyState,
}

/// The keys as a node uses them: the signer of each algorithm and the JWK Set it publishes.
#[derive(Debug)]
pub struct KeySet {
    signing: Vec<Arc<Signer>>,
    published: Vec<Arc<Signer>>,
    jwks: String,
    loaded_at: OffsetDateTime,
    /// When a key starts signing or stops being published: the set must be read again then.
    next_change: Option<OffsetDateTime>,
}

impl KeySet {
    /// The key that signs with `alg` now, if there is one.
    pub fn signer(&self, alg: Alg) -> Option<&Arc<Signer>> {
        self.signing.iter().find(|s| s.alg() == alg)
    }

    /// A published key by its `kid` (to verify a token Sésame signed).
    pub fn published(&self, kid: &str) -> Option<&Arc<Signer>> {
        self.published.iter().find(|s| s.kid() == kid)
    }

    /// The claims of a token Sésame signed with a key still published (an ID token sent back
    /// as `id_token_hint`), whatever its expiry; `None` for anything else, `alg=none` included.
    pub fn verify(&self, token: &str) -> Option<serde_json::Value> {
        let jws = signing::Jws::parse(token)?;
        let signer = self.published(jws.header["kid"].as_str()?)?;
        let alg_matches = jws.header["alg"].as_str() == Some(signer.alg().as_str());
        (alg_matches && signer.verifies(jws.signed.as_bytes(), &jws.signature)).then_some(jws.claims)
    }

    /// The JWK Set document (`/oidc/jwks`).
    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    fn fresh(&self, now: OffsetDateTime) -> bool {
        now < self.loaded_at + RELOAD_EVERY && self.next_change.is_none_or(|at| now < at)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no signing key '{0}'")]
    Unknown(String),
    #[error("key '{0}' signs now: rotate first (`sesame keys rotate --now`), then remove it")]
    Signing(String),
    #[error(transparent)]
    Generate(#[from] SigningError),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<crate::store::StoreError> for KeyError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Auth(e.into())
    }
}

#[derive(Debug, Clone)]
pub struct SigningKeys {
    deps: Deps,
    /// How long a replaced key stays published.
    retention: Duration,
    cache: Arc<RwLock<Option<Arc<KeySet>>>>,
}

impl SigningKeys {
    pub fn new(deps: Deps, settings: &OidcSettings) -> Self {
        Self { deps, retention: settings.key_retention(), cache: Arc::new(RwLock::new(None)) }
    }

    /// The keys to sign and publish with, read from the store at most once a minute (and when a
    /// key is due to start signing or to be withdrawn).
    pub async fn current(&self) -> Result<Arc<KeySet>, AuthError> {
        let now = self.deps.now();
        let cached = self.cache.read().map(|c| c.clone()).unwrap_or_else(|p| p.into_inner().clone());
        if let Some(set) = cached.filter(|s| s.fresh(now)) {
            return Ok(set);
        }
        let set = Arc::new(self.load(now).await?);
        match self.cache.write() {
            Ok(mut c) => *c = Some(Arc::clone(&set)),
            Err(p) => *p.into_inner() = Some(Arc::clone(&set)),
        }
        Ok(set)
    }

    /// Every key and where it is in its life, oldest first.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, AuthError> {
        let stored = self.deps.store.signing_keys().await?;
        Ok(infos(&stored, self.deps.now(), self.retention))
    }

    /// Generates a key for each algorithm that has none signing (the first start), signing at
    /// once: no relying party can hold a cached set without it. Returns what was generated.
    pub async fn ensure(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let now = self.deps.now();
        let keys = self.list().await?;
        let missing: Vec<Alg> = Alg::ALL
            .into_iter()
            .filter(|&alg| !keys.iter().any(|k| k.alg == alg && k.state == KeyState::Signing))
            .collect();
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        self.generate(&missing, now, &RequestContext::system()).await
    }

    /// A new key of each algorithm, published now and signing after `activate_in` (zero after a
    /// compromise: relying parties that cached the set fetch it again on the unknown `kid`).
    pub async fn rotate(&self, activate_in: Duration, ctx: &RequestContext) -> Result<Vec<KeyInfo>, KeyError> {
        self.generate(&Alg::ALL, self.deps.now() + activate_in, ctx).await
    }

    /// Withdraws a key at once (it leaked): tokens it signed no longer verify. The key signing
    /// now cannot be removed; rotate first.
    pub async fn remove(&self, kid: &str, ctx: &RequestContext) -> Result<KeyInfo, KeyError> {
        let key = self.list().await?.into_iter().find(|k| k.kid == kid).ok_or_else(|| KeyError::Unknown(kid.into()))?;
        if key.state == KeyState::Signing {
            return Err(KeyError::Signing(kid.to_owned()));
        }
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        if !tx.delete_signing_key(kid).await? {
            return Err(KeyError::Unknown(kid.to_owned()));
        }
        tx.append_audit(&key_event(AuditAction::SigningKeyRemoved, &[&key], ctx), now).await?;
        tx.commit().await?;
        self.forget();
        Ok(key)
    }

    /// Removes the keys replaced for longer than the retention; returns how many.
    pub async fn prune(&self) -> Result<u64, AuthError> {
        let now = self.deps.now();
        let due: Vec<KeyInfo> = self
            .list()
            .await?
            .into_iter()
            .filter(|k| matches!(k.state, KeyState::Retired { remove_after } if remove_after <= now))
            .collect();
        if due.is_empty() {
            return Ok(0);
        }
        let mut tx = self.deps.store.begin().await?;
        for key in &due {
            tx.delete_signing_key(&key.kid).await?;
        }
        let keys: Vec<&KeyInfo> = due.iter().collect();
        tx.append_audit(&key_event(AuditAction::SigningKeyRemoved, &keys, &RequestContext::system()), now).await?;
        tx.commit().await?;
        self.forget();
        Ok(due.len() as u64)
    }

    async fn generate(
        &self,
        algs: &[Alg],
        active_from: OffsetDateTime,
        ctx: &RequestContext,
    ) -> Result<Vec<KeyInfo>, KeyError> {
        let mut made = Vec::new();
        for &alg in algs {
            // An RSA key takes a good part of a second to find: off the async threads.
            let pkcs8 = tokio::task::spawn_blocking(move || signing::generate(alg))
                .await
                .map_err(|e| SigningError::Generate(alg.as_str(), e.to_string()))??;
            let signer = Signer::from_pkcs8(alg, &pkcs8)?;
            made.push((signer.kid().to_owned(), alg, pkcs8));
        }
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        for (kid, alg, pkcs8) in &made {
            tx.insert_signing_key(kid, *alg, pkcs8, active_from, now).await?;
        }
        let infos: Vec<KeyInfo> = made
            .into_iter()
            .map(|(kid, alg, _)| KeyInfo {
                kid,
                alg,
                created_at: now,
                active_from,
                state: if active_from <= now { KeyState::Signing } else { KeyState::Next },
            })
            .collect();
        tx.append_audit(&key_event(AuditAction::SigningKeysGenerated, &infos.iter().collect::<Vec<_>>(), ctx), now)
            .await?;
        tx.commit().await?;
        self.forget();
        Ok(infos)
    }

    async fn load(&self, now: OffsetDateTime) -> Result<KeySet, AuthError> {
        let stored = self.deps.store.signing_keys().await?;
        let infos = infos(&stored, now, self.retention);
        let mut set = KeySet {
            signing: Vec::new(),
            published: Vec::new(),
            jwks: String::new(),
            loaded_at: now,
            next_change: None,
        };
        for (key, info) in stored.iter().zip(&infos) {
            let change = match info.state {
                KeyState::Next => Some(info.active_from),
                KeyState::Retired { remove_after } if remove_after > now => Some(remove_after),
                KeyState::Signing => None,
                KeyState::Retired { .. } | KeyState::Unreadable => continue,
            };
            let Some(signer) = open(key) else { continue };
            set.next_change = match (set.next_change, change) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if info.state == KeyState::Signing {
                set.signing.push(Arc::clone(&signer));
            }
            set.published.push(signer);
        }
        set.jwks = signing::jwk_set(set.published.iter().map(AsRef::as_ref)).to_string();
        Ok(set)
    }

    /// Drops the cached set: this node reads the keys again on its next use.
    fn forget(&self) {
        match self.cache.write() {
            Ok(mut c) => *c = None,
            Err(p) => *p.into_inner() = None,
        }
    }
}

fn open(key: &StoredSigningKey) -> Option<Arc<Signer>> {
    use secrecy::ExposeSecret as _;
    let pkcs8 = key.pkcs8.as_ref().ok()?;
    match Signer::from_pkcs8(key.alg, pkcs8.expose_secret()) {
        Ok(signer) if signer.kid() == key.kid => Some(Arc::new(signer)),
        Ok(_) | Err(_) => {
            tracing::error!(kid = %key.kid, "a stored signing key does not match its kid: not used");
            None
        }
    }
}

/// Where each key is in its life at `now`, in the order given (oldest first). Of each
/// algorithm's readable keys, the one with the latest `active_from` not after `now` signs; a
/// key before it was replaced when its successor started signing.
pub fn infos(stored: &[StoredSigningKey], now: OffsetDateTime, retention: Duration) -> Vec<KeyInfo> {
    let mut states: Vec<KeyState> =
        stored.iter().map(|k| if k.pkcs8.is_err() { KeyState::Unreadable } else { KeyState::Next }).collect();
    for alg in Alg::ALL {
        let mut order: Vec<usize> =
            (0..stored.len()).filter(|&i| stored[i].alg == alg && states[i] != KeyState::Unreadable).collect();
        order.sort_by_key(|&i| (stored[i].active_from, i));
        let started: Vec<usize> = order.into_iter().filter(|&i| stored[i].active_from <= now).collect();
        for pair in started.windows(2) {
            states[pair[0]] = KeyState::Retired { remove_after: stored[pair[1]].active_from + retention };
        }
        if let Some(&last) = started.last() {
            states[last] = KeyState::Signing;
        }
    }
    stored
        .iter()
        .zip(states)
        .map(|(k, state)| KeyInfo {
            kid: k.kid.clone(),
            alg: k.alg,
            created_at: k.created_at,
            active_from: k.active_from,
            state,
        })
        .collect()
}

fn key_event(action: AuditAction, keys: &[&KeyInfo], ctx: &RequestContext) -> AuditEvent {
    let keys: Vec<_> = keys
        .iter()
        .map(|k| serde_json::json!({ "kid": k.kid, "alg": k.alg.as_str(), "active_from": k.active_from.unix_timestamp() }))
        .collect();
    AuditEvent::new(action, Outcome::Success, None, ctx).with_details(serde_json::json!({ "keys": keys }))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::keys::OpenError;
    use secrecy::SecretSlice;

    fn key(alg: Alg, active_from: i64, readable: bool) -> StoredSigningKey {
        StoredSigningKey {
            kid: format!("{}-{active_from}", alg.as_str()),
            alg,
            pkcs8: if readable { Ok(SecretSlice::from(vec![1])) } else { Err(OpenError::Corrupt) },
            created_at: OffsetDateTime::from_unix_timestamp(0).unwrap(),
            active_from: OffsetDateTime::from_unix_timestamp(active_from).unwrap(),
        }
    }

    #[test]
    fn the_latest_started_key_of_each_algorithm_signs_and_the_one_it_replaced_is_kept_for_the_retention() {
        let at = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
        let keys = [
            key(Alg::Es256, 0, true),
            key(Alg::Rs256, 0, true),
            key(Alg::Es256, 100, true),
            key(Alg::Es256, 200, true),
        ];
        let states: Vec<KeyState> = infos(&keys, at(150), Duration::seconds(60)).into_iter().map(|k| k.state).collect();
        assert_eq!(
            states,
            [KeyState::Retired { remove_after: at(160) }, KeyState::Signing, KeyState::Signing, KeyState::Next]
        );
        let states: Vec<KeyState> = infos(&keys, at(200), Duration::seconds(60)).into_iter().map(|k| k.state).collect();
        assert_eq!(
            states,
            [
                KeyState::Retired { remove_after: at(160) },
                KeyState::Signing,
                KeyState::Retired { remove_after: at(260) },
                KeyState::Signing
            ]
        );
    }

    #[test]
    fn a_key_the_ring_cannot_open_never_signs_and_replaces_nothing() {
        let at = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
        let keys = [key(Alg::Es256, 0, true), key(Alg::Es256, 100, false)];
        let states: Vec<KeyState> = infos(&keys, at(150), Duration::seconds(60)).into_iter().map(|k| k.state).collect();
        assert_eq!(states, [KeyState::Signing, KeyState::Unreadable]);
    }
}
