//! "Installer … sur votre poste": the desktop applications a temporary password also opens, their
//! installers per system, their requirements and prerequisites, as the guide words them.
//!
//! Configured as `[[downloads]]` tables; shown on "Mes services e-santé" (under the service they
//! belong to, or in their own section), on `/installer`, and after a first connection. The
//! visitor's own system, read from `User-Agent`, comes first; nothing depends on it.

use serde::{Deserialize, Serialize};

/// The system an installer is for.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Windows,
    Macos,
    Linux,
}

impl Platform {
    /// The guide's words: "Version PC", "Version Mac".
    pub fn label(self) -> &'static str {
        match self {
            Self::Windows => "Version PC (Windows)",
            Self::Macos => "Version Mac",
            Self::Linux => "Version Linux",
        }
    }

    /// The system a browser says it runs on, if it is one of ours (phones and tablets are not).
    pub fn of_user_agent(user_agent: &str) -> Option<Self> {
        if user_agent.contains("iPhone") || user_agent.contains("iPad") || user_agent.contains("Android") {
            None
        } else if user_agent.contains("Windows") {
            Some(Self::Windows)
        } else if user_agent.contains("Macintosh") || user_agent.contains("Mac OS X") {
            Some(Self::Macos)
        } else if user_agent.contains("Linux") || user_agent.contains("X11") {
            Some(Self::Linux)
        } else {
            None
        }
    }
}

/// Software that must be installed too ("le logiciel VLC Media Player doit également être
/// installé sur votre poste").
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Prerequisite {
    pub name: String,
    pub url: String,
}

/// One `[[downloads]]` entry: one installer of one application for one system.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Download {
    /// The application ("Therap-e autonome"); entries with the same name are one application.
    pub name: String,
    pub platform: Platform,
    /// An absolute `https://` address, or a path on the portal (`/telechargements/…`).
    pub url: String,
    /// Free text: "macOS 10.15 à 12.4", "Windows 10 ou 11".
    pub requirements: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Free text: "85 Mo".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// The installer's SHA-256, 64 hexadecimal digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The `[[services]]` entry (by name) the application belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prerequisites: Vec<Prerequisite>,
}

/// An absolute `https://` address with a host, or a path on the portal.
fn is_link(url: &str) -> bool {
    match url.strip_prefix("https://") {
        Some(rest) => rest.split('/').next().is_some_and(|host| !host.is_empty() && !host.contains(['@', ' '])),
        None => url.starts_with('/') && !url.starts_with("//"),
    }
}

/// Every problem of the `[[downloads]]` tables, as (key, reason), for `config check`.
pub fn problems(downloads: &[Download], services: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, d) in downloads.iter().enumerate() {
        let key = |field: &str| format!("downloads[{i}].{field}");
        let which = if d.name.trim().is_empty() { format!("download #{}", i + 1) } else { format!("'{}'", d.name) };
        if d.name.trim().is_empty() {
            out.push((key("name"), "must not be empty".to_owned()));
        }
        if !is_link(&d.url) {
            out.push((
                key("url"),
                format!(
                    "{which}: '{}' must be an absolute https:// address or a path such as /telechargements/…",
                    d.url
                ),
            ));
        }
        if d.requirements.trim().is_empty() {
            out.push((
                key("requirements"),
                format!("{which}: say which systems it runs on, e.g. \"macOS 10.15 à 12.4\""),
            ));
        }
        if let Some(sum) = &d.sha256
            && !(sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            out.push((key("sha256"), format!("{which}: '{sum}' is not a SHA-256 (64 hexadecimal digits)")));
        }
        if let Some(service) = &d.service
            && !services.iter().any(|s| s == service)
        {
            out.push((key("service"), format!("{which}: no [[services]] entry is named '{service}'")));
        }
        for (j, p) in d.prerequisites.iter().enumerate() {
            if p.name.trim().is_empty() {
                out.push((key(&format!("prerequisites[{j}].name")), "must not be empty".to_owned()));
            }
            if !is_link(&p.url) {
                out.push((
                    key(&format!("prerequisites[{j}].url")),
                    format!("'{}' must be an absolute https:// address or a path", p.url),
                ));
            }
        }
        if downloads[..i].iter().any(|o| o.name == d.name && o.platform == d.platform) {
            out.push((key("platform"), format!("{which} already has an installer for {:?}", d.platform)));
        }
    }
    out
}

