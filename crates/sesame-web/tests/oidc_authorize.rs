//! The authorization endpoint over HTTP, as a browser sent by a service meets it: refusals that
//! stay on Sésame's page, errors sent back with `state` and `iss`, the portal's own sign-in
//! (first connection included) and the way back, consent, `prompt` and the second factor.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{Page, TestApp};
use sesame_core::audit::RequestContext;
use sesame_core::oidc::ClientRequest;

const PERSONAL: &str = "Falaise-Etretat-2026!";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CALLBACK: &str = "https://rdv.example/oidc/cb";

async fn register(app: &TestApp, first_party: bool, require_second_factor: bool) -> String {
    let request = ClientRequest {
        name: "Prise de rendez-vous".into(),
        redirect_uris: vec![CALLBACK.into()],
        first_party,
        require_second_factor,
        ..ClientRequest::default()
    };
    app.services.clients.create(&request, &RequestContext::cli()).await.unwrap().client.client_id
}

fn authorize_path(client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("scope", "openid profile email"),
        ("state", "etat-42"),
        ("nonce", "nonce-7"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        pairs.retain(|(name, _)| name != k);
        if !v.is_empty() {
            pairs.push((k, v));
        }
    }
    format!("/oidc/authorize?{}", serde_urlencoded::to_string(&pairs).unwrap())
}

/// The query of a redirect back to the service, as pairs.
fn back_to_service(page: &Page) -> std::collections::HashMap<String, String> {
    let location = page.location().unwrap_or_else(|| panic!("no redirect: {} {}", page.status, page.body));
    assert!(location.starts_with(&format!("{CALLBACK}?")), "{location}");
    let url = reqwest::Url::parse(location).unwrap();
    url.query_pairs().into_owned().collect()
}

/// The request the consent page posts back (its hidden field).
fn consent_request(consent: &Page) -> String {
    common::between(&consent.body, "name=\"demande\" value=\"", "\"").replace("&amp;", "&")
}

/// Jeanne, past her first connection, signed in in `browser`.
async fn jeanne_signed_in(app: &TestApp, browser: &reqwest::Client) {
    let temporary = app.jeanne().await;
    app.first_connection(browser, "jdupont", &temporary, PERSONAL).await;
}

#[tokio::test]
async fn an_unknown_client_or_a_redirect_uri_not_registered_gets_a_french_page_and_no_redirect() {
    let app = TestApp::start().await;
    let client_id = register(&app, true, false).await;
    let browser = app.browser();
    let unknown = app.get(&browser, &authorize_path("nobody", &[])).await;
    assert_eq!((unknown.status, unknown.location()), (400, None));
    assert!(unknown.body.contains("n'est pas enregistré auprès de Sésame"), "{}", unknown.body);
    let missing = app.get(&browser, &authorize_path("", &[("client_id", "")])).await;
    assert_eq!((missing.status, missing.location()), (400, None));
    for uri in [
        "https://rdv.example/oidc/cb/",
        "https://rdv.example/oidc/c",
        "https://rdv.example/oidc/cb?x=1",
        "https://RDV.example/oidc/cb",
        "https://evil.example/oidc/cb",
    ] {
        let page = app.get(&browser, &authorize_path(&client_id, &[("redirect_uri", uri)])).await;
        assert_eq!((page.status, page.location()), (400, None), "{uri}");
        assert!(page.body.contains("vous n'y êtes pas renvoyé"), "{uri}: {}", page.body);
    }
    // Nothing was issued.
    assert!(
        app.services
            .store()
            .audit_events(&Default::default())
            .await
            .unwrap()
            .iter()
            .all(|e| e.action != "oidc_code_issued")
    );
}

