//! "Vérification en deux étapes" from the outside: enrolling an authenticator app on "Mon
//! compte" (the key read off the page as an app reads it), the second step after a correct
//! password, recovery codes, removal, the policy that requires a factor, and the API's flow.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{Options, PERSONAL, Page, TestApp, between, enrol_app as enrol, now};
use serde_json::{Value, json};
use sesame_core::factors::{Requirement, SecondFactorSettings};
use sesame_core::mail::{FactorChange, MailMessage};
use time::Duration;

/// Jeanne with her personal password, signed in in `browser`.
async fn jeanne(app: &TestApp, browser: &reqwest::Client) {
    let temporary = app.jeanne().await;
    app.first_connection(browser, "jdupont", &temporary, PERSONAL).await;
}

async fn sign_out(app: &TestApp, browser: &reqwest::Client) {
    let account = app.get(browser, "/mon-compte").await;
    app.post(browser, "/deconnexion", &account, &[]).await;
}

#[tokio::test]
async fn an_app_is_enrolled_from_mon_compte_and_asked_after_the_password() {
    let app = TestApp::start().await;
    let browser = app.browser();
    jeanne(&app, &browser).await;
    let start = app.get(&browser, "/mon-compte/second-facteur/application").await;
    let wrong =
        app.post(&browser, "/mon-compte/second-facteur/application", &start, &[("mot_de_passe", "pas le bon")]).await;
    assert_eq!(wrong.errors(), ["Le mot de passe est incorrect."]);
    let (secret, _) = enrol(&app, &browser).await;
    let account = app.get(&browser, "/mon-compte").await;
    assert!(account.body.contains("Application d'authentification « Téléphone »"), "{}", account.body);
    assert!(account.body.contains("<strong>10</strong> sur 10"));
    let mails = app.mails().await;
    assert!(
        mails.iter().any(|(_, m)| matches!(m, MailMessage::SecondFactor { change: FactorChange::Added { .. }, .. }))
    );

    sign_out(&app, &browser).await;
    let login = app.login(&browser, "jdupont", PERSONAL).await;
    assert_eq!(login.location(), Some("/connexion/second-facteur"));
    assert!(login.set_cookie("sesame_session").is_none(), "no session before the second step");
    assert_eq!(app.get(&browser, "/services").await.location(), Some("/"), "nothing else is reachable");
    let step = app.get(&browser, "/connexion/second-facteur").await;
    assert!(step.body.contains("Code à 6 chiffres ou code de secours"));
    let refused = app.post(&browser, "/connexion/second-facteur", &step, &[("code", "000000")]).await;
    assert_eq!(refused.status, 200);
    assert!(refused.errors()[0].starts_with("Code incorrect."), "{:?}", refused.errors());
    let passed = app.post(&browser, "/connexion/second-facteur", &step, &[("code", &secret.code_at(now(&app)))]).await;
    assert_eq!(passed.location(), Some("/services"));
    assert!(passed.set_cookie("sesame_session").is_some());
    assert_eq!(passed.set_cookie("sesame_second_step").as_deref(), Some(""), "the ticket cookie is cleared");
    assert_eq!(app.get(&browser, "/services").await.status, 200);
    let account = app.get(&browser, "/mon-compte").await;
    assert!(account.body.contains("Mot de passe et application d'authentification"), "the method is shown");
}

