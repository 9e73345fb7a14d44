//! What each e-mail says: a subject, a text and an HTML body per kind, on one shared base
//! layout, French first. Templates are compiled into the binary; `.html` ones are auto-escaped.

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use sesame_core::branding::Branding;
use sesame_core::mail::MailMessage;

use crate::french_time::format_paris;

/// A message ready to be wrapped in MIME.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot render the '{kind}' e-mail: {source}")]
pub struct RenderError {
    kind: &'static str,
    source: minijinja::Error,
}

macro_rules! templates {
    ($($kind:literal),*) => {
        &[
            ("base.txt", include_str!("../templates/base.txt")),
            ("base.html", include_str!("../templates/base.html")),
            $(
                (concat!($kind, "/subject.txt"), include_str!(concat!("../templates/", $kind, "/subject.txt"))),
                (concat!($kind, "/body.txt"), include_str!(concat!("../templates/", $kind, "/body.txt"))),
                (concat!($kind, "/body.html"), include_str!(concat!("../templates/", $kind, "/body.html"))),
            )*
        ]
    };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "identifier_issued",
    "temporary_password",
    "reset_link",
    "password_changed",
    "login_after_failures",
    "certificate_bound",
    "second_factor",
    "test"
);

/// The compiled templates plus what every message shows: the branding and the public URL.
#[derive(Debug)]
pub struct Catalogue {
    env: Environment<'static>,
    branding: Branding,
    public_url: String,
    /// The desktop applications the temporary password also opens (`[[downloads]]` names).
    applications: Vec<String>,
}

#[derive(Serialize)]
struct Context<'a> {
    branding: &'a Branding,
    public_url: &'a str,
    applications: &'a [String],
    #[serde(flatten)]
    message: serde_json::Value,
}

