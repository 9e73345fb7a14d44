//! "Code à recopier": server-generated, single use, 10 minutes, only a hash of the answer
//! stored, no look-alike characters, case-insensitive. The image is embedded in the page
//! (`data:` URL), so nothing else needs keeping.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use captcha::filters::{Dots, Grid, Noise, Wave};
use secrecy::ExposeSecret as _;
use serde::Serialize;
use sesame_core::secret::{digest, generate_token};
use time::Duration;

use crate::AppState;
use crate::error::WebError;

/// Letters and digits that cannot be mistaken for one another (no 0/o, 1/l/i, 5/s, 2/z…).
const ALPHABET: &[char] = &[
    'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'k', 'm', 'n', 'p', 'r', 't', 'u', 'v', 'w', 'x', 'y', '3', '4', '6', '7',
    '8', '9',
];
const LENGTH: u32 = 6;
pub const LIFETIME: Duration = Duration::minutes(10);

/// Leading zero bits the proof of work must reach: about 65,000 SHA-256 on average, a second
/// or two in a browser. It is the accessible way through, not the main barrier: per-address and
/// per-account limits and identical answers stay in force.
pub const POW_BITS: u32 = 16;
const POW_MARKER: &str = "proof-of-work";

/// A challenge as the page shows it: an image to read, or a proof of work for whoever cannot.
#[derive(Debug, Clone, Serialize)]
pub struct Challenge {
    pub id: String,
    /// `data:image/png;base64,…`
    pub image: String,
    pub pow: String,
    pub pow_bits: u32,
}

/// What the form sent back.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Answer {
    #[serde(default)]
    pub captcha_id: String,
    #[serde(default)]
    pub captcha: String,
    #[serde(default)]
    pub pow_challenge: String,
    #[serde(default)]
    pub pow_nonce: String,
}

impl Answer {
    pub fn is_empty(&self) -> bool {
        self.captcha.trim().is_empty() && self.pow_nonce.trim().is_empty()
    }
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
        && nonce.bytes().all(|b| b.is_ascii_digit())
        && leading_zero_bits(&digest(&format!("{challenge}:{nonce}"))) >= POW_BITS
}

fn draw() -> Option<(String, Vec<u8>)> {
    let mut c = captcha::Captcha::new();
    let supported = c.supported_chars();
    let chars: Vec<char> = ALPHABET.iter().copied().filter(|ch| supported.contains(ch)).collect();
    c.set_chars(&chars)
        .add_chars(LENGTH)
        .apply_filter(Noise::new(0.25))
        .apply_filter(Wave::new(2.0, 16.0).horizontal())
        .apply_filter(Wave::new(2.0, 12.0).vertical())
        .view(220, 70)
        .apply_filter(Grid::new(14, 14))
        .apply_filter(Dots::new(12));
    let answer = c.chars_as_string();
    c.as_png().map(|png| (answer, png))
}

fn answer_digest(answer: &str) -> Vec<u8> {
    digest(&answer.trim().to_lowercase())
}

impl AppState {
    /// A new challenge, stored as two digests.
    pub async fn new_captcha(&self) -> Result<Challenge, WebError> {
        let (answer, png) = tokio::task::spawn_blocking(draw)
            .await
            .map_err(|e| WebError::Internal(e.to_string()))?
            .ok_or_else(|| WebError::Internal("captcha image could not be drawn".into()))?;
        let id = generate_token(24).expose_secret().to_owned();
        let pow = generate_token(16).expose_secret().to_owned();
        let now = self.auth.now();
        let mut tx = self.auth.store().begin().await?;
        tx.insert_captcha(&digest(&id), &answer_digest(&answer), now, now + LIFETIME).await?;
        tx.insert_captcha(&digest(&pow), &digest(POW_MARKER), now, now + LIFETIME).await?;
        tx.commit().await?;
        Ok(Challenge { id, image: format!("data:image/png;base64,{}", STANDARD.encode(png)), pow, pow_bits: POW_BITS })
    }

    /// Uses the challenge up (right or wrong) and says whether it was passed: the image read
    /// right, or the proof of work done.
    pub async fn check_captcha(&self, answer: &Answer) -> Result<bool, WebError> {
        let (key, expected) = if answer.pow_nonce.trim().is_empty() {
            if answer.captcha_id.is_empty() || answer.captcha.trim().is_empty() {
                return Ok(false);
            }
            (digest(&answer.captcha_id), answer_digest(&answer.captcha))
        } else {
            if !pow_solved(&answer.pow_challenge, answer.pow_nonce.trim()) {
                return Ok(false);
            }
            (digest(&answer.pow_challenge), digest(POW_MARKER))
        };
        let mut tx = self.auth.store().begin().await?;
        let stored = tx.take_captcha(&key, self.auth.now()).await?;
        tx.commit().await?;
        Ok(stored.is_some_and(|s| {
            s.len() == expected.len() && s.iter().zip(&expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_of_work_is_checked_by_its_leading_zero_bits() {
        let challenge = "abc";
        let nonce = (0u64..).find(|n| pow_solved(challenge, &n.to_string())).expect("a nonce exists");
        assert!(pow_solved(challenge, &nonce.to_string()));
        assert!(!pow_solved(challenge, "not-a-number"));
        assert_eq!(leading_zero_bits(&[0, 0x0f]), 12);
    }

    #[test]
    fn challenges_use_only_unambiguous_characters() {
        let (answer, png) = draw().expect("drawn");
        assert_eq!(answer.chars().count(), 6);
        assert!(answer.chars().all(|c| ALPHABET.contains(&c)), "{answer}");
        assert!(png.starts_with(b"\x89PNG"));
    }
}
