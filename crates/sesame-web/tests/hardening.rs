//! What every page says to the browser beyond its content: caching, referrers, site data on
//! sign-out, Content-Security-Policy reports; and the wording that must follow configuration.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::{Options, TestApp};
use serde_json::json;
use sesame_core::mail::MailMessage;
use sesame_core::reset::ResetSettings;

const PERSONAL: &str = "la mer du nord est froide";
const REFUSED: &str = "Identifiant ou mot de passe incorrect. Après plusieurs échecs, la connexion est suspendue quelques minutes : réessayez plus tard, ou utilisez « Mot de passe oublié ».";

async fn ready(options: Options) -> TestApp {
    let app = TestApp::start_with(Options { captcha: false, ..options }).await;
    let temporary = app.jeanne().await;
    app.first_connection(&app.browser(), "jdupont", &temporary, PERSONAL).await;
    app.mails().await;
    app
}

async fn reset_link(app: &TestApp, browser: &reqwest::Client) -> String {
    let form = app.get(browser, "/mot-de-passe-oublie").await;
    app.post(browser, "/mot-de-passe-oublie", &form, &[("identifiant", "jdupont")]).await;
    let link = app
        .mails()
        .await
        .into_iter()
        .find_map(|(_, m)| match m {
            MailMessage::ResetLink { link, .. } => Some(link),
            _ => None,
        })
        .expect("a reset e-mail");
    link.strip_prefix(&app.base).unwrap().to_owned()
}

#[tokio::test]
async fn every_response_to_the_reset_link_is_neither_stored_nor_referred_the_redirect_included() {
    let app = ready(Options::default()).await;
    let browser = app.browser();
    let link = reset_link(&app, &browser).await;
    let redirect = app.get(&browser, &link).await;
    assert_eq!(redirect.status, 303);
    assert_eq!(redirect.headers["cache-control"], "no-store", "the redirect that removes the token");
    assert_eq!(redirect.headers["referrer-policy"], "no-referrer");
    let invalid = app.get(&app.browser(), "/mot-de-passe-oublie/lien?jeton=inconnu").await;
    assert_eq!(invalid.status, 410);
    assert_eq!(invalid.headers["cache-control"], "no-store");
    assert_eq!(invalid.headers["referrer-policy"], "no-referrer");
    let new = app.get(&browser, "/mot-de-passe-oublie/nouveau").await;
    assert_eq!((new.headers["cache-control"].to_str().unwrap(), new.status), ("no-store", 200));
    let css = browser.get(app.url("/static/sesame.css")).send().await.unwrap();
    assert_eq!(css.headers()["cache-control"], "public, max-age=3600", "static files keep their own");
}

