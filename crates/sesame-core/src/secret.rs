//! Random secrets and their stored form.
//!
//! Every secret handed to a person or a program (temporary password, reset token, session id,
//! API token, captcha answer) is generated here from the operating system's CSPRNG and stored only
//! as a SHA-256 digest ([`digest`]): a stolen database yields nothing usable.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::types::Password;

/// Alphabet of temporary passwords: letters and digits without look-alikes (no 0/O/o, 1/l/I).
pub const TEMPORARY_PASSWORD_ALPHABET: &str = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
/// 20 characters of a 56-symbol alphabet: about 116 bits.
pub const TEMPORARY_PASSWORD_LEN: usize = 20;

/// Fills `buf` from the operating system's CSPRNG.
///
/// # Panics
/// If the operating system has no random source: nothing secure can be done without one.
pub fn fill_random(buf: &mut [u8]) {
    #[expect(clippy::expect_used, reason = "no secret can be made without an OS random source")]
    getrandom::fill(buf).expect("the operating system's random source failed");
}

/// A server-generated temporary password (never chosen by an agent).
pub fn generate_temporary_password() -> Password {
    let alphabet: Vec<char> = TEMPORARY_PASSWORD_ALPHABET.chars().collect();
    let n = u8::try_from(alphabet.len()).unwrap_or(u8::MAX);
    // Rejection sampling keeps every symbol equally likely.
    let limit = u8::MAX - (u8::MAX % n);
    let mut out = String::with_capacity(TEMPORARY_PASSWORD_LEN);
    let mut byte = [0u8; 1];
    while out.chars().count() < TEMPORARY_PASSWORD_LEN {
        fill_random(&mut byte);
        if byte[0] < limit {
            out.push(alphabet[usize::from(byte[0] % n)]);
        }
    }
    #[expect(clippy::expect_used, reason = "20 alphabet characters always form a valid password")]
    Password::parse(&out).expect("generated password is valid")
}

/// An opaque token of `bytes` random bytes, base64url-encoded (43 characters for 32 bytes).
pub fn generate_token(bytes: usize) -> SecretString {
    let mut buf = vec![0u8; bytes];
    fill_random(&mut buf);
    SecretString::from(URL_SAFE_NO_PAD.encode(&buf))
}

/// The stored form of a high-entropy secret: its SHA-256 digest.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Convenience for [`SecretString`] inputs.
pub fn digest_secret(secret: &SecretString) -> Vec<u8> {
    digest(secret.expose_secret())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_passwords_have_twenty_unambiguous_characters_and_differ() {
        let a = generate_temporary_password();
        let b = generate_temporary_password();
        assert_eq!(a.char_count(), TEMPORARY_PASSWORD_LEN);
        assert!(a.expose().chars().all(|c| TEMPORARY_PASSWORD_ALPHABET.contains(c)));
        assert!(!a.expose().contains(['0', 'O', '1', 'l', 'I']));
        assert_ne!(a, b);
    }

    #[test]
    fn tokens_carry_256_bits_and_are_stored_as_digests() {
        let t = generate_token(32);
        assert_eq!(t.expose_secret().len(), 43);
        assert_eq!(digest_secret(&t).len(), 32);
        assert_ne!(digest_secret(&t), digest_secret(&generate_token(32)));
    }
}
