//! Time, injected: production reads the system clock, tests move a [`ManualClock`].

use std::sync::Mutex;
use time::{Date, Duration, Month, OffsetDateTime, Time, UtcOffset, Weekday};

/// A source of the current UTC time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> OffsetDateTime;
}

/// The system clock, truncated to the millisecond (the precision the database keeps).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        truncate_to_millis(OffsetDateTime::now_utc())
    }
}

/// A clock that stands still until it is moved: expiry is tested by moving it, never by sleeping.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self { now: Mutex::new(truncate_to_millis(start)) }
    }

    /// Moves the clock forward (or backward, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }

    pub fn set(&self, to: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = truncate_to_millis(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn truncate_to_millis(t: OffsetDateTime) -> OffsetDateTime {
    let millis = t.unix_timestamp_nanos() / 1_000_000;
    from_unix_millis(i64::try_from(millis).unwrap_or(i64::MAX))
}

/// Milliseconds since the Unix epoch, the representation both databases store.
pub fn to_unix_millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The inverse of [`to_unix_millis`]; out-of-range values saturate to the representable bounds.
pub fn from_unix_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or_else(|_| {
        if ms < 0 { time::PrimitiveDateTime::MIN.assume_utc() } else { time::PrimitiveDateTime::MAX.assume_utc() }
    })
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
        assert_eq!(clock.now(), datetime!(2026-01-01 00:00 UTC));
        clock.advance(Duration::days(7));
        assert_eq!(clock.now(), datetime!(2026-01-08 00:00 UTC));
    }

    #[test]
    fn millis_round_trip() {
        let t = datetime!(2026-11-24 10:11:12.345 UTC);
        assert_eq!(from_unix_millis(to_unix_millis(t)), t);
    }
}
