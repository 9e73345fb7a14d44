//! "Mot de passe oublié", end to end: request, e-mail, link, new password, confirmations.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::{Options, Page, TestApp};
use sesame_core::mail::MailMessage;
use time::Duration;

const PERSONAL: &str = "la mer du nord est froide";
const NEW: &str = "un phare au bout de la jetée";

fn field<'a>(page: &'a Page, name: &str) -> &'a str {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.body.find(&marker).unwrap_or_else(|| panic!("no {name} in {}", page.body)) + marker.len();
    &page.body[start..start + page.body[start..].find('"').unwrap()]
}

/// Solves the page's proof of work, as the accessible alternative's script does.
fn solve(page: &Page) -> (String, String) {
    let challenge = field(page, "pow_challenge").to_owned();
    let nonce = (0u64..).find(|n| sesame_core::captcha::pow_solved(&challenge, &n.to_string())).unwrap();
    (challenge, nonce.to_string())
}

async fn request(app: &TestApp, browser: &reqwest::Client, identifier: &str) -> Page {
    let form = app.get(browser, "/mot-de-passe-oublie").await;
    let (challenge, nonce) = solve(&form);
    app.post(
        browser,
        "/mot-de-passe-oublie",
        &form,
        &[("identifiant", identifier), ("pow_challenge", &challenge), ("pow_nonce", &nonce)],
    )
    .await
}

async fn setup(options: Options) -> TestApp {
    let app = TestApp::start_with(options).await;
    let temporary = app.jeanne().await;
    app.first_connection(&app.browser(), "jdupont", &temporary, PERSONAL).await;
    app.mails().await; // drain the e-mails of the account's creation and first connection
    app
}

fn link_in(mails: &[(String, MailMessage)]) -> String {
    mails
        .iter()
        .rev()
        .find_map(|(_, m)| match m {
            MailMessage::ResetLink { link, .. } => Some(link.clone()),
            _ => None,
        })
        .expect("a reset e-mail")
}

fn path_of(app: &TestApp, link: &str) -> String {
    link.strip_prefix(&app.base).expect("the link is built from the public URL").to_owned()
}

#[tokio::test]
async fn the_whole_flow_from_request_to_new_password() {
    let app = setup(Options::default()).await;
    let signed_in_elsewhere = app.browser();
    app.login(&signed_in_elsewhere, "jdupont", PERSONAL).await;
    let browser = app.browser();
    let form = app.get(&browser, "/mot-de-passe-oublie").await;
    assert!(form.body.contains("<label for=\"identifiant\">Identifiant</label>"));
    assert!(form.body.contains("<label for=\"captcha\">Code à recopier</label>"));
    assert!(form.body.contains("Nouveau code"));
    assert!(form.body.contains("Vérifier sans lire l'image"), "the accessible alternative");
    let sent = request(&app, &browser, "jdupont").await;
    assert_eq!(sent.status, 200);
    assert!(sent.body.contains("<h1>Confirmation</h1>"));
    assert!(sent.body.contains(
        "Votre demande de changement de mot de passe est prise en compte. Vous allez recevoir un mail de confirmation."
    ));
    let mails = app.mails().await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, "jeanne.dupont@example.fr");
    let link = link_in(&mails);
    assert!(link.starts_with(&format!("{}/mot-de-passe-oublie/lien?jeton=", app.base)));
    // Opening the link twice (a mail scanner, then the person) uses nothing up.
    let reader = app.browser();
    for _ in 0..2 {
        let opened = app.get(&reader, &path_of(&app, &link)).await;
        assert_eq!(opened.location(), Some("/mot-de-passe-oublie/nouveau"), "the token leaves the address bar");
    }
    let page = app.get(&reader, "/mot-de-passe-oublie/nouveau").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Attention à bien respecter l'ensemble des prérequis de la politique de sécurité."));
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert_eq!(page.headers["cache-control"], "no-store");
    let refused = app
        .post(
            &reader,
            "/mot-de-passe-oublie/nouveau",
            &page,
            &[("nouveau_mot_de_passe", "soleil"), ("confirmation", "soleil")],
        )
        .await;
    assert_eq!(refused.errors().len(), 2, "policy refusals shown: {:?}", refused.errors());
    let done = app
        .post(&reader, "/mot-de-passe-oublie/nouveau", &page, &[("nouveau_mot_de_passe", NEW), ("confirmation", NEW)])
        .await;
    assert_eq!(done.status, 200);
    assert!(
        done.body
            .contains("Votre changement de mot de passe est effectué. Vous allez recevoir un e-mail de confirmation.")
    );
    assert!(done.set_cookie("sesame_session").is_none(), "no automatic login");
    assert!(
        matches!(app.mails().await.as_slice(), [(_, MailMessage::PasswordChanged { .. })]),
        "the confirmation e-mail"
    );
    assert_eq!(
        app.get(&signed_in_elsewhere, "/services").await.location(),
        Some("/?info=session-expiree"),
        "every session ended"
    );
    assert_eq!(app.login(&app.browser(), "jdupont", PERSONAL).await.status, 200, "the old password is gone");
    assert_eq!(app.login(&app.browser(), "jdupont", NEW).await.location(), Some("/services"));
    let again = app.get(&reader, &path_of(&app, &link)).await;
    assert_eq!(again.status, 410, "a used link is dead");
}

