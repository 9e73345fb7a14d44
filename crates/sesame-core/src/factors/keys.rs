//! Security keys and passkeys (WebAuthn) as a second factor, with `webauthn-rs`'s security-key
//! ceremony: user verification preferred, no attestation asked, any authenticator (a USB or NFC
//! key, a phone, a synced passkey). A key is named and registered from "Mon compte" after the
//! password is typed again; at the second step (or to remove a factor) it signs the challenge of
//! the account's live key challenge.
//!
//! The relying party is the host of `public_url`: a browser refuses WebAuthn on an IP address,
//! and off `https` anywhere but `localhost`, so keys are offered only where they can work (`config
//! check` says why not otherwise). As the crate advises, a counter that goes backwards refuses the
//! sign-in and warns the holder that the key may have been cloned; a credential is stored again
//! after each use (counter, backup state).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, SecurityKey,
    SecurityKeyAuthentication, SecurityKeyRegistration, Url, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

use super::step::UsedProof;
use super::{ConfirmOutcome, Enrolled, SecondFactors, factor_name};
use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::error::AuthError;
use crate::factor::{FactorId, FactorKind};
use crate::mail::{FactorChange, OutboxMail};
use crate::model::Account;
use crate::secret::digest;
use crate::sessions::SignedIn;
use crate::types::Password;

/// How long a key's challenge (second step, removal) and a registration stay good.
const CEREMONY: Duration = Duration::minutes(5);

/// The relying party security keys use with this `public_url`, or why keys are not offered
/// there (for the operator: `sesame config check` prints it).
pub fn relying_party(public_url: &str, portal_name: &str) -> Result<Arc<Webauthn>, String> {
    let url = Url::parse(public_url).map_err(|e| format!("is not a valid address ({e})"))?;
    let Some(domain) = url.domain() else {
        return Err("is an IP address: browsers accept security keys only on a domain name".into());
    };
    if url.scheme() != "https" && domain != "localhost" {
        return Err("is not HTTPS: browsers accept security keys only over HTTPS (or on localhost)".into());
    }
    let domain = domain.to_owned();
    let built = WebauthnBuilder::new(&domain, &url).and_then(|b| b.rp_name(portal_name).build());
    built.map(Arc::new).map_err(|e| format!("does not suit security keys ({e})"))
}

/// A key being registered: what its page hands to the browser.
#[derive(Debug, Clone)]
pub struct KeyEnrolment {
    pub factor: FactorId,
    pub name: String,
    /// `PublicKeyCredentialCreationOptions` as JSON (binary fields in base64url).
    pub options: String,
}

/// What a second step can be answered with (a recovery code always).
#[derive(Debug, Clone)]
pub struct StepChoices {
    /// The account has an authenticator app.
    pub app: bool,
    /// The account has keys: the options of their fresh challenge.
    pub key_options: Option<String>,
}

#[derive(Debug)]
pub enum KeyStart {
    Started(KeyEnrolment),
    WrongPassword,
    /// Keys are not offered with this `public_url`.
    Unavailable,
}

/// What a waiting key's row holds (sealed): the crate's state and the options it goes with.
#[derive(Serialize, Deserialize)]
struct PendingKey {
    state: SecurityKeyRegistration,
    options: CreationChallengeResponse,
}

impl SecondFactors {
    /// Whether security keys are offered (see [`relying_party`]).
    pub fn keys_offered(&self) -> bool {
        self.webauthn.is_some()
    }

    /// Starts registering a key, after the password is typed again. The account's keys are
    /// excluded, so that the same key is not registered twice.
    pub async fn start_key(
        &self,
        signed_in: &SignedIn,
        password: &Password,
        name: &str,
        ctx: &RequestContext,
    ) -> Result<KeyStart, AuthError> {
        let Some(webauthn) = &self.webauthn else {
            return Ok(KeyStart::Unavailable);
        };
        let account = &signed_in.account;
        if !self.password_holds(account, password, ctx).await? {
            return Ok(KeyStart::WrongPassword);
        }
        let exclude = self.keys(account).await?.iter().map(|(_, key)| key.cred_id().clone()).collect();
        let (id, label) = (user_handle(account), account.identifier.as_str());
        let (mut options, state) = webauthn
            .start_securitykey_registration(id, label, &account.display_name(), Some(exclude), None, None)
            .map_err(|e| AuthError::Internal(format!("WebAuthn registration: {e}")))?;
        // Phones and passkeys are welcome too, not only keys plugged in.
        options.public_key.hints = None;
        // webauthn-rs asks credProtect "userVerificationRequired" while user verification is
        // only preferred; Chromium refuses that pair outright (NotSupportedError), found by the
        // browser test. Without the extension every key registers; its PIN is still asked when
        // it has one (preferred), and a credential that is not discoverable needs no credProtect.
        if let Some(extensions) = options.public_key.extensions.as_mut() {
            extensions.cred_protect = None;
        }
        let pending = serde_json::to_vec(&PendingKey { state, options: options.clone() }).map_err(internal)?;
        let name = factor_name(name, "Clé de sécurité");
        let mut tx = self.deps.store.begin().await?;
        let factor = tx.insert_key(account.id, &name, &pending, self.deps.now()).await?;
        tx.commit().await?;
        Ok(KeyStart::Started(KeyEnrolment {
            factor,
            name,
            options: serde_json::to_string(&options).map_err(internal)?,
        }))
    }

