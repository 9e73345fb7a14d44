//! What a token means, asked by the userinfo endpoint (any live access token), by its client at
//! the introspection endpoint (RFC 7662), and its revocation by its client (RFC 7009).

use serde_json::Value;

use super::{Bearer, Tokens};
use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::client::Client;
use crate::error::AuthError;
use crate::model::{Account, AccountStatus};
use crate::oidc::claims;
use crate::secret::digest;
use crate::store::{OidcFamily, OidcToken, OidcTokenKind};

impl Tokens {
    /// The userinfo endpoint's check of a bearer token.
    pub async fn bearer(&self, access_token: &str) -> Result<Bearer, AuthError> {
        self.live(access_token, |t| t.kind == OidcTokenKind::Access).await
    }

    /// A token that is live, of an active account, and that `wanted` accepts.
    async fn live(&self, token: &str, wanted: impl FnOnce(&OidcToken) -> bool) -> Result<Bearer, AuthError> {
        let now = self.deps.now();
        let Some(token) = self.deps.store.oidc_token(&digest(token), now).await? else {
            return Ok(Bearer::Invalid);
        };
        if !wanted(&token) || !token.is_live(now) {
            return Ok(Bearer::Invalid);
        }
        match self.deps.store.account_by_id(token.grant.account_id).await? {
            Some(account) if account.status == AccountStatus::Active => {
                Ok(Bearer::Valid { account: Box::new(account), token })
            }
            _ => Ok(Bearer::Invalid),
        }
    }

    /// RFC 7009: the token and every token of its family revoked, if it is this client's. An
    /// unknown token, or another client's, changes nothing and is not an error (RFC 7009 2.2).
    pub async fn revoke(&self, client: &Client, token: &str, ctx: &RequestContext) -> Result<(), AuthError> {
        let now = self.deps.now();
        let Some(token) = self.deps.store.oidc_token(&digest(token), now).await? else { return Ok(()) };
        if token.grant.client_id != client.client_id || token.revoked_at.is_some() {
            return Ok(());
        }
        let account = self.deps.store.account_by_id(token.grant.account_id).await?;
        let mut tx = self.deps.store.begin().await?;
        let revoked = tx.revoke_oidc_family(token.grant.code_id, now).await?;
        let details = serde_json::json!({ "client_id": client.client_id, "kind": token.kind.as_str(), "tokens_revoked": revoked });
        let event = AuditEvent::about_maybe(AuditAction::OidcTokenRevoked, Outcome::Success, account.as_ref(), ctx);
        tx.append_audit(&event.with_details(details), now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The families of tokens the account's services hold, for "Mon compte".
    pub async fn families_of(&self, account: &Account) -> Result<Vec<OidcFamily>, AuthError> {
        Ok(self.deps.store.oidc_families_of(account.id, self.deps.now()).await?)
    }

    /// "Terminer cette session" on a service's row of "Mon compte": the family revoked, if it is
    /// one of the account's and still live; false otherwise (nothing changed).
    pub async fn end_family(&self, account: &Account, code_id: i64, ctx: &RequestContext) -> Result<bool, AuthError> {
        let now = self.deps.now();
        let families = self.deps.store.oidc_families_of(account.id, now).await?;
        let Some(family) = families.iter().find(|f| f.code_id == code_id) else { return Ok(false) };
        let mut tx = self.deps.store.begin().await?;
        let revoked = tx.revoke_oidc_family(code_id, now).await?;
        let details = serde_json::json!({ "client_id": family.client_id, "by": "account", "tokens_revoked": revoked });
        let event = AuditEvent::about(AuditAction::OidcTokenRevoked, Outcome::Success, account, ctx);
        tx.append_audit(&event.with_details(details), now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// RFC 7662: what a token of this client means, if it is live and its account active.
    /// Another client's token is inactive to it.
    pub async fn introspect(&self, client: &Client, token: &str) -> Result<Bearer, AuthError> {
        self.live(token, |t| t.grant.client_id == client.client_id).await
    }

    /// The introspection answer of a live token (RFC 7662 2.2).
    pub fn introspection(&self, account: &Account, token: &OidcToken) -> Value {
        serde_json::json!({
            "active": true,
            "iss": self.issuer,
            "client_id": token.grant.client_id,
            "aud": token.grant.client_id,
            "sub": claims::subject(account.id),
            "username": account.identifier.as_str(),
            "scope": token.grant.scopes,
            "token_type": match token.kind { OidcTokenKind::Access => "Bearer", OidcTokenKind::Refresh => "refresh_token" },
            "iat": token.created_at.unix_timestamp(),
            "exp": token.expires_at.unix_timestamp(),
            "auth_time": token.grant.auth_time.unix_timestamp(),
            "acr": claims::acr(token.grant.auth_method),
            "sid": claims::session_id(token.grant.session_id),
        })
    }

    /// The userinfo document of a valid bearer.
    pub fn userinfo(account: &Account, token: &OidcToken) -> Value {
        claims::userinfo(account, &token.grant.scopes)
    }
}
