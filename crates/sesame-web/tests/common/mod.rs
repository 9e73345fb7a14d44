//! The real router on a loopback port, a fresh SQLite database, a clock the test moves, and
//! browsers that keep cookies.

#![allow(dead_code, reason = "each test file uses a different part")]
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

pub mod pki;

use reqwest::redirect::Policy;
use sesame_core::accounts::CreateAccount;
use sesame_core::audit::RequestContext;
use sesame_core::branding::Branding;
use sesame_core::clock::ManualClock;
use sesame_core::hashing::{HashingSettings, PasswordHasher};
use sesame_core::keys::Sealer;
use sesame_core::mail::MailMessage;
use sesame_core::policy::PolicySettings;
use sesame_core::sessions::SessionSettings;
use sesame_core::store::Store;
use sesame_core::throttle::ThrottleSettings;
use sesame_core::types::{Email, PersonName};
use sesame_core::{AccountService, AccountSettings, CoreSettings, Services};
use sesame_web::{AppState, CaptchaSettings, WebSettings};
use std::sync::Arc;
use time::macros::datetime;

pub struct TestApp {
    pub base: String,
    addr: std::net::SocketAddr,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub accounts: AccountService,
    /// Every use case, as the pages use them.
    pub services: Services,
    _dir: tempfile::TempDir,
}

#[derive(Clone)]
pub struct Options {
    pub policy: PolicySettings,
    pub throttle: ThrottleSettings,
    pub captcha: bool,
    pub sessions: SessionSettings,
    pub services: Vec<sesame_web::PortalService>,
    pub reset: sesame_core::reset::ResetSettings,
    /// Serve HTTPS with this configuration (and judge client certificates against its CA).
    pub tls: Option<sesame_web::certs::TlsSettings>,
    /// Enable certificate sign-in with these settings.
    pub certificates: Option<sesame_web::certs::ClientCertificateSettings>,
    pub hashing: HashingSettings,
    pub downloads: Vec<sesame_web::downloads::Download>,
    /// A Markdown help file's text.
    pub help: Option<String>,
    pub second_factor: sesame_core::factors::SecondFactorSettings,
    /// Publish the portal as `localhost` rather than its IP address (security keys need a name).
    pub localhost: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            policy: PolicySettings::default(),
            throttle: ThrottleSettings::default(),
            captcha: true,
            sessions: SessionSettings::default(),
            services: Vec::new(),
            reset: sesame_core::reset::ResetSettings::default(),
            second_factor: sesame_core::factors::SecondFactorSettings::default(),
            tls: None,
            certificates: None,
            hashing: HashingSettings::insecure_for_tests(),
            downloads: Vec::new(),
            help: None,
            localhost: false,
        }
    }
}

pub fn branding() -> Branding {
    Branding {
        organisation_name: "Normand'e-santé".into(),
        portal_name: "Norm'uni".into(),
        support_email: Some("support@normand-esante.fr".into()),
        support_phone: Some("02 50 53 70 01".into()),
    }
}