#[tokio::test]
async fn other_errors_go_back_to_the_service_with_state_and_issuer() {
    let app = TestApp::start().await;
    let client_id = register(&app, true, false).await;
    let browser = app.browser();
    for (extra, error) in [
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("request", "eyJhbGciOiJub25lIn0.e30.")], "request_not_supported"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge", ""), ("code_challenge_method", "")], "invalid_request"),
        (vec![("scope", "profile")], "invalid_scope"),
        (vec![("prompt", "none")], "login_required"),
    ] {
        let page = app.get(&browser, &authorize_path(&client_id, &extra)).await;
        assert_eq!(page.status, 303, "{extra:?}");
        let query = back_to_service(&page);
        assert_eq!(query["error"], error, "{extra:?}");
        assert_eq!(query["state"], "etat-42");
        assert_eq!(query["iss"], app.base);
        assert!(!query.contains_key("code"));
    }
    // By POST as well (OpenID Connect Core 3.1.2.1).
    let form =
        [("response_type", "token"), ("client_id", client_id.as_str()), ("redirect_uri", CALLBACK), ("state", "p")];
    let posted = Page::of(browser.post(app.url("/oidc/authorize")).form(&form).send().await.unwrap()).await;
    assert_eq!(back_to_service(&posted)["error"], "unsupported_response_type");
}

#[tokio::test]
async fn a_first_connection_started_by_a_service_returns_to_it_after_consent() {
    let app = TestApp::start().await;
    let client_id = register(&app, false, false).await;
    let temporary = app.jeanne().await;
    let browser = app.browser();
    let path = authorize_path(&client_id, &[]);

    let start = app.get(&browser, &path).await;
    assert_eq!(start.location(), Some("/connexion?pour=service"));
    let login = app.get(&browser, "/connexion?pour=service").await;
    assert!(login.body.contains("Connectez-vous pour continuer vers le service"), "{}", login.body);
    // The guide's first connection, then "Mes services e-santé" sends her back.
    app.first_connection(&browser, "jdupont", &temporary, PERSONAL).await;
    let services = app.get(&browser, "/services?confirmation=premiere-connexion").await;
    assert_eq!(services.location(), Some(path.as_str()));

    let consent = app.get(&browser, &path).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.body.contains("« Prise de rendez-vous » demande à vous connaître"), "{}", consent.body);
    assert!(consent.body.contains("votre adresse e-mail") && consent.body.contains("vos nom et prénom"));
    assert!(!consent.body.contains("identifiant national"), "only the scopes asked");
    let demande = consent_request(&consent);

    // Without the page's CSRF token, nothing is granted.
    let forged =
        browser.post(app.url("/oidc/consentement")).form(&[("demande", demande.as_str()), ("decision", "accepter")]);
    assert_eq!(forged.send().await.unwrap().status(), 403);

    let granted =
        app.post(&browser, "/oidc/consentement", &consent, &[("demande", &demande), ("decision", "accepter")]).await;
    let query = back_to_service(&granted);
    assert_eq!(query["code"].len(), 43, "256 random bits");
    assert_eq!((query["state"].as_str(), query["iss"].as_str()), ("etat-42", app.base.as_str()));
    assert!(!query.contains_key("error"));

    // Remembered: the next request gets a code at once; prompt=consent asks again.
    let again = app.get(&browser, &path).await;
    assert_ne!(back_to_service(&again)["code"], query["code"], "a new code each time");
    let asked = app.get(&browser, &authorize_path(&client_id, &[("prompt", "consent")])).await;
    assert_eq!(asked.status, 200);
    assert!(asked.body.contains("demande à vous connaître"));
    // A new scope needs a new consent.
    let health = app.get(&browser, &authorize_path(&client_id, &[("scope", "openid sante")])).await;
    assert!(health.body.contains("identifiant national"), "{}", health.body);

    let actions: Vec<String> =
        app.services.store().audit_events(&Default::default()).await.unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions.iter().filter(|a| *a == "oidc_code_issued").count(), 2, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "oidc_consent").count(), 1, "{actions:?}");
}

#[tokio::test]
async fn refusing_consent_sends_access_denied_and_prompt_none_never_shows_a_page() {
    let app = TestApp::start().await;
    let client_id = register(&app, false, false).await;
    let browser = app.browser();
    jeanne_signed_in(&app, &browser).await;
    let none = app.get(&browser, &authorize_path(&client_id, &[("prompt", "none")])).await;
    assert_eq!(back_to_service(&none)["error"], "consent_required");
    let consent = app.get(&browser, &authorize_path(&client_id, &[])).await;
    let demande = consent_request(&consent);
    let refused =
        app.post(&browser, "/oidc/consentement", &consent, &[("demande", &demande), ("decision", "refuser")]).await;
    let query = back_to_service(&refused);
    assert_eq!((query["error"].as_str(), query["state"].as_str()), ("access_denied", "etat-42"));
    assert!(!query.contains_key("code"));
    // Nothing remembered: still asked.
    assert_eq!(app.get(&browser, &authorize_path(&client_id, &[])).await.status, 200);
    // A consent form naming a client that does not exist is the French page.
    let bogus = authorize_path("nobody", &[]).replace("/oidc/authorize?", "");
    let page =
        app.post(&browser, "/oidc/consentement", &consent, &[("demande", &bogus), ("decision", "accepter")]).await;
    assert_eq!((page.status, page.location()), (400, None));
}