#[tokio::test]
async fn known_and_unknown_identifiers_get_the_same_answer() {
    let app = setup(Options::default()).await;
    let browser = app.browser();
    let known = request(&app, &browser, "jdupont").await;
    let unknown = request(&app, &browser, "personne").await;
    assert_eq!((known.status, unknown.status), (200, 200));
    assert_eq!(known.without_csrf(), unknown.without_csrf());
    assert_eq!(app.mails().await.len(), 1, "only the known account gets an e-mail");
}

#[tokio::test]
async fn the_masked_address_is_shown_only_when_configured() {
    let reset = sesame_core::reset::ResetSettings { show_masked_email: true, ..Default::default() };
    let app = setup(Options { reset, ..Options::default() }).await;
    let page = request(&app, &app.browser(), "jdupont").await;
    assert!(page.body.contains("Vous allez recevoir un mail de confirmation à l'adresse *******@example.fr."));
}

#[tokio::test]
async fn wrong_reused_and_expired_captchas_are_refused() {
    let app = setup(Options::default()).await;
    let browser = app.browser();
    let form = app.get(&browser, "/mot-de-passe-oublie").await;
    let id = field(&form, "captcha_id").to_owned();
    let wrong = app
        .post(
            &browser,
            "/mot-de-passe-oublie",
            &form,
            &[("identifiant", "jdupont"), ("captcha_id", &id), ("captcha", "zzzzzz")],
        )
        .await;
    assert_eq!(wrong.errors(), ["Le code recopié est incorrect ou a expiré. Un nouveau code vous est proposé."]);
    assert_ne!(field(&wrong, "captcha_id"), id, "a new challenge");
    // A solved proof of work is single use.
    let form = app.get(&browser, "/mot-de-passe-oublie").await;
    let (challenge, nonce) = solve(&form);
    let pow = [("identifiant", "jdupont"), ("pow_challenge", challenge.as_str()), ("pow_nonce", nonce.as_str())];
    assert!(app.post(&browser, "/mot-de-passe-oublie", &form, &pow).await.body.contains("<h1>Confirmation</h1>"));
    assert!(!app.post(&browser, "/mot-de-passe-oublie", &form, &pow).await.errors().is_empty(), "reused");
    // Expired after 10 minutes.
    let form = app.get(&browser, "/mot-de-passe-oublie").await;
    let (challenge, nonce) = solve(&form);
    app.clock.advance(Duration::minutes(10));
    let late = app
        .post(
            &browser,
            "/mot-de-passe-oublie",
            &form,
            &[("identifiant", "jdupont"), ("pow_challenge", &challenge), ("pow_nonce", &nonce)],
        )
        .await;
    assert!(!late.errors().is_empty(), "expired");
    let missing = app.post(&browser, "/mot-de-passe-oublie", &form, &[("identifiant", "jdupont")]).await;
    assert_eq!(missing.errors(), ["Recopiez le code de l'image, ou utilisez la vérification sans image."]);
    assert_eq!(app.mails().await.len(), 1, "only the one good request sent an e-mail");
}

