//! The password policy: named presets of rules, shown as a checklist on every form and enforced
//! on every path (first connection, change, reset, API). Each refusal names its rule in French.
//!
//! The rules here are pure. Reuse rules (not the current, temporary or recent passwords) need the
//! stored hashes: the use cases check them with the hasher and report them with the same
//! [`Rule`] codes.

mod blocklist;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization as _;

use crate::branding::Branding;
use crate::model::Account;
use crate::types::{MAX_PASSWORD_CHARS, Password};

/// `[policy] preset = …`
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
pub enum Preset {
    /// At least 15 characters, no composition rule, no common or personal password.
    #[default]
    #[serde(rename = "recommandee")]
    Recommandee,
    /// CNIL 2022-100, case 1 (password alone): at least 80 bits of entropy.
    #[serde(rename = "cnil-2022-cas1")]
    Cnil2022Cas1,
    /// CNIL 2022-100, case 2 (with attempt limits): at least 50 bits; needs login throttling.
    #[serde(rename = "cnil-2022-cas2")]
    Cnil2022Cas2,
    /// At least 12 characters with lower case, upper case, digit and special; not one of the
    /// last 5 passwords.
    #[serde(rename = "classique")]
    Classique,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySettings {
    pub preset: Preset,
}

/// A rule, with a stable code (`min_length`, `not_common`…) for the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    MinLength,
    MaxLength,
    Lowercase,
    Uppercase,
    Digit,
    Special,
    MinEntropy,
    NotCommon,
    NotPersonal,
    NotCurrent,
    NotRecent,
    /// The two entries of the new password differ.
    Confirmation,
}

impl Rule {
    pub fn code(self) -> &'static str {
        match self {
            Self::MinLength => "min_length",
            Self::MaxLength => "max_length",
            Self::Lowercase => "lowercase",
            Self::Uppercase => "uppercase",
            Self::Digit => "digit",
            Self::Special => "special",
            Self::MinEntropy => "min_entropy",
            Self::NotCommon => "not_common",
            Self::NotPersonal => "not_personal",
            Self::NotCurrent => "not_current",
            Self::NotRecent => "not_recent",
            Self::Confirmation => "confirmation",
        }
    }
}

/// One line of the checklist shown next to a new-password field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requirement {
    pub rule: Rule,
    pub label: String,
}

/// A refused rule and the French sentence that says why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub rule: Rule,
    pub message: String,
}

/// The words a password must not contain: the account's identifier, names and e-mail, and the
/// portal's and organisation's names.
#[derive(Debug, Clone, Default)]
pub struct PolicyContext {
    words: Vec<String>,
}

impl PolicyContext {
    pub fn new(account: &Account, branding: &Branding) -> Self {
        let mut words = Vec::new();
        let local = account.email.as_str().split('@').next().unwrap_or("");
        for text in [account.identifier.as_str(), account.first_name.as_str(), account.last_name.as_str(), local] {
            words.push(compact(text));
            words.extend(text.split(|c: char| !c.is_alphanumeric()).map(compact));
        }
        words.push(compact(&branding.portal_name));
        words.push(compact(&branding.organisation_name));
        words.retain(|w| w.chars().count() >= 4);
        words.sort();
        words.dedup();
        Self { words }
    }
}

/// Lower case, accents removed, letters and digits only.
fn compact(text: &str) -> String {
    fold(text).chars().filter(|c| c.is_alphanumeric()).collect()
}

/// Lower case, accents removed, spaces removed; other characters kept.
fn fold(text: &str) -> String {
    text.nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c) && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The effective rules of a preset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    preset: Preset,
    min_length: usize,
    min_entropy_bits: Option<u32>,
    composition: bool,
    history: u32,
}

/// Symbols CNIL's calculator counts per character class (its 99-symbol alphabet).
const LOWER: f64 = 26.0;
const UPPER: f64 = 26.0;
const DIGITS: f64 = 10.0;
const SPECIALS: f64 = 37.0;

impl PasswordPolicy {
    pub fn new(settings: &PolicySettings) -> Self {
        match settings.preset {
            Preset::Recommandee => Self {
                preset: Preset::Recommandee,
                min_length: 15,
                min_entropy_bits: None,
                composition: false,
                history: 0,
            },
            Preset::Cnil2022Cas1 => Self {
                preset: Preset::Cnil2022Cas1,
                min_length: 1,
                min_entropy_bits: Some(80),
                composition: false,
                history: 0,
            },
            Preset::Cnil2022Cas2 => Self {
                preset: Preset::Cnil2022Cas2,
                min_length: 1,
                min_entropy_bits: Some(50),
                composition: false,
                history: 0,
            },
            Preset::Classique => Self {
                preset: Preset::Classique,
                min_length: 12,
                min_entropy_bits: None,
                composition: true,
                history: 5,
            },
        }
    }

    pub fn preset(&self) -> Preset {
        self.preset
    }

    /// How many earlier passwords a new one must differ from (besides the current one).
    pub fn history(&self) -> u32 {
        self.history
    }

