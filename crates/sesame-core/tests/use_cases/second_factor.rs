//! Second factor: enrolling an authenticator app, the second step after a correct password
//! (codes of the previous and next step, replay, throttling shared with passwords), recovery
//! codes (once each, e-mailed), removal, and no bypass through "Mot de passe oublié".

use secrecy::ExposeSecret as _;
use sesame_core::factor::{FactorId, RecoveryCode};
use sesame_core::factors::{ConfirmOutcome, EnrolOutcome, FactorProof, RemoveOutcome, StepOutcome, TotpEnrolment};
use sesame_core::mail::{FactorChange, MailMessage};
use sesame_core::session::AuthMethod;
use sesame_core::sessions::OpenedSession;
use sesame_core::signin::LoginOutcome;
use sesame_core::tokens::ApiLogin;
use sesame_core::totp::{STEP_SECONDS, step_of};
use sesame_core::types::LoginIdentifier;
use time::Duration;

use crate::world::{STRONG, World, password, web};

/// Jeanne with her password and an authenticator app; the app's enrolment and her codes.
async fn jeanne_with_app(world: &World) -> (OpenedSession, TotpEnrolment, Vec<RecoveryCode>) {
    world.jeanne_with_password().await;
    let opened = world.sign_in("jdupont", STRONG).await.expect("password alone before enrolment");
    let EnrolOutcome::Started(enrolment) =
        world.services.factors.start_totp(&opened.signed_in, &password(STRONG), "Téléphone", &web()).await.unwrap()
    else {
        panic!("enrolment starts with the right password");
    };
    let code = enrolment.secret.code_at(world.now());
    let outcome =
        world.services.factors.confirm_totp(&opened.signed_in, enrolment.factor, &code, &web()).await.unwrap();
    let ConfirmOutcome::Confirmed { recovery_codes: Some(codes) } = outcome else {
        panic!("the first factor comes with recovery codes: {outcome:?}");
    };
    // The confirming code's step is used: move past it (and its drift) so tests start clean.
    world.advance(Duration::seconds(2 * STEP_SECONDS));
    (opened, enrolment, codes)
}

async fn password_step(world: &World) -> String {
    let identifier = LoginIdentifier::new("jdupont").unwrap();
    match world.services.sign_in.login(&identifier, &password(STRONG), true, &web()).await.unwrap() {
        LoginOutcome::SecondFactorRequired { ticket } => ticket.expose_secret().to_owned(),
        other => panic!("a second step is asked: {other:?}"),
    }
}

async fn second_step(world: &World, ticket: &str, typed: &str) -> StepOutcome<Box<OpenedSession>> {
    let proof = FactorProof::parse(typed);
    world.services.factors.complete_browser(ticket, proof.as_ref(), &web()).await.unwrap()
}

#[tokio::test]
async fn enrolment_asks_the_password_again_and_a_first_code() {
    let world = World::new().await;
    world.jeanne_with_password().await;
    let opened = world.sign_in("jdupont", STRONG).await.unwrap();
    let factors = &world.services.factors;
    let wrong = factors.start_totp(&opened.signed_in, &password("Pas-le-bon-2026!"), "", &web()).await.unwrap();
    assert!(matches!(wrong, EnrolOutcome::WrongPassword));
    let EnrolOutcome::Started(enrolment) =
        factors.start_totp(&opened.signed_in, &password(STRONG), "  ", &web()).await.unwrap()
    else {
        panic!("started");
    };
    assert_eq!(enrolment.name, "Application d'authentification", "a default name");
    assert!(enrolment.uri.starts_with("otpauth://totp/"));
    // Until confirmed, the factor is asked nowhere and the enrolment can be shown again.
    assert!(world.sign_in("jdupont", STRONG).await.is_some(), "an abandoned enrolment changes nothing");
    let again = factors.pending_totp(&opened.signed_in.account, enrolment.factor).await.unwrap().unwrap();
    assert_eq!(again.secret.base32(), enrolment.secret.base32());
    let refused = factors.confirm_totp(&opened.signed_in, enrolment.factor, "000000", &web()).await.unwrap();
    assert!(matches!(refused, ConfirmOutcome::WrongCode));
    let code = enrolment.secret.code_at(world.now());
    assert!(matches!(
        factors.confirm_totp(&opened.signed_in, enrolment.factor, &code, &web()).await.unwrap(),
        ConfirmOutcome::Confirmed { recovery_codes: Some(codes) } if codes.len() == 10
    ));
    // Confirmed: the secret is never shown again.
    assert!(factors.pending_totp(&opened.signed_in.account, enrolment.factor).await.unwrap().is_none());
    let mails = world.mails().await;
    assert!(mails.iter().any(|m| matches!(m, MailMessage::SecondFactor { change: FactorChange::Added { .. }, .. })));
}