#[tokio::test]
async fn a_replayed_code_a_missing_ticket_and_an_expired_one_open_nothing() {
    let app = TestApp::start().await;
    let browser = app.browser();
    jeanne(&app, &browser).await;
    let (secret, _) = enrol(&app, &browser).await;
    sign_out(&app, &browser).await;
    let code = secret.code_at(now(&app));
    app.login(&browser, "jdupont", PERSONAL).await;
    let step = app.get(&browser, "/connexion/second-facteur").await;
    assert_eq!(
        app.post(&browser, "/connexion/second-facteur", &step, &[("code", &code)]).await.location(),
        Some("/services")
    );
    sign_out(&app, &browser).await;

    app.login(&browser, "jdupont", PERSONAL).await;
    let step = app.get(&browser, "/connexion/second-facteur").await;
    let replay = app.post(&browser, "/connexion/second-facteur", &step, &[("code", &code)]).await;
    assert!(replay.errors()[0].starts_with("Code incorrect."), "a code is good once");

    app.clock.advance(Duration::minutes(5));
    let late = app.post(&browser, "/connexion/second-facteur", &step, &[("code", &secret.code_at(now(&app)))]).await;
    assert_eq!(late.location(), Some("/?info=second-facteur-expire"));
    let login = app.get(&browser, "/?info=second-facteur-expire").await;
    assert!(login.body.contains("La vérification en deux étapes a expiré"));

    let stranger = app.browser();
    assert_eq!(app.get(&stranger, "/connexion/second-facteur").await.location(), Some("/?info=second-facteur-expire"));
    let form = app.get(&stranger, "/").await;
    let forged = app.post(&stranger, "/connexion/second-facteur", &form, &[("code", "123456")]).await;
    assert_eq!(forged.location(), Some("/?info=second-facteur-expire"));
}

#[tokio::test]
async fn wrong_codes_are_throttled_with_the_password_failures() {
    let app = TestApp::start().await;
    let browser = app.browser();
    jeanne(&app, &browser).await;
    let (secret, _) = enrol(&app, &browser).await;
    sign_out(&app, &browser).await;
    app.login(&browser, "jdupont", PERSONAL).await;
    let step = app.get(&browser, "/connexion/second-facteur").await;
    for _ in 0..5 {
        app.post(&browser, "/connexion/second-facteur", &step, &[("code", "111111")]).await;
    }
    let blocked = app.post(&browser, "/connexion/second-facteur", &step, &[("code", &secret.code_at(now(&app)))]).await;
    assert_eq!(blocked.status, 429);
    assert!(blocked.errors()[0].starts_with("Trop de codes incorrects"), "{:?}", blocked.errors());
    let state = app.store.throttle_state("jdupont").await.unwrap().unwrap();
    assert_eq!(state.consecutive_failures, 5);
}

#[tokio::test]
async fn a_recovery_code_replaces_the_app_once_and_is_e_mailed() {
    let app = TestApp::start().await;
    let browser = app.browser();
    jeanne(&app, &browser).await;
    let (_, codes) = enrol(&app, &browser).await;
    sign_out(&app, &browser).await;
    app.mails().await;
    app.login(&browser, "jdupont", PERSONAL).await;
    let step = app.get(&browser, "/connexion/second-facteur").await;
    let code = codes[0].to_lowercase();
    assert_eq!(
        app.post(&browser, "/connexion/second-facteur", &step, &[("code", &code)]).await.location(),
        Some("/services")
    );
    let mails = app.mails().await;
    assert!(mails.iter().any(|(to, m)| to == "jeanne.dupont@example.fr"
        && matches!(m, MailMessage::SecondFactor { change: FactorChange::RecoveryCodeUsed { remaining: 9 }, .. })));
    sign_out(&app, &browser).await;
    app.login(&browser, "jdupont", PERSONAL).await;
    let step = app.get(&browser, "/connexion/second-facteur").await;
    let again = app.post(&browser, "/connexion/second-facteur", &step, &[("code", &codes[0])]).await;
    assert!(again.errors()[0].starts_with("Code incorrect."));
}

#[tokio::test]
async fn removing_the_app_needs_the_password_and_a_code_and_is_e_mailed() {
    let app = TestApp::start().await;
    let browser = app.browser();
    jeanne(&app, &browser).await;
    let (secret, _) = enrol(&app, &browser).await;
    app.mails().await;
    let account = app.get(&browser, "/mon-compte").await;
    let remove = between(&account.body, "<a href=\"/mon-compte/second-facteur/", "\">Retirer").to_owned();
    let path = format!("/mon-compte/second-facteur/{remove}");
    let form = app.get(&browser, &path).await;
    assert!(form.body.contains("Retirer « Téléphone »"));
    let no_code = app.post(&browser, &path, &form, &[("mot_de_passe", PERSONAL), ("code", "")]).await;
    assert_eq!(no_code.errors().len(), 1);
    let wrong = app.post(&browser, &path, &form, &[("mot_de_passe", PERSONAL), ("code", "000000")]).await;
    assert_eq!(wrong.errors(), ["Code incorrect, ou déjà utilisé."]);
    let done =
        app.post(&browser, &path, &form, &[("mot_de_passe", PERSONAL), ("code", &secret.code_at(now(&app)))]).await;
    assert_eq!(done.location(), Some("/mon-compte?confirmation=facteur-retire"));
    let mails = app.mails().await;
    assert!(
        mails.iter().any(|(_, m)| matches!(m, MailMessage::SecondFactor { change: FactorChange::Removed { .. }, .. }))
    );
    sign_out(&app, &browser).await;
    assert_eq!(app.login(&browser, "jdupont", PERSONAL).await.location(), Some("/services"), "one step again");
}

