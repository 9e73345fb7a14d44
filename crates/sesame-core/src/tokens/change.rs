//! Setting the personal password from a desktop application: with the change ticket of a
//! temporary password, or an access token and the current password.

use super::{ApiChange, ApiProof, ApiTokens, grant};
use crate::audit::RequestContext;
use crate::error::AuthError;
use crate::model::Account;
use crate::secret::digest;
use crate::session::{ApiToken, AuthMethod, TokenKind};
use crate::types::Password;

impl ApiTokens {
    /// Sets the personal password from a desktop application. On success every session and
    /// token of the account ends and this client gets a fresh pair.
    pub async fn change_password(
        &self,
        proof: ApiProof<'_>,
        new: &Password,
        client: &str,
        ctx: &RequestContext,
    ) -> Result<ApiChange, AuthError> {
        let signed_in_with = match &proof {
            ApiProof::AccessToken { principal, .. } => Some(principal.token.auth_method),
            ApiProof::ChangeTicket(_) => None,
        };
        let Some((account, ticket, signed_in_as)) = self.prove(proof).await? else {
            return Ok(ApiChange::Unauthorized);
        };
        let Some(credential) = self.deps.store.password_credential(account.id).await? else {
            return Ok(ApiChange::Unauthorized);
        };
        if ticket.is_some() && credential.temporary_until.is_none_or(|until| until <= self.deps.now()) {
            return Ok(ApiChange::TemporaryPasswordExpired);
        }
        let violations = self.passwords.violations(&account, new, new).await?;
        if !violations.is_empty() {
            self.passwords.refused(&account, &violations, "api", ctx).await?;
            return Ok(ApiChange::Refused(violations));
        }
        let method = ticket.as_ref().map(|t| t.auth_method).or(signed_in_with).unwrap_or(AuthMethod::Password);
        let enrol = self.factors.must_enrol(&account, method).await?;
        let phc = self.deps.hasher.hash(new).await?;
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        if let Some(ticket) = &ticket
            && !tx.use_api_token(ticket.id, now).await?
        {
            return Ok(ApiChange::Unauthorized); // a concurrent request used the ticket first
        }
        self.passwords.write_in(tx.as_mut(), &account, phc, credential.is_temporary(), ctx, now).await?;
        tx.revoke_all_access(account.id, now).await?;
        // Without a name in this request, the application keeps the one it signed in with.
        let client = if client.is_empty() { signed_in_as.as_deref().unwrap_or_default() } else { client };
        if enrol {
            tx.commit().await?;
            return Ok(ApiChange::ChangedEnrolmentRequired);
        }
        let pair = self.issue_pair(tx.as_mut(), &grant(&account, client, method, ctx, now)).await?;
        tx.commit().await?;
        Ok(ApiChange::Changed(pair))
    }

    /// The account a change proves, the ticket to use up (if any), and the application name it
    /// signed in with. `None`: unknown, used or expired ticket, or wrong current password.
    async fn prove(
        &self,
        proof: ApiProof<'_>,
    ) -> Result<Option<(Account, Option<ApiToken>, Option<String>)>, AuthError> {
        match proof {
            ApiProof::ChangeTicket(ticket) => {
                let now = self.deps.now();
                let token = self.deps.store.api_token(&digest(ticket), TokenKind::ChangeTicket).await?;
                let Some(token) = token.filter(|t| t.is_live(now)) else {
                    return Ok(None);
                };
                let account = self.active_account(&token).await?;
                Ok(account.map(|a| (a, Some(token.clone()), token.client_name.clone())))
            }
            ApiProof::AccessToken { principal, current_password } => {
                let Some(credential) = self.deps.store.password_credential(principal.account.id).await? else {
                    return Ok(None);
                };
                if !self.deps.hasher.verify(current_password, &credential.phc).await?.matches {
                    return Ok(None);
                }
                Ok(Some((principal.account.clone(), None, principal.token.client_name.clone())))
            }
        }
    }
}