async fn invalid(app: &TestApp, link_path: &str) {
    let browser = app.browser();
    let page = app.get(&browser, link_path).await;
    assert_eq!(page.status, 410, "{link_path}");
    assert!(page.body.contains("Lien invalide ou expiré"));
}

#[tokio::test]
async fn expired_superseded_tampered_and_outdated_links_get_one_generic_page() {
    let app = setup(Options { captcha: false, ..Options::default() }).await;
    let browser = app.browser();
    let ask = async || {
        let form = app.get(&browser, "/mot-de-passe-oublie").await;
        app.post(&browser, "/mot-de-passe-oublie", &form, &[("identifiant", "jdupont")]).await;
        path_of(&app, &link_in(&app.mails().await))
    };
    let first = ask().await;
    let second = ask().await;
    invalid(&app, &first).await; // superseded by the newer request
    invalid(&app, &format!("{}x", second)).await; // tampered
    invalid(&app, "/mot-de-passe-oublie/lien?jeton=").await;
    invalid(&app, "/mot-de-passe-oublie/lien?jeton=%3Cscript%3E").await;
    app.clock.advance(Duration::minutes(60));
    invalid(&app, &second).await; // expired
    // A link outlived by a password change is dead too.
    let third = ask().await;
    let signed = app.browser();
    app.login(&signed, "jdupont", PERSONAL).await;
    let page = app.get(&signed, "/mon-compte").await;
    app.post(
        &signed,
        "/mon-compte/mot-de-passe",
        &page,
        &[("mot_de_passe_actuel", PERSONAL), ("nouveau_mot_de_passe", NEW), ("confirmation", NEW)],
    )
    .await;
    invalid(&app, &third).await;
    // The new-password page without a link, too.
    assert_eq!(app.get(&app.browser(), "/mot-de-passe-oublie/nouveau").await.status, 410);
}

#[tokio::test]
async fn two_concurrent_final_submissions_give_exactly_one_success() {
    let app = setup(Options { captcha: false, ..Options::default() }).await;
    let browser = app.browser();
    let form = app.get(&browser, "/mot-de-passe-oublie").await;
    app.post(&browser, "/mot-de-passe-oublie", &form, &[("identifiant", "jdupont")]).await;
    let link = path_of(&app, &link_in(&app.mails().await));
    let (a, b) = (app.browser(), app.browser());
    app.get(&a, &link).await;
    app.get(&b, &link).await;
    let (page_a, page_b) =
        (app.get(&a, "/mot-de-passe-oublie/nouveau").await, app.get(&b, "/mot-de-passe-oublie/nouveau").await);
    let other = "une autre phrase bien longue";
    let (fields_a, fields_b) = (
        [("nouveau_mot_de_passe", NEW), ("confirmation", NEW)],
        [("nouveau_mot_de_passe", other), ("confirmation", other)],
    );
    let (ra, rb) = tokio::join!(
        app.post(&a, "/mot-de-passe-oublie/nouveau", &page_a, &fields_a),
        app.post(&b, "/mot-de-passe-oublie/nouveau", &page_b, &fields_b),
    );
    let successes =
        [&ra, &rb].iter().filter(|p| p.body.contains("Votre changement de mot de passe est effectué")).count();
    assert_eq!(successes, 1, "{} / {}", ra.status, rb.status);
    assert!([ra.status, rb.status].contains(&410));
}

