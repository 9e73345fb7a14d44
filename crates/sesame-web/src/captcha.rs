//! "Code à recopier" as the pages show it: the image, drawn here and embedded in the page
//! (`data:` URL), and the form's fields. The challenge's lifecycle (single use, 10 minutes,
//! digests, proof of work) is `sesame_core::captcha`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use captcha::filters::{Dots, Grid, Noise, Wave};
use serde::Serialize;
use sesame_core::Services;
use sesame_core::captcha::Response;

use crate::error::WebError;

/// Letters and digits that cannot be mistaken for one another (no 0/o, 1/l/i, 5/s, 2/z…).
const ALPHABET: &[char] = &[
    'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'k', 'm', 'n', 'p', 'r', 't', 'u', 'v', 'w', 'x', 'y', '3', '4', '6', '7',
    '8', '9',
];
const LENGTH: u32 = 6;

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

    fn response(&self) -> Response<'_> {
        if self.pow_nonce.trim().is_empty() {
            Response::Image { id: &self.captcha_id, text: &self.captcha }
        } else {
            Response::ProofOfWork { challenge: &self.pow_challenge, nonce: &self.pow_nonce }
        }
    }
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

/// A new challenge: the image drawn here, the digests stored by the use case.
pub async fn new_challenge(services: &Services) -> Result<Challenge, WebError> {
    let (answer, png) = tokio::task::spawn_blocking(draw)
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .ok_or_else(|| WebError::Internal("captcha image could not be drawn".into()))?;
    let issued = services.captcha.issue(&answer).await?;
    Ok(Challenge {
        id: issued.id,
        image: format!("data:image/png;base64,{}", STANDARD.encode(png)),
        pow: issued.pow,
        pow_bits: issued.pow_bits,
    })
}

/// Uses the challenge up (right or wrong) and says whether it was passed.
pub async fn passed(services: &Services, answer: &Answer) -> Result<bool, WebError> {
    Ok(services.captcha.check(answer.response()).await?)
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
