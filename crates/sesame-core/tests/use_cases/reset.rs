//! "Mot de passe oublié": the same answer whatever the identifier, the hourly limit, the link's
//! lifetime, single use under concurrency.

use secrecy::ExposeSecret as _;
use sesame_core::audit::RequestContext;
use sesame_core::mail::MailMessage;
use sesame_core::model::AccountStatus;
use sesame_core::reset::{LINK_PATH, ResetOutcome, ResetSettings, ResetToken};
use sesame_core::services::CoreSettings;
use sesame_core::types::LoginIdentifier;
use time::Duration;

use crate::world::{STRONG, STRONGER, World, password, web};

async fn request(world: &World, identifier: &str) {
    let answer = world.services.reset.request(&LoginIdentifier::new(identifier).unwrap(), &web()).await.unwrap();
    assert_eq!(answer.masked_email, None, "not shown unless configured");
}

/// The token of the one reset e-mail waiting.
async fn link_token(world: &World) -> ResetToken {
    let links: Vec<String> = world
        .mails()
        .await
        .into_iter()
        .filter_map(|m| match m {
            MailMessage::ResetLink { link, valid_minutes: 60, .. } => Some(link),
            _ => None,
        })
        .collect();
    let [link] = links.as_slice() else { panic!("one link expected: {links:?}") };
    let prefix = format!("https://sesame.example{LINK_PATH}?jeton=");
    ResetToken::parse(link.strip_prefix(&prefix).expect("the link's address")).expect("a well-formed token")
}

async fn complete(world: &World, token: &ResetToken, new: &str) -> ResetOutcome {
    world.services.reset.complete(token, &password(new), &password(new), &web()).await.unwrap()
}

#[tokio::test]
async fn a_link_sets_the_password_once_ends_every_session_and_tells_the_holder() {
    let world = World::new().await;
    let account = world.jeanne_with_password().await;
    let browser = world.sign_in("jdupont", STRONG).await.unwrap();
    world.mails().await;
    request(&world, "jdupont").await;
    let token = link_token(&world).await;
    assert!(world.services.reset.link_is_valid(&token).await.unwrap());
    assert!(world.services.reset.link_is_valid(&token).await.unwrap(), "looking does not use it");
    assert!(matches!(complete(&world, &token, STRONGER).await, ResetOutcome::Done));
    assert!(world.sign_in("jdupont", STRONGER).await.is_some());
    assert!(world.services.sessions.resolve(browser.token.expose_secret()).await.unwrap().is_none());
    assert!(matches!(complete(&world, &token, "Encore-Autre-2026!").await, ResetOutcome::InvalidLink));
    assert!(!world.services.reset.link_is_valid(&token).await.unwrap());
    assert!(world.mails().await.iter().any(|m| matches!(m, MailMessage::PasswordChanged { .. })));
    assert!(world.actions(Some(&account)).await.contains(&"reset_completed:success".to_owned()));
}

#[tokio::test]
async fn unknown_disabled_and_over_the_limit_requests_send_nothing_and_answer_the_same() {
    let world = World::new().await;
    let account = world.jeanne_with_password().await;
    world.mails().await;
    request(&world, "personne").await;
    assert!(world.mails().await.is_empty());
    for _ in 0..3 {
        request(&world, "jdupont").await;
    }
    assert_eq!(world.mails().await.len(), 3);
    request(&world, "jdupont").await;
    assert!(world.mails().await.is_empty(), "three an hour");
    world.advance(Duration::minutes(61));
    request(&world, "jdupont").await;
    assert_eq!(world.mails().await.len(), 1);
    world.services.accounts.set_status(account.id, AccountStatus::Disabled, &RequestContext::cli()).await.unwrap();
    world.mails().await;
    world.advance(Duration::minutes(61));
    request(&world, "jdupont").await;
    assert!(world.mails().await.is_empty());
    let results: Vec<String> = world
        .audit(None)
        .await
        .into_iter()
        .filter(|r| r.action == "reset_requested")
        .map(|r| r.details["result"].as_str().unwrap_or_default().to_owned())
        .collect();
    for result in ["unknown_identifier", "hourly_limit", "account_disabled", "sent"] {
        assert!(results.contains(&result.to_owned()), "{results:?}");
    }
}

#[tokio::test]
async fn a_link_expires_after_its_minutes_and_a_refused_password_keeps_it() {
    let settings = CoreSettings {
        reset: ResetSettings { link_minutes: 60, ..ResetSettings::default() },
        ..CoreSettings::default()
    };
    let world = World::with(settings).await;
    world.jeanne_with_password().await;
    world.mails().await;
    request(&world, "jdupont").await;
    let token = link_token(&world).await;
    let ResetOutcome::Refused(violations) = complete(&world, &token, "court").await else { panic!() };
    assert!(!violations.is_empty());
    assert!(world.services.reset.link_is_valid(&token).await.unwrap(), "a refused password does not use the link");
    world.advance(Duration::minutes(60));
    assert!(matches!(complete(&world, &token, STRONGER).await, ResetOutcome::InvalidLink));
    assert!(world.sign_in("jdupont", STRONG).await.is_some());
}

#[tokio::test]
async fn of_two_concurrent_submissions_of_one_link_exactly_one_wins() {
    let world = World::new().await;
    world.jeanne_with_password().await;
    world.mails().await;
    request(&world, "jdupont").await;
    let token = link_token(&world).await;
    let (a, b) = tokio::join!(complete(&world, &token, STRONGER), complete(&world, &token, "Encore-Autre-2026!"));
    let done = [&a, &b].iter().filter(|o| matches!(o, ResetOutcome::Done)).count();
    let invalid = [&a, &b].iter().filter(|o| matches!(o, ResetOutcome::InvalidLink)).count();
    assert_eq!((done, invalid), (1, 1), "{a:?} {b:?}");
    let winner = if matches!(a, ResetOutcome::Done) { STRONGER } else { "Encore-Autre-2026!" };
    assert!(world.sign_in("jdupont", winner).await.is_some());
}

#[test]
fn a_reset_token_owns_its_shape() {
    assert!(ResetToken::parse("").is_none());
    assert!(ResetToken::parse("short").is_none());
    assert!(ResetToken::parse(&"é".repeat(43)).is_none());
    assert!(ResetToken::parse(&"a".repeat(500)).is_none());
}