impl TestApp {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("sesame.db").display());
        let store =
            sesame_store::connect_and_migrate(&url, &sesame_store::StoreOptions::default(), Sealer::ephemeral())
                .await
                .unwrap();
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-24 09:00 UTC)));
        let hasher = PasswordHasher::start(&options.hashing).unwrap();
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let https = options.tls.as_ref().is_some_and(|t| t.cert_file.is_some());
        let scheme = if https { "https" } else { "http" };
        let addr = std_listener.local_addr().unwrap();
        let host = if options.localhost { format!("localhost:{}", addr.port()) } else { addr.to_string() };
        let base = format!("{scheme}://{host}");
        // Built as the binary builds them.
        let core = CoreSettings {
            branding: branding(),
            public_url: base.clone(),
            policy: options.policy.clone(),
            accounts: AccountSettings::default(),
            sessions: options.sessions.clone(),
            throttle: options.throttle.clone(),
            reset: options.reset.clone(),
            api: sesame_core::tokens::ApiSettings::default(),
            second_factor: options.second_factor.clone(),
            oidc: sesame_core::oidc::OidcSettings::default(),
        };
        let services = Services::new(Arc::clone(&store), clock.clone(), hasher, &core);
        let settings = WebSettings {
            public_url: base.clone(),
            trusted_proxies: Vec::new(),
            services: options.services.clone(),
            captcha: CaptchaSettings { enabled: options.captcha },
            branding: branding(),
            downloads: options.downloads.clone(),
            help_html: options.help.as_deref().map(sesame_web::help::render),
        };
        let tls = options.tls.clone().unwrap_or_default();
        let trust = sesame_web::certs::Trust::load(&tls).unwrap();
        let accounts = services.accounts.clone();
        let all_services = services.clone();
        let mut state = AppState::new(services, settings);
        if let Some(cert_settings) = &options.certificates {
            let verifier =
                sesame_web::certs::Verifier::new(cert_settings, sesame_web::certs::Trust::load(&tls).unwrap()).unwrap();
            state = state.with_certificates(Arc::new(verifier));
        }
        let app = sesame_web::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        if https {
            sesame_testkit::install_crypto_provider();
            let config = sesame_web::tls::server_config(&tls, &trust).unwrap();
            let rustls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config));
            tokio::spawn(async move {
                axum_server::from_tcp_rustls(std_listener, rustls).unwrap().serve(app).await.unwrap();
            });
        } else {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            tokio::spawn(async move {
                axum::serve(listener, app).await.unwrap();
            });
        }
        Self { base, addr, store, clock, accounts, services: all_services, _dir: dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A browser: keeps cookies, does not follow redirects (tests look at them).
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .user_agent("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
            .resolve("localhost", self.addr)
            .build()
            .unwrap()
    }

    /// Creates Jeanne Dupont (jdupont) and returns her temporary password.
    pub async fn jeanne(&self) -> String {
        self.create("Jeanne", "Dupont", "jeanne.dupont@example.fr").await
    }

    pub async fn create(&self, first: &str, last: &str, email: &str) -> String {
        let request = CreateAccount {
            identifier: None,
            email: Email::parse(email).unwrap(),
            first_name: PersonName::parse(first, "first name").unwrap(),
            last_name: PersonName::parse(last, "last name").unwrap(),
            national_id: None,
        };
        let issued = self.accounts.create_account(request, &RequestContext::cli()).await.unwrap();
        issued.temporary_password.expose().to_owned()
    }

    pub async fn get(&self, browser: &reqwest::Client, path: &str) -> Page {
        Page::of(browser.get(self.url(path)).send().await.unwrap()).await
    }

    /// Posts a form, adding the CSRF token of `from` (a page of the same browser).
    pub async fn post(&self, browser: &reqwest::Client, path: &str, from: &Page, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(&str, &str)> = vec![("csrf", from.csrf())];
        form.extend_from_slice(fields);
        Page::of(browser.post(self.url(path)).form(&form).send().await.unwrap()).await
    }

    pub async fn login(&self, browser: &reqwest::Client, identifier: &str, password: &str) -> Page {
        let page = self.get(browser, "/").await;
        self.post(browser, "/connexion", &page, &[("identifiant", identifier), ("mot_de_passe", password)]).await
    }

    /// Signs in with the temporary password and sets `personal`.
    pub async fn first_connection(&self, browser: &reqwest::Client, identifier: &str, temporary: &str, personal: &str) {
        let signed_in = self.login(browser, identifier, temporary).await;
        assert_eq!(signed_in.location(), Some("/premiere-connexion"), "{}", signed_in.body);
        let form = self.get(browser, "/premiere-connexion").await;
        let done = self
            .post(
                browser,
                "/premiere-connexion",
                &form,
                &[("nouveau_mot_de_passe", personal), ("confirmation", personal)],
            )
            .await;
        assert_eq!(done.location(), Some("/services?confirmation=premiere-connexion"), "{}", done.body);
    }

    /// The e-mails queued so far, oldest first (claimed: read once).
    pub async fn mails(&self) -> Vec<(String, MailMessage)> {
        let now = self.clock.now_for_tests();
        let mut out: Vec<_> = self.store.claim_due_mail(now, now + time::Duration::days(36_500), 100).await.unwrap();
        out.sort_by_key(|m| m.id);
        out.into_iter().map(|m| (m.to, m.message.expect("the secret opens"))).collect()
    }
}

/// The guide's two installers, the Mac one with its VLC prerequisite (its checksum typed in
/// capitals, as operators paste them).
pub fn guide_downloads() -> Vec<sesame_web::downloads::Download> {
    vec![
        sesame_web::downloads::Download {
            name: "Therap-e autonome".into(),
            platform: sesame_web::downloads::Platform::Windows,
            url: "https://www.norm-uni.fr/covotem/Installer/covotem-serveur-normandie-prod-inst.exe".into(),
            requirements: "Windows 10 ou 11".into(),
            version: Some("4.2".into()),
            size: Some("142 Mo".into()),
            sha256: Some("9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08".into()),
            service: Some("Therap-e".into()),
            prerequisites: Vec::new(),
        },
        sesame_web::downloads::Download {
            name: "Therap-e autonome".into(),
            platform: sesame_web::downloads::Platform::Macos,
            url: "https://www.norm-uni.fr/covotem/Installer/covotem-serveur-normandie-prod.dmg".into(),
            requirements: "macOS 10.15 à 12.4".into(),
            version: None,
            size: None,
            sha256: None,
            service: Some("Therap-e".into()),
            prerequisites: vec![sesame_web::downloads::Prerequisite {
                name: "VLC Media Player".into(),
                url: "https://www.videolan.org/vlc/download-macosx.html".into(),
            }],
        },
    ]
}

