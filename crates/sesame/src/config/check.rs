//! Reading and checking the configuration: every problem, each with its key, reason and origin.

use figment::providers::{Env, Format as _, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::{Figment, error::Kind};
use secrecy::SecretString;
use sesame_core::policy::Preset;
use sesame_core::types::Email;
use sesame_web::IpNet;
use sesame_web::certs::{Trust, Verifier};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::{Checked, Config, NOT_KEYS, Problem};

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
    validate_addresses(config, &mut out);
    validate_portal(config, &mut out);
    validate_certificates(config, &mut out);
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
        config.oidc.problems(),
    ];
    out.extend(sections.into_iter().flatten().map(|(k, r)| problem(k, r)));
    if tracing_subscriber::EnvFilter::try_new(&config.log.level).is_err() {
        out.push(problem("log.level", format!("'{}' is not a valid log filter", config.log.level)));
    }
    out
}

/// Where it listens, where people reach it, its database and its proxies.
fn validate_addresses(config: &Config, out: &mut Vec<Problem>) {
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
    for proxy in &config.trusted_proxies {
        if let Err(e) = IpNet::parse(proxy) {
            out.push(problem("trusted_proxies", e));
        }
    }
}

/// What the pages show: branding, services, downloads, help.
fn validate_portal(config: &Config, out: &mut Vec<Problem>) {
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
}

/// HTTPS and client certificates: every file is read and checked now.
fn validate_certificates(config: &Config, out: &mut Vec<Problem>) {
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
    if check_public_url(&config.public_url).is_ok()
        && let Err(reason) = sesame_core::factors::relying_party(&config.public_url, &config.branding.portal_name)
    {
        out.push(problem(
            "public_url",
            format!("{reason}: security keys and passkeys are not offered, only authenticator apps"),
        ));
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
