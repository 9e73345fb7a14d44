//! "Code à recopier": challenges issued by the server, single use, 10 minutes, only digests
//! stored, case-insensitive; and their accessible alternative, a proof of work the browser
//! solves for whoever cannot read the image. The web layer draws the image and reads the form;
//! the lifecycle is here, behind the store port and the clock.

use secrecy::ExposeSecret as _;
use time::Duration;

use crate::deps::Deps;
use crate::error::AuthError;
use crate::secret::{digest, generate_token};

/// How long a challenge can be answered.
pub const LIFETIME: Duration = Duration::minutes(10);

/// Leading zero bits the proof of work must reach: about 65,000 SHA-256 on average, a second
/// or two in a browser. It is the accessible way through, not the main barrier: per-address and
/// per-account limits and identical answers stay in force.
pub const POW_BITS: u32 = 16;

/// What the proof-of-work challenge's row holds in place of an answer.
const POW_MARKER: &str = "proof-of-work";

/// A challenge as issued: the id of the image's answer, and a proof-of-work challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub id: String,
    pub pow: String,
    pub pow_bits: u32,
}

/// What came back from the form.
#[derive(Debug, Clone, Copy)]
pub enum Response<'a> {
    /// The characters read from the image.
    Image { id: &'a str, text: &'a str },
    /// A nonce such that `SHA-256(challenge ":" nonce)` has [`POW_BITS`] leading zero bits.
    ProofOfWork { challenge: &'a str, nonce: &'a str },
}

#[derive(Debug, Clone)]
pub struct Captcha {
    deps: Deps,
}

impl Captcha {
    pub fn new(deps: Deps) -> Self {
        Self { deps }
    }

    /// Stores a new challenge whose image shows `answer`; only digests are kept.
    pub async fn issue(&self, answer: &str) -> Result<Challenge, AuthError> {
        let id = generate_token(24).expose_secret().to_owned();
        let pow = generate_token(16).expose_secret().to_owned();
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        tx.insert_captcha(&digest(&id), &answer_digest(answer), now, now + LIFETIME).await?;
        tx.insert_captcha(&digest(&pow), &digest(POW_MARKER), now, now + LIFETIME).await?;
        tx.commit().await?;
        Ok(Challenge { id, pow, pow_bits: POW_BITS })
    }

    /// Uses the challenge up, right or wrong, and says whether it was passed.
    pub async fn check(&self, response: Response<'_>) -> Result<bool, AuthError> {
        let (key, expected) = match response {
            Response::Image { id, text } => {
                if id.is_empty() || text.trim().is_empty() {
                    return Ok(false);
                }
                (digest(id), answer_digest(text))
            }
            Response::ProofOfWork { challenge, nonce } => {
                if !pow_solved(challenge, nonce.trim()) {
                    return Ok(false);
                }
                (digest(challenge), digest(POW_MARKER))
            }
        };
        let mut tx = self.deps.store.begin().await?;
        let stored = tx.take_captcha(&key, self.deps.now()).await?;
        tx.commit().await?;
        Ok(stored.is_some_and(|s| constant_time_eq(&s, &expected)))
    }
}

fn answer_digest(answer: &str) -> Vec<u8> {
    digest(&answer.trim().to_lowercase())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn leading_zero_bits(bytes: &[u8]) -> u32 {
    let mut bits = 0;
    for b in bytes {
        if *b == 0 {
            bits += 8;
        } else {
            return bits + b.leading_zeros();
        }
    }
    bits
}

/// `SHA-256(challenge ":" nonce)` starts with [`POW_BITS`] zero bits.
pub fn pow_solved(challenge: &str, nonce: &str) -> bool {
    nonce.len() <= 20
        && !nonce.is_empty()
        && nonce.bytes().all(|b| b.is_ascii_digit())
        && leading_zero_bits(&digest(&format!("{challenge}:{nonce}"))) >= POW_BITS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_of_work_is_checked_by_its_leading_zero_bits() {
        let challenge = "abc";
        let nonce = (0u64..).find(|n| pow_solved(challenge, &n.to_string())).unwrap_or_default();
        assert!(pow_solved(challenge, &nonce.to_string()));
        assert!(!pow_solved(challenge, "not-a-number"));
        assert!(!pow_solved(challenge, ""));
        assert_eq!(leading_zero_bits(&[0, 0x0f]), 12);
    }

    #[test]
    fn answers_compare_without_case_or_surrounding_spaces() {
        assert_eq!(answer_digest(" Ab3x "), answer_digest("ab3x"));
        assert!(
            constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"a", b"ab")
        );
    }
}
