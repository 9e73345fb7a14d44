//! Dates as a French reader expects them, in metropolitan France's legal time.

use sesame_core::clock::paris_offset;
use time::OffsetDateTime;

/// `mardi 1er décembre 2026 à 11 h 00 (heure de Paris)`.
pub fn format_paris(utc: OffsetDateTime) -> String {
    let t = utc.to_offset(paris_offset(utc));
    let weekday = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
        [usize::from(t.weekday().number_days_from_monday())];
    let month = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ][usize::from(u8::from(t.month()) - 1)];
    let day = if t.day() == 1 { "1er".to_owned() } else { t.day().to_string() };
    format!("{weekday} {day} {month} {} à {} h {:02} (heure de Paris)", t.year(), t.hour(), t.minute())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn winter_is_utc_plus_one_and_summer_utc_plus_two() {
        assert_eq!(format_paris(datetime!(2026-12-01 10:00 UTC)), "mardi 1er décembre 2026 à 11 h 00 (heure de Paris)");
        assert_eq!(format_paris(datetime!(2026-07-14 08:05 UTC)), "mardi 14 juillet 2026 à 10 h 05 (heure de Paris)");
    }

    #[test]
    fn switches_on_the_last_sundays_of_march_and_october_at_one_utc() {
        // 2026: 29 March and 25 October.
        assert_eq!(paris_offset(datetime!(2026-03-29 00:59 UTC)).whole_hours(), 1);
        assert_eq!(paris_offset(datetime!(2026-03-29 01:00 UTC)).whole_hours(), 2);
        assert_eq!(paris_offset(datetime!(2026-10-25 00:59 UTC)).whole_hours(), 2);
        assert_eq!(paris_offset(datetime!(2026-10-25 01:00 UTC)).whole_hours(), 1);
    }
}
