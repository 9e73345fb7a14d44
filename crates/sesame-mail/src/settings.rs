//! `[mail]` configuration.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// Each message written as an `.eml` file in `mail.outbox_dir` (the default: nothing leaves
    /// the machine).
    #[default]
    File,
    /// Sent to an SMTP relay.
    Smtp,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required), usually port 587.
    #[default]
    Starttls,
    /// TLS from the first byte ("SMTPS"), usually port 465.
    Tls,
    /// No encryption: only for a relay on the same host or a test server.
    None,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    pub transport: TransportKind,
    /// The `From` of every message, e.g. `Norm'uni <ne-pas-repondre@norm-uni.fr>`.
    pub from: String,
    /// Folder of the file transport; defaults to `<data_dir>/outbox`.
    pub outbox_dir: Option<PathBuf>,
    pub smtp: SmtpSettings,
    /// First retry delay after a failed delivery, in seconds; doubles at each failure.
    pub retry_base_secs: u64,
    /// Longest delay between two attempts, in seconds.
    pub retry_max_secs: u64,
    /// How often the worker looks for due messages, in seconds.
    pub poll_interval_secs: u64,
    /// Delivered messages (already stripped of secrets) are deleted after this many days.
    pub keep_sent_days: u32,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            transport: TransportKind::File,
            from: "Portail e-santé <ne-pas-repondre@localhost>".into(),
            outbox_dir: None,
            smtp: SmtpSettings::default(),
            retry_base_secs: 30,
            retry_max_secs: 3600,
            poll_interval_secs: 5,
            keep_sent_days: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    pub host: String,
    /// Defaults to 587 (STARTTLS), 465 (TLS) or 25 (none).
    pub port: Option<u16>,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    /// Prefer `password_file` (or `SESAME_MAIL__SMTP__PASSWORD_FILE`): never in a shared file.
    #[serde(skip_serializing)]
    pub password: Option<SecretString>,
    pub password_file: Option<PathBuf>,
    /// Extra certificate authority (PEM) to trust for the relay, e.g. an internal CA.
    pub ca_file: Option<PathBuf>,
    pub timeout_secs: u64,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: None,
            security: SmtpSecurity::Starttls,
            username: None,
            password: None,
            password_file: None,
            ca_file: None,
            timeout_secs: 30,
        }
    }
}

impl SmtpSettings {
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        })
    }
}

impl MailSettings {
    /// Problems for `config check`, as (key, reason).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Err(e) = self.from.parse::<lettre::message::Mailbox>() {
            out.push(("mail.from", format!("is not a valid address ({e})")));
        }
        if self.transport == TransportKind::Smtp {
            if self.smtp.host.trim().is_empty() {
                out.push(("mail.smtp.host", "is required when mail.transport = \"smtp\"".into()));
            }
            if self.smtp.password.is_some() && self.smtp.username.is_none() {
                out.push(("mail.smtp.username", "is required when a password is set".into()));
            }
            if let Some(ca) = &self.smtp.ca_file
                && let Err(e) = std::fs::read(ca)
            {
                out.push(("mail.smtp.ca_file", format!("cannot be read ({}): {e}", ca.display())));
            }
            if self.smtp.timeout_secs == 0 || self.smtp.timeout_secs > 600 {
                out.push(("mail.smtp.timeout_secs", "must be between 1 and 600".into()));
            }
        }
        if self.retry_base_secs == 0 || self.retry_max_secs < self.retry_base_secs {
            out.push(("mail.retry_max_secs", "must be at least mail.retry_base_secs, which must be at least 1".into()));
        }
        if self.poll_interval_secs == 0 {
            out.push(("mail.poll_interval_secs", "must be at least 1".into()));
        }
        out
    }

    /// Warnings for `config check` (valid, but worth a look).
    pub fn warnings(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.transport == TransportKind::Smtp && self.smtp.security == SmtpSecurity::None {
            out.push((
                "mail.smtp.security",
                "\"none\" sends temporary passwords unencrypted; use it only for a relay on this host".into(),
            ));
        }
        if self.transport == TransportKind::File {
            out.push((
                "mail.transport",
                "\"file\" writes e-mails to a folder; nobody receives them until they are picked up".into(),
            ));
        }
        out
    }
}
