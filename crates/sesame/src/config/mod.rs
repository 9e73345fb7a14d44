//! Configuration: defaults, then a TOML file (`--config` or `SESAME_CONFIG`), then `SESAME_…`
//! environment variables (`SESAME_` + the key path in capitals joined by `__`). Secrets can come
//! from files (`…_file` keys, e.g. `SESAME_MAIL__SMTP__PASSWORD_FILE`).
//!
//! [`check`] reports every problem, each with its key, reason and origin, not just the first.

mod check;

pub use check::check;

use serde::{Deserialize, Serialize};
use sesame_core::accounts::AccountSettings;
use sesame_core::branding::Branding;
use sesame_core::factors::SecondFactorSettings;
use sesame_core::hashing::HashingSettings;
use sesame_core::oidc::OidcSettings;
use sesame_core::policy::PolicySettings;
use sesame_core::reset::ResetSettings;
use sesame_core::sessions::SessionSettings;
use sesame_core::throttle::ThrottleSettings;
use sesame_core::tokens::ApiSettings;
use sesame_mail::MailSettings;
use sesame_web::certs::{ClientCertificateSettings, TlsSettings};
use sesame_web::downloads::Download;
use sesame_web::{CaptchaSettings, IpNet, PortalService};
use std::path::PathBuf;

/// Environment variables with the `SESAME_` prefix that are not configuration keys.
const NOT_KEYS: &[&str] = &["config", "log", "test_database_url", "pg_bin"];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port the HTTP server listens on.
    pub listen: String,
    /// The address people use to reach the portal; every link in e-mails is built from it,
    /// never from the request's `Host`.
    pub public_url: String,
    /// Where the SQLite database and the e-mail folder live by default.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`; defaults to
    /// `sqlite://<data_dir>/sesame.db`.
    pub database_url: Option<String>,
    pub database: DatabaseSettings,
    /// Reverse proxies whose `X-Forwarded-For` gives the client's address (addresses or CIDR
    /// blocks, e.g. `["127.0.0.1", "10.0.0.0/8"]`). Empty: the peer address is the client.
    pub trusted_proxies: Vec<String>,
    pub branding: Branding,
    /// The services listed on "Mes services e-santé" (`[[services]]` tables).
    pub services: Vec<PortalService>,
    /// The desktop applications to install, one table per installer (`[[downloads]]`).
    pub downloads: Vec<Download>,
    pub help: HelpSettings,
    pub accounts: AccountSettings,
    pub policy: PolicySettings,
    pub session: SessionSettings,
    pub throttle: ThrottleSettings,
    pub captcha: CaptchaSettings,
    pub reset: ResetSettings,
    pub api: ApiSettings,
    pub second_factor: SecondFactorSettings,
    pub oidc: OidcSettings,
    pub tls: TlsSettings,
    pub client_certificate: ClientCertificateSettings,
    pub hashing: HashingSettings,
    pub mail: MailSettings,
    pub log: LogSettings,
    pub audit: AuditSettings,
    pub secrets: SecretsSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://localhost:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database: DatabaseSettings::default(),
            trusted_proxies: Vec::new(),
            branding: Branding::default(),
            services: Vec::new(),
            downloads: Vec::new(),
            help: HelpSettings::default(),
            accounts: AccountSettings::default(),
            policy: PolicySettings::default(),
            session: SessionSettings::default(),
            throttle: ThrottleSettings::default(),
            captcha: CaptchaSettings::default(),
            reset: ResetSettings::default(),
            api: ApiSettings::default(),
            second_factor: SecondFactorSettings::default(),
            oidc: OidcSettings::default(),
            tls: TlsSettings::default(),
            client_certificate: ClientCertificateSettings::default(),
            hashing: HashingSettings::default(),
            mail: MailSettings::default(),
            log: LogSettings::default(),
            audit: AuditSettings::default(),
            secrets: SecretsSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    pub max_connections: u32,
    pub connect_timeout_secs: u64,
    /// SQLite: how long a writer waits for the lock.
    pub busy_timeout_secs: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self { max_connections: 8, connect_timeout_secs: 5, busy_timeout_secs: 5 }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `sesame=debug,info`; `SESAME_LOG` overrides it.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { format: LogFormat::Text, level: "info".into() }
    }
}

/// `[audit]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Also emit every audit event as a log event (target `audit`), for a SIEM.
    pub log: bool,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { log: true }
    }
}

/// `[help]`
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct HelpSettings {
    /// A Markdown file replacing the built-in "Aide" page (rendered and sanitized at start).
    pub file: Option<PathBuf>,
}

/// `[secrets]`: the key ring sealing what must be read back and never rest in clear.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsSettings {
    /// The key file (mode 0600), shared by every node. Default: `<data_dir>/secrets.key`,
    /// created at first start; a file named here must exist (`sesame secrets rotate` creates it).
    pub key_file: Option<PathBuf>,
}

/// One thing wrong (or worth a look) in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub reason: String,
    /// Where the value came from (a file, an environment variable), when known.
    pub origin: Option<String>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = if self.key.is_empty() { "(file)" } else { &self.key };
        write!(f, "{key}: {}", self.reason)?;
        if let Some(origin) = &self.origin {
            write!(f, " [{origin}]")?;
        }
        Ok(())
    }
}

/// The result of reading the configuration.
#[derive(Debug)]
pub struct Checked {
    pub config: Config,
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
    pub sources: Vec<String>,
}

impl Config {
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("sesame.db").display()))
    }

    /// The operator's help page, rendered and sanitized (`None`: the built-in one).
    pub fn help_html(&self) -> Result<Option<String>, String> {
        let Some(path) = &self.help.file else {
            return Ok(None);
        };
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if bytes.len() > sesame_web::help::MAX_BYTES {
            return Err(format!("{} is larger than {} KiB", path.display(), sesame_web::help::MAX_BYTES / 1024));
        }
        let text = String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))?;
        Ok(Some(sesame_web::help::render(&text)))
    }

    /// The key file, and whether it was named in the configuration (else it is the default one,
    /// which is created when missing).
    pub fn key_file(&self) -> (PathBuf, bool) {
        match &self.secrets.key_file {
            Some(path) => (path.clone(), true),
            None => (self.data_dir.join("secrets.key"), false),
        }
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.mail.outbox_dir.clone().unwrap_or_else(|| self.data_dir.join("outbox"))
    }

    pub fn trusted_proxies(&self) -> Vec<IpNet> {
        self.trusted_proxies.iter().filter_map(|p| IpNet::parse(p).ok()).collect()
    }

    pub fn store_options(&self) -> sesame_store::StoreOptions {
        sesame_store::StoreOptions {
            max_connections: self.database.max_connections.max(1),
            connect_timeout: std::time::Duration::from_secs(self.database.connect_timeout_secs.max(1)),
            busy_timeout: std::time::Duration::from_secs(self.database.busy_timeout_secs),
        }
    }

    /// The configuration as TOML, secrets left out.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot show the configuration: {e}\n"))
    }
}
