//! Second factors as the store keeps them: authenticator apps (TOTP), security keys and
//! passkeys (WebAuthn), recovery codes, and the ticket that carries a sign-in from its password
//! to its second step.

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::AccountId;
use crate::secret::{digest, fill_random};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FactorId(pub i64);

/// What kind of second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    /// An authenticator app (RFC 6238).
    Totp,
    /// A security key or a passkey (WebAuthn).
    SecurityKey,
}

impl FactorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::SecurityKey => "webauthn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "totp" => Some(Self::Totp),
            "webauthn" => Some(Self::SecurityKey),
            _ => None,
        }
    }

    /// How pages and e-mails name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Totp => "application d'authentification",
            Self::SecurityKey => "clé de sécurité",
        }
    }
}

/// A second factor of an account; its secret stays in the store, sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactor {
    pub id: FactorId,
    pub account_id: AccountId,
    pub kind: FactorKind,
    /// The holder's name for it ("Téléphone professionnel").
    pub name: String,
    pub created_at: OffsetDateTime,
    /// `None` while the enrolment waits for its first code: such a factor is asked nowhere.
    pub confirmed_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
}

impl SecondFactor {
    /// Whether its first code was given: only then is it asked anywhere.
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

/// The additional data a factor's secret (an app's key, a security key's credential) is sealed
/// with: it opens only in a row of the same account. The string predates the keys; it stays.
pub fn factor_sealing_context(account: AccountId) -> Vec<u8> {
    format!("sesame/second_factor/v1/totp/{}", account.0).into_bytes()
}

/// A sign-in between its correct password and its second step. The token goes to the browser
/// (a cookie) or the desktop application (`second_factor_ticket`); the store keeps its digest.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub token_hash: Vec<u8>,
    pub account_id: AccountId,
    /// `browser` or `api`: a ticket is completed on the channel that started it.
    pub channel: String,
    /// The desktop application's name, for the token family it will open.
    pub client_name: Option<String>,
    pub ip: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub id: i64,
    pub account_id: AccountId,
    pub channel: String,
    pub client_name: Option<String>,
    pub expires_at: OffsetDateTime,
}

/// How many recovery codes a batch holds.
pub const RECOVERY_CODES: usize = 10;
/// Symbols of a recovery code: letters and digits without look-alikes (no 0/O, 1/I).
const RECOVERY_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// 16 symbols of 5 bits: 80 bits, so that their SHA-256 digests cannot be searched.
const RECOVERY_LEN: usize = 16;

/// One recovery code, as shown to its holder: `ABCD-EFGH-JKLM-NPQR`. Never printed in logs.
#[derive(Clone)]
pub struct RecoveryCode(SecretString);

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(***)")
    }
}

impl RecoveryCode {
    pub fn generate() -> Self {
        let mut bytes = [0u8; RECOVERY_LEN];
        fill_random(&mut bytes);
        let symbols: Vec<char> = bytes.iter().map(|b| char::from(RECOVERY_ALPHABET[usize::from(b & 0x1f)])).collect();
        let grouped = symbols.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-");
        Self(SecretString::from(grouped))
    }

    /// A typed code: case, spaces and hyphens do not matter. `None` when it cannot be one.
    pub fn parse(typed: &str) -> Option<Self> {
        let symbols: String =
            typed.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
        if symbols.len() != RECOVERY_LEN || !symbols.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)) {
            return None;
        }
        let grouped =
            symbols.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-");
        Some(Self(SecretString::from(grouped)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The stored form: a digest (80 bits of entropy need no slow hash).
    pub fn digest(&self) -> Vec<u8> {
        digest(self.expose())
    }
}

/// A new batch of recovery codes.
pub fn recovery_batch() -> Vec<RecoveryCode> {
    (0..RECOVERY_CODES).map(|_| RecoveryCode::generate()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_sixteen_unambiguous_symbols_in_four_groups() {
        let batch = recovery_batch();
        assert_eq!(batch.len(), 10);
        for code in &batch {
            let text = code.expose();
            assert_eq!(text.len(), 19);
            assert_eq!(text.matches('-').count(), 3);
            assert!(!text.contains(['0', 'O', '1', 'I']));
        }
        assert_ne!(batch[0].expose(), batch[1].expose());
    }

    #[test]
    fn a_typed_recovery_code_is_read_whatever_its_case_and_spacing() {
        let code = RecoveryCode::generate();
        let typed = code.expose().to_lowercase().replace('-', " ");
        assert_eq!(RecoveryCode::parse(&typed).map(|c| c.digest()), Some(code.digest()));
        assert!(RecoveryCode::parse("ABCD-EFGH-JKLM").is_none());
        assert!(RecoveryCode::parse("ABCD-EFGH-JKLM-NPQ0").is_none());
        assert!(RecoveryCode::parse("123456").is_none());
        assert_eq!(format!("{code:?}"), "RecoveryCode(***)");
    }
}
