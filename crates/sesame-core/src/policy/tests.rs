use super::*;
use crate::model::{AccountId, AccountStatus};
use crate::types::{Email, Identifier, PersonName};
use time::macros::datetime;

fn account() -> Account {
    Account {
        id: AccountId(1),
        identifier: Identifier::parse("jdupont").expect("valid"),
        email: Email::parse("jeanne.martin@clinique-du-parc.fr").expect("valid"),
        first_name: PersonName::parse("Jeanne", "first name").expect("valid"),
        last_name: PersonName::parse("Dupont", "last name").expect("valid"),
        national_id: None,
        status: AccountStatus::Active,
        created_at: datetime!(2026-01-01 00:00 UTC),
        updated_at: datetime!(2026-01-01 00:00 UTC),
    }
}

fn context() -> PolicyContext {
    let branding =
        Branding {
            portal_name: "Norm'uni".into(), organisation_name: "Normand'e-santé".into(), ..Branding::default()
        };
    PolicyContext::new(&account(), &branding)
}

fn policy(preset: Preset) -> PasswordPolicy {
    PasswordPolicy::new(&PolicySettings { preset })
}

fn refused(preset: Preset, password: &str) -> Vec<Rule> {
    policy(preset)
        .check(&Password::parse(password).expect("valid input"), &context())
        .into_iter()
        .map(|v| v.rule)
        .collect()
}

#[test]
fn recommandee_accepts_a_long_passphrase_without_composition_rules() {
    assert_eq!(refused(Preset::Recommandee, "la mer du nord est froide en hiver"), []);
    assert_eq!(refused(Preset::Recommandee, "chevalcorrectagrafepile"), []);
}

#[test]
fn recommandee_refuses_short_common_and_personal_passwords_each_with_its_rule() {
    assert_eq!(refused(Preset::Recommandee, "x7#kq9!vzm2@w"), [Rule::MinLength]);
    assert_eq!(refused(Preset::Recommandee, "motdepassemotdepasse"), [Rule::NotCommon]);
    assert_eq!(refused(Preset::Recommandee, "Mot de passe 2024 !!!"), [Rule::NotCommon]);
    assert_eq!(refused(Preset::Recommandee, "azertyuiopqsdfghj"), [Rule::NotCommon]);
    assert_eq!(refused(Preset::Recommandee, "jeanne aime les montagnes"), [Rule::NotPersonal]);
    assert_eq!(refused(Preset::Recommandee, "mon jdupont des vacances"), [Rule::NotPersonal]);
    assert_eq!(refused(Preset::Recommandee, "portail normuni securise"), [Rule::NotPersonal]);
    assert_eq!(refused(Preset::Recommandee, "les vacances de martin 2026"), [Rule::NotPersonal], "e-mail local part");
    assert_eq!(refused(Preset::Recommandee, "cliniqueduparc 2026 ok"), [], "the e-mail domain is not personal");
    assert_eq!(refused(Preset::Recommandee, "Normand'e-santé forever"), [Rule::NotPersonal]);
}

#[test]
fn every_refusal_is_a_french_sentence_naming_the_rule() {
    let violations = policy(Preset::Recommandee).check(&Password::parse("soleil").expect("valid"), &context());
    let messages: Vec<&str> = violations.iter().map(|v| v.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "Le mot de passe doit contenir au moins 15 caractères (il en contient 6).",
            "Ce mot de passe est trop courant ou trop facile à deviner : choisissez-en un autre, par exemple une phrase de plusieurs mots.",
        ]
    );
}

#[test]
fn cnil_case_1_accepts_the_cnil_examples_and_refuses_less_than_80_bits() {
    assert_eq!(refused(Preset::Cnil2022Cas1, "K7#mQ2$vL9@p"), [], "12 characters of the four kinds");
    assert_eq!(refused(Preset::Cnil2022Cas1, "K7mQ2vL9pX4nR8"), [], "14 letters and digits");
    assert_eq!(refused(Preset::Cnil2022Cas1, "K7#mQ2$vL9@"), [Rule::MinEntropy], "11 characters: 72 bits");
    assert_eq!(refused(Preset::Cnil2022Cas1, "kqvzmwlpxrtbnhg"), [Rule::MinEntropy], "15 lower-case letters: 70 bits");
    let message =
        &policy(Preset::Cnil2022Cas1).check(&Password::parse("K7#mQ2$vL9@").expect("valid"), &context())[0].message;
    assert_eq!(
        message,
        "Le mot de passe est trop simple : 73 bits de complexité pour 80 exigés. Allongez-le ou variez les caractères."
    );
}

#[test]
fn cnil_case_2_needs_50_bits() {
    assert_eq!(refused(Preset::Cnil2022Cas2, "K7#mQ2$v"), [], "8 characters of the four kinds: 53 bits");
    assert_eq!(refused(Preset::Cnil2022Cas2, "kqvzmwl"), [Rule::MinEntropy]);
}

#[test]
fn classique_requires_each_kind_of_character() {
    assert_eq!(refused(Preset::Classique, "Kq9!vzm2wlpX"), []);
    assert_eq!(refused(Preset::Classique, "Kq9!vzm2wlp"), [Rule::MinLength]);
    assert_eq!(refused(Preset::Classique, "KQ9!VZM2WLPX"), [Rule::Lowercase]);
    assert_eq!(refused(Preset::Classique, "kq9!vzm2wlpx"), [Rule::Uppercase]);
    assert_eq!(refused(Preset::Classique, "Kqx!vzmywlpX"), [Rule::Digit]);
    assert_eq!(refused(Preset::Classique, "Kq9xvzm2wlpX"), [Rule::Special]);
    assert_eq!(refused(Preset::Classique, "Kq9 vzm2wlpX"), [], "a space is a special character");
    assert_eq!(refused(Preset::Classique, "Kq9évzm2wlpX"), [], "an accent is a special character");
    assert_eq!(policy(Preset::Classique).history(), 5);
}

#[test]
fn the_checklist_names_every_rule_of_the_preset() {
    let codes = |p| policy(p).requirements().into_iter().map(|r| r.rule.code()).collect::<Vec<_>>();
    assert_eq!(codes(Preset::Recommandee), ["min_length", "max_length", "not_common", "not_personal", "not_current"]);
    assert_eq!(codes(Preset::Cnil2022Cas1), ["min_entropy", "max_length", "not_common", "not_personal", "not_current"]);
    assert_eq!(
        codes(Preset::Classique),
        [
            "min_length",
            "lowercase",
            "uppercase",
            "digit",
            "special",
            "max_length",
            "not_common",
            "not_personal",
            "not_current",
            "not_recent"
        ]
    );
    assert_eq!(policy(Preset::Recommandee).requirements()[0].label, "Au moins 15 caractères");
}

#[test]
fn presets_are_named_as_in_the_configuration() {
    #[derive(serde::Deserialize)]
    struct Wrapper {
        preset: Preset,
    }
    for (name, preset) in [
        ("recommandee", Preset::Recommandee),
        ("cnil-2022-cas1", Preset::Cnil2022Cas1),
        ("cnil-2022-cas2", Preset::Cnil2022Cas2),
        ("classique", Preset::Classique),
    ] {
        let parsed: Wrapper = serde_json::from_str(&format!("{{\"preset\":\"{name}\"}}")).expect("parses");
        assert_eq!(parsed.preset, preset);
    }
}