    /// A registration of this account still waiting for the key, within its five minutes.
    pub async fn pending_key(&self, account: &Account, id: FactorId) -> Result<Option<KeyEnrolment>, AuthError> {
        Ok(self.pending(account, id).await?.map(|(name, pending)| KeyEnrolment {
            factor: id,
            name,
            options: serde_json::to_string(&pending.options).unwrap_or_default(),
        }))
    }

    async fn pending(&self, account: &Account, id: FactorId) -> Result<Option<(String, PendingKey)>, AuthError> {
        let found = self.deps.store.key_factors_of(account.id).await?.into_iter().find(|k| k.factor.id == id);
        let fresh = |k: &crate::store::KeyFactor| k.factor.created_at + CEREMONY > self.deps.now();
        let Some(key) = found.filter(|k| !k.factor.is_confirmed() && fresh(k)) else {
            return Ok(None);
        };
        let pending = key.credential.ok().and_then(|c| serde_json::from_slice::<PendingKey>(&c).ok());
        Ok(pending.map(|p| (key.factor.name, p)))
    }

    /// Confirms a registration with the browser's answer (`PublicKeyCredential` as JSON).
    pub async fn confirm_key(
        &self,
        signed_in: &SignedIn,
        id: FactorId,
        response: &str,
        ctx: &RequestContext,
    ) -> Result<ConfirmOutcome, AuthError> {
        let account = &signed_in.account;
        let (Some(webauthn), Some((name, pending))) = (&self.webauthn, self.pending(account, id).await?) else {
            return Ok(ConfirmOutcome::Unknown);
        };
        let registered =
            serde_json::from_str::<RegisterPublicKeyCredential>(response).map_err(|e| e.to_string()).and_then(
                |answer| webauthn.finish_securitykey_registration(&answer, &pending.state).map_err(|e| e.to_string()),
            );
        let key = match registered {
            Ok(key) => key,
            Err(reason) => {
                let event =
                    AuditEvent::about(AuditAction::SecondFactorEnrolmentRefused, Outcome::Failure, account, ctx)
                        .with_details(serde_json::json!({ "kind": "webauthn", "reason": reason }));
                self.deps.audit(event).await?;
                return Ok(ConfirmOutcome::WrongCode);
            }
        };
        let had_factor = !self.confirmed(account).await?.is_empty();
        let credential = serde_json::to_vec(&key).map_err(internal)?;
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        if !tx.confirm_key(account.id, id, &credential, key.cred_id(), now).await? {
            // Registered already (here or on another account), or confirmed meanwhile.
            return Ok(ConfirmOutcome::AlreadyRegistered);
        }
        let enrolled = Enrolled { id, kind: FactorKind::SecurityKey, name, replaced: 0 };
        let recovery_codes = self.finish_enrolment(tx, account, enrolled, had_factor, ctx, now).await?;
        Ok(ConfirmOutcome::Confirmed { recovery_codes })
    }

    /// What the second-step page of a browser's ticket offers; `None` if the ticket is not live.
    pub async fn step_choices(&self, ticket: &str) -> Result<Option<StepChoices>, AuthError> {
        let found = self.deps.store.second_factor_ticket(&digest(ticket), self.deps.now()).await?;
        let Some(ticket) = found.filter(|t| t.channel == "browser") else {
            return Ok(None);
        };
        let Some(account) = self.deps.store.account_by_id(ticket.account_id).await? else {
            return Ok(None);
        };
        let app = self.confirmed(&account).await?.iter().any(|f| f.kind == FactorKind::Totp);
        Ok(Some(StepChoices { app, key_options: self.key_request(&account).await? }))
    }

