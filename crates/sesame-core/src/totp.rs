//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): what an authenticator app
//! shows. HMAC-SHA-1, six digits, 30-second steps: the parameters every app reads from an
//! `otpauth://` URI, and the only ones most of them honour.
//!
//! Pure: the secret, the time and the last accepted step come in; the store keeps the secret
//! sealed and the last step, so that a code is accepted once.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretSlice};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::secret::fill_random;

/// Seconds per step.
pub const STEP_SECONDS: i64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Steps accepted on each side of the current one (clock drift of the phone).
pub const DRIFT_STEPS: i64 = 1;
/// 160 bits, the HMAC-SHA-1 block RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;

/// The shared secret of an authenticator app. Never printed.
#[derive(Clone)]
pub struct TotpSecret(SecretSlice<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

/// What a typed code is worth against a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// The code of this step (within the drift), never accepted before.
    Accepted { step: i64 },
    /// The code of a step already used (or older than it): a replay.
    Replayed,
    /// Not a code of any step within the drift.
    Wrong,
}

impl TotpSecret {
    /// A new random secret.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        fill_random(&mut bytes);
        Self(bytes.into())
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes.into())
    }

    /// A key as apps take it (base32, spaces and case ignored), e.g. read off the enrolment page.
    pub fn from_base32(key: &str) -> Option<Self> {
        let key: String = key.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
        BASE32_NOPAD.decode(key.as_bytes()).ok().filter(|b| !b.is_empty()).map(Self::from_bytes)
    }

    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// The key as an app's "enter a setup key" field takes it: base32 without padding.
    pub fn base32(&self) -> String {
        BASE32_NOPAD.encode(self.expose())
    }

    /// The key in groups of four, easier to read aloud and to copy by hand.
    pub fn grouped(&self) -> String {
        let key = self.base32();
        key.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
    }

    /// The `otpauth://` URI the QR code carries (Key Uri Format): `issuer` names the portal,
    /// `account` the person (their identifier).
    pub fn uri(&self, issuer: &str, account: &str) -> String {
        let issuer_enc = percent_encode(issuer);
        format!(
            "otpauth://totp/{issuer_enc}:{}?secret={}&issuer={issuer_enc}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            percent_encode(account),
            self.base32(),
        )
    }

    /// The code of one step.
    pub fn code_at_step(&self, step: i64) -> String {
        let counter = u64::try_from(step).unwrap_or(0).to_be_bytes();
        #[expect(clippy::expect_used, reason = "HMAC takes a key of any length")]
        let mut mac = Hmac::<Sha1>::new_from_slice(self.expose()).expect("HMAC accepts any key length");
        mac.update(&counter);
        let digest = mac.finalize().into_bytes();
        // Dynamic truncation (RFC 4226 §5.3).
        let offset = usize::from(digest[digest.len() - 1] & 0x0f);
        let binary =
            u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
        format!("{:0width$}", binary % 10u32.pow(DIGITS as u32), width = DIGITS)
    }

    /// The code an app shows at `now`.
    pub fn code_at(&self, now: OffsetDateTime) -> String {
        self.code_at_step(step_of(now))
    }

    /// Checks a typed code at `now`: the current step and [`DRIFT_STEPS`] each way, and only
    /// steps after `last_used` (a code is good once).
    pub fn check(&self, typed: &str, now: OffsetDateTime, last_used: Option<i64>) -> CodeCheck {
        let Some(typed) = normalise_code(typed) else {
            return CodeCheck::Wrong;
        };
        let current = step_of(now);
        let mut replayed = false;
        for step in current - DRIFT_STEPS..=current + DRIFT_STEPS {
            if bool::from(self.code_at_step(step).as_bytes().ct_eq(typed.as_bytes())) {
                if last_used.is_some_and(|last| step <= last) {
                    replayed = true;
                } else {
                    return CodeCheck::Accepted { step };
                }
            }
        }
        if replayed { CodeCheck::Replayed } else { CodeCheck::Wrong }
    }
}

/// The step `now` falls in.
pub fn step_of(now: OffsetDateTime) -> i64 {
    now.unix_timestamp().div_euclid(STEP_SECONDS)
}

/// Six digits, spaces (as apps group them: "123 456") ignored; `None` otherwise.
pub fn normalise_code(typed: &str) -> Option<String> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// RFC 3986's unreserved characters, the only ones an URI component keeps as they are.
pub const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encoding of everything but the unreserved characters.
fn percent_encode(text: &str) -> String {
    utf8_percent_encode(text, UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec())
    }

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).expect("valid time")
    }

    #[test]
    fn codes_match_the_test_vectors_of_rfc_6238() {
        // Appendix B, SHA-1, the last six of the eight digits given.
        for (t, code) in
            [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924"), (2_000_000_000, "279037")]
        {
            assert_eq!(rfc_secret().code_at(at(t)), code, "T = {t}");
        }
    }

    #[test]
    fn one_step_of_drift_is_accepted_each_way_and_two_are_not() {
        let secret = rfc_secret();
        let now = at(1_234_567_890);
        let step = step_of(now);
        for (offset, expected) in [
            (-2, CodeCheck::Wrong),
            (-1, CodeCheck::Accepted { step: step - 1 }),
            (0, CodeCheck::Accepted { step }),
            (1, CodeCheck::Accepted { step: step + 1 }),
            (2, CodeCheck::Wrong),
        ] {
            assert_eq!(secret.check(&secret.code_at_step(step + offset), now, None), expected, "offset {offset}");
        }
    }

    #[test]
    fn a_code_is_good_once() {
        let secret = rfc_secret();
        let now = at(1_234_567_890);
        let code = secret.code_at(now);
        let CodeCheck::Accepted { step } = secret.check(&code, now, None) else { panic!("accepted") };
        assert_eq!(secret.check(&code, now, Some(step)), CodeCheck::Replayed);
        // An older step's code is refused once a later one was used.
        assert_eq!(secret.check(&secret.code_at_step(step - 1), now, Some(step)), CodeCheck::Replayed);
        assert_eq!(
            secret.check(&secret.code_at_step(step + 1), now, Some(step)),
            CodeCheck::Accepted { step: step + 1 }
        );
    }

    #[test]
    fn typed_codes_may_carry_spaces_and_nothing_else() {
        let secret = rfc_secret();
        let now = at(59);
        assert!(matches!(secret.check("287 082", now, None), CodeCheck::Accepted { .. }));
        assert_eq!(secret.check("28708", now, None), CodeCheck::Wrong);
        assert_eq!(secret.check("2870820", now, None), CodeCheck::Wrong);
        assert_eq!(secret.check("28708a", now, None), CodeCheck::Wrong);
        assert_eq!(secret.check("", now, None), CodeCheck::Wrong);
    }

    #[test]
    fn the_uri_carries_the_key_and_the_portal_as_apps_expect() {
        let secret = rfc_secret();
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(secret.grouped(), "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ");
        let read_back = TotpSecret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").expect("a key");
        assert_eq!(read_back.expose(), secret.expose());
        assert!(TotpSecret::from_base32("not base32!").is_none());
        assert_eq!(
            secret.uri("Mes services e-santé", "jeanne.dupont"),
            "otpauth://totp/Mes%20services%20e-sant%C3%A9:jeanne.dupont?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Mes%20services%20e-sant%C3%A9&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(format!("{secret:?}"), "TotpSecret(***)");
    }
}
