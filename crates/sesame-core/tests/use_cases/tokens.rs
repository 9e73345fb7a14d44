//! The desktop application's tokens: the change ticket of a temporary password, refresh
//! rotation, reuse ending the family, signing out.

use secrecy::ExposeSecret as _;
use sesame_core::tokens::{ApiChange, ApiLogin, ApiProof, TokenPair};
use sesame_core::types::LoginIdentifier;
use time::Duration;

use crate::world::{STRONG, STRONGER, World, password, web};

async fn api_login(world: &World, secret: &str) -> ApiLogin {
    let identifier = LoginIdentifier::new("jdupont").unwrap();
    world.services.tokens.sign_in(&identifier, &password(secret), "Therap-e", &web()).await.unwrap()
}

async fn pair(world: &World) -> TokenPair {
    match api_login(world, STRONG).await {
        ApiLogin::Tokens(pair) => pair,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_temporary_password_gets_a_change_ticket_used_once() {
    let world = World::new().await;
    let (_, temporary) = world.jeanne().await;
    let ApiLogin::PasswordChangeRequired { change_ticket, expires_in } = api_login(&world, temporary.expose()).await
    else {
        panic!("a temporary password must be changed first");
    };
    assert_eq!(expires_in, 600);
    let ticket = change_ticket.expose_secret();
    let tokens = &world.services.tokens;
    let changed = tokens.change_password(ApiProof::ChangeTicket(ticket), &password(STRONG), "", &web()).await.unwrap();
    let ApiChange::Changed(pair) = changed else { panic!("{changed:?}") };
    assert!(tokens.authenticate(pair.access_token.expose_secret()).await.unwrap().is_some());
    let again = tokens.change_password(ApiProof::ChangeTicket(ticket), &password(STRONGER), "", &web()).await.unwrap();
    assert!(matches!(again, ApiChange::Unauthorized), "a ticket works once");
    assert!(world.sign_in("jdupont", STRONG).await.is_some());
}

#[tokio::test]
async fn a_change_ticket_expires_and_a_weak_password_is_refused_with_its_rules() {
    let world = World::new().await;
    let (_, temporary) = world.jeanne().await;
    let ApiLogin::PasswordChangeRequired { change_ticket, .. } = api_login(&world, temporary.expose()).await else {
        panic!()
    };
    let ticket = change_ticket.expose_secret();
    let tokens = &world.services.tokens;
    let weak = tokens.change_password(ApiProof::ChangeTicket(ticket), &password("court"), "", &web()).await.unwrap();
    assert!(matches!(weak, ApiChange::Refused(ref v) if !v.is_empty()), "{weak:?}");
    world.advance(Duration::minutes(10));
    let late = tokens.change_password(ApiProof::ChangeTicket(ticket), &password(STRONG), "", &web()).await.unwrap();
    assert!(matches!(late, ApiChange::Unauthorized), "{late:?}");
}

#[tokio::test]
async fn a_refresh_token_rotates_and_its_reuse_ends_the_whole_sign_in() {
    let world = World::new().await;
    world.jeanne_with_password().await;
    let first = pair(&world).await;
    let tokens = &world.services.tokens;
    let second = tokens.refresh(first.refresh_token.expose_secret(), &web()).await.unwrap().expect("rotated");
    assert_ne!(second.refresh_token.expose_secret(), first.refresh_token.expose_secret());
    assert!(tokens.authenticate(second.access_token.expose_secret()).await.unwrap().is_some());

    // The first refresh token comes back (stolen, or a client bug): everything of the family ends.
    assert!(tokens.refresh(first.refresh_token.expose_secret(), &web()).await.unwrap().is_none());
    assert!(tokens.authenticate(second.access_token.expose_secret()).await.unwrap().is_none());
    assert!(tokens.refresh(second.refresh_token.expose_secret(), &web()).await.unwrap().is_none());
    let ended = world.audit(None).await.into_iter().find(|r| r.details["reason"] == "refresh_token_reused");
    assert!(ended.is_some(), "the reuse is in the trail");
}

#[tokio::test]
async fn an_access_token_expires_and_signing_out_ends_its_family_only() {
    let world = World::new().await;
    world.jeanne_with_password().await;
    let here = pair(&world).await;
    let other = pair(&world).await;
    let tokens = &world.services.tokens;
    let principal = tokens.authenticate(here.access_token.expose_secret()).await.unwrap().unwrap();
    tokens.sign_out(&principal, &web()).await.unwrap();
    assert!(tokens.authenticate(here.access_token.expose_secret()).await.unwrap().is_none());
    assert!(tokens.refresh(here.refresh_token.expose_secret(), &web()).await.unwrap().is_none());
    assert!(tokens.authenticate(other.access_token.expose_secret()).await.unwrap().is_some());
    world.advance(Duration::minutes(15));
    assert!(tokens.authenticate(other.access_token.expose_secret()).await.unwrap().is_none(), "15 minutes");
    assert!(tokens.refresh(other.refresh_token.expose_secret(), &web()).await.unwrap().is_some());
}

#[tokio::test]
async fn a_password_change_from_the_application_ends_every_other_sign_in() {
    let world = World::new().await;
    world.jeanne_with_password().await;
    let browser = world.sign_in("jdupont", STRONG).await.unwrap();
    let other = pair(&world).await;
    let here = pair(&world).await;
    let tokens = &world.services.tokens;
    let principal = tokens.authenticate(here.access_token.expose_secret()).await.unwrap().unwrap();
    let wrong = ApiProof::AccessToken { principal: &principal, current_password: &password("Pas-le-bon-2026!") };
    assert!(matches!(
        tokens.change_password(wrong, &password(STRONGER), "", &web()).await.unwrap(),
        ApiChange::Unauthorized
    ));
    let proof = ApiProof::AccessToken { principal: &principal, current_password: &password(STRONG) };
    let ApiChange::Changed(fresh) = tokens.change_password(proof, &password(STRONGER), "", &web()).await.unwrap()
    else {
        panic!()
    };
    assert!(tokens.authenticate(fresh.access_token.expose_secret()).await.unwrap().is_some());
    assert!(tokens.authenticate(other.access_token.expose_secret()).await.unwrap().is_none());
    assert!(tokens.authenticate(here.access_token.expose_secret()).await.unwrap().is_none());
    assert!(world.services.sessions.resolve(browser.token.expose_secret()).await.unwrap().is_none());
}

#[tokio::test]
async fn throttling_reaches_the_application_as_a_delay() {
    let world = World::new().await;
    world.jeanne_with_password().await;
    for _ in 0..5 {
        assert!(matches!(api_login(&world, "Mauvais-mot-2026!").await, ApiLogin::Refused));
    }
    let ApiLogin::Throttled { retry_after } = api_login(&world, STRONG).await else { panic!("throttled") };
    assert!((1..=60).contains(&retry_after), "{retry_after}");
}