#[tokio::test]
async fn signing_out_tells_the_browser_to_clear_the_site_data() {
    let app = ready(Options::default()).await;
    let browser = app.browser();
    app.login(&browser, "jdupont", PERSONAL).await;
    let page = app.get(&browser, "/mon-compte").await;
    let out = app.post(&browser, "/deconnexion", &page, &[]).await;
    assert_eq!(out.location(), Some("/?info=deconnecte"));
    assert_eq!(out.headers["clear-site-data"], r#""cache", "cookies", "storage""#);

    // Ending one's own current session (the newest) is a sign-out too.
    let other = app.browser();
    app.login(&other, "jdupont", PERSONAL).await;
    let page = app.get(&other, "/mon-compte").await;
    let account = app.accounts.find("jdupont").await.unwrap();
    let sessions = app.store.sessions_of(account.id, common::now(&app)).await.unwrap();
    let newest = sessions.iter().map(|s| s.id.0).max().unwrap().to_string();
    let ended = app.post(&other, "/mon-compte/sessions/terminer", &page, &[("session", &newest)]).await;
    assert_eq!(ended.location(), Some("/?info=deconnecte"));
    assert_eq!(ended.headers["clear-site-data"], r#""cache", "cookies", "storage""#);
}

#[tokio::test]
async fn content_security_policy_reports_go_to_a_first_party_endpoint_with_limits() {
    let app = ready(Options::default()).await;
    let browser = app.browser();
    let page = app.get(&browser, "/").await;
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("report-to csp") && csp.contains("report-uri /csp-report"), "{csp}");
    assert_eq!(page.headers["reporting-endpoints"], r#"csp="/csp-report""#);

    let report =
        |body: String, kind: &'static str| browser.post(app.url("/csp-report")).header("content-type", kind).body(body);
    let legacy = json!({ "csp-report": { "document-uri": app.url("/"), "violated-directive": "script-src", "blocked-uri": "inline" } });
    let sent = report(legacy.to_string(), "application/csp-report").send().await.unwrap();
    assert_eq!(sent.status(), 204);
    let modern = json!([{ "type": "csp-violation", "body": { "documentURL": app.url("/"), "effectiveDirective": "img-src", "blockedURL": "https://tiers.example/pixel" } }]);
    assert_eq!(report(modern.to_string(), "application/reports+json").send().await.unwrap().status(), 204);
    assert_eq!(report("pas du JSON".into(), "application/csp-report").send().await.unwrap().status(), 204);

    let huge = report("x".repeat(20 * 1024), "application/csp-report").send().await.unwrap();
    assert_eq!(huge.status(), 413, "the body limit");
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(report(legacy.to_string(), "application/csp-report").send().await.unwrap().status().as_u16());
    }
    assert!(statuses.contains(&429), "the per-address limit: {statuses:?}");
}

#[tokio::test]
async fn without_a_captcha_the_forgotten_password_page_asks_for_no_code() {
    let app = ready(Options::default()).await;
    let page = app.get(&app.browser(), "/mot-de-passe-oublie").await;
    assert!(page.body.contains("Renseignez votre identifiant. Vous recevrez un e-mail"), "{}", page.body);
    assert!(!page.body.to_lowercase().contains("code à recopier"));

    let with_captcha = TestApp::start().await;
    let page = with_captcha.get(&with_captcha.browser(), "/mot-de-passe-oublie").await;
    assert!(page.body.contains("Renseignez votre identifiant puis le code à recopier."));
}

#[tokio::test]
async fn the_reset_confirmation_and_its_cookie_follow_the_configured_link_lifetime() {
    let reset = ResetSettings { link_minutes: 30, ..ResetSettings::default() };
    let app = ready(Options { reset, ..Options::default() }).await;
    let browser = app.browser();
    let form = app.get(&browser, "/mot-de-passe-oublie").await;
    let sent = app.post(&browser, "/mot-de-passe-oublie", &form, &[("identifiant", "jdupont")]).await;
    assert!(sent.body.contains("Le lien est valable 30 minutes."), "{}", sent.body);
    assert!(!sent.body.contains("une heure"));
    let link = app
        .mails()
        .await
        .into_iter()
        .find_map(|(_, m)| match m {
            MailMessage::ResetLink { link, valid_minutes, .. } => Some((link, valid_minutes)),
            _ => None,
        })
        .unwrap();
    assert_eq!(link.1, 30, "the e-mail says the same");
    let opened = app.get(&browser, link.0.strip_prefix(&app.base).unwrap()).await;
    let cookie = opened
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("sesame_reset="))
        .unwrap();
    assert!(cookie.contains("Max-Age=1800"), "{cookie}");
}

#[tokio::test]
async fn a_throttled_sign_in_looks_like_a_wrong_password_and_says_what_to_do() {
    let app = ready(Options::default()).await;
    let browser = app.browser();
    let wrong = app.login(&browser, "jdupont", "pas le bon mot de passe").await;
    assert_eq!(wrong.errors(), [REFUSED]);
    for _ in 0..5 {
        app.login(&browser, "jdupont", "pas le bon mot de passe").await;
    }
    let throttled = app.login(&browser, "jdupont", PERSONAL).await;
    assert_eq!(throttled.status, 200, "the right password, but sign-in is paused");
    assert_eq!(throttled.without_csrf(), wrong.without_csrf(), "identical to a wrong password");

    let api = reqwest::Client::new()
        .post(app.url("/api/v1/sessions"))
        .json(&json!({ "identifier": "personne", "password": "mauvais" }))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    let problem: serde_json::Value = api.json().await.unwrap();
    assert_eq!(problem["detail"], REFUSED);
}