#[tokio::test]
async fn after_the_password_the_code_of_the_previous_or_next_step_opens_the_session() {
    let world = World::new().await;
    let (_, app, _) = jeanne_with_app(&world).await;
    for offset in [-1, 1, 0] {
        let ticket = password_step(&world).await;
        let step = step_of(world.now()) + offset;
        let StepOutcome::Passed(opened) = second_step(&world, &ticket, &app.secret.code_at_step(step)).await else {
            panic!("step {offset:+} accepted");
        };
        assert_eq!(opened.signed_in.session.auth_method, AuthMethod::PasswordTotp);
        assert!(opened.signed_in.session.auth_method.is_multi_factor());
        // Each accepted step is used up: go past them.
        world.advance(Duration::seconds(3 * STEP_SECONDS));
    }
}

#[tokio::test]
async fn codes_two_steps_away_and_replayed_codes_are_refused() {
    let world = World::new().await;
    let (_, app, _) = jeanne_with_app(&world).await;
    let ticket = password_step(&world).await;
    let now = step_of(world.now());
    for step in [now - 2, now + 2] {
        assert!(matches!(second_step(&world, &ticket, &app.secret.code_at_step(step)).await, StepOutcome::Wrong));
    }
    let code = app.secret.code_at(world.now());
    assert!(matches!(second_step(&world, &ticket, &code).await, StepOutcome::Passed(_)));
    let replay_ticket = password_step(&world).await;
    assert!(matches!(second_step(&world, &replay_ticket, &code).await, StepOutcome::Wrong), "a code is good once");
    // A used ticket opens nothing more.
    assert!(matches!(second_step(&world, &ticket, &app.secret.code_at_step(now + 1)).await, StepOutcome::Expired));
}

#[tokio::test]
async fn wrong_codes_count_with_password_failures_and_close_the_gate() {
    let world = World::new().await;
    let (_, app, _) = jeanne_with_app(&world).await;
    let ticket = password_step(&world).await;
    for _ in 0..5 {
        assert!(matches!(second_step(&world, &ticket, "000000").await, StepOutcome::Wrong));
    }
    let state = world.store.throttle_state("jdupont").await.unwrap().unwrap();
    assert_eq!(state.consecutive_failures, 5, "the same counters as passwords");
    let good = app.secret.code_at(world.now());
    assert!(matches!(second_step(&world, &ticket, &good).await, StepOutcome::Throttled { until: Some(_) }));
    // A new password step does not reset them: the password alone opens nothing.
    let identifier = LoginIdentifier::new("jdupont").unwrap();
    let outcome = world.services.sign_in.login(&identifier, &password(STRONG), true, &web()).await.unwrap();
    assert!(matches!(outcome, LoginOutcome::Refused { .. }), "the delay holds for the password too: {outcome:?}");
    let actions = world.actions(None).await;
    assert!(actions.iter().filter(|a| *a == "second_factor_failed:failure").count() >= 6, "{actions:?}");
}

