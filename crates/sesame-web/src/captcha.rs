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

/// A challenge as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Challenge {
    pub id: String,
    /// `data:image/png;base64,…`
    pub image: String,
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
        let now = self.auth.now();
        let mut tx = self.auth.store().begin().await?;
        tx.insert_captcha(&digest(&id), &answer_digest(&answer), now, now + LIFETIME).await?;
        tx.commit().await?;
        Ok(Challenge { id, image: format!("data:image/png;base64,{}", STANDARD.encode(png)) })
    }

    /// Uses the challenge up (right or wrong) and says whether the answer was right.
    pub async fn check_captcha(&self, id: &str, answer: &str) -> Result<bool, WebError> {
        if id.is_empty() || answer.trim().is_empty() {
            return Ok(false);
        }
        let mut tx = self.auth.store().begin().await?;
        let stored = tx.take_captcha(&digest(id), self.auth.now()).await?;
        tx.commit().await?;
        let given = answer_digest(answer);
        Ok(stored.is_some_and(|s| {
            s.len() == given.len() && s.iter().zip(&given).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_use_only_unambiguous_characters() {
        let (answer, png) = draw().expect("drawn");
        assert_eq!(answer.chars().count(), 6);
        assert!(answer.chars().all(|c| ALPHABET.contains(&c)), "{answer}");
        assert!(png.starts_with(b"\x89PNG"));
    }
}