/// The test clock's now.
pub fn now(app: &TestApp) -> time::OffsetDateTime {
    use sesame_core::clock::Clock as _;
    app.clock.now()
}

trait NowForTests {
    fn now_for_tests(&self) -> time::OffsetDateTime;
}

impl NowForTests for ManualClock {
    fn now_for_tests(&self) -> time::OffsetDateTime {
        use sesame_core::clock::Clock as _;
        self.now() + time::Duration::days(3650)
    }
}

/// A response, read.
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub async fn of(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        // Templates escape `/` and `'` as entities; tests read the text as a browser shows it.
        let body = response.text().await.unwrap().replace("&#x2f;", "/").replace("&#x27;", "'");
        Self { status, headers, body }
    }

    /// Where the response sends the browser: a redirect, or a fresh navigation (`Refresh: 0`).
    pub fn location(&self) -> Option<&str> {
        let refresh =
            || self.headers.get("refresh").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("0; url="));
        self.headers.get("location").and_then(|v| v.to_str().ok()).or_else(refresh)
    }

    pub fn csrf(&self) -> &str {
        let start = self.body.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
        let end = self.body[start..].find('"').unwrap() + start;
        &self.body[start..end]
    }

    /// The page with its CSRF values blanked, to compare pages.
    pub fn without_csrf(&self) -> String {
        regex_lite::Regex::new("name=\"csrf\" value=\"[^\"]*\"")
            .unwrap()
            .replace_all(&self.body, "name=\"csrf\" value=\"\"")
            .into_owned()
    }

    /// Messages of the error summary.
    pub fn errors(&self) -> Vec<String> {
        regex_lite::Regex::new(r#"<li><a href="\#[a-z_]+">([^<]*)</a></li>|<li>([^<]*)</li>"#)
            .unwrap()
            .captures_iter(self.body.split("id=\"erreurs\"").nth(1).unwrap_or("").split("</div>").next().unwrap_or(""))
            .map(|c| c.get(1).or_else(|| c.get(2)).unwrap().as_str().replace("&#x27;", "'").replace("&quot;", "\""))
            .collect()
    }

    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(|c| c.split(';').next().unwrap_or("").split_once('=').map(|(_, v)| v.to_owned()).unwrap_or_default())
    }
}

// --- Second factors ------------------------------------------------------------------------

/// The personal password the second-factor tests give Jeanne.
pub const PERSONAL: &str = "la mer du nord est froide";

/// The text between two markers of a page.
pub fn between<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let from = body.find(start).unwrap_or_else(|| panic!("{start} in {body}")) + start.len();
    let to = body[from..].find(end).unwrap() + from;
    &body[from..to]
}

/// Enrols an app from "Mon compte"; the secret as the page shows it, and the recovery codes.
pub async fn enrol_app(app: &TestApp, browser: &reqwest::Client) -> (sesame_core::totp::TotpSecret, Vec<String>) {
    let start = app.get(browser, "/mon-compte/second-facteur/application").await;
    assert_eq!(start.status, 200, "{}", start.body);
    let started = app
        .post(
            browser,
            "/mon-compte/second-facteur/application",
            &start,
            &[("mot_de_passe", PERSONAL), ("nom", "Téléphone")],
        )
        .await;
    let to = started.location().expect("to the enrolment page").to_owned();
    let page = app.get(browser, &to).await;
    assert!(page.body.contains("<svg"), "a QR code drawn by the server");
    let uri =
        between(&page.body, "<summary>Adresse otpauth:// à copier</summary>\n    <p><code class=\"cle\">", "</code>");
    assert!(uri.starts_with("otpauth://totp/Norm"), "{uri}");
    let secret = sesame_core::totp::TotpSecret::from_base32(between(
        &page.body,
        "<dt>Clé</dt><dd><code class=\"cle\">",
        "</code>",
    ))
    .unwrap();
    let done = app.post(browser, &to, &page, &[("code", &secret.code_at(now(app)))]).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Vos codes de secours"));
    assert!(done.body.contains("download=\"codes-de-secours.txt\""));
    let codes: Vec<String> =
        regex_lite::Regex::new(r"<li><code>([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})</code></li>")
            .unwrap()
            .captures_iter(&done.body)
            .map(|c| c[1].to_owned())
            .collect();
    assert_eq!(codes.len(), 10, "{}", done.body);
    // The confirming code's step is used up; later steps start clean.
    app.clock.advance(time::Duration::seconds(2 * sesame_core::totp::STEP_SECONDS));
    (secret, codes)
}