#[tokio::test]
async fn a_ticket_lasts_five_minutes_and_reaches_nothing_else() {
    let world = World::new().await;
    let (_, app, _) = jeanne_with_app(&world).await;
    let ticket = password_step(&world).await;
    assert!(world.services.sessions.resolve(&ticket).await.unwrap().is_none(), "a ticket is no session");
    assert!(world.services.factors.ticket_is_live(&ticket, "browser").await.unwrap());
    assert!(!world.services.factors.ticket_is_live(&ticket, "api").await.unwrap(), "bound to its channel");
    world.advance(Duration::minutes(5));
    assert!(matches!(second_step(&world, &ticket, &app.secret.code_at(world.now())).await, StepOutcome::Expired));
}

#[tokio::test]
async fn a_recovery_code_works_once_and_its_holder_is_told_how_many_remain() {
    let world = World::new().await;
    let (opened, _, codes) = jeanne_with_app(&world).await;
    world.mails().await;
    let ticket = password_step(&world).await;
    let typed = codes[3].expose().to_lowercase();
    let StepOutcome::Passed(session) = second_step(&world, &ticket, &typed).await else { panic!("accepted") };
    assert_eq!(session.signed_in.session.auth_method, AuthMethod::PasswordRecoveryCode);
    let mails = world.mails().await;
    assert!(
        mails.iter().any(|m| matches!(
            m,
            MailMessage::SecondFactor { change: FactorChange::RecoveryCodeUsed { remaining: 9 }, .. }
        )),
        "{mails:?}"
    );
    let ticket = password_step(&world).await;
    assert!(matches!(second_step(&world, &ticket, codes[3].expose()).await, StepOutcome::Wrong), "used up");
    assert!(matches!(second_step(&world, &ticket, "ABCD-EFGH-JKLM-NPQR").await, StepOutcome::Wrong));
    let view = world.services.factors.of(&opened.signed_in.account).await.unwrap();
    assert_eq!(view.recovery_codes_left, 9);
    // A new batch replaces the old one.
    let renewed =
        world.services.factors.renew_recovery_codes(&opened.signed_in, &password(STRONG), &web()).await.unwrap();
    let sesame_core::factors::RenewOutcome::Renewed(fresh) = renewed else { panic!("renewed") };
    assert_ne!(fresh[0].expose(), codes[0].expose());
    assert!(matches!(second_step(&world, &ticket, codes[0].expose()).await, StepOutcome::Wrong), "old batch is gone");
    assert!(matches!(second_step(&world, &ticket, fresh[0].expose()).await, StepOutcome::Passed(_)));
}

#[tokio::test]
async fn a_forgotten_password_reset_does_not_remove_the_second_step() {
    let world = World::new().await;
    let (_, app, _) = jeanne_with_app(&world).await;
    let account = world.store.account_by_identifier_key("jdupont").await.unwrap().unwrap();
    let token = {
        let identifier = LoginIdentifier::new("jdupont").unwrap();
        world.services.reset.request(&identifier, &web()).await.unwrap();
        let link = world
            .mails()
            .await
            .into_iter()
            .find_map(|m| match m {
                MailMessage::ResetLink { link, .. } => Some(link),
                _ => None,
            })
            .expect("link sent");
        link.rsplit_once("jeton=").map(|(_, t)| t.to_owned()).expect("token in link")
    };
    let token = sesame_core::reset::ResetToken::parse(&token).expect("well-formed");
    let new = password("Nouveau-Chemin-Cotier-31");
    let done = world.services.reset.complete(&token, &new, &new, &web()).await.unwrap();
    assert!(matches!(done, sesame_core::reset::ResetOutcome::Done), "{done:?}");
    let identifier = LoginIdentifier::new("jdupont").unwrap();
    let outcome = world.services.sign_in.login(&identifier, &new, true, &web()).await.unwrap();
    let LoginOutcome::SecondFactorRequired { ticket } = outcome else { panic!("still two steps: {outcome:?}") };
    let passed = second_step(&world, ticket.expose_secret(), &app.secret.code_at(world.now())).await;
    assert!(matches!(passed, StepOutcome::Passed(_)));
    assert_eq!(world.services.factors.of(&account).await.unwrap().factors.len(), 1);
}