#[tokio::test]
async fn a_first_party_service_skips_consent_and_prompt_login_asks_to_sign_in_again() {
    let app = TestApp::start().await;
    let client_id = register(&app, true, false).await;
    let browser = app.browser();
    jeanne_signed_in(&app, &browser).await;
    let direct = app.get(&browser, &authorize_path(&client_id, &[])).await;
    assert!(back_to_service(&direct).contains_key("code"), "no consent page");

    let path = authorize_path(&client_id, &[("prompt", "login")]);
    let again = app.get(&browser, &path).await;
    assert_eq!(again.location(), Some("/connexion?encore=service"));
    let login = app.get(&browser, "/connexion?encore=service").await;
    assert_eq!(login.status, 200, "the form, although signed in");
    assert!(login.body.contains("demande que vous vous identifiiez à nouveau"), "{}", login.body);
    // Going back without signing in again gets nothing.
    assert_eq!(app.get(&browser, &path).await.location(), Some("/connexion?encore=service"));
    app.clock.advance(time::Duration::seconds(2));
    let signed_in =
        app.post(&browser, "/connexion", &login, &[("identifiant", "jdupont"), ("mot_de_passe", PERSONAL)]).await;
    assert_eq!(signed_in.location(), Some("/services"));
    let services = app.get(&browser, "/services").await;
    assert_eq!(services.location(), Some(path.as_str()));
    let back = app.get(&browser, &path).await;
    assert!(back_to_service(&back).contains_key("code"));
    // Done: "Mes services e-santé" is the portal again.
    assert_eq!(app.get(&browser, "/services").await.status, 200);
}

#[tokio::test]
async fn a_service_that_needs_two_factors_is_refused_for_an_account_without_a_second_factor() {
    let app = TestApp::start().await;
    let client_id = register(&app, true, true).await;
    let browser = app.browser();
    jeanne_signed_in(&app, &browser).await;
    let page = app.get(&browser, &authorize_path(&client_id, &[])).await;
    assert_eq!(back_to_service(&page)["error"], "unmet_authentication_requirements");
    let open = register(&app, true, false).await;
    let asks = app.get(&browser, &authorize_path(&open, &[("acr_values", "urn:sesame:acr:2fa")])).await;
    assert_eq!(back_to_service(&asks)["error"], "unmet_authentication_requirements");
}

#[tokio::test]
async fn a_password_session_steps_up_with_its_second_factor_for_a_service_that_needs_two() {
    let app = TestApp::start().await;
    let client_id = register(&app, true, true).await;
    let browser = app.browser();
    let temporary = app.jeanne().await;
    app.first_connection(&browser, "jdupont", &temporary, common::PERSONAL).await;
    let (secret, _) = common::enrol_app(&app, &browser).await;
    let none = app.get(&browser, &authorize_path(&client_id, &[("prompt", "none")])).await;
    assert_eq!(back_to_service(&none)["error"], "interaction_required");

    let path = authorize_path(&client_id, &[]);
    let step_up = app.get(&browser, &path).await;
    assert_eq!(step_up.location(), Some("/connexion/second-facteur"), "the code only, not the password again");
    let step = app.get(&browser, "/connexion/second-facteur").await;
    let wrong = app.post(&browser, "/connexion/second-facteur", &step, &[("code", "000000")]).await;
    assert!(wrong.errors()[0].starts_with("Code incorrect."), "{:?}", wrong.errors());
    assert_eq!(app.get(&browser, &path).await.location(), Some("/connexion/second-facteur"), "no code without it");

    app.clock.advance(time::Duration::seconds(30)); // the enrolment used the current code
    let step = app.get(&browser, "/connexion/second-facteur").await;
    let code = secret.code_at(common::now(&app));
    let passed = app.post(&browser, "/connexion/second-facteur", &step, &[("code", &code)]).await;
    assert_eq!(passed.location(), Some("/services"));
    assert_eq!(app.get(&browser, "/services").await.location(), Some(path.as_str()));
    assert!(back_to_service(&app.get(&browser, &path).await).contains_key("code"));
    let events = app.services.store().audit_events(&Default::default()).await.unwrap();
    let count = |action: &str| events.iter().filter(|e| e.action == action).count();
    assert_eq!((count("second_factor_failed"), count("second_factor_succeeded")), (1, 1));
}

