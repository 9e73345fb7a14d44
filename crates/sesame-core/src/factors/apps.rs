//! Enrolling an authenticator app (RFC 6238): the password again, a secret shown as a QR code
//! and in groups, confirmed by the app's first code; it replaces an earlier app only then.

use super::{ConfirmOutcome, Enrolled, SecondFactors, factor_name};
use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::error::AuthError;
use crate::factor::{FactorId, FactorKind};
use crate::model::Account;
use crate::sessions::SignedIn;
use crate::totp::{CodeCheck, TotpSecret};
use crate::types::Password;

/// An authenticator app being enrolled: what the enrolment page shows until its first code.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    pub factor: FactorId,
    pub name: String,
    pub secret: TotpSecret,
    /// The `otpauth://` URI the QR code carries.
    pub uri: String,
}

#[derive(Debug)]
pub enum EnrolOutcome {
    Started(TotpEnrolment),
    /// The password typed again is wrong (counted as a failed sign-in).
    WrongPassword,
}

impl SecondFactors {
    /// Starts enrolling an authenticator app, after the password is typed again.
    pub async fn start_totp(
        &self,
        signed_in: &SignedIn,
        password: &Password,
        name: &str,
        ctx: &RequestContext,
    ) -> Result<EnrolOutcome, AuthError> {
        let account = &signed_in.account;
        if !self.password_holds(account, password, ctx).await? {
            return Ok(EnrolOutcome::WrongPassword);
        }
        let secret = TotpSecret::generate();
        let name = factor_name(name, "Application d'authentification");
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        let factor = tx.insert_totp(account.id, &name, &secret, now).await?;
        tx.commit().await?;
        let uri = secret.uri(&self.deps.branding.portal_name, account.identifier.as_str());
        Ok(EnrolOutcome::Started(TotpEnrolment { factor, name, secret, uri }))
    }

    /// An enrolment of this account still waiting for its first code (the page shows it again
    /// until it is confirmed; never after).
    pub async fn pending_totp(&self, account: &Account, id: FactorId) -> Result<Option<TotpEnrolment>, AuthError> {
        let found = self.deps.store.totp_factors_of(account.id).await?.into_iter().find(|t| t.factor.id == id);
        let Some(totp) = found.filter(|t| !t.factor.is_confirmed()) else {
            return Ok(None);
        };
        let Ok(secret) = totp.secret else {
            return Ok(None);
        };
        let uri = secret.uri(&self.deps.branding.portal_name, account.identifier.as_str());
        Ok(Some(TotpEnrolment { factor: id, name: totp.factor.name, secret, uri }))
    }

    /// Confirms an enrolment with the app's first code. The app replaces any earlier one (only
    /// now, so that an abandoned enrolment leaves the account as it was); the first factor of
    /// an account comes with a batch of recovery codes.
    pub async fn confirm_totp(
        &self,
        signed_in: &SignedIn,
        id: FactorId,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<ConfirmOutcome, AuthError> {
        let account = &signed_in.account;
        let Some(pending) = self.pending_totp(account, id).await? else {
            return Ok(ConfirmOutcome::Unknown);
        };
        let now = self.deps.now();
        let CodeCheck::Accepted { step } = pending.secret.check(code, now, None) else {
            let event = AuditEvent::about(AuditAction::SecondFactorEnrolmentRefused, Outcome::Failure, account, ctx);
            self.deps.audit(event).await?;
            return Ok(ConfirmOutcome::WrongCode);
        };
        let had_factor = !self.confirmed(account).await?.is_empty();
        let mut tx = self.deps.store.begin().await?;
        if !tx.confirm_factor(account.id, id, step, now).await? {
            return Ok(ConfirmOutcome::Unknown);
        }
        let replaced = tx.delete_other_factors(account.id, Some(id), Some(FactorKind::Totp)).await?;
        let enrolled = Enrolled { id, kind: FactorKind::Totp, name: pending.name, replaced };
        let recovery_codes = self.finish_enrolment(tx, account, enrolled, had_factor, ctx, now).await?;
        Ok(ConfirmOutcome::Confirmed { recovery_codes })
    }
}
