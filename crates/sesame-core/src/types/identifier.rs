use std::fmt;
use unicode_normalization::UnicodeNormalization;

const MAX_LEN: usize = 64;

/// An account's sign-in identifier (`jdupont`). Unique case-insensitively: see [`Identifier::key`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Identifier(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    #[error("the identifier is empty")]
    Empty,
    #[error("the identifier is longer than {MAX_LEN} characters")]
    TooLong,
    #[error(
        "the identifier may contain only letters a-z, digits, '.', '_' and '-', and must start with a letter or a digit"
    )]
    InvalidCharacters,
}

impl Identifier {
    pub fn parse(raw: &str) -> Result<Self, IdentifierError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(IdentifierError::Empty);
        }
        if value.chars().count() > MAX_LEN {
            return Err(IdentifierError::TooLong);
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        let starts_well = value.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if !starts_well || !value.chars().all(allowed) {
            return Err(IdentifierError::InvalidCharacters);
        }
        Ok(Self(value.to_owned()))
    }

    /// The base from which an identifier is derived when none is given: the first letter of the
    /// first name and the last name, folded to ASCII (`Jeanne Dupont` → `jdupont`,
    /// `Hélène Le Bœuf` → `hleboeuf`). Uniqueness is the caller's business (`jdupont2`, …).
    pub fn derive_base(first_name: &str, last_name: &str) -> Self {
        let first = fold_to_ascii_alnum(first_name).chars().next();
        let last = fold_to_ascii_alnum(last_name);
        let mut base: String = first.into_iter().chain(last.chars()).collect();
        if base.is_empty() {
            base = "utilisateur".to_owned();
        }
        base.truncate(MAX_LEN - 4); // leave room for a numeric suffix
        Self(base)
    }

    /// The `n`-th candidate derived from this base: `jdupont`, then `jdupont2`, `jdupont3`, …
    pub fn with_suffix(&self, n: u32) -> Self {
        if n <= 1 { self.clone() } else { Self(format!("{}{n}", self.0)) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive key under which uniqueness is enforced and look-ups are made.
    pub fn key(&self) -> String {
        Self::key_of(&self.0)
    }

    /// The look-up key of any text a user typed as an identifier, valid or not (throttling keeps
    /// counters for unknown identifiers too).
    pub fn key_of(raw: &str) -> String {
        raw.trim().to_lowercase()
    }
}

/// What someone typed as an identifier to sign in or in "Mot de passe oublié", reduced to the
/// look-up key: it may name no account, and is not checked against the identifier rules (an
/// unknown or malformed one gets the same answer as any other). Throttling counts failures
/// under this key, known or not.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LoginIdentifier(String);

/// Longest text taken as a typed identifier; anything longer cannot name an account anyway.
const MAX_TYPED: usize = 256;

impl LoginIdentifier {
    /// `None` when nothing was typed.
    pub fn new(typed: &str) -> Option<Self> {
        let key = Identifier::key_of(typed);
        if key.is_empty() {
            return None;
        }
        Some(Self(key.chars().take(MAX_TYPED).collect()))
    }

    pub fn key(&self) -> &str {
        &self.0
    }
}

impl From<&Identifier> for LoginIdentifier {
    fn from(identifier: &Identifier) -> Self {
        Self(identifier.key())
    }
}

impl fmt::Debug for LoginIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // What was typed may be a mistyped password: never printed.
        f.write_str("LoginIdentifier(***)")
    }
}

fn fold_to_ascii_alnum(text: &str) -> String {
    text.nfkd()
        .flat_map(|c| match c {
            'œ' | 'Œ' => "oe".chars().collect::<Vec<_>>(),
            'æ' | 'Æ' => "ae".chars().collect(),
            'ß' => "ss".chars().collect(),
            c => vec![c],
        })
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identifier({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_usual_identifiers_and_keys_them_case_insensitively() {
        let id = Identifier::parse("  JDupont.2 ").expect("valid");
        assert_eq!(id.as_str(), "JDupont.2");
        assert_eq!(id.key(), "jdupont.2");
    }

    #[test]
    fn refuses_empty_long_and_odd_identifiers() {
        assert_eq!(Identifier::parse("  "), Err(IdentifierError::Empty));
        assert_eq!(Identifier::parse(&"a".repeat(65)), Err(IdentifierError::TooLong));
        for bad in ["-abc", "jean dupont", "jean\ndupont", "jéan", "a@b"] {
            assert_eq!(Identifier::parse(bad), Err(IdentifierError::InvalidCharacters), "{bad}");
        }
    }

    #[test]
    fn derives_first_initial_and_last_name_folded_to_ascii() {
        assert_eq!(Identifier::derive_base("Jeanne", "Dupont").as_str(), "jdupont");
        assert_eq!(Identifier::derive_base("Hélène", "Le Bœuf").as_str(), "hleboeuf");
        assert_eq!(Identifier::derive_base("Émile", "D'Arçy-Lévêque").as_str(), "edarcyleveque");
        assert_eq!(Identifier::derive_base("", "").as_str(), "utilisateur");
    }

    #[test]
    fn a_typed_identifier_is_its_key_whatever_it_is() {
        assert_eq!(LoginIdentifier::new("  JDupont ").map(|l| l.key().to_owned()), Some("jdupont".into()));
        assert_eq!(LoginIdentifier::new("jean dupont!").map(|l| l.key().to_owned()), Some("jean dupont!".into()));
        assert!(LoginIdentifier::new("   ").is_none());
        assert_eq!(LoginIdentifier::new(&"x".repeat(1000)).map(|l| l.key().len()), Some(256));
        assert_eq!(
            format!("{:?}", LoginIdentifier::new("secret").unwrap_or_else(|| unreachable!())),
            "LoginIdentifier(***)"
        );
    }

    #[test]
    fn suffixes_start_at_two() {
        let base = Identifier::derive_base("Jeanne", "Dupont");
        assert_eq!(base.with_suffix(1).as_str(), "jdupont");
        assert_eq!(base.with_suffix(2).as_str(), "jdupont2");
    }
}
