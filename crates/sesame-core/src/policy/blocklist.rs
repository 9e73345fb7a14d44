//! Common and breached passwords, French words and names: what nobody should choose.
//! The lists are compiled in (see `data/README.md`) and loaded on first use.

use std::collections::HashSet;
use std::sync::OnceLock;

static LISTS: [&str; 3] = [
    include_str!("../../data/common-passwords.txt"),
    include_str!("../../data/french-words.txt"),
    include_str!("../../data/french-names.txt"),
];

fn set() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| LISTS.iter().flat_map(|l| l.lines()).filter(|w| !w.is_empty()).collect())
}

/// Keyboard rows, the alphabet and digits: runs along them are refused.
const SEQUENCES: [&str; 5] = [
    "azertyuiopqsdfghjklmwxcvbn",
    "qwertyuiopasdfghjklzxcvbnm",
    "abcdefghijklmnopqrstuvwxyz",
    "012345678901234567890123456789",
    "azertyuiop^$qsdfghjklmù*<wxcvbn,;:!",
];

/// Whether `folded` (lower-case, accents removed, no spaces) is a common password, a common
/// word or name with decorations (`Soleil2024!`, `m0td3p4ss3`), a repetition of one
/// (`azertyazerty`), a keyboard or alphabet run, or made of three characters or fewer.
pub fn is_common(folded: &str) -> bool {
    let set = set();
    if folded.is_empty() || set.contains(folded) {
        return true;
    }
    let core = folded.trim_matches(|c: char| !c.is_alphabetic());
    let unleet: String = folded.chars().map(unleet).collect();
    let unleet_core = unleet.trim_matches(|c: char| !c.is_alphabetic());
    if [core, unleet.as_str(), unleet_core].iter().any(|w| set.contains(w)) {
        return true;
    }
    if let Some(unit) = repeated_unit(folded)
        && (unit.chars().count() <= 4 || is_common(unit))
    {
        return true;
    }
    let distinct: HashSet<char> = folded.chars().collect();
    distinct.len() <= 3 || is_sequence(folded)
}

fn unleet(c: char) -> char {
    match c {
        '0' => 'o',
        '1' | '!' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        c => c,
    }
}

/// `abcabcabc` → `abc`.
fn repeated_unit(s: &str) -> Option<&str> {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let n = chars.len();
    (1..=n / 2).filter(|len| n.is_multiple_of(*len)).find_map(|len| {
        let end = chars[len].0;
        let unit = &s[..end];
        (unit.repeat(n / len) == s).then_some(unit)
    })
}

fn is_sequence(s: &str) -> bool {
    let reversed: String = s.chars().rev().collect();
    SEQUENCES.iter().any(|seq| seq.contains(s) || seq.contains(reversed.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_and_international_favourites_are_refused() {
        for pw in ["azerty", "motdepasse", "soleil", "marseille", "chouchou", "password", "123456789"] {
            assert!(is_common(pw), "{pw}");
        }
    }

    #[test]
    fn decorations_repetitions_and_runs_do_not_hide_them() {
        for pw in [
            "soleil2024!",
            "m0td3p4ss3",
            "azertyazertyazerty",
            "aaaaaaaaaaaaaaaa",
            "123456789012345",
            "poiuytreza",
            "abababababababab",
        ] {
            assert!(is_common(pw), "{pw}");
        }
    }

    #[test]
    fn passphrases_and_random_strings_pass() {
        for pw in ["chevalcorrectagrafepile", "lamerdunordestfroide", "x7#kq9!vzm2@wlp4"] {
            assert!(!is_common(pw), "{pw}");
        }
    }
}
