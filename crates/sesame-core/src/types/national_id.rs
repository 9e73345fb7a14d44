use std::fmt;

/// A health professional's national identifier, kept in its `idNat_PS` form: `8` + the 11-digit
/// RPPS number, or `0` + the 9-digit ADELI number (the form found in CPS certificates).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum NationalId {
    Rpps(String),
    Adeli(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NationalIdError {
    #[error(
        "'{0}' is not a national identifier: expected an RPPS number (11 digits), an ADELI number (9 digits), or their idNat_PS form (8 + RPPS, 0 + ADELI)"
    )]
    Format(String),
    #[error("'{0}' is not a valid RPPS number: its check digit (Luhn) is wrong")]
    RppsCheckDigit(String),
}

impl NationalId {
    /// Accepts `10003456786` (RPPS), `123456789` (ADELI), `810003456786` / `0123456789`
    /// (idNat_PS), with spaces or dots between digits.
    pub fn parse(raw: &str) -> Result<Self, NationalIdError> {
        let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).collect();
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(NationalIdError::Format(raw.trim().to_owned()));
        }
        match digits.len() {
            11 => Self::rpps(digits),
            12 if digits.starts_with('8') => Self::rpps(digits[1..].to_owned()),
            9 => Ok(Self::Adeli(digits)),
            10 if digits.starts_with('0') => Ok(Self::Adeli(digits[1..].to_owned())),
            _ => Err(NationalIdError::Format(raw.trim().to_owned())),
        }
    }

    fn rpps(digits: String) -> Result<Self, NationalIdError> {
        if luhn_valid(&digits) { Ok(Self::Rpps(digits)) } else { Err(NationalIdError::RppsCheckDigit(digits)) }
    }

    /// The `idNat_PS` form stored in the database and read from certificates.
    pub fn id_nat_ps(&self) -> String {
        match self {
            Self::Rpps(n) => format!("8{n}"),
            Self::Adeli(n) => format!("0{n}"),
        }
    }

    /// Reads the stored `idNat_PS` form back.
    pub fn from_id_nat_ps(stored: &str) -> Result<Self, NationalIdError> {
        Self::parse(stored)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rpps(_) => "RPPS",
            Self::Adeli(_) => "ADELI",
        }
    }

    pub fn number(&self) -> &str {
        match self {
            Self::Rpps(n) | Self::Adeli(n) => n,
        }
    }
}

/// The Luhn check used by RPPS numbers.
fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d })
        .sum();
    sum.is_multiple_of(10)
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.number())
    }
}

impl fmt::Debug for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NationalId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_rpps_with_a_valid_luhn_key_in_every_form() {
        let rpps = NationalId::parse("10003456786").expect("valid RPPS");
        assert_eq!(rpps.id_nat_ps(), "810003456786");
        assert_eq!(NationalId::parse("8 1000 3456 786"), Ok(rpps.clone()));
        assert_eq!(NationalId::from_id_nat_ps("810003456786"), Ok(rpps));
    }

    #[test]
    fn refuses_rpps_with_a_wrong_check_digit() {
        assert_eq!(NationalId::parse("10003456787"), Err(NationalIdError::RppsCheckDigit("10003456787".into())));
    }

    #[test]
    fn accepts_adeli_nine_digits_and_its_id_nat_form() {
        let adeli = NationalId::parse("751234567").expect("valid ADELI");
        assert_eq!(adeli.id_nat_ps(), "0751234567");
        assert_eq!(NationalId::parse("0751234567"), Ok(adeli));
    }

    #[test]
    fn refuses_other_lengths_and_letters() {
        for bad in ["", "1234", "1000345678a", "1234567890123", "9751234567"] {
            assert!(matches!(NationalId::parse(bad), Err(NationalIdError::Format(_))), "{bad}");
        }
    }
}