impl Catalogue {
    pub fn new(branding: Branding, public_url: &str) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, source) in TEMPLATES {
            #[expect(clippy::expect_used, reason = "templates are compiled in and tested")]
            env.add_template(name, source).expect("built-in template parses");
        }
        Self { env, branding, public_url: public_url.trim_end_matches('/').to_owned(), applications: Vec::new() }
    }

    /// Names the desktop applications the portal offers to install: the temporary-password
    /// e-mail then says that the password also opens them, and links to the download page.
    #[must_use]
    pub fn with_applications(mut self, names: Vec<String>) -> Self {
        self.applications = names;
        self
    }

    pub fn render(&self, message: &MailMessage) -> Result<RenderedMail, RenderError> {
        let kind = message.kind();
        let err = |source| RenderError { kind, source };
        let mut fields = serde_json::to_value(message).unwrap_or_default();
        let when = match message {
            MailMessage::TemporaryPassword { valid_until, .. } => Some(("valid_until", valid_until)),
            MailMessage::PasswordChanged { changed_at, .. } => Some(("changed_at", changed_at)),
            MailMessage::LoginAfterFailures { at, .. } | MailMessage::SecondFactor { at, .. } => Some(("at", at)),
            _ => None,
        };
        if let (Some((field, t)), Some(map)) = (when, fields.as_object_mut()) {
            map.insert(field.into(), format_paris(*t).into());
        }
        let ctx = Context {
            branding: &self.branding,
            public_url: &self.public_url,
            applications: &self.applications,
            message: fields,
        };
        let render = |part: &str| {
            self.env.get_template(&format!("{kind}/{part}")).and_then(|t| t.render(minijinja::value::Serde(&ctx)))
        };
        Ok(RenderedMail {
            subject: render("subject.txt").map_err(err)?.trim().to_owned(),
            text: render("body.txt").map_err(err)?,
            html: render("body.html").map_err(err)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesame_core::mail::IssueReason;
    use time::macros::datetime;

    fn guide_branding() -> Branding {
        Branding {
            organisation_name: "Normand'e-santé".into(),
            portal_name: "Norm'uni".into(),
            support_email: Some("support@normand-esante.fr".into()),
            support_phone: Some("02 50 53 70 01".into()),
        }
    }

    #[test]
    fn the_temporary_password_mail_follows_the_guide() {
        let catalogue = Catalogue::new(guide_branding(), "https://www.norm-uni.fr/");
        let mail = catalogue
            .render(&MailMessage::TemporaryPassword {
                first_name: "Jeanne".into(),
                last_name: "Dupont".into(),
                temporary_password: "Ab3dEf6hJk8mNp2qRs4t".into(),
                valid_until: datetime!(2026-12-01 10:00 UTC),
                valid_days: 7,
                reason: IssueReason::PasswordReset,
            })
            .expect("renders");
        assert_eq!(mail.subject, "Norm'uni : votre mot de passe provisoire");
        assert!(mail.text.contains("Votre code de connexion sur Norm'uni a été réinitialisé. Pour votre première connexion, utilisez le mot de passe provisoire suivant :"));
        assert!(mail.text.contains("    Ab3dEf6hJk8mNp2qRs4t\n"));
        assert!(mail.text.contains("valable 7 jours, jusqu'au mardi 1er décembre 2026 à 11 h 00 (heure de Paris)"));
        assert!(mail.text.contains("« Mon compte » => « Changer mon mot de passe »"));
        assert!(
            mail.text
                .contains("Cordialement,\nNormand'e-santé\nMail : support@normand-esante.fr\nTél : 02 50 53 70 01")
        );
        assert!(mail.html.contains("Ab3dEf6hJk8mNp2qRs4t"));
        assert!(mail.html.contains("lang=\"fr\""));
    }

    #[test]
    fn the_identifier_mail_says_the_password_comes_separately() {
        let catalogue = Catalogue::new(Branding::default(), "http://localhost:8080");
        let mail = catalogue
            .render(&MailMessage::IdentifierIssued {
                first_name: "Jeanne".into(),
                last_name: "Dupont".into(),
                identifier: "jdupont".into(),
                reason: IssueReason::AccountCreated,
            })
            .expect("renders");
        assert_eq!(mail.subject, "Portail e-santé : votre identifiant de connexion");
        assert!(mail.text.contains("Votre compte sur Portail e-santé a été créé."));
        assert!(mail.text.contains("Votre identifiant de connexion est : jdupont"));
        assert!(mail.text.contains("second e-mail, séparé"));
        assert!(!mail.text.contains("Mail :"), "no support line without a configured address");
    }

    #[test]
    fn the_reset_mail_follows_the_guide_and_links_to_valider() {
        let catalogue = Catalogue::new(guide_branding(), "https://www.norm-uni.fr");
        let link = "https://www.norm-uni.fr/mot-de-passe-oublie/lien?jeton=abc";
        let mail = catalogue
            .render(&MailMessage::ResetLink {
                first_name: "Jeanne".into(),
                last_name: "Dupont".into(),
                link: link.into(),
                valid_minutes: 60,
            })
            .expect("renders");
        assert_eq!(mail.subject, "Norm'uni : demande de changement de mot de passe");
        assert!(mail.text.contains("Une demande de changement de mot de passe sur votre compte a été demandée. Afin de prendre en compte cette demande, veuillez cliquer sur l'url suivante :"));
        assert!(mail.text.contains(&format!("Valider : {link}")));
        assert!(mail.html.contains(">Valider</a>") && mail.html.contains("jeton=abc"));
        assert!(mail.text.contains("valable 60 minutes"));
    }

    #[test]
    fn the_password_changed_mail_follows_the_guide() {
        let catalogue = Catalogue::new(guide_branding(), "https://www.norm-uni.fr");
        let mail = catalogue
            .render(&MailMessage::PasswordChanged {
                first_name: "Jeanne".into(),
                last_name: "Dupont".into(),
                changed_at: datetime!(2026-12-01 10:00 UTC),
            })
            .expect("renders");
        assert_eq!(mail.subject, "Norm'uni : votre mot de passe a été changé");
        assert!(mail.text.contains("Votre changement de mot de passe a bien été pris en compte"));
        assert!(mail.text.contains(
            "Si vous n'avez pas effectué ce changement, merci de contacter le support technique de Normand'e-santé au 02 50 53 70 01"
        ));
    }

    #[test]
    fn every_kind_of_message_renders() {
        let at = datetime!(2026-12-01 10:00 UTC);
        let (first_name, last_name) = ("Jeanne".to_owned(), "Dupont".to_owned());
        let all = [
            MailMessage::IdentifierIssued {
                first_name: first_name.clone(),
                last_name: last_name.clone(),
                identifier: "j".into(),
                reason: IssueReason::AccountCreated,
            },
            MailMessage::TemporaryPassword {
                first_name: first_name.clone(),
                last_name: last_name.clone(),
                temporary_password: "x".into(),
                valid_until: at,
                valid_days: 7,
                reason: IssueReason::PasswordReset,
            },
            MailMessage::ResetLink {
                first_name: first_name.clone(),
                last_name: last_name.clone(),
                link: "http://x/l".into(),
                valid_minutes: 60,
            },
            MailMessage::PasswordChanged {
                first_name: first_name.clone(),
                last_name: last_name.clone(),
                changed_at: at,
            },
            MailMessage::LoginAfterFailures {
                first_name: first_name.clone(),
                last_name: last_name.clone(),
                failures: 3,
                at,
                ip: None,
            },
            MailMessage::CertificateBound {
                first_name,
                last_name,
                subject: "CN=x".into(),
                fingerprint: "ab".into(),
                bound: true,
            },
            MailMessage::Test,
        ];
        let catalogue = Catalogue::new(guide_branding(), "https://www.norm-uni.fr");
        for message in &all {
            let mail = catalogue.render(message).unwrap_or_else(|e| panic!("{}: {e}", message.kind()));
            assert!(
                !mail.subject.is_empty() && mail.text.contains("Cordialement") && mail.html.contains("</html>"),
                "{}",
                message.kind()
            );
        }
    }

    #[test]
    fn html_bodies_escape_what_people_typed() {
        let catalogue =
            Catalogue::new(Branding { portal_name: "<b>Portail</b>".into(), ..Branding::default() }, "http://x");
        let mail = catalogue
            .render(&MailMessage::IdentifierIssued {
                first_name: "<script>alert(1)</script>".into(),
                last_name: "O'Hara & Fils".into(),
                identifier: "jdupont".into(),
                reason: IssueReason::AccountCreated,
            })
            .expect("renders");
        assert!(!mail.html.contains("<script>"));
        assert!(mail.html.contains("&lt;script&gt;"));
        assert!(mail.html.contains("O&#x27;Hara &amp; Fils"));
        assert!(!mail.html.contains("<b>Portail</b>"));
        assert!(mail.text.contains("<script>alert(1)</script>"), "plain text is not HTML-escaped");
    }

    fn temporary(reason: IssueReason) -> MailMessage {
        MailMessage::TemporaryPassword {
            first_name: "Jeanne".into(),
            last_name: "Dupont".into(),
            temporary_password: "Ab3dEf6hJk8mNp2qRs4t".into(),
            valid_until: datetime!(2026-12-01 10:00 UTC),
            valid_days: 7,
            reason,
        }
    }

    #[test]
    fn with_downloads_the_temporary_password_mail_says_it_opens_the_application_and_links_to_them() {
        let catalogue = Catalogue::new(guide_branding(), "https://www.norm-uni.fr")
            .with_applications(vec!["Therap-e autonome".into()]);
        let mail = catalogue.render(&temporary(IssueReason::PasswordReset)).expect("renders");
        assert!(mail.text.contains("Il permet également de se connecter à Therap-e autonome."), "{}", mail.text);
        assert!(mail.text.contains("les liens de téléchargement sont sur https://www.norm-uni.fr/installer"));
        assert!(mail.text.contains("votre service informatique"));
        assert!(mail.html.replace("&#x2f;", "/").contains("href=\"https://www.norm-uni.fr/installer\""));
        // Without downloads, neither.
        let plain =
            Catalogue::new(guide_branding(), "https://www.norm-uni.fr").render(&temporary(IssueReason::PasswordReset));
        let plain = plain.expect("renders");
        assert!(!plain.text.contains("/installer") && !plain.text.contains("permet également"));
        assert!(!plain.html.contains("/installer"));
    }

    #[test]
    fn every_mail_points_to_the_help_page() {
        let catalogue = Catalogue::new(guide_branding(), "https://www.norm-uni.fr");
        for message in [temporary(IssueReason::AccountCreated), MailMessage::Test] {
            let mail = catalogue.render(&message).expect("renders");
            assert!(
                mail.text.contains("Pour vous aider, consultez l'aide : https://www.norm-uni.fr/aide"),
                "{}",
                mail.text
            );
            let html = mail.html.replace("&#x2f;", "/");
            assert!(html.contains("<a href=\"https://www.norm-uni.fr/aide\">l'aide</a>"), "{html}");
        }
    }
}
