use std::fmt;

/// A validated e-mail address. Unique case-insensitively: see [`Email::key`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the e-mail address is empty")]
    Empty,
    #[error("'{0}' is not a valid e-mail address")]
    Invalid(String),
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(EmailError::Empty);
        }
        let invalid = || EmailError::Invalid(value.chars().filter(|c| !c.is_control()).collect());
        if value.len() > 254 {
            return Err(invalid());
        }
        let (local, domain) = value.rsplit_once('@').ok_or_else(invalid)?;
        if !valid_local_part(local) || !valid_domain(domain) {
            return Err(invalid());
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    /// The address with its local part hidden, as the guide shows it: `*******@normand-esante.fr`.
    pub fn masked(&self) -> String {
        let domain = self.0.rsplit_once('@').map_or("", |(_, d)| d);
        format!("*******@{domain}")
    }

    /// For logs: the first character of the local part and the domain (`j***@example.fr`).
    pub fn redacted(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or((&self.0, ""));
        let first = local.chars().next().unwrap_or('*');
        format!("{first}***@{domain}")
    }
}

fn valid_local_part(local: &str) -> bool {
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    (1..=64).contains(&local.len()) && local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(atext))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let tld_ok = labels
        .last()
        .is_some_and(|t| t.len() >= 2 && t.chars().all(|c| c.is_ascii_alphabetic()) || t.starts_with("xn--"));
    labels.len() >= 2 && labels.iter().all(label_ok) && tld_ok
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_lowercases_the_domain() {
        let e = Email::parse(" Jeanne.Dupont+pro@Normand-eSante.FR ").expect("valid");
        assert_eq!(e.as_str(), "Jeanne.Dupont+pro@normand-esante.fr");
        assert_eq!(e.key(), "jeanne.dupont+pro@normand-esante.fr");
    }

    #[test]
    fn refuses_malformed_addresses() {
        for bad in [
            "jeanne",
            "jeanne@",
            "@example.fr",
            "jeanne@example",
            "jeanne dupont@example.fr",
            "jeanne@exa mple.fr",
            "jeanne@-example.fr",
            "a..b@example.fr",
            "jeanne@example.fr\r\nBcc: x@y.fr",
            "jeanne@example.1",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
    }

    #[test]
    fn masks_like_the_guide_and_redacts_for_logs() {
        let e = Email::parse("jeanne@normand-esante.fr").expect("valid");
        assert_eq!(e.masked(), "*******@normand-esante.fr");
        assert_eq!(e.redacted(), "j***@normand-esante.fr");
        assert_eq!(format!("{e:?}"), "Email(j***@normand-esante.fr)");
    }
}
