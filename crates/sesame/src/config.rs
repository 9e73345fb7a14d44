//! Configuration: defaults, then a TOML file (`--config` or `SESAME_CONFIG`), then `SESAME_…`
//! environment variables (`SESAME_` + the key path in capitals joined by `__`). Secrets can come
//! from files (`…_file` keys, e.g. `SESAME_MAIL__SMTP__PASSWORD_FILE`).
//!
//! [`check`] reports every problem, each with its key, reason and origin, not just the first.

use figment::providers::{Env, Format as _, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::{Figment, error::Kind};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sesame_core::accounts::AccountSettings;
use sesame_core::branding::Branding;
use sesame_core::hashing::HashingSettings;
use sesame_core::policy::{PolicySettings, Preset};
use sesame_core::reset::ResetSettings;
use sesame_core::sessions::SessionSettings;
use sesame_core::throttle::ThrottleSettings;
use sesame_core::tokens::ApiSettings;
use sesame_core::types::Email;
use sesame_mail::MailSettings;
use sesame_web::certs::{ClientCertificateSettings, TlsSettings, Trust, Verifier};
use sesame_web::downloads::Download;
use sesame_web::{CaptchaSettings, IpNet, PortalService};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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

/// Reads and validates the configuration from `file` (if any) and the environment.
pub fn check(file: Option<&Path>) -> Checked {
    let mut errors = Vec::new();
    let mut sources = vec!["defaults".to_owned()];
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = file {
        match std::fs::read_to_string(path) {
            Ok(_) => {
                figment = figment.merge(Toml::file_exact(path));
                sources.push(format!("file {}", path.display()));
            }
            Err(e) => errors.push(Problem {
                key: String::new(),
                reason: format!("cannot read the configuration file {}: {e}", path.display()),
                origin: None,
            }),
        }
    }
    figment = figment.merge(
        Env::prefixed("SESAME_").split("__").filter(|k| !NOT_KEYS.iter().any(|n| k.as_str().eq_ignore_ascii_case(n))),
    );
    if std::env::vars().any(|(k, _)| k.starts_with("SESAME_") && !NOT_KEYS.contains(&k[7..].to_lowercase().as_str())) {
        sources.push("SESAME_* environment variables".into());
    }
    let mut config = extract_reporting_all(&figment, &mut errors);
    errors.extend(resolve_secrets(&mut config));
    errors.extend(validate(&config));
    let warnings = warnings(&config);
    Checked { config, errors, warnings, sources }
}

/// Extracts the configuration; each key that cannot be read is reported, dropped, and the
/// extraction tried again, so that one run lists every such problem.
fn extract_reporting_all(figment: &Figment, errors: &mut Vec<Problem>) -> Config {
    let mut data = match figment.extract::<Dict>() {
        Ok(data) => data,
        Err(e) => {
            for err in e {
                errors.push(problem_of(figment, &err, err.path.clone()));
            }
            return Config::default();
        }
    };
    for _ in 0..100 {
        match Figment::from(Serialized::defaults(&data)).extract::<Config>() {
            Ok(config) => return config,
            Err(e) => {
                let mut removed_any = false;
                for err in e {
                    // For an unknown key the path already ends with the key itself.
                    let path = err.path.clone();
                    errors.push(problem_of(figment, &err, path.clone()));
                    removed_any |= remove_path(&mut data, &path);
                }
                if !removed_any {
                    return Config::default();
                }
            }
        }
    }
    Config::default()
}

fn problem_of(figment: &Figment, err: &figment::Error, path: Vec<String>) -> Problem {
    let key = path.join(".");
    let reason = match &err.kind {
        Kind::UnknownField(field, _) => format!("unknown key '{field}'"),
        other => other.to_string(),
    };
    let origin = figment.find_metadata(&key).map(|m| match &m.source {
        Some(source) => format!("{} {source}", m.name),
        None => m.name.to_string(),
    });
    Problem { key, reason, origin }
}

fn remove_path(dict: &mut Dict, path: &[String]) -> bool {
    match path {
        [] => false,
        [last] => dict.remove(last).is_some(),
        [first, rest @ ..] => match dict.get_mut(first) {
            Some(Value::Dict(_, inner)) => remove_path(inner, rest),
            _ => false,
        },
    }
}

fn read_secret_file(key: &str, path: &Path) -> Result<SecretString, Problem> {
    std::fs::read_to_string(path)
        .map(|s| SecretString::from(s.trim_end_matches(['\n', '\r']).to_owned()))
        .map_err(|e| Problem { key: key.into(), reason: format!("cannot read {}: {e}", path.display()), origin: None })
}

/// Fills secrets from their `…_file` keys.
fn resolve_secrets(config: &mut Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut resolve =
        |value: &mut Option<SecretString>, file: &Option<PathBuf>, key: &str| match (value.is_some(), file) {
            (true, Some(_)) => problems.push(Problem {
                key: key.into(),
                reason: format!("set either {key} or {key}_file, not both"),
                origin: None,
            }),
            (false, Some(path)) => match read_secret_file(&format!("{key}_file"), path) {
                Ok(secret) => *value = Some(secret),
                Err(p) => problems.push(p),
            },
            _ => {}
        };
    resolve(&mut config.mail.smtp.password, &config.mail.smtp.password_file.clone(), "mail.smtp.password");
    resolve(&mut config.hashing.pepper, &config.hashing.pepper_file.clone(), "hashing.pepper");
    problems
}

fn problem(key: &str, reason: impl Into<String>) -> Problem {
    Problem { key: key.into(), reason: reason.into(), origin: None }
}

fn validate(config: &Config) -> Vec<Problem> {
    let mut out = Vec::new();
    if config.listen.parse::<SocketAddr>().is_err() {
        out.push(problem("listen", format!("'{}' is not an address and port such as 127.0.0.1:8080", config.listen)));
    }
    if let Err(reason) = check_public_url(&config.public_url) {
        out.push(problem("public_url", reason));
    }
    let url = config.database_url();
    if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        out.push(problem("database_url", "must start with sqlite:// or postgres://"));
    }
    if config.database.max_connections == 0 {
        out.push(problem("database.max_connections", "must be at least 1"));
    }
    for (key, value) in [
        ("branding.organisation_name", &config.branding.organisation_name),
        ("branding.portal_name", &config.branding.portal_name),
    ] {
        if value.trim().is_empty() {
            out.push(problem(key, "must not be empty"));
        } else if value.chars().any(char::is_control) {
            out.push(problem(key, "must not contain control characters"));
        }
    }
    if let Some(email) = &config.branding.support_email
        && let Err(e) = Email::parse(email)
    {
        out.push(problem("branding.support_email", e.to_string()));
    }
    for proxy in &config.trusted_proxies {
        if let Err(e) = IpNet::parse(proxy) {
            out.push(problem("trusted_proxies", e));
        }
    }
    for (i, service) in config.services.iter().enumerate() {
        if service.name.trim().is_empty() {
            out.push(problem("services", format!("service #{} has no name", i + 1)));
        }
        if !(service.url.starts_with("https://") || service.url.starts_with("http://") || service.url.starts_with('/'))
        {
            out.push(problem(
                "services",
                format!("service '{}': url must start with https://, http:// or /", service.name),
            ));
        }
    }
    let service_names: Vec<String> = config.services.iter().map(|s| s.name.clone()).collect();
    for (key, reason) in sesame_web::downloads::problems(&config.downloads, &service_names) {
        out.push(Problem { key, reason, origin: None });
    }
    if let Err(reason) = config.help_html() {
        out.push(problem("help.file", reason));
    }
    match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(_), None) => out.push(problem("tls.key_file", "is required with tls.cert_file")),
        (None, Some(_)) => out.push(problem("tls.cert_file", "is required with tls.key_file")),
        (Some(_), Some(_)) => {
            if let Err(e) = Trust::load(&config.tls).and_then(|t| sesame_web::tls::server_config(&config.tls, &t)) {
                out.push(problem("tls", e));
            }
        }
        (None, None) => {}
    }
    if config.client_certificate.enabled {
        if config.tls.client_ca_file.is_none() {
            out.push(problem("tls.client_ca_file", "is required when client_certificate.enabled = true"));
        }
        match Trust::load(&config.tls) {
            Ok(trust) => {
                if let Err(e) = Verifier::new(&config.client_certificate, trust) {
                    out.push(problem("client_certificate", e));
                }
            }
            Err(e) => out.push(problem("tls", e)),
        }
    }
    let (key_file, named) = config.key_file();
    if let Err(reason) = crate::keyfile::check(&key_file, named) {
        out.push(problem("secrets.key_file", reason));
    }
    if config.policy.preset == Preset::Cnil2022Cas2 && !config.throttle.enabled {
        out.push(problem(
            "policy.preset",
            "cnil-2022-cas2 is allowed only while login throttling is on (throttle.enabled = true)",
        ));
    }
    let sections = [
        config.hashing.problems(),
        config.accounts.problems(),
        config.mail.problems(),
        config.session.problems(),
        config.throttle.problems(),
        config.reset.problems(),
        config.api.problems(),
    ];
    out.extend(sections.into_iter().flatten().map(|(k, r)| problem(k, r)));
    if tracing_subscriber::EnvFilter::try_new(&config.log.level).is_err() {
        out.push(problem("log.level", format!("'{}' is not a valid log filter", config.log.level)));
    }
    out
}