    /// A new challenge for the account's keys (replacing the previous one), as the
    /// `PublicKeyCredentialRequestOptions` JSON a page hands to the browser; `None` without keys.
    pub async fn key_request(&self, account: &Account) -> Result<Option<String>, AuthError> {
        let Some(webauthn) = &self.webauthn else {
            return Ok(None);
        };
        let keys: Vec<SecurityKey> = self.keys(account).await?.into_iter().map(|(_, key)| key).collect();
        if keys.is_empty() {
            return Ok(None);
        }
        let (mut options, state): (RequestChallengeResponse, SecurityKeyAuthentication) = webauthn
            .start_securitykey_authentication(&keys)
            .map_err(|e| AuthError::Internal(format!("WebAuthn authentication: {e}")))?;
        options.public_key.hints = None;
        let now = self.deps.now();
        let state = serde_json::to_string(&state).map_err(internal)?;
        let mut tx = self.deps.store.begin().await?;
        tx.replace_key_challenge(account.id, &state, now, now + CEREMONY).await?;
        tx.commit().await?;
        Ok(Some(serde_json::to_string(&options).map_err(internal)?))
    }

    /// The account's confirmed keys whose credential opens and reads.
    async fn keys(&self, account: &Account) -> Result<Vec<(FactorId, SecurityKey)>, AuthError> {
        let all = self.deps.store.key_factors_of(account.id).await?;
        Ok(all
            .into_iter()
            .filter(|k| k.factor.is_confirmed())
            .filter_map(|k| Some((k.factor.id, serde_json::from_slice(&k.credential.ok()?).ok()?)))
            .collect())
    }

    /// Which key signed the live challenge, with its credential updated (nothing used up yet);
    /// a counter gone backwards is refused, audited, and e-mailed to the holder.
    pub(super) async fn check_key(
        &self,
        account: &Account,
        response: &str,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<Option<UsedProof>, AuthError> {
        let Some(webauthn) = &self.webauthn else {
            return Ok(None);
        };
        let Some(challenge) = self.deps.store.key_challenge(account.id, now).await? else {
            return Ok(None);
        };
        let state = serde_json::from_str::<SecurityKeyAuthentication>(&challenge.state);
        let (Ok(state), Ok(answer)) = (state, serde_json::from_str::<PublicKeyCredential>(response)) else {
            return Ok(None);
        };
        let mut keys = self.keys(account).await?;
        let result = match webauthn.finish_securitykey_authentication(&answer, &state) {
            Ok(result) => result,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                self.warn_clone(account, &answer.raw_id, ctx, now).await?;
                return Ok(None);
            }
            Err(_) => return Ok(None),
        };
        let Some((factor, key)) = keys.iter_mut().find(|(_, key)| key.cred_id() == result.cred_id()) else {
            return Ok(None);
        };
        key.update_credential(&result);
        let credential = serde_json::to_vec(key).map_err(internal)?;
        let hardware = !result.backup_eligible();
        Ok(Some(UsedProof::Key { factor: *factor, credential, challenge: challenge.id, hardware }))
    }

    /// A key's counter went backwards: another authenticator may hold a copy of its secret.
    async fn warn_clone(
        &self,
        account: &Account,
        credential_id: &[u8],
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<(), AuthError> {
        let keys = self.keys(account).await?;
        let Some((factor, _)) = keys.iter().find(|(_, key)| key.cred_id().as_slice() == credential_id) else {
            return Ok(());
        };
        let name = self.confirmed(account).await?.into_iter().find(|f| f.id == *factor).map(|f| f.name);
        let mut tx = self.deps.store.begin().await?;
        let change = FactorChange::KeyPossiblyCloned { name: name.unwrap_or_default() };
        tx.enqueue_mail(&OutboxMail::about(account, super::factor_mail(account, change, ctx, now)), now).await?;
        let event = AuditEvent::about(AuditAction::SecondFactorFailed, Outcome::Failure, account, ctx)
            .with_details(serde_json::json!({ "reason": "key_possibly_cloned", "factor": factor.0 }));
        tx.append_audit(&event, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The user handle a key keeps for the account: derived, stable, and telling nothing about it.
fn user_handle(account: &Account) -> Uuid {
    let seed = format!("sesame/webauthn/user-handle/{}/{}", account.id.0, account.created_at.unix_timestamp_nanos());
    let bytes: [u8; 16] = digest(&seed)[..16].try_into().unwrap_or_default();
    Uuid::from_bytes(bytes)
}

fn internal(e: serde_json::Error) -> AuthError {
    AuthError::Internal(format!("WebAuthn state: {e}"))
}
