//! Browser sessions: opened by a sign-in, resolved at every page, listed and ended from "Mon
//! compte", ended by "Se déconnecter". The token goes in the cookie; the store keeps its digest.

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::deps::Deps;
use crate::error::AuthError;
use crate::model::{Account, AccountId, AccountStatus};
use crate::secret::{digest, generate_token};
use crate::session::{ApiToken, AuthMethod, NewSession, Session, SessionId};
use crate::store::Tx;

/// `[session]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    /// A session unused this long ends (minutes).
    pub idle_minutes: u32,
    /// A session ends this long after sign-in, used or not (hours).
    pub absolute_hours: u32,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self { idle_minutes: 30, absolute_hours: 4 }
    }
}

impl SessionSettings {
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(1..=24 * 60).contains(&self.idle_minutes) {
            out.push(("session.idle_minutes", "must be between 1 and 1440".to_owned()));
        }
        if !(1..=24 * 7).contains(&self.absolute_hours) {
            out.push(("session.absolute_hours", "must be between 1 and 168".to_owned()));
        }
        out
    }

    fn idle(&self) -> Duration {
        Duration::minutes(i64::from(self.idle_minutes))
    }
}

/// Activity closer together than this does not rewrite the session row.
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// A live session with its account.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: Session,
    pub account: Account,
}

/// A session just opened: the token goes in the cookie or the response, never in the store.
#[derive(Debug)]
pub struct OpenedSession {
    pub token: SecretString,
    pub signed_in: SignedIn,
}

#[derive(Debug, Clone)]
pub struct Sessions {
    deps: Deps,
    settings: SessionSettings,
}

impl Sessions {
    pub fn new(deps: Deps, settings: SessionSettings) -> Self {
        Self { deps, settings }
    }

    /// Opens a session in the transaction of the sign-in (or password change) that grants it.
    pub(crate) async fn open_in(
        &self,
        tx: &mut dyn Tx,
        account: &Account,
        method: AuthMethod,
        must_change_password: bool,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<OpenedSession, AuthError> {
        let token = generate_token(32);
        let new = NewSession {
            token_hash: digest(token.expose_secret()),
            account_id: account.id,
            auth_method: method,
            must_change_password,
            ip: ctx.ip.clone(),
            user_agent: ctx.user_agent.clone(),
            created_at: now,
            idle_expires_at: now + self.settings.idle(),
            absolute_expires_at: now + Duration::hours(i64::from(self.settings.absolute_hours)),
        };
        let id = tx.insert_session(&new).await?;
        let session = Session {
            id,
            account_id: account.id,
            auth_method: method,
            must_change_password,
            ip: new.ip,
            user_agent: new.user_agent,
            created_at: now,
            last_seen_at: now,
            idle_expires_at: new.idle_expires_at,
            absolute_expires_at: new.absolute_expires_at,
        };
        Ok(OpenedSession { token, signed_in: SignedIn { session, account: account.clone() } })
    }

    /// The live session behind a cookie, with its account. Records activity.
    pub async fn resolve(&self, token: &str) -> Result<Option<SignedIn>, AuthError> {
        let now = self.deps.now();
        let Some((mut session, account)) = self.deps.store.session_by_token_hash(&digest(token), now).await? else {
            return Ok(None);
        };
        if account.status != AccountStatus::Active {
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_EVERY {
            let idle = now + self.settings.idle();
            self.deps.store.touch_session(session.id, now, idle).await?;
            session.last_seen_at = now;
            session.idle_expires_at = idle.min(session.absolute_expires_at);
        }
        Ok(Some(SignedIn { session, account }))
    }

    /// The account's live browser sessions, newest first.
    pub async fn of(&self, account: AccountId) -> Result<Vec<Session>, AuthError> {
        Ok(self.deps.store.sessions_of(account, self.deps.now()).await?)
    }

    /// The account's live desktop sign-ins (one per token family), newest first.
    pub async fn desktop_of(&self, account: AccountId) -> Result<Vec<ApiToken>, AuthError> {
        Ok(self.deps.store.api_sessions_of(account, self.deps.now()).await?)
    }

    /// "Se déconnecter": the session ends on the server.
    pub async fn logout(&self, signed_in: &SignedIn, ctx: &RequestContext) -> Result<(), AuthError> {
        self.end(signed_in, Some(signed_in.session.id), AuditAction::Logout, ctx).await.map(|_| ())
    }

    /// "Terminer cette session" (one of the account's own); returns how many ended (0 or 1).
    pub async fn end_one(
        &self,
        signed_in: &SignedIn,
        which: SessionId,
        ctx: &RequestContext,
    ) -> Result<u64, AuthError> {
        self.end(signed_in, Some(which), AuditAction::SessionEnded, ctx).await
    }

    /// "Terminer toutes les autres sessions": every other browser session, every desktop
    /// sign-in and pending reset link. Returns how many ended.
    pub async fn end_others(&self, signed_in: &SignedIn, ctx: &RequestContext) -> Result<u64, AuthError> {
        self.end(signed_in, None, AuditAction::SessionEnded, ctx).await
    }

    async fn end(
        &self,
        signed_in: &SignedIn,
        which: Option<SessionId>,
        action: AuditAction,
        ctx: &RequestContext,
    ) -> Result<u64, AuthError> {
        let now = self.deps.now();
        let account = signed_in.account.id;
        let mut tx = self.deps.store.begin().await?;
        let ended = match which {
            Some(id) => u64::from(tx.revoke_session(account, id, now).await?),
            None => {
                tx.revoke_other_sessions(account, signed_in.session.id, now).await?
                    + tx.revoke_tokens_and_links(account, now).await?
            }
        };
        let details = serde_json::json!({ "ended": ended, "session": which.map(|s| s.0), "others": which.is_none() });
        let event = AuditEvent::about(action, Outcome::Success, &signed_in.account, ctx).with_details(details);
        tx.append_audit(&event, now).await?;
        tx.commit().await?;
        Ok(ended)
    }
}