#[tokio::test]
async fn when_required_a_new_account_reaches_nothing_before_it_has_enrolled() {
    let options =
        Options { second_factor: SecondFactorSettings { required: Requirement::Always }, ..Options::default() };
    let app = TestApp::start_with(options).await;
    let browser = app.browser();
    jeanne(&app, &browser).await;
    for path in ["/services", "/mon-compte"] {
        assert_eq!(app.get(&browser, path).await.location(), Some("/mon-compte/second-facteur/application"), "{path}");
    }
    let start = app.get(&browser, "/mon-compte/second-facteur/application").await;
    assert!(start.body.contains("demande une vérification en deux étapes à chaque connexion"));
    let (_, codes) = enrol(&app, &browser).await;
    assert_eq!(app.get(&browser, "/services").await.status, 200);
    // Removing the only factor is refused while the policy requires one.
    let account = app.get(&browser, "/mon-compte").await;
    let id = between(&account.body, "<a href=\"/mon-compte/second-facteur/", "/retirer").to_owned();
    let path = format!("/mon-compte/second-facteur/{id}/retirer");
    let form = app.get(&browser, &path).await;
    let refused = app.post(&browser, &path, &form, &[("mot_de_passe", PERSONAL), ("code", &codes[0])]).await;
    assert!(
        refused.errors()[0].starts_with("La vérification en deux étapes est obligatoire"),
        "{:?}",
        refused.errors()
    );
    assert_eq!(app.get(&browser, "/mon-compte").await.status, 200, "the factor stays");
}