fn check_public_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("'{url}' must start with https:// or http://"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains(['@', ' ']) {
        return Err(format!("'{url}' has no valid host"));
    }
    if rest.contains(['?', '#']) {
        return Err(format!("'{url}' must not contain a query or a fragment"));
    }
    Ok(())
}

fn warnings(config: &Config) -> Vec<Problem> {
    let mut out: Vec<Problem> = config.mail.warnings().into_iter().map(|(k, r)| problem(k, r)).collect();
    let host = config.public_url.split("://").nth(1).unwrap_or("").split(['/', ':']).next().unwrap_or("");
    if config.public_url.starts_with("http://") && !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
        out.push(problem("public_url", "is not HTTPS: passwords and session cookies would cross the network in clear"));
    }
    if !config.captcha.enabled {
        out.push(problem("captcha.enabled", "the captcha is off: only for automated environments"));
    }
    if config.reset.show_masked_email {
        out.push(problem("reset.show_masked_email", "the confirmation page shows a masked address for known identifiers: it tells anyone that the account exists"));
    }
    if !config.throttle.enabled {
        out.push(problem("throttle.enabled", "login throttling is off: only for benchmarks"));
    }
    let postgres = config.database_url().starts_with("postgres");
    if postgres && config.secrets.key_file.is_none() {
        out.push(problem(
            "secrets.key_file",
            "is the default file in data_dir, created by each node: with several nodes on PostgreSQL, name the one key file every node shares",
        ));
    }
    if config.branding.support_email.is_none() && config.branding.support_phone.is_none() {
        out.push(problem("branding.support_email", "no support contact is set: e-mails cannot say whom to call"));
    }
    out
}
