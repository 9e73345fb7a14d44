//! Security keys from the outside, for what a browser's authenticator is not needed for: where
//! keys are offered, the registration's password, name, options and five minutes, and answers
//! that are not a key's (refused in French, nothing stored). The ceremony with a real
//! authenticator is the browser test `e2e/tests/security_key.test.mjs`.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{Options, PERSONAL, TestApp};
use serde_json::Value;
use sesame_core::model::AccountId;
use time::Duration;

async fn jeanne(app: &TestApp) -> reqwest::Client {
    let browser = app.browser();
    let temporary = app.jeanne().await;
    app.first_connection(&browser, "jdupont", &temporary, PERSONAL).await;
    browser
}

async fn on_localhost() -> TestApp {
    TestApp::start_with(Options { localhost: true, ..Options::default() }).await
}

/// Starts registering a key named `name`; the registration page's path.
async fn start_key(app: &TestApp, browser: &reqwest::Client, name: &str) -> String {
    let start = app.get(browser, "/mon-compte/second-facteur/cle").await;
    let started =
        app.post(browser, "/mon-compte/second-facteur/cle", &start, &[("mot_de_passe", PERSONAL), ("nom", name)]).await;
    started.location().unwrap_or_else(|| panic!("{}", started.body)).to_owned()
}

