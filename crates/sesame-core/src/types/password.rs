use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// The fixed ceiling on a password's length, checked before any hashing.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A password as typed, normalised with NFKC. It never prints itself.
#[derive(Clone)]
pub struct Password(SecretString);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordInputError {
    #[error("the password is empty")]
    Empty,
    #[error("the password is longer than {MAX_PASSWORD_CHARS} characters")]
    TooLong,
}

impl Password {
    pub fn parse(raw: &str) -> Result<Self, PasswordInputError> {
        if raw.chars().count() > MAX_PASSWORD_CHARS * 4 {
            return Err(PasswordInputError::TooLong); // do not even normalise absurd input
        }
        let normalised: String = raw.nfkc().collect();
        let count = normalised.chars().count();
        if count == 0 {
            return Err(PasswordInputError::Empty);
        }
        if count > MAX_PASSWORD_CHARS {
            return Err(PasswordInputError::TooLong);
        }
        Ok(Self(SecretString::from(normalised)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn char_count(&self) -> usize {
        self.expose().chars().count()
    }
}

impl PartialEq for Password {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_with_nfkc_and_keeps_spaces() {
        // "ﬁ" (U+FB01) becomes "fi"; a combining accent composes.
        let p = Password::parse("ﬁlm e\u{301}té  ").expect("valid");
        assert_eq!(p.expose(), "film été  ");
    }

    #[test]
    fn enforces_the_fixed_ceiling_after_normalisation() {
        assert!(Password::parse(&"é".repeat(MAX_PASSWORD_CHARS)).is_ok());
        assert_eq!(Password::parse(&"a".repeat(MAX_PASSWORD_CHARS + 1)), Err(PasswordInputError::TooLong));
        assert_eq!(Password::parse(""), Err(PasswordInputError::Empty));
    }

    #[test]
    fn never_prints_itself() {
        let p = Password::parse("correct horse battery staple").expect("valid");
        assert_eq!(format!("{p:?}"), "Password(***)");
    }
}