#[tokio::test]
async fn forged_host_headers_do_not_change_the_link() {
    let app = setup(Options { captcha: false, ..Options::default() }).await;
    let browser = app.browser();
    let form = app.get(&browser, "/mot-de-passe-oublie").await;
    browser
        .post(app.url("/mot-de-passe-oublie"))
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .form(&[("csrf", form.csrf()), ("identifiant", "jdupont")])
        .send()
        .await
        .unwrap();
    let link = link_in(&app.mails().await);
    assert!(link.starts_with(&app.base), "{link}");
    assert!(!link.contains("evil"));
}

#[tokio::test]
async fn at_most_three_reset_emails_per_account_and_hour() {
    let app = setup(Options { captcha: false, ..Options::default() }).await;
    let browser = app.browser();
    for _ in 0..4 {
        let form = app.get(&browser, "/mot-de-passe-oublie").await;
        let page = app.post(&browser, "/mot-de-passe-oublie", &form, &[("identifiant", "jdupont")]).await;
        assert!(page.body.contains("<h1>Confirmation</h1>"), "the requester sees no difference");
    }
    assert_eq!(app.mails().await.len(), 3, "the 4th request within the hour sends nothing");
    app.clock.advance(Duration::minutes(61));
    let form = app.get(&browser, "/mot-de-passe-oublie").await;
    app.post(&browser, "/mot-de-passe-oublie", &form, &[("identifiant", "jdupont")]).await;
    assert_eq!(app.mails().await.len(), 1);
    let outcomes: Vec<String> = app
        .store
        .audit_events(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "reset_requested")
        .map(|e| e.details["result"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["sent", "sent", "sent", "hourly_limit", "sent"]);
}

#[tokio::test]
async fn a_reset_clears_throttling_and_replaces_a_pending_temporary_password() {
    let app = TestApp::start_with(Options { captcha: false, ..Options::default() }).await;
    let temporary = app.jeanne().await;
    for _ in 0..6 {
        app.login(&app.browser(), "jdupont", "mauvais").await;
    }
    assert!(app.store.throttle_state("jdupont").await.unwrap().is_some());
    let browser = app.browser();
    let form = app.get(&browser, "/mot-de-passe-oublie").await;
    app.post(&browser, "/mot-de-passe-oublie", &form, &[("identifiant", "jdupont")]).await;
    let link = path_of(&app, &link_in(&app.mails().await));
    app.get(&browser, &link).await;
    let page = app.get(&browser, "/mot-de-passe-oublie/nouveau").await;
    let temp_again = app
        .post(
            &browser,
            "/mot-de-passe-oublie/nouveau",
            &page,
            &[("nouveau_mot_de_passe", &temporary), ("confirmation", &temporary)],
        )
        .await;
    assert_eq!(
        temp_again.errors(),
        ["Le nouveau mot de passe doit être différent du mot de passe actuel ou provisoire."]
    );
    app.post(&browser, "/mot-de-passe-oublie/nouveau", &page, &[("nouveau_mot_de_passe", NEW), ("confirmation", NEW)])
        .await;
    assert!(app.store.throttle_state("jdupont").await.unwrap().is_none(), "counters cleared");
    let signed_in = app.login(&app.browser(), "jdupont", NEW).await;
    assert_eq!(signed_in.location(), Some("/services"), "no forced change afterwards");
    let actions: Vec<String> =
        app.store.audit_events(&Default::default()).await.unwrap().into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"reset_completed".to_owned()));
    assert!(actions.contains(&"reset_refused".to_owned()));
}

#[tokio::test]
async fn a_disabled_account_receives_nothing() {
    let app = setup(Options { captcha: false, ..Options::default() }).await;
    let account = app.accounts.find("jdupont").await.unwrap();
    app.accounts
        .set_status(account.id, sesame_core::model::AccountStatus::Disabled, &sesame_core::audit::RequestContext::cli())
        .await
        .unwrap();
    let browser = app.browser();
    let form = app.get(&browser, "/mot-de-passe-oublie").await;
    let page = app.post(&browser, "/mot-de-passe-oublie", &form, &[("identifiant", "jdupont")]).await;
    assert!(page.body.contains("<h1>Confirmation</h1>"));
    assert!(app.mails().await.is_empty());
}
