//! The guide's last page: "Installer Therap-e autonome sur votre poste", and the "Aide" page.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{Options, TestApp, guide_downloads};
use sesame_web::downloads::Download;

const PERSONAL: &str = "la mer du nord est froide";
const MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15";
const WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36";

async fn portal(downloads: Vec<Download>) -> TestApp {
    let services = vec![sesame_web::PortalService {
        name: "Therap-e".into(),
        description: "Téléconsultation et téléexpertise.".into(),
        url: "https://www.norm-uni.fr/therap-e/".into(),
        icon: None,
    }];
    TestApp::start_with(Options { downloads, services, captcha: false, ..Options::default() }).await
}

fn browser_as(user_agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .build()
        .unwrap()
}

async fn signed_in(app: &TestApp, user_agent: &str) -> reqwest::Client {
    let temporary = app.jeanne().await;
    let browser = browser_as(user_agent);
    app.first_connection(&browser, "jdupont", &temporary, PERSONAL).await;
    browser
}

#[tokio::test]
async fn the_installers_show_their_requirements_prerequisites_and_checksum() {
    let app = portal(guide_downloads()).await;
    let browser = signed_in(&app, WINDOWS).await;
    let page = app.get(&browser, "/installer").await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    assert!(body.contains("<h1>Installer Therap-e autonome sur votre poste</h1>"), "{body}");
    assert!(body.contains("contacter <strong>votre service informatique</strong> pour qu'il s'occupe de cette partie"));
    assert!(body.contains(
        "Version PC (Windows)</strong> <span class=\"etiquette\">votre système</span> — Windows 10 ou 11 — version 4.2"
    ));
    assert!(body.contains("Version Mac</strong> — macOS 10.15 à 12.4"));
    assert!(
        body.contains("href=\"https://www.norm-uni.fr/covotem/Installer/covotem-serveur-normandie-prod-inst.exe\"")
    );
    assert!(body.contains("(142 Mo)"));
    assert!(body.contains(
        "<strong>Attention</strong> : le logiciel VLC Media Player doit également être installé sur votre poste : <a href=\"https://www.videolan.org/vlc/download-macosx.html\">"
    ));
    assert!(
        body.contains("<code>9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08</code>"),
        "the checksum"
    );
    assert_eq!(page.headers["cache-control"], "no-store");
    // The same, under its service on "Mes services e-santé".
    let services = app.get(&browser, "/services").await;
    let tile = services.body.split("<li class=\"carte service\">").nth(1).unwrap();
    assert!(tile.contains("Therap-e") && tile.contains("Installer Therap-e autonome sur votre poste"), "{tile}");
    assert!(tile.contains("doit également être installé"));
}

#[tokio::test]
async fn the_visitors_own_system_comes_first() {
    let app = portal(guide_downloads()).await;
    let order = |body: &str| {
        let pc = body.find("Version PC (Windows)").unwrap();
        let mac = body.find("Version Mac</strong>").unwrap();
        if mac < pc { "mac" } else { "pc" }
    };
    let mac_browser = signed_in(&app, MAC).await;
    assert_eq!(order(&app.get(&mac_browser, "/installer").await.body), "mac");
    let windows = browser_as(WINDOWS);
    app.login(&windows, "jdupont", PERSONAL).await;
    assert_eq!(order(&app.get(&windows, "/installer").await.body), "pc");
    let unknown = browser_as("curl/8.0");
    app.login(&unknown, "jdupont", PERSONAL).await;
    let page = app.get(&unknown, "/installer").await;
    assert_eq!(order(&page.body), "pc", "configuration order when the system is unknown");
    assert!(!page.body.contains("votre système"));
}

#[tokio::test]
async fn after_the_first_connection_the_next_step_is_the_installation() {
    let app = portal(guide_downloads()).await;
    let browser = signed_in(&app, MAC).await;
    let page = app.get(&browser, "/services?confirmation=premiere-connexion").await;
    assert!(page.body.contains("Votre changement de mot de passe est effectué."));
    assert!(page.body.contains("Étape suivante : installer Therap-e autonome"), "{}", page.body);
    assert!(page.body.contains(
        "Votre mot de passe personnel vous permet aussi de vous connecter à l'application Therap-e autonome."
    ));
    let first_installer = page.body.split("<li class=\"installeur").nth(1).unwrap();
    assert!(first_installer.contains("Version Mac"), "the visitor's Mac first");
}

