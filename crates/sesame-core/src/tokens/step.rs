//! The desktop side of the second step, and what a verified sign-in is granted.

use time::{Duration, OffsetDateTime};

use super::{ApiLogin, ApiTokens, grant, issue, retry_after};
use crate::audit::RequestContext;
use crate::error::AuthError;
use crate::factors::{FactorProof, StepOutcome};
use crate::session::{AuthMethod, TokenKind};
use crate::signin::Verified;
use crate::store::Tx;

impl ApiTokens {
    /// The second step of a desktop sign-in: the ticket `sign_in` gave and a code of the app or
    /// a recovery code. Grants what the password alone would have granted.
    pub async fn second_step(
        &self,
        ticket: &str,
        proof: Option<&FactorProof>,
        ctx: &RequestContext,
    ) -> Result<ApiLogin, AuthError> {
        let now = self.deps.now();
        let refusal = |refused: StepOutcome<()>| match refused {
            StepOutcome::Wrong => ApiLogin::Refused,
            StepOutcome::Throttled { until } => ApiLogin::Throttled { retry_after: retry_after(until, now) },
            StepOutcome::Expired | StepOutcome::Passed(()) => ApiLogin::TicketExpired,
        };
        let passed = match self.factors.check_step(ticket, "api", proof, ctx).await?.into_passed() {
            Ok(passed) => passed,
            Err(refused) => return Ok(refusal(refused)),
        };
        let enrol = self.enrolment_required(&passed.verified, passed.method).await?;
        let mut tx = match self.factors.commit_step(&passed, "api", ctx, now).await?.into_passed() {
            Ok(tx) => tx,
            Err(refused) => return Ok(refusal(refused)),
        };
        let client = passed.ticket.client_name.clone().unwrap_or_default();
        let outcome = if enrol {
            ApiLogin::SecondFactorEnrolmentRequired
        } else {
            self.grant_in(tx.as_mut(), &passed.verified, passed.method, &client, ctx, now).await?
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Whether a verified sign-in with a personal password gets no tokens until a factor is
    /// enrolled (a temporary password still gets its change ticket).
    pub(super) async fn enrolment_required(&self, verified: &Verified, method: AuthMethod) -> Result<bool, AuthError> {
        Ok(!verified.credential.is_temporary() && self.factors.must_enrol(&verified.account, method).await?)
    }

    /// What a verified sign-in gets: a change ticket for a temporary password, else a pair.
    pub(super) async fn grant_in(
        &self,
        tx: &mut dyn Tx,
        verified: &Verified,
        method: AuthMethod,
        client: &str,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<ApiLogin, AuthError> {
        let grant = grant(&verified.account, client, method, ctx, now);
        Ok(if verified.credential.is_temporary() {
            let lifetime = Duration::minutes(i64::from(self.settings.change_ticket_minutes));
            let change_ticket = issue(tx, &grant, TokenKind::ChangeTicket, lifetime).await?;
            ApiLogin::PasswordChangeRequired { change_ticket, expires_in: lifetime.whole_seconds() }
        } else {
            ApiLogin::Tokens(self.issue_pair(tx, &grant).await?)
        })
    }
}
