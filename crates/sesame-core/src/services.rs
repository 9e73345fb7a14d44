//! Every use case, built in one place over one shared set of dependencies: the binary and the
//! tests make their [`Services`] the same way.

use std::sync::Arc;
use time::OffsetDateTime;

use crate::accounts::{AccountService, AccountSettings};
use crate::branding::Branding;
use crate::captcha::Captcha;
use crate::certificate::Certificates;
use crate::clock::Clock;
use crate::deps::Deps;
use crate::factors::{SecondFactorSettings, SecondFactors};
use crate::hashing::PasswordHasher;
use crate::limits::AddressLimits;
use crate::oidc::{Authorizations, BackChannel, Clients, Logouts, OidcSettings, SigningKeys, Tokens};
use crate::passwords::Passwords;
use crate::policy::{PasswordPolicy, PolicySettings};
use crate::reset::{ResetService, ResetSettings};
use crate::sessions::{SessionSettings, Sessions};
use crate::signin::SignIn;
use crate::store::{Store, StoreResult};
use crate::throttle::ThrottleSettings;
use crate::tokens::{ApiSettings, ApiTokens};

/// The settings of the use cases, each section as configuration names it.
#[derive(Debug, Clone, Default)]
pub struct CoreSettings {
    pub branding: Branding,
    /// Every link in e-mails is built from it.
    pub public_url: String,
    pub policy: PolicySettings,
    pub accounts: AccountSettings,
    pub sessions: SessionSettings,
    pub throttle: ThrottleSettings,
    pub reset: ResetSettings,
    pub api: ApiSettings,
    pub second_factor: SecondFactorSettings,
    pub oidc: OidcSettings,
}

/// The use cases, by what each owns.
#[derive(Debug, Clone)]
pub struct Services {
    deps: Deps,
    /// Creating accounts, temporary passwords, disabling, pinning certificates.
    pub accounts: AccountService,
    /// The credential check and the browser sign-in.
    pub sign_in: SignIn,
    /// Browser sessions: resolve, list, end.
    pub sessions: Sessions,
    /// Changing a password from "Mon compte" or at first connection.
    pub passwords: Passwords,
    /// The desktop API's tokens.
    pub tokens: ApiTokens,
    /// Authenticator apps, recovery codes, the second step of a sign-in.
    pub factors: SecondFactors,
    /// Sign-in with a client certificate.
    pub certificates: Certificates,
    /// "Mot de passe oublié".
    pub reset: ResetService,
    pub captcha: Captcha,
    /// Per-address limits.
    pub limits: AddressLimits,
    /// The OpenID Connect clients (the portal's services).
    pub clients: Clients,
    /// The keys that sign ID tokens, and the JWK Set.
    pub signing_keys: SigningKeys,
    /// The authorization endpoint: sign-in needed, consent, codes.
    pub authorizations: Authorizations,
    /// The token and userinfo endpoints.
    pub oidc_tokens: Tokens,
    /// RP-initiated logout's checks.
    pub logouts: Logouts,
    /// Back-channel logout: the logout tokens owed to services, delivered.
    pub backchannel: BackChannel,
}

impl Services {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, hasher: PasswordHasher, settings: &CoreSettings) -> Self {
        let policy = PasswordPolicy::new(&settings.policy);
        let deps = Deps::new(store, clock, hasher, policy, settings.branding.clone());
        let sessions = Sessions::new(deps.clone(), settings.sessions.clone());
        let sign_in = SignIn::new(deps.clone(), settings.throttle.clone(), sessions.clone());
        let passwords = Passwords::new(deps.clone(), sign_in.clone(), sessions.clone());
        let factors = SecondFactors::new(
            deps.clone(),
            settings.second_factor.clone(),
            sign_in.clone(),
            sessions.clone(),
            &settings.public_url,
        );
        let tokens =
            ApiTokens::new(deps.clone(), settings.api.clone(), sign_in.clone(), passwords.clone(), factors.clone());
        let clients = Clients::new(deps.clone());
        let signing_keys = SigningKeys::new(deps.clone(), &settings.oidc);
        Self {
            accounts: AccountService::new(deps.clone(), settings.accounts.clone()),
            certificates: Certificates::new(deps.clone(), sessions.clone(), tokens.clone()),
            reset: ResetService::new(deps.clone(), passwords.clone(), settings.reset.clone(), &settings.public_url),
            captcha: Captcha::new(deps.clone()),
            limits: AddressLimits::new(deps.clone(), settings.throttle.clone()),
            clients: clients.clone(),
            signing_keys: signing_keys.clone(),
            oidc_tokens: Tokens::new(
                deps.clone(),
                &settings.oidc,
                &settings.public_url,
                clients.clone(),
                signing_keys.clone(),
            ),
            backchannel: BackChannel::new(deps.clone(), signing_keys.clone(), &settings.public_url),
            logouts: Logouts::new(clients, signing_keys, &settings.public_url),
            authorizations: Authorizations::new(deps.clone()),
            sign_in,
            sessions,
            passwords,
            tokens,
            factors,
            deps,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.deps.store()
    }

    pub fn now(&self) -> OffsetDateTime {
        self.deps.now()
    }

    pub fn policy(&self) -> &PasswordPolicy {
        self.deps.policy()
    }

    /// Readiness: the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        self.deps.store().ping().await
    }
}
