//! What every e-mail says, word for word: a change of wording shows up as a snapshot diff to
//! review (`cargo insta review`, or `INSTA_UPDATE=always` then `git diff`).

#![expect(clippy::unwrap_used, reason = "tests")]

use sesame_core::branding::Branding;
use sesame_core::mail::{FactorChange, IssueReason, MailMessage};
use sesame_mail::catalogue::Catalogue;
use time::macros::datetime;

fn catalogue() -> Catalogue {
    let branding = Branding {
        organisation_name: "Normand'e-santé".into(),
        portal_name: "Norm'uni".into(),
        support_email: Some("support@normand-esante.fr".into()),
        support_phone: Some("02 50 53 70 01".into()),
    };
    Catalogue::new(branding, "https://sesame.normand-esante.fr/")
}

fn jeanne() -> (String, String) {
    ("Jeanne".into(), "Dupont".into())
}

/// Subject, text and HTML, as one reviewable document.
fn rendered(catalogue: &Catalogue, message: &MailMessage) -> String {
    let mail = catalogue.render(message).unwrap();
    format!("Subject: {}\n\n----- text/plain -----\n{}\n----- text/html -----\n{}", mail.subject, mail.text, mail.html)
}

fn snapshot(name: &str, message: &MailMessage) {
    insta::assert_snapshot!(name, rendered(&catalogue(), message));
}

#[test]
fn identifier_issued() {
    let (first_name, last_name) = jeanne();
    for (name, reason) in [
        ("identifier_issued_created", IssueReason::AccountCreated),
        ("identifier_issued_reset", IssueReason::PasswordReset),
    ] {
        let message = MailMessage::IdentifierIssued {
            first_name: first_name.clone(),
            last_name: last_name.clone(),
            identifier: "jdupont".into(),
            reason,
        };
        snapshot(name, &message);
    }
}

fn temporary_password(reason: IssueReason) -> MailMessage {
    let (first_name, last_name) = jeanne();
    MailMessage::TemporaryPassword {
        first_name,
        last_name,
        temporary_password: "Kq7-mPz4-Wx2r".into(),
        valid_until: datetime!(2026-12-01 09:00 UTC),
        valid_days: 7,
        reason,
    }
}

#[test]
fn temporary_password_without_applications() {
    snapshot("temporary_password_created", &temporary_password(IssueReason::AccountCreated));
    snapshot("temporary_password_reset", &temporary_password(IssueReason::PasswordReset));
}

#[test]
fn temporary_password_naming_the_desktop_applications() {
    let catalogue = catalogue().with_applications(vec!["Therap-e autonome".into()]);
    let text = rendered(&catalogue, &temporary_password(IssueReason::AccountCreated));
    insta::assert_snapshot!("temporary_password_with_application", text);
}

#[test]
fn reset_link() {
    let (first_name, last_name) = jeanne();
    let link =
        "https://sesame.normand-esante.fr/mot-de-passe-oublie/lien?jeton=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            .into();
    snapshot("reset_link", &MailMessage::ResetLink { first_name, last_name, link, valid_minutes: 60 });
}

#[test]
fn password_changed() {
    let (first_name, last_name) = jeanne();
    snapshot(
        "password_changed",
        &MailMessage::PasswordChanged { first_name, last_name, changed_at: datetime!(2026-11-24 14:05 UTC) },
    );
}

#[test]
fn login_after_failures() {
    let (first_name, last_name) = jeanne();
    let at = datetime!(2026-07-14 08:30 UTC);
    let with_ip = MailMessage::LoginAfterFailures {
        first_name: first_name.clone(),
        last_name: last_name.clone(),
        failures: 4,
        at,
        ip: Some("192.0.2.10".into()),
    };
    snapshot("login_after_failures", &with_ip);
    snapshot(
        "login_after_failures_no_address",
        &MailMessage::LoginAfterFailures { first_name, last_name, failures: 4, at, ip: None },
    );
}

#[test]
fn certificate_bound_and_unbound() {
    for (name, bound) in [("certificate_bound", true), ("certificate_unbound", false)] {
        let (first_name, last_name) = jeanne();
        let message = MailMessage::CertificateBound {
            first_name,
            last_name,
            subject: "CN=Jeanne Dupont, O=Cabinet Dupont".into(),
            fingerprint: "3f:a9:00:12".into(),
            bound,
        };
        snapshot(name, &message);
    }
}

#[test]
fn second_factor_changes() {
    let kind = "application d'authentification".to_owned();
    for (name, change, ip) in [
        ("second_factor_added", FactorChange::Added { kind: kind.clone(), name: "Téléphone".into() }, None),
        ("security_key_added", FactorChange::Added { kind: "clé de sécurité".into(), name: "Clé bleue".into() }, None),
        (
            "second_factor_removed",
            FactorChange::Removed { kind: kind.clone(), name: "Téléphone".into(), by_support: false },
            None,
        ),
        (
            "second_factor_removed_by_support",
            FactorChange::Removed { kind, name: "Téléphone".into(), by_support: true },
            None,
        ),
        ("recovery_code_used", FactorChange::RecoveryCodeUsed { remaining: 9 }, Some("192.0.2.10".to_owned())),
        ("recovery_code_used_last_ones", FactorChange::RecoveryCodeUsed { remaining: 1 }, None),
        ("recovery_codes_renewed", FactorChange::RecoveryCodesRenewed, None),
        (
            "key_possibly_cloned",
            FactorChange::KeyPossiblyCloned { name: "Clé bleue".to_owned() },
            Some("192.0.2.10".to_owned()),
        ),
    ] {
        let (first_name, last_name) = jeanne();
        let message =
            MailMessage::SecondFactor { first_name, last_name, change, at: datetime!(2026-11-24 09:30 UTC), ip };
        snapshot(name, &message);
    }
}

#[test]
fn test_message() {
    snapshot("test", &MailMessage::Test);
}
