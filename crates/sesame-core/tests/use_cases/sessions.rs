//! Browser sessions: idle and absolute expiry, ending one, the others, signing out.

use secrecy::ExposeSecret as _;
use sesame_core::services::CoreSettings;
use sesame_core::sessions::SessionSettings;
use time::Duration;

use crate::world::{STRONG, World, web};

#[tokio::test]
async fn a_session_ends_after_its_idle_time_and_activity_keeps_it() {
    let settings =
        CoreSettings { sessions: SessionSettings { idle_minutes: 30, absolute_hours: 4 }, ..CoreSettings::default() };
    let world = World::with(settings).await;
    world.jeanne_with_password().await;
    let opened = world.sign_in("jdupont", STRONG).await.unwrap();
    let token = opened.token.expose_secret();
    for _ in 0..3 {
        world.advance(Duration::minutes(20));
        assert!(world.services.sessions.resolve(token).await.unwrap().is_some(), "activity every 20 minutes");
    }
    world.advance(Duration::minutes(30));
    assert!(world.services.sessions.resolve(token).await.unwrap().is_none(), "30 minutes idle");
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_active() {
    let world = World::new().await;
    world.jeanne_with_password().await;
    let opened = world.sign_in("jdupont", STRONG).await.unwrap();
    let token = opened.token.expose_secret();
    for _ in 0..15 {
        world.advance(Duration::minutes(15));
        assert!(world.services.sessions.resolve(token).await.unwrap().is_some());
    }
    world.advance(Duration::minutes(15));
    assert!(world.services.sessions.resolve(token).await.unwrap().is_none(), "four hours after sign-in");
}

#[tokio::test]
async fn ending_the_other_sessions_keeps_this_one_and_signing_out_ends_it() {
    let world = World::new().await;
    let account = world.jeanne_with_password().await;
    let before = world.services.sessions.of(account.id).await.unwrap().len();
    let here = world.sign_in("jdupont", STRONG).await.unwrap();
    let elsewhere = world.sign_in("jdupont", STRONG).await.unwrap();
    let third = world.sign_in("jdupont", STRONG).await.unwrap();
    assert_eq!(world.services.sessions.of(account.id).await.unwrap().len(), before + 3);

    let ended = world.services.sessions.end_one(&here.signed_in, third.signed_in.session.id, &web()).await.unwrap();
    assert_eq!(ended, 1);
    assert!(world.services.sessions.resolve(third.token.expose_secret()).await.unwrap().is_none());
    assert!(world.services.sessions.end_others(&here.signed_in, &web()).await.unwrap() >= 1);
    assert!(world.services.sessions.resolve(elsewhere.token.expose_secret()).await.unwrap().is_none());
    let live = world.services.sessions.resolve(here.token.expose_secret()).await.unwrap().expect("this one stays");

    world.services.sessions.logout(&live, &web()).await.unwrap();
    assert!(world.services.sessions.resolve(here.token.expose_secret()).await.unwrap().is_none());
    assert!(world.services.sessions.of(account.id).await.unwrap().is_empty());
    let actions = world.actions(Some(&account)).await;
    assert!(actions.contains(&"logout:success".to_owned()) && actions.contains(&"session_ended:success".to_owned()));
}

#[tokio::test]
async fn a_session_cannot_end_another_account_s_session() {
    let world = World::new().await;
    world.jeanne_with_password().await;
    let jeanne = world.sign_in("jdupont", STRONG).await.unwrap();
    let other = world
        .services
        .accounts
        .create_account(
            sesame_core::accounts::CreateAccount {
                identifier: None,
                email: sesame_core::types::Email::parse("paul.martin@example.fr").unwrap(),
                first_name: sesame_core::types::PersonName::parse("Paul", "first name").unwrap(),
                last_name: sesame_core::types::PersonName::parse("Martin", "last name").unwrap(),
                national_id: None,
            },
            &sesame_core::audit::RequestContext::cli(),
        )
        .await
        .unwrap();
    let paul = world.sign_in("pmartin", other.temporary_password.expose()).await.unwrap();
    let ended = world.services.sessions.end_one(&jeanne.signed_in, paul.signed_in.session.id, &web()).await.unwrap();
    assert_eq!(ended, 0);
    assert!(world.services.sessions.resolve(paul.token.expose_secret()).await.unwrap().is_some());
}

#[tokio::test]
async fn a_disabled_account_s_sessions_stop_resolving() {
    let world = World::new().await;
    let account = world.jeanne_with_password().await;
    let opened = world.sign_in("jdupont", STRONG).await.unwrap();
    world
        .services
        .accounts
        .set_status(account.id, sesame_core::model::AccountStatus::Disabled, &sesame_core::audit::RequestContext::cli())
        .await
        .unwrap();
    assert!(world.services.sessions.resolve(opened.token.expose_secret()).await.unwrap().is_none());
}
