//! Setting a new password: the checks every candidate goes through (confirmation, the policy,
//! reuse), and the change from "Mon compte" or a first connection, with everything it ends.

use time::OffsetDateTime;

use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::deps::Deps;
use crate::error::AuthError;
use crate::mail::{MailMessage, OutboxMail};
use crate::model::{Account, PasswordCredential};
use crate::policy::{self, PolicyContext, Rule, Violation};
use crate::sessions::{OpenedSession, Sessions, SignedIn};
use crate::signin::SignIn;
use crate::store::Tx;
use crate::types::{LoginIdentifier, Password};

/// How a password change proves it is the account holder.
#[derive(Debug)]
pub enum Proof<'a> {
    /// The current password, typed again ("Mon compte").
    CurrentPassword(&'a Password),
    /// A session opened with a still-valid temporary password (first connection).
    TemporarySession,
}

#[derive(Debug)]
pub enum ChangeOutcome {
    /// Changed; the session was replaced by this one (new id).
    Changed(Box<OpenedSession>),
    /// Nothing changed; every failed rule, in the policy's order.
    Refused(Vec<Violation>),
    /// The current password given is wrong (counted as a failed sign-in).
    WrongCurrentPassword,
    /// The temporary password expired before it was replaced.
    TemporaryPasswordExpired,
}

#[derive(Debug, Clone)]
pub struct Passwords {
    deps: Deps,
    sign_in: SignIn,
    sessions: Sessions,
}

impl Passwords {
    pub fn new(deps: Deps, sign_in: SignIn, sessions: Sessions) -> Self {
        Self { deps, sign_in, sessions }
    }

    /// Replaces the account's password after checking the proof, the confirmation and every
    /// policy rule. On success: other sessions, API tokens and reset links end, the given
    /// session is replaced by a new one, the confirmation e-mail is queued.
    pub async fn change(
        &self,
        signed_in: &SignedIn,
        proof: Proof<'_>,
        new: &Password,
        confirmation: &Password,
        ctx: &RequestContext,
    ) -> Result<ChangeOutcome, AuthError> {
        let account = &signed_in.account;
        let Some(credential) = self.deps.store.password_credential(account.id).await? else {
            return Ok(ChangeOutcome::WrongCurrentPassword);
        };
        if let Some(refusal) = self.check_proof(account, &credential, proof, ctx).await? {
            return Ok(refusal);
        }
        let violations = self.violations(account, new, confirmation).await?;
        if !violations.is_empty() {
            self.refused(account, &violations, "browser", ctx).await?;
            return Ok(ChangeOutcome::Refused(violations));
        }
        let phc = self.deps.hasher.hash(new).await?;
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        self.write_in(tx.as_mut(), account, phc, credential.is_temporary(), ctx, now).await?;
        tx.revoke_other_sessions(account.id, signed_in.session.id, now).await?;
        tx.revoke_session(account.id, signed_in.session.id, now).await?;
        let method = signed_in.session.auth_method;
        let replaced = self.sessions.open_in(tx.as_mut(), account, method, false, ctx, now).await?;
        tx.commit().await?;
        Ok(ChangeOutcome::Changed(Box::new(replaced)))
    }

    /// `None` when the proof holds, else the outcome to answer.
    async fn check_proof(
        &self,
        account: &Account,
        credential: &PasswordCredential,
        proof: Proof<'_>,
        ctx: &RequestContext,
    ) -> Result<Option<ChangeOutcome>, AuthError> {
        Ok(match proof {
            Proof::CurrentPassword(current) => {
                if self.deps.hasher.verify(current, &credential.phc).await?.matches {
                    None
                } else {
                    let identifier = LoginIdentifier::from(&account.identifier);
                    self.sign_in.refuse(&identifier, Some(account), "wrong_current_password", ctx).await?;
                    Some(ChangeOutcome::WrongCurrentPassword)
                }
            }
            Proof::TemporarySession => match credential.temporary_until {
                Some(until) if until > self.deps.now() => None,
                Some(_) => Some(ChangeOutcome::TemporaryPasswordExpired),
                None => Some(ChangeOutcome::WrongCurrentPassword),
            },
        })
    }

    /// Every reason to refuse `new` as the account's next password: the confirmation, the
    /// policy's pure rules, then reuse of the current (or temporary) password and, when the
    /// preset keeps a history, of the recent ones. Empty: accepted.
    pub(crate) async fn violations(
        &self,
        account: &Account,
        new: &Password,
        confirmation: &Password,
    ) -> Result<Vec<Violation>, AuthError> {
        let policy = &self.deps.policy;
        let mut out = Vec::new();
        if new != confirmation {
            out.push(Violation {
                rule: Rule::Confirmation,
                message: "Les deux saisies du nouveau mot de passe ne sont pas identiques.".into(),
            });
        }
        out.extend(policy.check(new, &PolicyContext::new(account, &self.deps.branding)));
        // The history's newest entry is the current password (every change appends to it).
        for (i, phc) in self.deps.store.password_history(account.id, policy.history() + 1).await?.iter().enumerate() {
            if self.deps.hasher.verify(new, phc).await?.matches {
                out.push(if i == 0 { policy::reused_current() } else { policy::reused_recent(policy.history()) });
                break;
            }
        }
        Ok(out)
    }

    /// Records a refused candidate (the rule codes, never the password).
    pub(crate) async fn refused(
        &self,
        account: &Account,
        violations: &[Violation],
        channel: &str,
        ctx: &RequestContext,
    ) -> Result<(), AuthError> {
        let codes: Vec<&str> = violations.iter().map(|v| v.rule.code()).collect();
        let details = serde_json::json!({ "rules": codes, "channel": channel });
        let event =
            AuditEvent::about(AuditAction::PasswordChangeRefused, Outcome::Failure, account, ctx).with_details(details);
        self.deps.audit(event).await
    }

    /// What every password change writes, in its transaction: the personal password, API tokens
    /// and reset links revoked, counters cleared, the confirmation e-mail, the audit event.
    /// Sessions are the caller's business (kept, renewed or ended).
    pub(crate) async fn write_in(
        &self,
        tx: &mut dyn Tx,
        account: &Account,
        phc: String,
        from_temporary: bool,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<(), AuthError> {
        tx.set_password(account.id, &PasswordCredential { phc, temporary_until: None, changed_at: now }).await?;
        tx.revoke_tokens_and_links(account.id, now).await?;
        tx.clear_login_failures(&account.identifier.key()).await?;
        tx.enqueue_mail(&OutboxMail::about(account, password_changed(account, now)), now).await?;
        let details = serde_json::json!({ "from_temporary": from_temporary });
        let event =
            AuditEvent::about(AuditAction::PasswordChanged, Outcome::Success, account, ctx).with_details(details);
        tx.append_audit(&event, now).await?;
        Ok(())
    }
}

/// "Votre changement de mot de passe a bien été pris en compte…", whatever the path.
pub(crate) fn password_changed(account: &Account, changed_at: OffsetDateTime) -> MailMessage {
    MailMessage::PasswordChanged {
        first_name: account.first_name.to_string(),
        last_name: account.last_name.to_string(),
        changed_at,
    }
}
