//! Login throttling rules, pure: what a number of failures implies.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::session::ThrottleState;

/// `[throttle]`: per-identifier counters (shared by pages, API and every node) and per-address
/// limits.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleSettings {
    /// Off only for benchmarks and tests of wrong passwords; `config check` warns.
    pub enabled: bool,
    /// A captcha is required once this many consecutive failures happened.
    pub captcha_after: u32,
    /// From this many consecutive failures, a delay: 1 minute, doubling each time…
    pub delay_after: u32,
    /// …up to this many minutes.
    pub max_delay_minutes: u32,
    /// At most this many failures in 24 hours.
    pub max_failures_per_day: u32,
    /// Password sign-in is disabled at this many consecutive failures, until a password reset.
    pub disable_after: u32,
    /// Sign-in and reset attempts allowed per client address and minute (429 beyond).
    pub per_address_per_minute: u32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            captcha_after: 3,
            delay_after: 5,
            max_delay_minutes: 60,
            max_failures_per_day: 25,
            disable_after: 100,
            per_address_per_minute: 30,
        }
    }
}

pub const WINDOW: Duration = Duration::hours(24);

/// What the counters allow now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Open {
        captcha_required: bool,
    },
    /// No password is checked before `until` (`None`: until a password reset).
    Closed {
        until: Option<OffsetDateTime>,
        captcha_required: bool,
    },
}

impl ThrottleSettings {
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.captcha_after == 0 || self.delay_after == 0 || self.max_failures_per_day == 0 || self.disable_after == 0
        {
            out.push(("throttle", "thresholds must be at least 1".to_owned()));
        }
        if self.max_delay_minutes == 0 || self.max_delay_minutes > 24 * 60 {
            out.push(("throttle.max_delay_minutes", "must be between 1 and 1440".to_owned()));
        }
        if self.per_address_per_minute == 0 {
            out.push(("throttle.per_address_per_minute", "must be at least 1".to_owned()));
        }
        out
    }

    /// The gate for an identifier with these counters.
    pub fn gate(&self, state: Option<&ThrottleState>, now: OffsetDateTime) -> Gate {
        let Some(state) = state.filter(|_| self.enabled) else {
            return Gate::Open { captcha_required: false };
        };
        let captcha_required = state.consecutive_failures >= self.captcha_after;
        if state.consecutive_failures >= self.disable_after {
            return Gate::Closed { until: None, captcha_required };
        }
        match state.blocked_until.filter(|until| *until > now) {
            Some(until) => Gate::Closed { until: Some(until), captcha_required },
            None => Gate::Open { captcha_required },
        }
    }

    /// When the next attempt may be checked after a failure that left these counters.
    pub fn block_after_failure(&self, state: &ThrottleState, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let mut until = None;
        if state.consecutive_failures >= self.delay_after {
            let doublings = (state.consecutive_failures - self.delay_after).min(16);
            let minutes = (1u32 << doublings).min(self.max_delay_minutes);
            until = Some(now + Duration::minutes(i64::from(minutes)));
        }
        if state.window_failures >= self.max_failures_per_day {
            let window_end = state.window_started_at.unwrap_or(now) + WINDOW;
            until = until.max(Some(window_end));
        }
        until
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-24 10:00 UTC);

    fn state(consecutive: u32, window: u32) -> ThrottleState {
        ThrottleState {
            consecutive_failures: consecutive,
            window_started_at: Some(NOW),
            window_failures: window,
            blocked_until: None,
        }
    }

    #[test]
    fn captcha_from_the_third_failure() {
        let t = ThrottleSettings::default();
        assert_eq!(t.gate(None, NOW), Gate::Open { captcha_required: false });
        assert_eq!(t.gate(Some(&state(2, 2)), NOW), Gate::Open { captcha_required: false });
        assert_eq!(t.gate(Some(&state(3, 3)), NOW), Gate::Open { captcha_required: true });
    }

    #[test]
    fn delay_from_the_fifth_failure_doubling_up_to_an_hour() {
        let t = ThrottleSettings::default();
        let minutes = |n| t.block_after_failure(&state(n, n.min(20)), NOW).map(|u| (u - NOW).whole_minutes());
        assert_eq!(minutes(4), None);
        assert_eq!(minutes(5), Some(1));
        assert_eq!(minutes(6), Some(2));
        assert_eq!(minutes(10), Some(32));
        assert_eq!(minutes(11), Some(60));
        assert_eq!(minutes(40), Some(60));
    }

    #[test]
    fn at_most_25_failures_a_day_and_disabled_at_100() {
        let t = ThrottleSettings::default();
        let until = t.block_after_failure(&state(25, 25), NOW).expect("blocked");
        assert_eq!(until, NOW + WINDOW);
        assert_eq!(t.gate(Some(&state(100, 3)), NOW), Gate::Closed { until: None, captcha_required: true });
    }

    #[test]
    fn a_passed_block_opens_again_and_disabled_throttling_never_blocks() {
        let t = ThrottleSettings::default();
        let blocked = ThrottleState { blocked_until: Some(NOW + Duration::minutes(1)), ..state(5, 5) };
        assert!(matches!(t.gate(Some(&blocked), NOW), Gate::Closed { .. }));
        assert_eq!(t.gate(Some(&blocked), NOW + Duration::minutes(1)), Gate::Open { captcha_required: true });
        let off = ThrottleSettings { enabled: false, ..t };
        assert_eq!(off.gate(Some(&blocked), NOW), Gate::Open { captcha_required: false });
    }
}