#[tokio::test]
async fn without_downloads_nothing_is_shown_and_the_page_does_not_exist() {
    let app = portal(Vec::new()).await;
    let browser = signed_in(&app, WINDOWS).await;
    let services = app.get(&browser, "/services?confirmation=premiere-connexion").await;
    assert!(!services.body.contains("Installer") && !services.body.contains("Étape suivante"), "{}", services.body);
    assert_eq!(app.get(&browser, "/installer").await.status, 404);
}

#[tokio::test]
async fn the_installer_page_needs_a_signed_in_professional() {
    let app = portal(guide_downloads()).await;
    assert_eq!(app.get(&app.browser(), "/installer").await.location(), Some("/"));
    // A temporary-password session reaches only the first-connection page.
    let temporary = app.jeanne().await;
    let browser = app.browser();
    app.login(&browser, "jdupont", &temporary).await;
    assert_eq!(app.get(&browser, "/installer").await.location(), Some("/premiere-connexion"));
}

#[tokio::test]
async fn the_help_page_explains_the_guides_flows_with_the_portals_names_and_contacts() {
    let app = portal(guide_downloads()).await;
    let login = app.get(&app.browser(), "/").await;
    assert!(login.body.contains("href=\"/aide\">Première connexion, mot de passe oublié : consultez l'aide</a>"));
    assert!(login.body.contains("<a href=\"/aide\">Aide</a>"), "in the footer");
    let help = app.get(&app.browser(), "/aide").await;
    assert_eq!(help.status, 200, "open to everyone");
    let body = &help.body;
    for heading in [
        "<h2 id=\"titre-premiere\">Première connexion</h2>",
        "<h2 id=\"titre-application\">Première connexion depuis Therap-e autonome</h2>",
        "<h2 id=\"titre-changer\">Changer mon mot de passe</h2>",
        "<h2 id=\"titre-oublie\">Mot de passe oublié</h2>",
        "<h2 id=\"titre-politique\">La politique de sécurité des mots de passe</h2>",
        "<h2 id=\"titre-support\">Contacter le support</h2>",
    ] {
        assert!(body.contains(heading), "{heading}: {body}");
    }
    assert!(body.contains("<strong>mot de passe provisoire valable 7 jours</strong>"));
    assert!(body.contains("le lien fonctionne 60 minutes"));
    assert!(body.contains("Le support technique de Normand'e-santé : par téléphone au 02 50 53 70 01, par e-mail à"));
    assert!(body.contains("Au moins 15 caractères"), "the policy's checklist");
    assert!(!body.contains("Authentification par certificat client"), "not offered here");
}

#[tokio::test]
async fn an_operators_markdown_help_replaces_it_without_anything_hostile() {
    let help = concat!(
        "# Bienvenue sur Norm'uni\n\nAppelez le 02 50 53 70 01.\n\n<script>alert(1)</script>\n\n",
        "[Piège](javascript:alert(2)) ![pisteur](https://tiers.example/p.png)\n\n<img src=x onerror=\"alert(3)\">\n"
    );
    let app = TestApp::start_with(Options { help: Some(help.into()), ..Options::default() }).await;
    let page = app.get(&app.browser(), "/aide").await;
    assert!(page.body.contains("<h1>Bienvenue sur Norm'uni</h1>"), "{}", page.body);
    assert!(page.body.contains("Appelez le 02 50 53 70 01."));
    for gone in ["<script>alert", "javascript:", "tiers.example", "onerror", "alert(3)"] {
        assert!(!page.body.contains(gone), "{gone} survived");
    }
    assert!(!page.body.contains("titre-oublie"), "the built-in help is replaced");
    assert!(page.body.contains("Contacter le support"), "the contacts stay");
}