#[tokio::test]
async fn removing_a_factor_needs_the_password_and_a_factor() {
    let world = World::new().await;
    let (opened, app, codes) = jeanne_with_app(&world).await;
    let factors = &world.services.factors;
    let user = &opened.signed_in;
    let id = app.factor;
    let code = FactorProof::parse(&app.secret.code_at(world.now()));
    let outcome = factors.remove(user, id, &password("Pas-le-bon-2026!"), code.as_ref(), &web()).await.unwrap();
    assert!(matches!(outcome, RemoveOutcome::WrongPassword));
    let outcome =
        factors.remove(user, id, &password(STRONG), FactorProof::parse("123456").as_ref(), &web()).await.unwrap();
    assert!(matches!(outcome, RemoveOutcome::WrongProof));
    let outcome = factors.remove(user, FactorId(9999), &password(STRONG), code.as_ref(), &web()).await.unwrap();
    assert!(matches!(outcome, RemoveOutcome::Unknown));
    world.mails().await;
    let recovery = FactorProof::Recovery(codes[0].clone());
    assert!(matches!(
        factors.remove(user, id, &password(STRONG), Some(&recovery), &web()).await.unwrap(),
        RemoveOutcome::Removed
    ));
    let view = factors.of(&user.account).await.unwrap();
    assert!(view.factors.is_empty());
    assert_eq!(view.recovery_codes_left, 0, "the codes go with the last factor");
    let mails = world.mails().await;
    assert!(mails.iter().any(|m| matches!(
        m,
        MailMessage::SecondFactor { change: FactorChange::Removed { by_support: false, .. }, .. }
    )));
    assert!(world.sign_in("jdupont", STRONG).await.is_some(), "the password alone again");
}

#[tokio::test]
async fn a_new_app_replaces_the_old_one_only_once_confirmed() {
    let world = World::new().await;
    let (opened, old, _) = jeanne_with_app(&world).await;
    let factors = &world.services.factors;
    let EnrolOutcome::Started(new) =
        factors.start_totp(&opened.signed_in, &password(STRONG), "Nouveau téléphone", &web()).await.unwrap()
    else {
        panic!("started");
    };
    // Abandoned for now: the old app still works.
    let ticket = password_step(&world).await;
    assert!(matches!(second_step(&world, &ticket, &old.secret.code_at(world.now())).await, StepOutcome::Passed(_)));
    world.advance(Duration::seconds(STEP_SECONDS));
    let code = new.secret.code_at(world.now());
    let outcome = factors.confirm_totp(&opened.signed_in, new.factor, &code, &web()).await.unwrap();
    assert!(matches!(outcome, ConfirmOutcome::Confirmed { recovery_codes: None }), "codes stay: {outcome:?}");
    world.advance(Duration::seconds(STEP_SECONDS));
    let ticket = password_step(&world).await;
    assert!(matches!(second_step(&world, &ticket, &old.secret.code_at(world.now())).await, StepOutcome::Wrong));
    assert!(matches!(second_step(&world, &ticket, &new.secret.code_at(world.now())).await, StepOutcome::Passed(_)));
}