    /// The checklist, in the order it is shown.
    pub fn requirements(&self) -> Vec<Requirement> {
        let mut out = Vec::new();
        let mut push = |rule, label: String| out.push(Requirement { rule, label });
        if self.min_length > 1 {
            push(Rule::MinLength, format!("Au moins {} caractères", self.min_length));
        }
        if self.composition {
            push(Rule::Lowercase, "Au moins une lettre minuscule".into());
            push(Rule::Uppercase, "Au moins une lettre majuscule".into());
            push(Rule::Digit, "Au moins un chiffre".into());
            push(
                Rule::Special,
                "Au moins un caractère spécial (ponctuation, symbole, espace ou lettre accentuée)".into(),
            );
        }
        if let Some(bits) = self.min_entropy_bits {
            push(
                Rule::MinEntropy,
                format!(
                    "Une complexité d'au moins {bits} bits au sens de la CNIL : longueur et variété des caractères (minuscules, majuscules, chiffres, caractères spéciaux)"
                ),
            );
        }
        push(Rule::MaxLength, format!("Au plus {MAX_PASSWORD_CHARS} caractères ; espaces et accents sont permis"));
        push(
            Rule::NotCommon,
            "Pas un mot de passe courant, un mot du dictionnaire ni une suite évidente (azerty, 123456…)".into(),
        );
        push(
            Rule::NotPersonal,
            "Ne contient ni votre identifiant, ni votre nom ou prénom, ni votre adresse e-mail, ni le nom du portail"
                .into(),
        );
        push(Rule::NotCurrent, "Différent de votre mot de passe actuel ou provisoire".into());
        if self.history > 0 {
            push(Rule::NotRecent, format!("Différent de vos {} derniers mots de passe", self.history));
        }
        out
    }

    /// Checks the rules that need no stored hash. Empty: accepted (reuse rules aside).
    pub fn check(&self, password: &Password, context: &PolicyContext) -> Vec<Violation> {
        let text = password.expose();
        let length = password.char_count();
        let mut out = Vec::new();
        let mut refuse = |rule, message: String| out.push(Violation { rule, message });
        if length < self.min_length {
            refuse(
                Rule::MinLength,
                format!(
                    "Le mot de passe doit contenir au moins {} caractères (il en contient {length}).",
                    self.min_length
                ),
            );
        }
        if length > MAX_PASSWORD_CHARS {
            refuse(Rule::MaxLength, format!("Le mot de passe ne doit pas dépasser {MAX_PASSWORD_CHARS} caractères."));
        }
        let classes = Classes::of(text);
        if self.composition {
            if !classes.lower {
                refuse(Rule::Lowercase, "Le mot de passe doit contenir au moins une lettre minuscule.".into());
            }
            if !classes.upper {
                refuse(Rule::Uppercase, "Le mot de passe doit contenir au moins une lettre majuscule.".into());
            }
            if !classes.digit {
                refuse(Rule::Digit, "Le mot de passe doit contenir au moins un chiffre.".into());
            }
            if !classes.special {
                refuse(Rule::Special, "Le mot de passe doit contenir au moins un caractère spécial.".into());
            }
        }
        if let Some(bits) = self.min_entropy_bits {
            let entropy = cnil_entropy_bits(text);
            if entropy.round() < f64::from(bits) {
                refuse(
                    Rule::MinEntropy,
                    format!(
                        "Le mot de passe est trop simple : {entropy:.0} bits de complexité pour {bits} exigés. Allongez-le ou variez les caractères."
                    ),
                );
            }
        }
        let folded = fold(text);
        if blocklist::is_common(&folded) {
            refuse(Rule::NotCommon, "Ce mot de passe est trop courant ou trop facile à deviner : choisissez-en un autre, par exemple une phrase de plusieurs mots.".into());
        }
        let letters = compact(text);
        if context.words.iter().any(|w| letters.contains(w.as_str())) {
            refuse(Rule::NotPersonal, "Le mot de passe ne doit contenir ni votre identifiant, ni votre nom ou prénom, ni votre adresse e-mail, ni le nom du portail.".into());
        }
        out
    }
}

/// The refusal of a password equal to the current (or temporary) one.
pub fn reused_current() -> Violation {
    Violation {
        rule: Rule::NotCurrent,
        message: "Le nouveau mot de passe doit être différent du mot de passe actuel ou provisoire.".into(),
    }
}

/// The refusal of a password among the recent ones.
pub fn reused_recent(history: u32) -> Violation {
    Violation {
        rule: Rule::NotRecent,
        message: format!("Le nouveau mot de passe doit être différent de vos {history} derniers mots de passe."),
    }
}

#[derive(Debug, Default)]
struct Classes {
    lower: bool,
    upper: bool,
    digit: bool,
    special: bool,
}

impl Classes {
    fn of(text: &str) -> Self {
        let mut c = Self::default();
        for ch in text.chars() {
            match ch {
                'a'..='z' => c.lower = true,
                'A'..='Z' => c.upper = true,
                '0'..='9' => c.digit = true,
                _ => c.special = true,
            }
        }
        c
    }
}

/// CNIL's calculator: length × log2(size of the alphabet implied by the classes used), with 26
/// lower-case letters, 26 upper-case, 10 digits and 37 special characters (accents and other
/// non-ASCII characters count as special).
pub fn cnil_entropy_bits(text: &str) -> f64 {
    let c = Classes::of(text);
    let alphabet: f64 = [(c.lower, LOWER), (c.upper, UPPER), (c.digit, DIGITS), (c.special, SPECIALS)]
        .iter()
        .filter(|(used, _)| *used)
        .map(|(_, n)| n)
        .sum();
    if alphabet == 0.0 {
        return 0.0;
    }
    #[expect(clippy::cast_precision_loss, reason = "password lengths are tiny")]
    let length = text.chars().count() as f64;
    length * alphabet.log2()
}

#[cfg(test)]
mod tests;
