//! Certificate sign-in: the pinned fingerprint first, then the national identifier; no account
//! or a disabled one is refused and recorded.

use secrecy::ExposeSecret as _;
use sesame_core::accounts::CreateAccount;
use sesame_core::audit::RequestContext;
use sesame_core::certificate::{CertificateIdentity, CertificateLogin, Channel};
use sesame_core::mail::MailMessage;
use sesame_core::model::AccountStatus;
use sesame_core::types::{Email, NationalId, PersonName};

use crate::world::{World, web};

fn card(fingerprint: &str, national_id: Option<&str>) -> CertificateIdentity {
    CertificateIdentity {
        fingerprint: fingerprint.into(),
        subject: "CN=Jeanne Dupont".into(),
        national_id: national_id.map(|n| NationalId::parse(n).unwrap()),
    }
}

async fn doctor(world: &World) -> sesame_core::model::Account {
    let request = CreateAccount {
        identifier: None,
        email: Email::parse("jeanne.dupont@example.fr").unwrap(),
        first_name: PersonName::parse("Jeanne", "first name").unwrap(),
        last_name: PersonName::parse("Dupont", "last name").unwrap(),
        national_id: Some(NationalId::parse("810001234565").unwrap()),
    };
    world.services.accounts.create_account(request, &RequestContext::cli()).await.unwrap().account
}

#[tokio::test]
async fn the_national_identifier_signs_in_a_browser_and_an_application() {
    let world = World::new().await;
    let account = doctor(&world).await;
    let certificates = &world.services.certificates;
    let identity = card("aa11", Some("810001234565"));
    let CertificateLogin::SignedIn(opened) = certificates.sign_in(&identity, Channel::Browser, &web()).await.unwrap()
    else {
        panic!("signed in")
    };
    assert_eq!(opened.signed_in.account.id, account.id);
    assert!(!opened.signed_in.session.must_change_password, "the card is the proof: no temporary-password step");
    let api = certificates.sign_in(&identity, Channel::Api { client: "Therap-e" }, &web()).await.unwrap();
    let CertificateLogin::Tokens(pair) = api else { panic!() };
    assert!(world.services.tokens.authenticate(pair.access_token.expose_secret()).await.unwrap().is_some());
}

#[tokio::test]
async fn a_pinned_certificate_wins_and_unpinning_tells_the_holder() {
    let world = World::new().await;
    let (jeanne, _) = world.jeanne().await;
    world.mails().await;
    let accounts = &world.services.accounts;
    assert!(accounts.pin_certificate(&jeanne, "bb22", "CN=Jeanne Dupont", true, &RequestContext::cli()).await.unwrap());
    let certificates = &world.services.certificates;
    let outcome = certificates.sign_in(&card("bb22", None), Channel::Browser, &web()).await.unwrap();
    assert!(matches!(outcome, CertificateLogin::SignedIn(ref o) if o.signed_in.account.id == jeanne.id));
    assert!(
        accounts.pin_certificate(&jeanne, "bb22", "CN=Jeanne Dupont", false, &RequestContext::cli()).await.unwrap()
    );
    assert!(
        !accounts.pin_certificate(&jeanne, "bb22", "CN=Jeanne Dupont", false, &RequestContext::cli()).await.unwrap()
    );
    let outcome = certificates.sign_in(&card("bb22", None), Channel::Browser, &web()).await.unwrap();
    assert!(matches!(outcome, CertificateLogin::NoAccount));
    let bound: Vec<bool> = world
        .mails()
        .await
        .into_iter()
        .filter_map(|m| match m {
            MailMessage::CertificateBound { bound, .. } => Some(bound),
            _ => None,
        })
        .collect();
    assert_eq!(bound, vec![true, false]);
}

#[tokio::test]
async fn no_account_and_a_disabled_account_are_refused_and_recorded() {
    let world = World::new().await;
    let account = doctor(&world).await;
    let certificates = &world.services.certificates;
    let stranger = certificates.sign_in(&card("cc33", Some("810009999995")), Channel::Browser, &web()).await.unwrap();
    assert!(matches!(stranger, CertificateLogin::NoAccount));
    world.services.accounts.set_status(account.id, AccountStatus::Disabled, &RequestContext::cli()).await.unwrap();
    let disabled = certificates.sign_in(&card("aa11", Some("810001234565")), Channel::Browser, &web()).await.unwrap();
    assert!(matches!(disabled, CertificateLogin::NoAccount));
    let reasons: Vec<String> = world
        .audit(None)
        .await
        .into_iter()
        .filter(|r| r.action == "certificate_login_refused")
        .map(|r| r.details["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        reasons.contains(&"no_account".to_owned()) && reasons.contains(&"account_disabled".to_owned()),
        "{reasons:?}"
    );
}
