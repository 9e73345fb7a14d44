use std::fmt;
use unicode_normalization::UnicodeNormalization;

const MAX_CHARS: usize = 100;

/// A first or last name: any script, no control characters (so no header injection), NFC.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the {0} is empty")]
    Empty(&'static str),
    #[error("the {0} is longer than {MAX_CHARS} characters")]
    TooLong(&'static str),
    #[error("the {0} contains control characters (line breaks, tabs…)")]
    ControlCharacters(&'static str),
}

impl PersonName {
    /// `what` names the field in the error ("first name", "last name").
    pub fn parse(raw: &str, what: &'static str) -> Result<Self, NameError> {
        let value: String = raw.trim().nfc().collect();
        if value.is_empty() {
            return Err(NameError::Empty(what));
        }
        if value.chars().any(char::is_control) {
            return Err(NameError::ControlCharacters(what));
        }
        if value.chars().count() > MAX_CHARS {
            return Err(NameError::TooLong(what));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonName({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_in_any_script_and_refuses_control_characters() {
        assert_eq!(PersonName::parse(" Hélène ", "first name").expect("valid").as_str(), "Hélène");
        assert_eq!(
            PersonName::parse("Jeanne\r\nBcc: evil@example.fr", "first name"),
            Err(NameError::ControlCharacters("first name"))
        );
        assert_eq!(PersonName::parse(" ", "last name"), Err(NameError::Empty("last name")));
        assert!(PersonName::parse(&"a".repeat(101), "last name").is_err());
    }
}
