//! "Mon compte": password change, sessions, sign-out, expiry.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::TestApp;
use time::Duration;

const PERSONAL: &str = "la mer du nord est froide";
const NEXT: &str = "un phare au bout de la jetée";

async fn signed_in(app: &TestApp) -> reqwest::Client {
    let temporary = app.jeanne().await;
    let browser = app.browser();
    app.first_connection(&browser, "jdupont", &temporary, PERSONAL).await;
    browser
}

#[tokio::test]
async fn mon_compte_shows_identity_sessions_and_the_change_form() {
    let app = TestApp::start().await;
    let browser = signed_in(&app).await;
    let page = app.get(&browser, "/mon-compte").await;
    assert_eq!(page.status, 200);
    for text in [
        "<h1>Mon compte</h1>",
        "Jeanne Dupont",
        "jdupont",
        "*******@example.fr",
        "Changer mon mot de passe",
        "Mes sessions actives",
        "Firefox sur Linux",
        "(cette session)",
        "Se déconnecter",
    ] {
        assert!(page.body.contains(text), "{text}");
    }
    assert!(!page.body.contains("jeanne.dupont@example.fr"), "the address is masked");
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_the_other_sessions() {
    let app = TestApp::start().await;
    let browser = signed_in(&app).await;
    let laptop = app.browser();
    app.login(&laptop, "jdupont", PERSONAL).await;
    assert_eq!(app.get(&laptop, "/services").await.status, 200);
    let page = app.get(&browser, "/mon-compte").await;
    let wrong = app
        .post(
            &browser,
            "/mon-compte/mot-de-passe",
            &page,
            &[("mot_de_passe_actuel", "pas celui-là"), ("nouveau_mot_de_passe", NEXT), ("confirmation", NEXT)],
        )
        .await;
    assert_eq!(wrong.errors(), ["Le mot de passe actuel est incorrect."]);
    let same = app
        .post(
            &browser,
            "/mon-compte/mot-de-passe",
            &page,
            &[("mot_de_passe_actuel", PERSONAL), ("nouveau_mot_de_passe", PERSONAL), ("confirmation", PERSONAL)],
        )
        .await;
    assert_eq!(same.errors(), ["Le nouveau mot de passe doit être différent du mot de passe actuel ou provisoire."]);
    let done = app
        .post(
            &browser,
            "/mon-compte/mot-de-passe",
            &page,
            &[("mot_de_passe_actuel", PERSONAL), ("nouveau_mot_de_passe", NEXT), ("confirmation", NEXT)],
        )
        .await;
    assert_eq!(done.location(), Some("/mon-compte?confirmation=mot-de-passe"));
    let confirmed = app.get(&browser, "/mon-compte?confirmation=mot-de-passe").await;
    assert!(confirmed.body.contains("Votre changement de mot de passe est effectué."));
    assert_eq!(
        app.get(&laptop, "/services").await.location(),
        Some("/?info=session-expiree"),
        "the other session ended"
    );
    let mails = app.mails().await;
    assert_eq!(
        mails.iter().filter(|(_, m)| m.kind() == "password_changed").count(),
        2,
        "first connection, then this change"
    );
    assert_eq!(app.login(&app.browser(), "jdupont", NEXT).await.location(), Some("/services"));
}

#[tokio::test]
async fn sessions_can_be_ended_one_by_one_or_all_but_this_one() {
    let app = TestApp::start().await;
    let browser = signed_in(&app).await;
    let (phone, tablet) = (app.browser(), app.browser());
    app.login(&phone, "jdupont", PERSONAL).await;
    app.login(&tablet, "jdupont", PERSONAL).await;
    let sessions = app
        .store
        .sessions_of(app.accounts.find("jdupont").await.unwrap().id, sesame_core::clock::Clock::now(&*app.clock))
        .await
        .unwrap();
    assert_eq!(sessions.len(), 3);
    let page = app.get(&browser, "/mon-compte").await;
    assert_eq!(page.body.matches("Terminer cette session</button>").count(), 2, "all but the current one");
    let phone_id = sessions[1].id.0.to_string();
    let ended = app.post(&browser, "/mon-compte/sessions/terminer", &page, &[("session", &phone_id)]).await;
    assert_eq!(ended.location(), Some("/mon-compte?confirmation=session-terminee"));
    assert_eq!(app.get(&phone, "/services").await.location(), Some("/?info=session-expiree"));
    assert_eq!(app.get(&tablet, "/services").await.status, 200);
    let page = app.get(&browser, "/mon-compte").await;
    app.post(&browser, "/mon-compte/sessions/terminer-autres", &page, &[]).await;
    assert_eq!(app.get(&tablet, "/services").await.location(), Some("/?info=session-expiree"));
    assert_eq!(app.get(&browser, "/services").await.status, 200, "this session stays");
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let app = TestApp::start().await;
    let _ = signed_in(&app).await;
    let browser = app.browser();
    let cookie = app.login(&browser, "jdupont", PERSONAL).await.set_cookie("sesame_session").unwrap();
    let other = app.browser();
    app.login(&other, "jdupont", PERSONAL).await;
    let page = app.get(&browser, "/mon-compte").await;
    let out = app.post(&browser, "/deconnexion", &page, &[]).await;
    assert_eq!(out.location(), Some("/?info=deconnecte"));
    assert!(
        out.headers.get_all("set-cookie").iter().any(|c| c.to_str().unwrap().contains("Max-Age=0")),
        "the cookie is cleared"
    );
    assert!(app.get(&browser, "/?info=deconnecte").await.body.contains("Vous êtes déconnecté."));
    // A copy of the cookie taken before the logout is worth nothing now.
    let replay = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let replayed =
        replay.get(app.url("/services")).header("cookie", format!("sesame_session={cookie}")).send().await.unwrap();
    assert_eq!(replayed.headers()["location"], "/?info=session-expiree");
    assert_eq!(app.get(&other, "/services").await.status, 200, "other sessions are untouched by a logout");
}

#[tokio::test]
async fn sessions_end_after_30_idle_minutes_and_4_hours_in_all() {
    let app = TestApp::start().await;
    let browser = signed_in(&app).await;
    app.clock.advance(Duration::minutes(29));
    assert_eq!(app.get(&browser, "/services").await.status, 200, "activity pushes the idle expiry");
    app.clock.advance(Duration::minutes(29));
    assert_eq!(app.get(&browser, "/services").await.status, 200);
    app.clock.advance(Duration::minutes(31));
    let idle = app.get(&browser, "/services").await;
    assert_eq!(idle.location(), Some("/?info=session-expiree"), "30 minutes without activity");
    let expired = app.get(&browser, "/?info=session-expiree").await;
    assert!(expired.body.contains("Votre session a expiré ou a été fermée."));

    let browser = app.browser();
    app.login(&browser, "jdupont", PERSONAL).await;
    for _ in 0..9 {
        app.clock.advance(Duration::minutes(25));
        assert_eq!(app.get(&browser, "/services").await.status, 200);
    }
    app.clock.advance(Duration::minutes(25));
    assert_eq!(
        app.get(&browser, "/services").await.location(),
        Some("/?info=session-expiree"),
        "4 hours after sign-in, active or not"
    );
}

#[tokio::test]
async fn mes_services_lists_the_configured_services_or_says_there_are_none_yet() {
    let empty = TestApp::start().await;
    let browser = signed_in(&empty).await;
    let page = empty.get(&browser, "/services").await;
    assert!(page.body.contains("Aucun service n'est encore proposé sur Norm'uni."));

    let services = vec![sesame_web::PortalService {
        name: "Therap-e".into(),
        description: "Téléconsultation & téléexpertise".into(),
        url: "https://www.norm-uni.fr/therap-e/".into(),
        icon: None,
    }];
    let app = TestApp::start_with(common::Options { services, ..common::Options::default() }).await;
    let browser = signed_in(&app).await;
    let page = app.get(&browser, "/services").await;
    assert!(page.body.contains("<h2><a href=\"https://www.norm-uni.fr/therap-e/\">Therap-e</a></h2>"), "{}", page.body);
    assert!(page.body.contains("Téléconsultation &amp; téléexpertise"), "escaped");
    assert!(!page.body.contains("Aucun service"));
}