/// The options handed to the browser's `navigator.credentials`, from the page's attribute.
fn options(body: &str) -> Value {
    let attribute = regex_lite::Regex::new(r#"data-webauthn-options="([^"]*)""#).unwrap();
    let raw = &attribute.captures(body).unwrap_or_else(|| panic!("options in {body}"))[1];
    serde_json::from_str(&raw.replace("&quot;", "\"").replace("&#x2F;", "/").replace("&amp;", "&")).unwrap()
}

#[tokio::test]
async fn on_an_ip_address_the_key_pages_say_keys_are_unavailable_and_register_nothing() {
    let app = TestApp::start().await;
    let browser = jeanne(&app).await;
    let account = app.get(&browser, "/mon-compte").await;
    assert!(!account.body.contains("Ajouter une clé de sécurité"), "not offered on Mon compte");
    let start = app.get(&browser, "/mon-compte/second-facteur/cle").await;
    assert_eq!(start.status, 200);
    assert!(start.body.contains("Les clés de sécurité ne sont pas disponibles sur ce portail"), "{}", start.body);
    let posted = app
        .post(&browser, "/mon-compte/second-facteur/cle", &start, &[("mot_de_passe", PERSONAL), ("nom", "Clé")])
        .await;
    assert_eq!(posted.status, 200, "the same page, no registration");
    assert!(posted.body.contains("ne sont pas disponibles"));
    assert!(app.store.second_factors_of(AccountId(1)).await.unwrap().is_empty(), "nothing stored");
}

#[tokio::test]
async fn a_registration_needs_the_password_and_asks_the_browser_for_this_portal() {
    let app = on_localhost().await;
    let browser = jeanne(&app).await;
    let account = app.get(&browser, "/mon-compte").await;
    assert!(account.body.contains("Ajouter une clé de sécurité"), "offered on localhost");
    let start = app.get(&browser, "/mon-compte/second-facteur/cle").await;
    let empty = app.post(&browser, "/mon-compte/second-facteur/cle", &start, &[("nom", "Clé bleue")]).await;
    assert_eq!(empty.errors(), ["Saisissez votre mot de passe."]);
    let wrong = app
        .post(
            &browser,
            "/mon-compte/second-facteur/cle",
            &start,
            &[("mot_de_passe", "pas le bon"), ("nom", "Clé bleue")],
        )
        .await;
    assert_eq!(wrong.errors(), ["Le mot de passe est incorrect."]);
    assert!(wrong.body.contains("value=\"Clé bleue\""), "the name is kept");

    let to = start_key(&app, &browser, "Clé bleue").await;
    assert!(regex_lite::Regex::new(r"^/mon-compte/second-facteur/cle/\d+$").unwrap().is_match(&to), "{to}");
    let page = app.get(&browser, &to).await;
    assert!(page.body.contains("Enregistrer « Clé bleue »"));
    let public_key = &options(&page.body)["publicKey"];
    assert_eq!(public_key["rp"]["id"], "localhost");
    assert_eq!(public_key["rp"]["name"], "Norm'uni");
    assert_eq!(public_key["user"]["name"], "jdupont");
    assert_eq!(public_key["authenticatorSelection"]["userVerification"], "preferred");
    assert!(public_key["challenge"].as_str().unwrap().len() >= 43, "a 32-byte challenge");
    // Chromium refuses credProtect "userVerificationRequired" beside a preferred verification.
    assert!(public_key["extensions"].get("credentialProtectionPolicy").is_none(), "{public_key}");
}

#[tokio::test]
async fn an_answer_that_is_not_a_key_s_is_refused_in_french_and_stores_nothing() {
    let app = on_localhost().await;
    let browser = jeanne(&app).await;
    let to = start_key(&app, &browser, "Clé bleue").await;
    let page = app.get(&browser, &to).await;
    for garbage in ["", "pas du json", r#"{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{}}"#] {
        let refused = app.post(&browser, &to, &page, &[("cle", garbage)]).await;
        assert_eq!(refused.status, 200, "{garbage}: {}", refused.body);
        assert_eq!(
            refused.errors(),
            [
                "La clé de sécurité n'a pas pu être enregistrée. Cliquez sur le bouton et suivez les instructions de votre navigateur."
            ],
            "{garbage}"
        );
        assert!(refused.body.contains("data-webauthn=\"create\""), "the ceremony can be tried again");
    }
    let account = app.get(&browser, "/mon-compte").await;
    assert!(!account.body.contains("Clé bleue"), "no factor shown");
    assert!(app.mails().await.iter().all(|(_, m)| m.kind() != "second_factor"), "nothing e-mailed");
}

#[tokio::test]
async fn a_registration_lasts_five_minutes_and_is_its_own_account_s_only() {
    let app = on_localhost().await;
    let browser = jeanne(&app).await;
    let to = start_key(&app, &browser, "Clé bleue").await;
    let page = app.get(&browser, &to).await;

    let other = app.browser();
    let temporary = app.create("Paul", "Martin", "paul.martin@example.fr").await;
    app.first_connection(&other, "pmartin", &temporary, PERSONAL).await;
    let elsewhere = app.get(&other, &to).await;
    assert_eq!(elsewhere.location(), Some("/mon-compte?confirmation=cle-expiree"), "another account's registration");

    app.clock.advance(Duration::minutes(6));
    let late = app.get(&browser, &to).await;
    assert_eq!(late.location(), Some("/mon-compte?confirmation=cle-expiree"));
    let posted = app.post(&browser, &to, &page, &[("cle", "{}")]).await;
    assert_eq!(posted.location(), Some("/mon-compte?confirmation=cle-expiree"));
    let account = app.get(&browser, "/mon-compte?confirmation=cle-expiree").await;
    assert!(account.body.contains("L'enregistrement de la clé de sécurité a expiré ou n'existe plus"));
}

#[tokio::test]
async fn a_key_answer_where_no_key_was_asked_opens_nothing() {
    let app = on_localhost().await;
    let browser = jeanne(&app).await;
    // An authenticator app, so that a second step is asked; then a "key" answer to it.
    let (_secret, codes) = common::enrol_app(&app, &browser).await;
    let account = app.get(&browser, "/mon-compte").await;
    app.post(&browser, "/deconnexion", &account, &[]).await;
    let signed_in = app.login(&browser, "jdupont", PERSONAL).await;
    assert_eq!(signed_in.location(), Some("/connexion/second-facteur"));
    let step = app.get(&browser, "/connexion/second-facteur").await;
    assert!(!step.body.contains("data-webauthn"), "no key section without a key");
    let refused = app.post(&browser, "/connexion/second-facteur", &step, &[("cle", r#"{"id":"AAAA"}"#)]).await;
    assert_eq!(refused.status, 200);
    assert!(refused.errors()[0].starts_with("La clé de sécurité n'a pas été reconnue."), "{:?}", refused.errors());
    assert_eq!(app.get(&browser, "/services").await.location(), Some("/"), "no session");

    // Removal: a key answer for an app is no proof.
    let _ = app.post(&browser, "/connexion/second-facteur", &step, &[("code", &codes[0])]).await;
    let account = app.get(&browser, "/mon-compte").await;
    let remove = regex_lite::Regex::new(r#"href="(/mon-compte/second-facteur/\d+/retirer)""#).unwrap();
    let path = remove.captures(&account.body).unwrap()[1].to_owned();
    let form = app.get(&browser, &path).await;
    let refused = app.post(&browser, &path, &form, &[("mot_de_passe", PERSONAL), ("cle", "{}")]).await;
    assert_eq!(refused.status, 200);
    assert_eq!(refused.errors(), ["La clé de sécurité n'a pas été reconnue."]);
    let account = app.get(&browser, "/mon-compte").await;
    assert!(account.body.contains("Téléphone"), "the app is still there");
}

#[tokio::test]
async fn the_api_of_an_account_with_only_a_key_asks_for_a_recovery_code() {
    let app = on_localhost().await;
    let _browser = jeanne(&app).await;
    // A key as the store keeps it once registered (its credential is not read by this path).
    let now = common::now(&app);
    let mut tx = app.store.begin().await.unwrap();
    let id = tx.insert_key(AccountId(1), "Clé bleue", b"{}", now).await.unwrap();
    assert!(tx.confirm_key(AccountId(1), id, b"{}", b"credential-id", now).await.unwrap());
    tx.commit().await.unwrap();
    let reply = reqwest::Client::new()
        .post(app.url("/api/v1/sessions"))
        .json(&serde_json::json!({ "identifier": "jdupont", "password": PERSONAL, "client": "Therap-e" }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 403);
    let problem: Value = reply.json().await.unwrap();
    assert_eq!(problem["type"], "/api/v1/problems/second_factor_required", "{problem}");
    assert_eq!(problem["accepted"], serde_json::json!(["recovery_code"]), "a key needs a browser");
    assert!(
        problem["detail"].as_str().unwrap().contains("clé de sécurité, que cette application ne peut pas utiliser")
    );
}