#[tokio::test]
async fn the_pages_of_a_second_factor_refuse_forms_without_their_csrf_token() {
    let app = TestApp::start().await;
    let browser = app.browser();
    jeanne(&app, &browser).await;
    let forged = Page::of(
        browser
            .post(app.url("/mon-compte/second-facteur/application"))
            .form(&[("mot_de_passe", PERSONAL)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(forged.status, 403);
    assert!(app.store.second_factors_of(sesame_core::model::AccountId(1)).await.unwrap().is_empty());
}

async fn api(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new().post(app.url(path)).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_api_asks_for_the_second_step_with_a_single_use_ticket() {
    let app = TestApp::start().await;
    let browser = app.browser();
    jeanne(&app, &browser).await;
    let (secret, _) = enrol(&app, &browser).await;
    let (status, problem) =
        api(&app, "/api/v1/sessions", json!({ "identifier": "jdupont", "password": PERSONAL, "client": "Therap-e" }))
            .await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["type"], "/api/v1/problems/second_factor_required");
    assert_eq!(problem["accepted"], json!(["totp", "recovery_code"]));
    assert_eq!(problem["expires_in"], 300);
    let ticket = problem["second_factor_ticket"].as_str().unwrap().to_owned();
    let (status, wrong) =
        api(&app, "/api/v1/sessions/second-factor", json!({ "second_factor_ticket": ticket, "code": "000000" })).await;
    assert_eq!((status, wrong["type"].as_str()), (401, Some("/api/v1/problems/wrong_second_factor")));
    let code = secret.code_at(now(&app));
    let (status, tokens) =
        api(&app, "/api/v1/sessions/second-factor", json!({ "second_factor_ticket": ticket, "code": code })).await;
    assert_eq!(status, 201, "{tokens}");
    assert!(tokens["access_token"].is_string());
    let (status, again) =
        api(&app, "/api/v1/sessions/second-factor", json!({ "second_factor_ticket": ticket, "code": code })).await;
    assert_eq!((status, again["type"].as_str()), (401, Some("/api/v1/problems/second_factor_ticket_expired")));
    let (status, _) = api(&app, "/api/v1/sessions/second-factor", json!({ "ticket": ticket })).await;
    assert_eq!(status, 400, "a malformed request is a problem, not a guess");
}

#[tokio::test]
async fn when_required_the_api_gives_no_tokens_to_an_account_without_a_factor() {
    let options =
        Options { second_factor: SecondFactorSettings { required: Requirement::Always }, ..Options::default() };
    let app = TestApp::start_with(options).await;
    let browser = app.browser();
    jeanne(&app, &browser).await;
    let (status, problem) =
        api(&app, "/api/v1/sessions", json!({ "identifier": "jdupont", "password": PERSONAL })).await;
    assert_eq!(status, 403);
    assert_eq!(problem["type"], "/api/v1/problems/second_factor_enrolment_required");
}

#[tokio::test]
async fn new_recovery_codes_need_the_password_and_replace_the_old_ones() {
    let app = TestApp::start().await;
    let browser = app.browser();
    jeanne(&app, &browser).await;
    let (_, codes) = enrol(&app, &browser).await;
    let account = app.get(&browser, "/mon-compte").await;
    let empty = app.post(&browser, "/mon-compte/codes-de-secours", &account, &[("mot_de_passe_codes", "")]).await;
    assert_eq!(empty.location(), Some("/mon-compte?confirmation=mot-de-passe-requis"));
    let wrong =
        app.post(&browser, "/mon-compte/codes-de-secours", &account, &[("mot_de_passe_codes", "pas le bon")]).await;
    assert_eq!(wrong.location(), Some("/mon-compte?confirmation=mot-de-passe-incorrect"));
    let notice = app.get(&browser, wrong.location().unwrap()).await;
    assert!(notice.body.contains("aucun nouveau code de secours n'a été créé"));
    assert_eq!(app.store.recovery_codes_left(sesame_core::model::AccountId(1)).await.unwrap(), 10, "nothing changed");
    app.mails().await;
    let renewed =
        app.post(&browser, "/mon-compte/codes-de-secours", &account, &[("mot_de_passe_codes", PERSONAL)]).await;
    assert_eq!(renewed.status, 200);
    assert!(renewed.body.contains("les précédents ne fonctionnent plus"));
    let mails = app.mails().await;
    assert!(
        mails
            .iter()
            .any(|(_, m)| matches!(m, MailMessage::SecondFactor { change: FactorChange::RecoveryCodesRenewed, .. }))
    );
    sign_out(&app, &browser).await;
    app.login(&browser, "jdupont", PERSONAL).await;
    let step = app.get(&browser, "/connexion/second-facteur").await;
    let old = app.post(&browser, "/connexion/second-facteur", &step, &[("code", &codes[1])]).await;
    assert!(old.errors()[0].starts_with("Code incorrect."), "the old batch no longer works");
}

#[tokio::test]
async fn an_enrolment_is_its_own_account_s_only() {
    let app = TestApp::start().await;
    let jeanne_browser = app.browser();
    jeanne(&app, &jeanne_browser).await;
    let start = app.get(&jeanne_browser, "/mon-compte/second-facteur/application").await;
    let started = app
        .post(&jeanne_browser, "/mon-compte/second-facteur/application", &start, &[("mot_de_passe", PERSONAL)])
        .await;
    let to = started.location().unwrap().to_owned();
    let paul = app.browser();
    let temporary = app.create("Paul", "Martin", "paul.martin@example.fr").await;
    app.first_connection(&paul, "pmartin", &temporary, PERSONAL).await;
    assert_eq!(app.get(&paul, &to).await.location(), Some("/mon-compte"), "another account's enrolment is not shown");
    let form = app.get(&paul, "/mon-compte").await;
    let confirmed = app.post(&paul, &to, &form, &[("code", "123456")]).await;
    assert_eq!(confirmed.location(), Some("/mon-compte"));
    assert_eq!(app.get(&paul, "/mon-compte/second-facteur/1/retirer").await.location(), Some("/mon-compte"));
    assert!(app.store.second_factors_of(sesame_core::model::AccountId(1)).await.unwrap()[0].confirmed_at.is_none());
}
