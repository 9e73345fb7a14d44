//! "Changer mon mot de passe" and the first connection's change.

use secrecy::ExposeSecret as _;
use sesame_core::mail::MailMessage;
use sesame_core::passwords::{ChangeOutcome, Proof};
use sesame_core::policy::Rule;
use time::Duration;

use crate::world::{STRONG, STRONGER, World, password, web};

fn rules(outcome: &ChangeOutcome) -> Vec<Rule> {
    match outcome {
        ChangeOutcome::Refused(violations) => violations.iter().map(|v| v.rule).collect(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_change_replaces_this_session_ends_the_others_and_tells_the_holder() {
    let world = World::new().await;
    let account = world.jeanne_with_password().await;
    world.mails().await;
    let here = world.sign_in("jdupont", STRONG).await.unwrap();
    let elsewhere = world.sign_in("jdupont", STRONG).await.unwrap();
    let outcome = world
        .services
        .passwords
        .change(
            &here.signed_in,
            Proof::CurrentPassword(&password(STRONG)),
            &password(STRONGER),
            &password(STRONGER),
            &web(),
        )
        .await
        .unwrap();
    let ChangeOutcome::Changed(replaced) = outcome else { panic!("{outcome:?}") };
    let sessions = &world.services.sessions;
    assert!(sessions.resolve(here.token.expose_secret()).await.unwrap().is_none(), "the old cookie is dead");
    assert!(sessions.resolve(elsewhere.token.expose_secret()).await.unwrap().is_none());
    assert!(sessions.resolve(replaced.token.expose_secret()).await.unwrap().is_some());
    assert!(world.sign_in("jdupont", STRONG).await.is_none());
    assert!(world.sign_in("jdupont", STRONGER).await.is_some());
    let mails = world.mails().await;
    assert!(matches!(mails.as_slice(), [MailMessage::PasswordChanged { .. }]), "{mails:?}");
    assert!(world.actions(Some(&account)).await.contains(&"password_changed:success".to_owned()));
}

#[tokio::test]
async fn a_wrong_current_password_changes_nothing_and_counts_as_a_failure() {
    let world = World::new().await;
    world.jeanne_with_password().await;
    let here = world.sign_in("jdupont", STRONG).await.unwrap();
    let outcome = world
        .services
        .passwords
        .change(
            &here.signed_in,
            Proof::CurrentPassword(&password("Pas-le-bon-2026!")),
            &password(STRONGER),
            &password(STRONGER),
            &web(),
        )
        .await
        .unwrap();
    assert!(matches!(outcome, ChangeOutcome::WrongCurrentPassword));
    assert!(world.sign_in("jdupont", STRONG).await.is_some(), "unchanged");
    let failure = world.audit(None).await.into_iter().find(|r| r.action == "login_failed").expect("counted");
    assert_eq!(failure.details["reason"], "wrong_current_password");
}

#[tokio::test]
async fn every_broken_rule_is_named_and_nothing_changes() {
    let world = World::new().await;
    let account = world.jeanne_with_password().await;
    let here = world.sign_in("jdupont", STRONG).await.unwrap();
    let change = |new: &'static str, confirmation: &'static str| {
        let signed_in = here.signed_in.clone();
        let services = world.services.clone();
        async move {
            services
                .passwords
                .change(
                    &signed_in,
                    Proof::CurrentPassword(&password(STRONG)),
                    &password(new),
                    &password(confirmation),
                    &web(),
                )
                .await
                .unwrap()
        }
    };
    assert_eq!(rules(&change("court", "court").await).first(), Some(&Rule::MinLength));
    assert!(rules(&change(STRONGER, "Autre-Chose-2026!").await).contains(&Rule::Confirmation));
    assert!(rules(&change("Jdupont-Normandie-2026!", "Jdupont-Normandie-2026!").await).contains(&Rule::NotPersonal));
    assert_eq!(rules(&change(STRONG, STRONG).await), vec![Rule::NotCurrent]);
    assert!(world.services.sessions.resolve(here.token.expose_secret()).await.unwrap().is_some());
    assert!(world.sign_in("jdupont", STRONG).await.is_some());
    let refused =
        world.audit(Some(&account)).await.into_iter().filter(|r| r.action == "password_change_refused").count();
    assert_eq!(refused, 4);
    // The trail names the rules, never the candidate.
    let trail = format!("{:?}", world.audit(Some(&account)).await);
    assert!(!trail.contains(STRONGER) && !trail.contains("Jdupont-Normandie"));
}

#[tokio::test]
async fn the_first_connection_change_needs_a_live_temporary_password() {
    let world = World::new().await;
    let (_, temporary) = world.jeanne().await;
    let temporary_session = world.sign_in("jdupont", temporary.expose()).await.unwrap();
    world.advance(Duration::days(7));
    let outcome = world
        .services
        .passwords
        .change(&temporary_session.signed_in, Proof::TemporarySession, &password(STRONG), &password(STRONG), &web())
        .await
        .unwrap();
    assert!(matches!(outcome, ChangeOutcome::TemporaryPasswordExpired), "{outcome:?}");

    // Once the personal password is set, "temporary session" proves nothing.
    let world = World::new().await;
    world.jeanne_with_password().await;
    let signed_in = world.sign_in("jdupont", STRONG).await.unwrap();
    let outcome = world
        .services
        .passwords
        .change(&signed_in.signed_in, Proof::TemporarySession, &password(STRONGER), &password(STRONGER), &web())
        .await
        .unwrap();
    assert!(matches!(outcome, ChangeOutcome::WrongCurrentPassword));
}
