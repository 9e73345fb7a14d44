//! MIME assembly: multipart/alternative (text + HTML), UTF-8, headers that cannot be injected.

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use std::time::SystemTime;

use crate::catalogue::RenderedMail;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("invalid sender address '{0}': {1}")]
    From(String, String),
    #[error("invalid recipient address: {0}")]
    To(String),
    #[error("cannot assemble the message: {0}")]
    Build(String),
}

/// Builds the message. Display names are reduced to one line: a name holding CR/LF can never
/// add a header (lettre also encodes non-ASCII names).
pub fn build(
    from: &str,
    to: &str,
    to_name: &str,
    mail: &RenderedMail,
    date: SystemTime,
) -> Result<Message, BuildError> {
    let from: Mailbox =
        from.parse().map_err(|e: lettre::address::AddressError| BuildError::From(from.into(), e.to_string()))?;
    let address = to.parse().map_err(|e: lettre::address::AddressError| BuildError::To(e.to_string()))?;
    let name: String = to_name.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let subject: String = mail.subject.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    Message::builder()
        .from(from)
        .to(Mailbox::new(Some(name.trim().to_owned()).filter(|n| !n.is_empty()), address))
        .subject(subject)
        .date(date)
        .multipart(MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone()))
        .map_err(|e| BuildError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered() -> RenderedMail {
        RenderedMail {
            subject: "Sujet\r\nBcc: evil@example.org".into(),
            text: "Bonjour".into(),
            html: "<p>Bonjour</p>".into(),
        }
    }

    #[test]
    fn names_and_subjects_cannot_inject_headers() {
        let message = build(
            "Portail <noreply@example.fr>",
            "jeanne@example.fr",
            "Jeanne\r\nBcc: evil@example.org",
            &rendered(),
            SystemTime::UNIX_EPOCH,
        )
        .expect("builds");
        let raw = String::from_utf8(message.formatted()).expect("utf-8");
        assert!(!raw.lines().any(|l| l.to_ascii_lowercase().starts_with("bcc:")), "{raw}");
        assert!(raw.contains("multipart/alternative"));
    }

    #[test]
    fn bad_addresses_are_reported() {
        assert!(matches!(
            build("not an address", "a@b.fr", "", &rendered(), SystemTime::UNIX_EPOCH),
            Err(BuildError::From(..))
        ));
        assert!(matches!(build("a@b.fr", "nope", "", &rendered(), SystemTime::UNIX_EPOCH), Err(BuildError::To(_))));
    }
}