/// One installer as the pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct InstallerView {
    pub platform: Platform,
    pub label: &'static str,
    /// The visitor's own system.
    pub yours: bool,
    pub url: String,
    pub requirements: String,
    pub version: Option<String>,
    pub size: Option<String>,
    pub sha256: Option<String>,
    pub prerequisites: Vec<Prerequisite>,
}

/// One application and its installers, the visitor's system first.
#[derive(Debug, Clone, Serialize)]
pub struct ApplicationView {
    pub name: String,
    /// An `id` for anchors (`therap-e-autonome`).
    pub anchor: String,
    pub service: Option<String>,
    pub installers: Vec<InstallerView>,
}

/// The configured downloads grouped by application (in configuration order), each with the
/// visitor's system first.
pub fn applications(downloads: &[Download], user_agent: Option<&str>) -> Vec<ApplicationView> {
    let yours = user_agent.and_then(Platform::of_user_agent);
    let mut apps: Vec<ApplicationView> = Vec::new();
    for d in downloads {
        let installer = InstallerView {
            platform: d.platform,
            label: d.platform.label(),
            yours: Some(d.platform) == yours,
            url: d.url.clone(),
            requirements: d.requirements.clone(),
            version: d.version.clone(),
            size: d.size.clone(),
            sha256: d.sha256.as_ref().map(|s| s.to_lowercase()),
            prerequisites: d.prerequisites.clone(),
        };
        match apps.iter_mut().find(|a| a.name == d.name) {
            Some(app) => {
                app.installers.push(installer);
                if app.service.is_none() {
                    app.service.clone_from(&d.service);
                }
            }
            None => apps.push(ApplicationView {
                name: d.name.clone(),
                anchor: anchor(&d.name),
                service: d.service.clone(),
                installers: vec![installer],
            }),
        }
    }
    for app in &mut apps {
        // Stable: the visitor's system first, the others in configuration order.
        app.installers.sort_by_key(|i| !i.yours);
    }
    apps
}

/// The distinct application names, in configuration order (for the e-mails).
pub fn application_names(downloads: &[Download]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for d in downloads {
        if !names.contains(&d.name) {
            names.push(d.name.clone());
        }
    }
    names
}

fn anchor(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        let c = match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            c => c,
        };
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    format!("app-{}", out.trim_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guide() -> Vec<Download> {
        let installer = |platform, url: &str, requirements: &str| Download {
            name: "Therap-e autonome".into(),
            platform,
            url: url.into(),
            requirements: requirements.into(),
            version: None,
            size: None,
            sha256: None,
            service: None,
            prerequisites: Vec::new(),
        };
        let mut mac =
            installer(Platform::Macos, "https://www.norm-uni.fr/covotem/Installer/covotem.dmg", "macOS 10.15 à 12.4");
        mac.prerequisites = vec![Prerequisite {
            name: "VLC Media Player".into(),
            url: "https://www.videolan.org/vlc/download-macosx.html".into(),
        }];
        vec![
            installer(Platform::Windows, "https://www.norm-uni.fr/covotem/Installer/covotem.exe", "Windows 10 ou 11"),
            mac,
        ]
    }

    #[test]
    fn the_visitors_system_comes_first_and_the_order_is_kept_otherwise() {
        let mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15";
        let windows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/140.0 Safari/537.36";
        let order = |ua| applications(&guide(), ua)[0].installers.iter().map(|i| i.platform).collect::<Vec<_>>();
        assert_eq!(order(Some(mac)), [Platform::Macos, Platform::Windows]);
        assert_eq!(order(Some(windows)), [Platform::Windows, Platform::Macos]);
        assert_eq!(order(None), [Platform::Windows, Platform::Macos]);
        assert_eq!(
            order(Some("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)")),
            [Platform::Windows, Platform::Macos]
        );
        assert!(applications(&guide(), Some(mac))[0].installers[0].yours);
        assert_eq!(applications(&guide(), None)[0].anchor, "app-therap-e-autonome");
    }

    #[test]
    fn bad_entries_are_reported_with_their_key() {
        let mut d = guide();
        d[0].url = "http://www.norm-uni.fr/setup.exe".into();
        d[1].sha256 = Some("abc".into());
        d[1].service = Some("Inconnu".into());
        d[1].prerequisites[0].url = "javascript:alert(1)".into();
        let keys: Vec<String> = problems(&d, &["Therap-e".into()]).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            ["downloads[0].url", "downloads[1].sha256", "downloads[1].service", "downloads[1].prerequisites[0].url"]
        );
        assert!(problems(&guide(), &[]).is_empty());
        assert!(is_link("/telechargements/setup.exe") && !is_link("//evil.example/x") && !is_link("https://"));
    }
}