#[tokio::test]
async fn a_sign_in_older_than_max_age_is_made_again_and_prompt_none_does_not_hide_it() {
    let app = TestApp::start().await;
    let client_id = register(&app, true, false).await;
    let browser = app.browser();
    jeanne_signed_in(&app, &browser).await;
    app.clock.advance(time::Duration::minutes(10));
    let recent_enough = app.get(&browser, &authorize_path(&client_id, &[("max_age", "900")])).await;
    assert!(back_to_service(&recent_enough).contains_key("code"));
    let none = app.get(&browser, &authorize_path(&client_id, &[("max_age", "60"), ("prompt", "none")])).await;
    assert_eq!(back_to_service(&none)["error"], "login_required");
    let path = authorize_path(&client_id, &[("max_age", "60")]);
    assert_eq!(app.get(&browser, &path).await.location(), Some("/connexion?encore=service"));
    let login = app.get(&browser, "/connexion?encore=service").await;
    app.clock.advance(time::Duration::seconds(1));
    app.post(&browser, "/connexion", &login, &[("identifiant", "jdupont"), ("mot_de_passe", PERSONAL)]).await;
    assert_eq!(app.get(&browser, "/services").await.location(), Some(path.as_str()));
    // Even if the way back took longer than max_age itself, the sign-in made for it counts.
    app.clock.advance(time::Duration::seconds(90));
    assert!(back_to_service(&app.get(&browser, &path).await).contains_key("code"));
}

#[tokio::test]
async fn a_consent_is_listed_in_mon_compte_and_withdrawn_from_there() {
    let app = TestApp::start().await;
    let client_id = register(&app, false, false).await;
    let browser = app.browser();
    jeanne_signed_in(&app, &browser).await;
    let account = app.get(&browser, "/mon-compte").await;
    assert!(account.body.contains("Vous n'avez autorisé aucun service"), "{}", account.body);
    let path = authorize_path(&client_id, &[]);
    let consent = app.get(&browser, &path).await;
    let demande = consent_request(&consent);
    app.post(&browser, "/oidc/consentement", &consent, &[("demande", &demande), ("decision", "accepter")]).await;

    let account = app.get(&browser, "/mon-compte").await;
    assert!(account.body.contains("<strong>Prise de rendez-vous</strong>"), "{}", account.body);
    assert!(account.body.contains("nom et identifiant, adresse e-mail"));
    // Another person's browser, or a missing token, withdraws nothing.
    let forged = browser.post(app.url("/mon-compte/applications/retirer")).form(&[("client_id", client_id.as_str())]);
    assert_eq!(forged.send().await.unwrap().status(), 403);
    let unknown = app.post(&browser, "/mon-compte/applications/retirer", &account, &[("client_id", "nobody")]).await;
    assert_eq!(unknown.location(), Some("/mon-compte"));
    let done = app.post(&browser, "/mon-compte/applications/retirer", &account, &[("client_id", &client_id)]).await;
    assert_eq!(done.location(), Some("/mon-compte?confirmation=application-retiree"));
    let account = app.get(&browser, "/mon-compte?confirmation=application-retiree").await;
    assert!(
        account.body.contains("L'autorisation a été retirée")
            && account.body.contains("Vous n'avez autorisé aucun service")
    );
    // The service asks again.
    assert_eq!(app.get(&browser, &path).await.status, 200);
    let actions: Vec<String> =
        app.services.store().audit_events(&Default::default()).await.unwrap().into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"oidc_consent_withdrawn".to_owned()), "{actions:?}");
}
