//! The guide's first connection, in the browser: temporary password, forced change,
//! confirmation, e-mail.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::TestApp;
use sesame_core::mail::MailMessage;
use time::Duration;

const PERSONAL: &str = "la mer du nord est froide";

#[tokio::test]
async fn the_temporary_password_leads_to_the_forced_change_and_nowhere_else() {
    let app = TestApp::start().await;
    let temporary = app.jeanne().await;
    let browser = app.browser();
    let signed_in = app.login(&browser, "jdupont", &temporary).await;
    assert_eq!(signed_in.status, 303);
    assert_eq!(signed_in.location(), Some("/premiere-connexion"));
    for path in ["/services", "/mon-compte", "/"] {
        let page = app.get(&browser, path).await;
        assert_eq!(page.location(), Some("/premiere-connexion"), "{path} is out of reach until the password is set");
    }
    let form = app.get(&browser, "/premiere-connexion").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("<h1>Définir mon mot de passe personnel</h1>"));
    assert!(form.body.contains("Au moins 15 caractères"), "the policy checklist is shown");
    assert!(form.body.contains("autocomplete=\"new-password\""));
}

#[tokio::test]
async fn the_new_password_replaces_the_temporary_one_renews_the_session_and_sends_the_confirmation() {
    let app = TestApp::start().await;
    let temporary = app.jeanne().await;
    let browser = app.browser();
    let signed_in = app.login(&browser, "jdupont", &temporary).await;
    let first_session = signed_in.set_cookie("sesame_session").unwrap();
    let form = app.get(&browser, "/premiere-connexion").await;
    let done = app
        .post(&browser, "/premiere-connexion", &form, &[("nouveau_mot_de_passe", PERSONAL), ("confirmation", PERSONAL)])
        .await;
    assert_eq!(done.location(), Some("/services?confirmation=premiere-connexion"));
    let renewed = done.set_cookie("sesame_session").unwrap();
    assert_ne!(renewed, first_session, "the session id changes");
    let services = app.get(&browser, "/services?confirmation=premiere-connexion").await;
    assert_eq!(services.status, 200);
    assert!(services.body.contains("<h1>Mes services e-santé</h1>"));
    assert!(
        services
            .body
            .contains("Votre changement de mot de passe est effectué. Vous allez recevoir un e-mail de confirmation.")
    );
    // The old session id is dead.
    let replay = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let old = replay
        .get(app.url("/services"))
        .header("cookie", format!("sesame_session={first_session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(old.headers()["location"], "/?info=session-expiree");
    // E-mails: identifier, temporary password, then the confirmation of the guide.
    let mails = app.mails().await;
    assert_eq!(mails.len(), 3);
    assert!(matches!(&mails[2].1, MailMessage::PasswordChanged { first_name, .. } if first_name == "Jeanne"));
    // The temporary password no longer opens anything; the personal one does.
    let other = app.browser();
    assert_eq!(app.login(&other, "jdupont", &temporary).await.status, 200);
    assert_eq!(app.login(&other, "jdupont", PERSONAL).await.location(), Some("/services"));
}

#[tokio::test]
async fn the_temporary_password_is_refused_as_the_new_one_and_policy_refusals_are_shown() {
    let app = TestApp::start().await;
    let temporary = app.jeanne().await;
    let browser = app.browser();
    app.login(&browser, "jdupont", &temporary).await;
    let form = app.get(&browser, "/premiere-connexion").await;
    let cases: &[(&str, &str, &[&str])] = &[
        (
            &temporary,
            &temporary,
            &["Le nouveau mot de passe doit être différent du mot de passe actuel ou provisoire."],
        ),
        (
            "soleil",
            "soleil",
            &[
                "Le mot de passe doit contenir au moins 15 caractères (il en contient 6).",
                "Ce mot de passe est trop courant ou trop facile à deviner : choisissez-en un autre, par exemple une phrase de plusieurs mots.",
            ],
        ),
        (
            "jeanne aime la montagne",
            "jeanne aime la montagne",
            &[
                "Le mot de passe ne doit contenir ni votre identifiant, ni votre nom ou prénom, ni votre adresse e-mail, ni le nom du portail.",
            ],
        ),
        (PERSONAL, "autre chose encore", &["Les deux saisies du nouveau mot de passe ne sont pas identiques."]),
        ("", "", &["Saisissez votre nouveau mot de passe.", "Saisissez à nouveau votre nouveau mot de passe."]),
    ];
    for (new, confirmation, expected) in cases {
        let page = app
            .post(
                &browser,
                "/premiere-connexion",
                &form,
                &[("nouveau_mot_de_passe", new), ("confirmation", confirmation)],
            )
            .await;
        assert_eq!(page.status, 200, "{new}");
        assert_eq!(page.errors(), *expected, "{new}");
        assert!(page.body.contains("aria-invalid=\"true\""), "errors are tied to their fields");
    }
    assert_eq!(app.mails().await.len(), 2, "nothing changed: no confirmation e-mail");
}

#[tokio::test]
async fn a_temporary_password_is_valid_seven_days_to_the_minute() {
    let app = TestApp::start().await;
    let temporary = app.jeanne().await;
    app.clock.advance(Duration::days(7) - Duration::minutes(1));
    assert_eq!(app.login(&app.browser(), "jdupont", &temporary).await.location(), Some("/premiere-connexion"));
    app.clock.advance(Duration::minutes(2));
    let expired = app.login(&app.browser(), "jdupont", &temporary).await;
    assert_eq!(expired.status, 403);
    assert!(expired.body.contains("Mot de passe provisoire expiré"));
    assert!(expired.body.contains("href=\"/mot-de-passe-oublie\""), "points to Mot de passe oublié");
    assert!(expired.body.contains("02 50 53 70 01"), "and to the support contacts");
    assert!(expired.set_cookie("sesame_session").is_none(), "no session");
}

#[tokio::test]
async fn a_temporary_session_cannot_finish_after_the_password_expired() {
    let app = TestApp::start().await;
    let temporary = app.jeanne().await;
    let browser = app.browser();
    app.clock.advance(Duration::days(7) - Duration::minutes(5));
    app.login(&browser, "jdupont", &temporary).await;
    let form = app.get(&browser, "/premiere-connexion").await;
    app.clock.advance(Duration::minutes(6));
    let page = app
        .post(&browser, "/premiere-connexion", &form, &[("nouveau_mot_de_passe", PERSONAL), ("confirmation", PERSONAL)])
        .await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("Votre mot de passe provisoire a expiré avant d'être remplacé."));
    assert_eq!(app.get(&browser, "/premiere-connexion").await.location(), Some("/"));
}
