//! Every page state, word for word, as a browser receives it: a change of wording or markup
//! shows up as a snapshot diff to review. What changes from run to run (CSRF and captcha
//! values, the server's port, request ids) is replaced by a placeholder.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{Options, Page, TestApp, guide_downloads};
use sesame_core::mail::MailMessage;
use sesame_core::throttle::ThrottleSettings;
use time::Duration;

const PERSONAL: &str = "la mer du nord est froide";
const NEW: &str = "un phare au bout de la jetée";

/// Records the page under `name`: its status, where it redirects, its body.
fn snapshot(name: &str, page: &Page) {
    let mut document = format!("HTTP {}\n", page.status);
    if let Some(location) = page.location() {
        document.push_str(&format!("Location: {location}\n"));
    }
    document.push('\n');
    document.push_str(&page.body);
    insta::with_settings!({
        filters => vec![
            (r#"name="csrf" value="[^"]*""#, r#"name="csrf" value="[csrf]""#),
            (r#"name="captcha_id" value="[^"]*""#, r#"name="captcha_id" value="[captcha]""#),
            (r#"name="pow_challenge" value="[^"]*""#, r#"name="pow_challenge" value="[pow]""#),
            (r#"data-pow="[^"]*""#, r#"data-pow="[pow]""#),
            (r#"src="data:image/[^"]*""#, r#"src="[captcha image]""#),
            (r"https?://127\.0\.0\.1:\d+", "[base]"),
            (r"<code>[0-9a-f-]{16,}</code>", "<code>[request id]</code>"),
            (r"(?s)<svg.*?</svg>", "[QR code]"),
            (r#"<code class="cle">[^<]*</code>"#, r#"<code class="cle">[key]</code>"#),
            (r"<li><code>[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}</code></li>", "<li><code>[recovery code]</code></li>"),
            (r#"href="data:text/plain[^"]*""#, r#"href="[codes as text]""#),
        ],
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(name, document);
    });
}

fn portal() -> Options {
    let services = vec![sesame_web::PortalService {
        name: "Therap-e".into(),
        description: "Téléconsultation et téléexpertise.".into(),
        url: "https://www.norm-uni.fr/therap-e/".into(),
        icon: None,
    }];
    Options { downloads: guide_downloads(), services, ..Options::default() }
}

#[tokio::test]
async fn sign_in_pages() {
    let app = TestApp::start_with(portal()).await;
    let temporary = app.jeanne().await;
    let browser = app.browser();
    snapshot("login", &app.get(&browser, "/").await);
    snapshot("login_refused", &app.login(&browser, "jdupont", "pas le bon mot de passe").await);
    app.login(&browser, "jdupont", "pas le bon mot de passe").await;
    snapshot("login_refused_captcha_required", &app.login(&browser, "jdupont", "pas le bon mot de passe").await);

    let other = app.create("Paul", "Martin", "paul.martin@example.fr").await;
    app.clock.advance(Duration::days(8));
    let expired = app.login(&app.browser(), "pmartin", &other).await;
    snapshot("login_temporary_password_expired", &expired);
    drop(temporary);
}

#[tokio::test]
async fn first_connection_and_services_pages() {
    let app = TestApp::start_with(portal()).await;
    let temporary = app.jeanne().await;
    let browser = app.browser();
    let signed_in = app.login(&browser, "jdupont", &temporary).await;
    snapshot("login_temporary_password_accepted", &signed_in);
    let form = app.get(&browser, "/premiere-connexion").await;
    snapshot("first_connection", &form);
    let refused = app
        .post(&browser, "/premiere-connexion", &form, &[("nouveau_mot_de_passe", "court"), ("confirmation", "autre")])
        .await;
    snapshot("first_connection_refused", &refused);
    let done = app
        .post(
            &browser,
            "/premiere-connexion",
            &refused,
            &[("nouveau_mot_de_passe", PERSONAL), ("confirmation", PERSONAL)],
        )
        .await;
    snapshot("services_after_first_connection", &app.get(&browser, done.location().unwrap()).await);
    snapshot("services", &app.get(&browser, "/services").await);
    snapshot("installer", &app.get(&browser, "/installer").await);
    snapshot("help", &app.get(&browser, "/aide").await);
}

#[tokio::test]
async fn account_pages() {
    let app = TestApp::start_with(Options { captcha: false, ..portal() }).await;
    let temporary = app.jeanne().await;
    let browser = app.browser();
    app.first_connection(&browser, "jdupont", &temporary, PERSONAL).await;
    app.login(&app.browser(), "jdupont", PERSONAL).await;
    let account = app.get(&browser, "/mon-compte").await;
    snapshot("account", &account);
    let refused = app
        .post(
            &browser,
            "/mon-compte/mot-de-passe",
            &account,
            &[("mot_de_passe_actuel", "pas le bon"), ("nouveau_mot_de_passe", NEW), ("confirmation", NEW)],
        )
        .await;
    snapshot("account_password_wrong_current", &refused);
    let weak = app
        .post(
            &browser,
            "/mon-compte/mot-de-passe",
            &refused,
            &[
                ("mot_de_passe_actuel", PERSONAL),
                ("nouveau_mot_de_passe", "jdupont2026"),
                ("confirmation", "jdupont2026"),
            ],
        )
        .await;
    snapshot("account_password_refused", &weak);
    let changed = app
        .post(
            &browser,
            "/mon-compte/mot-de-passe",
            &weak,
            &[("mot_de_passe_actuel", PERSONAL), ("nouveau_mot_de_passe", NEW), ("confirmation", NEW)],
        )
        .await;
    snapshot("account_password_changed", &app.get(&browser, changed.location().unwrap()).await);
}

#[tokio::test]
async fn second_factor_pages() {
    let app = TestApp::start_with(Options { captcha: false, ..portal() }).await;
    let temporary = app.jeanne().await;
    let browser = app.browser();
    app.first_connection(&browser, "jdupont", &temporary, PERSONAL).await;
    let start = app.get(&browser, "/mon-compte/second-facteur/application").await;
    snapshot("factor_start", &start);
    let started = app
        .post(
            &browser,
            "/mon-compte/second-facteur/application",
            &start,
            &[("mot_de_passe", PERSONAL), ("nom", "Téléphone")],
        )
        .await;
    let to = started.location().unwrap().to_owned();
    let enrol = app.get(&browser, &to).await;
    snapshot("factor_enrol", &enrol);
    let wrong = app.post(&browser, &to, &enrol, &[("code", "000000")]).await;
    snapshot("factor_enrol_wrong_code", &wrong);
    let marker = "<dt>Clé</dt><dd><code class=\"cle\">";
    let at = enrol.body.find(marker).unwrap() + marker.len();
    let key = &enrol.body[at..at + enrol.body[at..].find('<').unwrap()];
    let secret = sesame_core::totp::TotpSecret::from_base32(key).unwrap();
    let codes = app.post(&browser, &to, &enrol, &[("code", &secret.code_at(common::now(&app)))]).await;
    snapshot("recovery_codes", &codes);
    snapshot("account_with_second_factor", &app.get(&browser, "/mon-compte").await);
    snapshot("factor_remove", &app.get(&browser, "/mon-compte/second-facteur/1/retirer").await);
    let other = app.browser();
    app.login(&other, "jdupont", PERSONAL).await;
    let step = app.get(&other, "/connexion/second-facteur").await;
    snapshot("second_step", &step);
    snapshot(
        "second_step_wrong_code",
        &app.post(&other, "/connexion/second-facteur", &step, &[("code", "000000")]).await,
    );
    app.clock.advance(Duration::minutes(5));
    snapshot("login_second_step_expired", &app.get(&other, "/?info=second-facteur-expire").await);
}

/// The token of the last reset e-mail.
async fn reset_link(app: &TestApp) -> String {
    let link = app
        .mails()
        .await
        .into_iter()
        .filter_map(|(_, m)| match m {
            MailMessage::ResetLink { link, .. } => Some(link),
            _ => None,
        })
        .next_back()
        .unwrap();
    link.strip_prefix(&app.url("")).unwrap().to_owned()
}

#[tokio::test]
async fn forgotten_password_pages() {
    let app = TestApp::start_with(Options { captcha: false, ..portal() }).await;
    let temporary = app.jeanne().await;
    let browser = app.browser();
    app.first_connection(&browser, "jdupont", &temporary, PERSONAL).await;
    let visitor = app.browser();
    let form = app.get(&visitor, "/mot-de-passe-oublie").await;
    snapshot("forgot", &form);
    let requested = app.post(&visitor, "/mot-de-passe-oublie", &form, &[("identifiant", "jdupont")]).await;
    assert_eq!(requested.location(), None, "the answer is the page itself");
    snapshot("forgot_requested", &requested);
    let link = reset_link(&app).await;
    let opened = app.get(&visitor, &link).await;
    let new = app.get(&visitor, opened.location().unwrap()).await;
    snapshot("reset_new_password", &new);
    let path = sesame_web::pages::reset::NEW_PASSWORD_PATH;
    let refused = app.post(&visitor, path, &new, &[("nouveau_mot_de_passe", "court"), ("confirmation", "court")]).await;
    snapshot("reset_new_password_refused", &refused);
    let done = app.post(&visitor, path, &refused, &[("nouveau_mot_de_passe", NEW), ("confirmation", NEW)]).await;
    let done = match done.location() {
        Some(to) => app.get(&visitor, to).await,
        None => done,
    };
    snapshot("reset_done", &done);
    snapshot("reset_invalid_link", &app.get(&app.browser(), &link).await);
}

#[tokio::test]
async fn forgotten_password_with_captcha() {
    let app = TestApp::start_with(portal()).await;
    snapshot("forgot_with_captcha", &app.get(&app.browser(), "/mot-de-passe-oublie").await);
}

#[tokio::test]
async fn error_pages() {
    let throttle = ThrottleSettings { per_address_per_minute: 1, ..ThrottleSettings::default() };
    let app = TestApp::start_with(Options { throttle, captcha: false, ..Options::default() }).await;
    let browser = app.browser();
    snapshot("not_found", &app.get(&browser, "/nulle-part").await);
    let page = app.get(&browser, "/").await;
    let forged = browser
        .post(app.url("/connexion"))
        .form(&[("csrf", "faux"), ("identifiant", "jdupont"), ("mot_de_passe", "x")])
        .send()
        .await
        .unwrap();
    snapshot("csrf_refused", &Page::of(forged).await);
    app.post(&browser, "/connexion", &page, &[("identifiant", "jdupont"), ("mot_de_passe", "x")]).await;
    let limited = app.post(&browser, "/connexion", &page, &[("identifiant", "jdupont"), ("mot_de_passe", "x")]).await;
    snapshot("too_many_requests", &limited);
}

#[tokio::test]
async fn certificate_pages() {
    let pki = common::pki::Pki::new();
    let app = common::pki::app(&pki, vec!["127.0.0.1".into()], false).await;
    let browser = app.browser();
    snapshot("login_with_certificate", &app.get(&browser, "/").await);
    snapshot("certificate_refused_no_certificate", &app.get(&browser, "/connexion/certificat").await);
}
