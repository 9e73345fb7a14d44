//! Dates as a French reader expects them, in metropolitan France's legal time.

use time::{Date, Month, OffsetDateTime, Time, UtcOffset, Weekday};

/// Central European Time with the EU summer-time rule: UTC+2 from the last Sunday of March at
/// 01:00 UTC to the last Sunday of October at 01:00 UTC, UTC+1 otherwise.
pub fn paris_offset(utc: OffsetDateTime) -> UtcOffset {
    let year = utc.year();
    let switch = |month| {
        last_sunday(year, month).map(|d| d.with_time(Time::from_hms(1, 0, 0).unwrap_or(Time::MIDNIGHT)).assume_utc())
    };
    let summer = match (switch(Month::March), switch(Month::October)) {
        (Some(start), Some(end)) => utc >= start && utc < end,
        _ => false,
    };
    UtcOffset::from_hms(if summer { 2 } else { 1 }, 0, 0).unwrap_or(UtcOffset::UTC)
}

fn last_sunday(year: i32, month: Month) -> Option<Date> {
    let mut day = Date::from_calendar_date(year, month, month.length(year)).ok()?;
    while day.weekday() != Weekday::Sunday {
        day = day.previous_day()?;
    }
    Some(day)
}

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
