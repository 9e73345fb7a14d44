//! "Je me connecte": identical refusals, throttling, captcha, per-address limits, CSRF.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{Options, TestApp};
use sesame_core::throttle::ThrottleSettings;
use time::Duration;

const PERSONAL: &str = "la mer du nord est froide";

async fn ready(app: &TestApp) {
    let temporary = app.jeanne().await;
    app.first_connection(&app.browser(), "jdupont", &temporary, PERSONAL).await;
}

#[tokio::test]
async fn the_login_page_offers_both_ways_and_the_forgotten_password_link() {
    let app = TestApp::start().await;
    let page = app.get(&app.browser(), "/").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h1>Je me connecte</h1>"));
    assert!(page.body.contains("Identifiant / Mot de passe"));
    assert!(page.body.contains("<label for=\"identifiant\">Identifiant</label>"));
    assert!(page.body.contains("<label for=\"mot_de_passe\">Mot de passe</label>"));
    assert!(page.body.contains("autocomplete=\"current-password\""));
    assert!(page.body.contains("href=\"/mot-de-passe-oublie\">Mot de passe oublié</a>"));
    assert!(page.body.contains("lang=\"fr\""));
    assert_eq!(page.headers["cache-control"], "no-store");
    assert!(page.headers["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    assert!(page.set_cookie("sesame_csrf").is_some(), "a CSRF cookie for the form");
}

#[tokio::test]
async fn wrong_password_unknown_identifier_and_disabled_account_give_the_same_page() {
    let app = TestApp::start().await;
    ready(&app).await;
    app.create("Bernard", "Martin", "bernard@example.fr").await;
    let disabled = app.accounts.find("bmartin").await.unwrap();
    app.accounts
        .set_status(
            disabled.id,
            sesame_core::model::AccountStatus::Disabled,
            &sesame_core::audit::RequestContext::cli(),
        )
        .await
        .unwrap();
    let browser = app.browser();
    let wrong = app.login(&browser, "jdupont", "pas le bon mot de passe").await;
    let unknown = app.login(&browser, "personne", "pas le bon mot de passe").await;
    let off = app.login(&browser, "bmartin", "pas le bon mot de passe").await;
    assert_eq!(wrong.status, 200);
    assert_eq!((unknown.status, off.status), (wrong.status, wrong.status));
    assert_eq!(wrong.errors(), [common_refusal()]);
    assert_eq!(unknown.without_csrf(), wrong.without_csrf(), "byte-identical but for the CSRF value");
    assert_eq!(off.without_csrf(), wrong.without_csrf());
    assert!(wrong.set_cookie("sesame_session").is_none());
}

fn common_refusal() -> String {
    sesame_web::problem::REFUSED.to_owned()
}

#[tokio::test]
async fn a_captcha_is_required_from_the_third_failure_and_a_delay_from_the_fifth() {
    let app = TestApp::start().await;
    ready(&app).await;
    let browser = app.browser();
    for _ in 0..2 {
        assert!(!app.login(&browser, "jdupont", "mauvais").await.body.contains("Code à recopier"));
    }
    let third = app.login(&browser, "jdupont", "mauvais").await;
    assert!(third.body.contains("Code à recopier"), "captcha shown after the third failure");
    assert!(third.body.contains("src=\"data:image/png;base64,"));
    // Without the code, even the right password is not checked.
    let no_code = app.login(&browser, "jdupont", PERSONAL).await;
    assert!(no_code.errors()[0].starts_with("Recopiez le code de l'image"), "{:?}", no_code.errors());
    assert!(no_code.set_cookie("sesame_session").is_none());
    // Unknown identifiers are throttled alike: nothing tells them apart.
    for _ in 0..3 {
        app.login(&browser, "personne", "mauvais").await;
    }
    assert!(app.login(&browser, "personne", "mauvais").await.body.contains("Code à recopier"));
}

#[tokio::test]
async fn after_five_failures_even_the_right_password_waits_then_success_resets_the_counter() {
    let app = TestApp::start_with(Options { captcha: false, ..Options::default() }).await;
    ready(&app).await;
    let browser = app.browser();
    for _ in 0..5 {
        app.login(&browser, "jdupont", "mauvais").await;
    }
    let blocked = app.login(&browser, "jdupont", PERSONAL).await;
    assert_eq!(blocked.errors(), [common_refusal()], "throttled: the same refusal, the right password is not checked");
    let wrong = app.login(&browser, "quelquun", "mauvais").await;
    assert_eq!(blocked.without_csrf(), wrong.without_csrf(), "a throttled account looks like any wrong password");
    app.clock.advance(Duration::seconds(61));
    let ok = app.login(&app.browser(), "jdupont", PERSONAL).await;
    assert_eq!(ok.location(), Some("/services"), "after the 1-minute delay");
    assert!(app.store.throttle_state("jdupont").await.unwrap().is_none(), "success resets the counter");
    // The sixth failure in a row would have meant 2 minutes: the counter restarted from zero.
    app.login(&browser, "jdupont", "mauvais").await;
    assert_eq!(app.store.throttle_state("jdupont").await.unwrap().unwrap().consecutive_failures, 1);
    // A sign-in after several failures is reported to the account holder.
    let mails = app.mails().await;
    assert!(mails.iter().any(|(_, m)| m.kind() == "login_after_failures"), "{mails:?}");
}

#[tokio::test]
async fn the_right_captcha_answer_lets_the_right_password_in() {
    let app = TestApp::start().await;
    ready(&app).await;
    let browser = app.browser();
    for _ in 0..3 {
        app.login(&browser, "jdupont", "mauvais").await;
    }
    // A challenge whose answer the test knows, stored as the server stores its own.
    let mut tx = app.store.begin().await.unwrap();
    let now = sesame_core::clock::Clock::now(&*app.clock);
    let digest = sesame_core::secret::digest;
    tx.insert_captcha(&digest("known-challenge"), &digest("abc234"), now, now + Duration::minutes(10)).await.unwrap();
    tx.commit().await.unwrap();
    let page = app.get(&browser, "/").await;
    let form = [
        ("identifiant", "jdupont"),
        ("mot_de_passe", PERSONAL),
        ("captcha_id", "known-challenge"),
        ("captcha", "ABC234"),
    ];
    let ok = app.post(&browser, "/connexion", &page, &form).await;
    assert_eq!(ok.location(), Some("/services"), "case-insensitive answer accepted");
    let reused = app.post(&app.browser(), "/connexion", &app.get(&app.browser(), "/").await, &form).await;
    assert!(reused.set_cookie("sesame_session").is_none() && reused.location().is_none());
}

#[tokio::test]
async fn each_client_address_is_limited_per_minute() {
    let throttle = ThrottleSettings { per_address_per_minute: 3, ..ThrottleSettings::default() };
    let app = TestApp::start_with(Options { throttle, captcha: false, ..Options::default() }).await;
    let browser = app.browser();
    for _ in 0..3 {
        assert_eq!(app.login(&browser, "x", "y").await.status, 200);
    }
    let limited = app.login(&browser, "x", "y").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.headers["retry-after"], "60");
    app.clock.advance(Duration::seconds(61));
    assert_eq!(app.login(&browser, "x", "y").await.status, 200);
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_change_nothing() {
    let app = TestApp::start().await;
    ready(&app).await;
    let browser = app.browser();
    app.get(&browser, "/").await;
    let forged = browser
        .post(app.url("/connexion"))
        .form(&[("csrf", "forged"), ("identifiant", "jdupont"), ("mot_de_passe", PERSONAL)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(forged.headers().get("set-cookie").is_none_or(|c| !c.to_str().unwrap().starts_with("sesame_session")));
    let missing = browser
        .post(app.url("/connexion"))
        .form(&[("identifiant", "jdupont"), ("mot_de_passe", PERSONAL)])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 403);
    // A cross-site post with a valid token pair is refused too.
    let page = app.get(&browser, "/").await;
    let cross = browser
        .post(app.url("/connexion"))
        .header("origin", "https://attaquant.example")
        .form(&[("csrf", page.csrf()), ("identifiant", "jdupont"), ("mot_de_passe", PERSONAL)])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    // Signed in, a forged password change leaves the password as it was.
    app.login(&browser, "jdupont", PERSONAL).await;
    let change = browser
        .post(app.url("/mon-compte/mot-de-passe"))
        .form(&[
            ("csrf", "forged"),
            ("mot_de_passe_actuel", PERSONAL),
            ("nouveau_mot_de_passe", "un tout autre mot de passe"),
            ("confirmation", "un tout autre mot de passe"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), 403);
    assert_eq!(app.login(&app.browser(), "jdupont", PERSONAL).await.location(), Some("/services"));
}

#[tokio::test]
async fn the_audit_trail_records_every_outcome() {
    let app = TestApp::start().await;
    ready(&app).await;
    let browser = app.browser();
    app.login(&browser, "jdupont", "mauvais").await;
    app.login(&browser, "inconnu", "mauvais").await;
    app.login(&browser, "jdupont", PERSONAL).await;
    let page = app.get(&browser, "/mon-compte").await;
    app.post(&browser, "/deconnexion", &page, &[]).await;
    let events = app.store.audit_events(&Default::default()).await.unwrap();
    let actions: Vec<(&str, &str)> = events.iter().map(|e| (e.action.as_str(), e.outcome.as_str())).collect();
    for expected in [
        ("login_failed", "failure"),
        ("login_succeeded", "success"),
        ("password_changed", "success"),
        ("logout", "success"),
    ] {
        assert!(actions.contains(&expected), "{expected:?} missing in {actions:?}");
    }
    let failed_unknown = events.iter().find(|e| e.action == "login_failed" && e.account_id.is_none()).unwrap();
    assert_eq!(failed_unknown.details["reason"], "unknown_identifier");
    assert!(!failed_unknown.details.to_string().contains("inconnu"), "what was typed is not stored");
    assert_eq!(failed_unknown.ip.as_deref(), Some("127.0.0.1"));
    assert!(failed_unknown.user_agent.as_deref().unwrap().contains("Firefox"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_hashing_queue_sign_ins_get_503_with_retry_after_and_the_rest_answers() {
    // One worker at the real cost, room for one waiting check: most of a burst is refused.
    // (Refusing before the database work was tried and dropped: faster refusals drew more
    // retries from the benchmark's overload clients and slowed the other pages; see
    // docs/benchmarks.md.)
    let hashing = sesame_core::hashing::HashingSettings {
        workers: 1,
        max_queue: 1,
        ..sesame_core::hashing::HashingSettings::default()
    };
    let app = TestApp::start_with(Options { hashing, captcha: false, ..Options::default() }).await;
    ready(&app).await;
    let app = std::sync::Arc::new(app);
    let mut burst = tokio::task::JoinSet::new();
    for n in 0..12 {
        let app = std::sync::Arc::clone(&app);
        burst.spawn(async move {
            if n % 2 == 0 {
                let page = app.login(&app.browser(), "jdupont", PERSONAL).await;
                (page.status, page.headers.get("retry-after").is_some(), page.body)
            } else {
                let response = reqwest::Client::new()
                    .post(app.url("/api/v1/sessions"))
                    .json(&serde_json::json!({ "identifier": "jdupont", "password": PERSONAL }))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let retry = response.headers().get("retry-after").is_some();
                (status, retry, response.text().await.unwrap())
            }
        });
    }
    let answers = burst.join_all().await;
    let refused: Vec<_> = answers.iter().filter(|(status, ..)| *status == 503).collect();
    assert!(
        !refused.is_empty(),
        "a burst beyond the queue is refused: {:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    assert!(refused.iter().all(|(_, retry, _)| *retry), "every 503 says when to come back");
    assert!(refused.iter().any(|(_, _, body)| body.contains("surchargé")), "in French, page or problem");
    assert!(answers.iter().any(|(status, ..)| *status == 303 || *status == 201), "the admitted ones sign in");
    assert!(answers.iter().all(|(status, ..)| [201, 303, 503].contains(status)), "nothing else");
    // The pages that do not hash answer meanwhile and afterwards, and sign-in works again.
    assert_eq!(app.get(&app.browser(), "/").await.status, 200);
    assert_eq!(app.login(&app.browser(), "jdupont", PERSONAL).await.status, 303);
}
