//! What the web layer needs from configuration.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One entry of "Mes services e-santé".
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PortalService {
    pub name: String,
    pub description: String,
    pub url: String,
    /// Path or URL of an icon served by the portal (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
}

/// `[captcha]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct CaptchaSettings {
    /// Off only in automated environments; `config check` warns.
    pub enabled: bool,
}

impl Default for CaptchaSettings {
    fn default() -> Self {
        Self { enabled: true }
    }
}

#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    pub public_url: String,
    /// Peers whose `X-Forwarded-For` is believed (exact addresses or CIDR blocks).
    pub trusted_proxies: Vec<IpNet>,
    pub services: Vec<PortalService>,
    pub captcha: CaptchaSettings,
    /// Who the portal is, on every page.
    pub branding: sesame_core::branding::Branding,
    /// "Installer … sur votre poste" (`[[downloads]]`).
    pub downloads: Vec<crate::downloads::Download>,
    /// The operator's help page (`help.file`), already rendered and sanitized; `None`: the
    /// built-in help.
    pub help_html: Option<String>,
}

impl WebSettings {
    /// Whether cookies must be `Secure` with the `__Host-` prefix.
    pub fn https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The OpenID Connect issuer: the public URL without a trailing slash (the `iss` of tokens
    /// and of authorization responses; discovery is under it).
    pub fn issuer(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }

    /// `scheme://host[:port]` of the public URL, compared with `Origin`.
    pub fn origin(&self) -> &str {
        let after_scheme = self.public_url.find("://").map_or(0, |i| i + 3);
        let end = self.public_url[after_scheme..].find('/').map_or(self.public_url.len(), |i| after_scheme + i);
        &self.public_url[..end]
    }
}

/// An address or a CIDR block (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (addr, prefix) = text.split_once('/').map_or((text, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = addr.trim().parse().map_err(|_| format!("'{text}' is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{text}' has an invalid prefix length"))?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V4(ip)) => net.to_ipv4_mapped() == Some(ip) && self.prefix == 128,
            (IpAddr::V4(net), IpAddr::V6(ip)) => {
                ip.to_ipv4_mapped().is_some_and(|v4| prefix_eq(&net.octets(), &v4.octets(), self.prefix))
            }
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    a[..full] == b[..full] && (rest == 0 || (a[full] ^ b[full]) >> (8 - rest) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_blocks_match_their_addresses() {
        let net = IpNet::parse("10.1.0.0/16").expect("valid");
        assert!(net.contains("10.1.200.3".parse().expect("ip")));
        assert!(!net.contains("10.2.0.1".parse().expect("ip")));
        assert!(IpNet::parse("127.0.0.1").expect("valid").contains("127.0.0.1".parse().expect("ip")));
        assert!(IpNet::parse("::1").expect("valid").contains("::1".parse().expect("ip")));
        assert!(IpNet::parse("10.0.0.0/33").is_err());
        assert!(IpNet::parse("proxy").is_err());
    }

    #[test]
    fn the_origin_is_scheme_host_and_port() {
        let s = WebSettings { public_url: "https://www.norm-uni.fr/portail".into(), ..WebSettings::default() };
        assert_eq!(s.origin(), "https://www.norm-uni.fr");
        assert!(s.https());
    }
}
