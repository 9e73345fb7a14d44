//! Browser sign-in: one refusal for every failure, the captcha then delays, expired temporary
//! passwords, the holder told after repeated failures.

use secrecy::ExposeSecret as _;
use sesame_core::audit::RequestContext;
use sesame_core::mail::MailMessage;
use sesame_core::model::AccountStatus;
use sesame_core::signin::LoginOutcome;
use sesame_core::types::LoginIdentifier;
use time::Duration;

use crate::world::{STRONG, World, password, web};

async fn login(world: &World, identifier: &str, secret: &str, captcha_passed: bool) -> LoginOutcome {
    let identifier = LoginIdentifier::new(identifier).unwrap();
    world.services.sign_in.login(&identifier, &password(secret), captcha_passed, &web()).await.unwrap()
}

#[tokio::test]
async fn a_temporary_password_opens_a_session_that_must_change_it() {
    let world = World::new().await;
    let (account, temporary) = world.jeanne().await;
    let opened = world.sign_in("JDupont", temporary.expose()).await.expect("signed in, whatever the case");
    assert_eq!(opened.signed_in.account.id, account.id);
    assert!(opened.signed_in.session.must_change_password);
    let resolved = world.services.sessions.resolve(opened.token.expose_secret()).await.unwrap();
    assert_eq!(resolved.map(|s| s.session.id), Some(opened.signed_in.session.id));
    assert!(world.actions(Some(&account)).await.contains(&"login_succeeded:success".to_owned()));
}

#[tokio::test]
async fn unknown_identifier_wrong_password_and_disabled_account_get_the_same_refusal() {
    let world = World::new().await;
    let account = world.jeanne_with_password().await;
    assert!(matches!(login(&world, "personne", STRONG, true).await, LoginOutcome::Refused { captcha_required: false }));
    assert!(matches!(login(&world, "jdupont", "Mauvais-mot-2026!", true).await, LoginOutcome::Refused { .. }));
    world.services.accounts.set_status(account.id, AccountStatus::Disabled, &RequestContext::cli()).await.unwrap();
    assert!(matches!(login(&world, "jdupont", STRONG, true).await, LoginOutcome::Refused { .. }));
    let failures: Vec<_> =
        world.audit(None).await.into_iter().filter(|r| r.action == "login_failed").map(|r| r.details).collect();
    let reasons: Vec<_> = failures.iter().map(|d| d["reason"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(reasons.len(), 3);
    for reason in ["unknown_identifier", "wrong_password", "account_disabled"] {
        assert!(reasons.contains(&reason.to_owned()), "{reasons:?}");
    }
    // What was typed as an identifier is never stored, only a short digest.
    assert!(failures.iter().all(|d| d.get("identifier").is_none() && d["identifier_hash"].is_string()));
}

#[tokio::test]
async fn the_captcha_comes_at_the_third_failure_and_a_missing_answer_checks_nothing() {
    let world = World::new().await;
    world.jeanne_with_password().await;
    let identifier = LoginIdentifier::new("jdupont").unwrap();
    for _ in 0..2 {
        login(&world, "jdupont", "Mauvais-mot-2026!", false).await;
    }
    assert!(!world.services.sign_in.captcha_required(&identifier).await.unwrap());
    let third = login(&world, "jdupont", "Mauvais-mot-2026!", false).await;
    assert!(matches!(third, LoginOutcome::Refused { captcha_required: true }), "{third:?}");
    assert!(world.services.sign_in.captcha_required(&identifier).await.unwrap());
    // The right password without the captcha: refused before any check, nothing counted.
    assert!(matches!(login(&world, "jdupont", STRONG, false).await, LoginOutcome::CaptchaFailed));
    let counted = world.audit(None).await.iter().filter(|r| r.action == "login_failed").count();
    assert_eq!(counted, 3);
    // With it, she is in, and told by e-mail of the three failures.
    assert!(matches!(login(&world, "jdupont", STRONG, true).await, LoginOutcome::SignedIn(_)));
    assert!(!world.services.sign_in.captcha_required(&identifier).await.unwrap());
    let told =
        world.mails().await.into_iter().any(|m| matches!(m, MailMessage::LoginAfterFailures { failures: 3, .. }));
    assert!(told, "the holder is told of the failures before her sign-in");
}

#[tokio::test]
async fn from_the_fifth_failure_even_the_right_password_waits_for_the_delay() {
    let world = World::new().await;
    world.jeanne_with_password().await;
    for _ in 0..5 {
        login(&world, "jdupont", "Mauvais-mot-2026!", true).await;
    }
    assert!(matches!(login(&world, "jdupont", STRONG, true).await, LoginOutcome::Refused { captcha_required: true }));
    assert!(world.actions(None).await.contains(&"login_throttled:failure".to_owned()));
    world.advance(Duration::minutes(1));
    assert!(matches!(login(&world, "jdupont", STRONG, true).await, LoginOutcome::SignedIn(_)));
}

#[tokio::test]
async fn a_temporary_password_past_its_seven_days_is_told_apart_only_when_it_is_right() {
    let world = World::new().await;
    let (account, temporary) = world.jeanne().await;
    world.advance(Duration::days(7));
    assert!(matches!(login(&world, "jdupont", temporary.expose(), true).await, LoginOutcome::TemporaryPasswordExpired));
    assert!(matches!(login(&world, "jdupont", "Mauvais-mot-2026!", true).await, LoginOutcome::Refused { .. }));
    assert!(
        world.actions(Some(&account)).await.contains(&"login_refused_expired_temporary_password:failure".to_owned())
    );
    // Support issues a new one: it works again.
    let issued = world.services.accounts.reset_password(account.id, &RequestContext::cli()).await.unwrap();
    assert!(world.sign_in("jdupont", issued.temporary_password.expose()).await.is_some());
    assert!(world.sign_in("jdupont", temporary.expose()).await.is_none(), "the old one stopped working");
}
