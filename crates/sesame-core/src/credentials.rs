//! What every way of setting a new password shares: the checks of a candidate, and the e-mail
//! addressing. Used by the "Mon compte" / first-connection change and by the reset link.

use crate::auth::AuthError;
use crate::branding::Branding;
use crate::hashing::PasswordHasher;
use crate::mail::{MailMessage, OutboxMail};
use crate::model::Account;
use crate::policy::{self, PasswordPolicy, PolicyContext, Rule, Violation};
use crate::store::Store;
use crate::types::Password;

/// Every reason to refuse `new` as the account's next password: the confirmation, the policy's
/// pure rules, then reuse of the current (or temporary) password and, when the preset keeps a
/// history, of the recent ones. Empty: accepted.
pub(crate) async fn violations(
    store: &dyn Store,
    hasher: &PasswordHasher,
    policy: &PasswordPolicy,
    branding: &Branding,
    account: &Account,
    new: &Password,
    confirmation: &Password,
) -> Result<Vec<Violation>, AuthError> {
    let mut out = Vec::new();
    if new != confirmation {
        out.push(Violation {
            rule: Rule::Confirmation,
            message: "Les deux saisies du nouveau mot de passe ne sont pas identiques.".into(),
        });
    }
    out.extend(policy.check(new, &PolicyContext::new(account, branding)));
    // The history's newest entry is the current password (every change appends to it).
    for (i, phc) in store.password_history(account.id, policy.history() + 1).await?.iter().enumerate() {
        if hasher.verify(new, phc).await?.matches {
            out.push(if i == 0 { policy::reused_current() } else { policy::reused_recent(policy.history()) });
            break;
        }
    }
    Ok(out)
}

/// An e-mail about `account`, to its address.
pub(crate) fn mail_to(account: &Account, message: MailMessage) -> OutboxMail {
    OutboxMail { account_id: Some(account.id), to: account.email.clone(), to_name: account.display_name(), message }
}