#[tokio::test]
async fn the_api_answers_with_a_ticket_then_grants_tokens_for_a_code() {
    let world = World::new().await;
    let (_, app, _) = jeanne_with_app(&world).await;
    let identifier = LoginIdentifier::new("jdupont").unwrap();
    let tokens = &world.services.tokens;
    let outcome = tokens.sign_in(&identifier, &password(STRONG), "Therap-e", &web()).await.unwrap();
    let ApiLogin::SecondFactorRequired { second_factor_ticket, expires_in, accepted } = outcome else {
        panic!("second step asked: {outcome:?}");
    };
    assert_eq!(expires_in, 300);
    assert_eq!(accepted, ["totp", "recovery_code"], "an app's codes and recovery codes");
    let ticket = second_factor_ticket.expose_secret();
    assert!(
        !world.services.factors.ticket_is_live(ticket, "browser").await.unwrap(),
        "an API ticket does not open the pages' second step"
    );
    let wrong = tokens.second_step(ticket, FactorProof::parse("000000").as_ref(), &web()).await.unwrap();
    assert!(matches!(wrong, ApiLogin::Refused));
    let code = FactorProof::parse(&app.secret.code_at(world.now()));
    let granted = tokens.second_step(ticket, code.as_ref(), &web()).await.unwrap();
    assert!(matches!(granted, ApiLogin::Tokens(_)), "{granted:?}");
    let again = tokens.second_step(ticket, code.as_ref(), &web()).await.unwrap();
    assert!(matches!(again, ApiLogin::TicketExpired), "single use");
}

#[tokio::test]
async fn no_totp_secret_nor_recovery_code_rests_in_clear() {
    let world = World::new().await;
    let (_, app, codes) = jeanne_with_app(&world).await;
    let path = world.database_path();
    world.store.compact().await.unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(app.secret.expose()), "raw TOTP secret");
    assert!(!contains(app.secret.base32().as_bytes()), "base32 TOTP secret");
    for code in &codes {
        assert!(!contains(code.expose().as_bytes()), "recovery code");
        assert!(!contains(code.expose().replace('-', "").as_bytes()), "recovery code without hyphens");
    }
}

#[tokio::test]
async fn when_required_a_desktop_first_connection_sets_the_password_but_gets_no_tokens() {
    use sesame_core::factors::{Requirement, SecondFactorSettings};
    use sesame_core::tokens::{ApiChange, ApiProof};
    let settings = sesame_core::CoreSettings {
        second_factor: SecondFactorSettings { required: Requirement::Always },
        ..sesame_core::CoreSettings::default()
    };
    let world = World::with(settings).await;
    let (_, temporary) = world.jeanne().await;
    let identifier = LoginIdentifier::new("jdupont").unwrap();
    let tokens = &world.services.tokens;
    let ApiLogin::PasswordChangeRequired { change_ticket, .. } =
        tokens.sign_in(&identifier, &temporary, "Therap-e", &web()).await.unwrap()
    else {
        panic!("a change ticket first");
    };
    let new = password(STRONG);
    let changed =
        tokens.change_password(ApiProof::ChangeTicket(change_ticket.expose_secret()), &new, "", &web()).await.unwrap();
    assert!(matches!(changed, ApiChange::ChangedEnrolmentRequired), "{changed:?}");
    let again = tokens.sign_in(&identifier, &new, "Therap-e", &web()).await.unwrap();
    assert!(matches!(again, ApiLogin::SecondFactorEnrolmentRequired), "the password changed, no tokens: {again:?}");
}

#[tokio::test]
async fn new_recovery_codes_need_the_password_and_a_factor() {
    use sesame_core::factors::RenewOutcome;
    let world = World::new().await;
    world.jeanne_with_password().await;
    let opened = world.sign_in("jdupont", STRONG).await.unwrap();
    let factors = &world.services.factors;
    let none = factors.renew_recovery_codes(&opened.signed_in, &password(STRONG), &web()).await.unwrap();
    assert!(matches!(none, RenewOutcome::NoFactor), "codes come with a factor");
    let wrong = factors.renew_recovery_codes(&opened.signed_in, &password("Pas-le-bon-2026!"), &web()).await.unwrap();
    assert!(matches!(wrong, RenewOutcome::WrongPassword));
    let state = world.store.throttle_state("jdupont").await.unwrap().unwrap();
    assert_eq!(state.consecutive_failures, 1, "a wrong password counts as a failed sign-in");
    assert_eq!(factors.of(&opened.signed_in.account).await.unwrap().recovery_codes_left, 0);
}
