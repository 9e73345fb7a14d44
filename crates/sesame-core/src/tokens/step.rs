//! The desktop side of the second step, and what a verified sign-in is granted.

use time::{Duration, OffsetDateTime};

use super::{ApiLogin, ApiTokens, grant, issue, retry_after};
use crate::audit::RequestContext;
use crate::error::AuthError;
use crate::factors::{Committed, FactorProof, StepOutcome};
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
        let passed = match self.factors.check_step(ticket, "api", proof, ctx).await? {
            StepOutcome::Passed(passed) => passed,
            StepOutcome::Wrong => return Ok(ApiLogin::Refused),
            StepOutcome::Throttled { until } => {
                return Ok(ApiLogin::Throttled { retry_after: retry_after(until, self.deps.now()) });
            }
            StepOutcome::Expired => return Ok(ApiLogin::TicketExpired),
        };
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        match self.factors.commit_step(tx.as_mut(), &passed, "api", ctx, now).await? {
            Committed::Done => {}
            Committed::TicketGone => return Ok(ApiLogin::TicketExpired),
            Committed::ProofGone => {
                drop(tx);
                self.factors.count_wrong(&passed.verified.account, "api", ctx).await?;
                return Ok(ApiLogin::Refused);
            }
        }
        let client = passed.ticket.client_name.clone().unwrap_or_default();
        let outcome = self.grant_in(tx.as_mut(), &passed.verified, passed.method, &client, ctx, now).await?;
        tx.commit().await?;
        Ok(outcome)
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
        if !verified.credential.is_temporary() && self.factors.must_enrol(&verified.account, method).await? {
            return Ok(ApiLogin::SecondFactorEnrolmentRequired);
        }
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
