//! One world per test: a fresh SQLite file, a manual clock, the services, Jeanne Dupont.

use std::sync::Arc;

use sesame_core::accounts::CreateAccount;
use sesame_core::audit::{Actor, AuditFilter, AuditRecord, RequestContext};
use sesame_core::clock::ManualClock;
use sesame_core::hashing::{HashingSettings, PasswordHasher};
use sesame_core::keys::Sealer;
use sesame_core::mail::MailMessage;
use sesame_core::model::Account;
use sesame_core::services::{CoreSettings, Services};
use sesame_core::store::Store;
use sesame_core::types::{Email, LoginIdentifier, Password, PersonName};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// A password the default policy accepts.
pub const STRONG: &str = "Falaise-Etretat-2026!";
/// Another one.
pub const STRONGER: &str = "Marais-Vernier-Brume-77";

pub struct World {
    pub services: Services,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

impl World {
    pub async fn new() -> Self {
        Self::with(CoreSettings::default()).await
    }

    pub async fn with(mut settings: CoreSettings) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("sesame.db").display());
        let store =
            sesame_store::connect_and_migrate(&url, &sesame_store::StoreOptions::default(), Sealer::ephemeral())
                .await
                .unwrap();
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-24 09:00 UTC)));
        let hasher = PasswordHasher::start(&HashingSettings::insecure_for_tests()).unwrap();
        if settings.public_url.is_empty() {
            settings.public_url = "https://sesame.example".into();
        }
        let services = Services::new(Arc::clone(&store), clock.clone(), hasher, &settings);
        Self { services, clock, store, _dir: dir }
    }

    /// The SQLite file of this world.
    pub fn database_path(&self) -> std::path::PathBuf {
        self._dir.path().join("sesame.db")
    }

    pub fn now(&self) -> OffsetDateTime {
        self.services.now()
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Jeanne Dupont (`jdupont`) and her temporary password.
    pub async fn jeanne(&self) -> (Account, Password) {
        let request = CreateAccount {
            identifier: None,
            email: Email::parse("jeanne.dupont@example.fr").unwrap(),
            first_name: PersonName::parse("Jeanne", "first name").unwrap(),
            last_name: PersonName::parse("Dupont", "last name").unwrap(),
            national_id: None,
        };
        let issued = self.services.accounts.create_account(request, &RequestContext::cli()).await.unwrap();
        (issued.account, issued.temporary_password)
    }

    /// Jeanne with her personal password [`STRONG`] set.
    pub async fn jeanne_with_password(&self) -> Account {
        let (account, temporary) = self.jeanne().await;
        let signed_in = self.sign_in("jdupont", temporary.expose()).await.expect("temporary password works");
        let outcome = self
            .services
            .passwords
            .change(
                &signed_in.signed_in,
                sesame_core::passwords::Proof::TemporarySession,
                &password(STRONG),
                &password(STRONG),
                &web(),
            )
            .await
            .unwrap();
        assert!(matches!(outcome, sesame_core::passwords::ChangeOutcome::Changed(_)), "{outcome:?}");
        account
    }

    /// A browser sign-in; `None` for any refusal.
    pub async fn sign_in(&self, identifier: &str, secret: &str) -> Option<sesame_core::sessions::OpenedSession> {
        let identifier = LoginIdentifier::new(identifier).unwrap();
        match self.services.sign_in.login(&identifier, &password(secret), true, &web()).await.unwrap() {
            sesame_core::signin::LoginOutcome::SignedIn(opened) => Some(*opened),
            _ => None,
        }
    }

    /// Every e-mail due now, taken out of the outbox.
    pub async fn mails(&self) -> Vec<MailMessage> {
        let now = self.now();
        let claimed = self.store.claim_due_mail(now, now + Duration::days(3650), 100).await.unwrap();
        claimed.into_iter().map(|m| m.message.expect("sealed with this node's key")).collect()
    }

    pub async fn audit(&self, account: Option<&Account>) -> Vec<AuditRecord> {
        let filter = AuditFilter { account_id: account.map(|a| a.id), ..AuditFilter::default() };
        self.store.audit_events(&filter).await.unwrap()
    }

    /// The actions of the trail, oldest first.
    pub async fn actions(&self, account: Option<&Account>) -> Vec<String> {
        let mut records = self.audit(account).await;
        records.sort_by_key(|r| r.id);
        records.into_iter().map(|r| format!("{}:{}", r.action, r.outcome)).collect()
    }
}

pub fn password(secret: &str) -> Password {
    Password::parse(secret).unwrap()
}

/// A request from a browser at 192.0.2.10.
pub fn web() -> RequestContext {
    RequestContext {
        actor: Actor::Anonymous,
        ip: Some("192.0.2.10".into()),
        user_agent: Some("Mozilla/5.0".into()),
        request_id: Some("test-request".into()),
    }
}
