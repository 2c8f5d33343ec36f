//! Time as the daemon keeps it: nanoseconds of CLOCK_MONOTONIC.
//!
//! The protocol prints whole seconds of CLOCK_MONOTONIC (truncated), and a
//! controller schedules starts in those seconds, so the daemon uses that
//! clock and not a private epoch. The supervisor never reads a clock: it is
//! told the time with every input, which is what lets tests run it on
//! virtual time. Arithmetic saturates, so a time from the past or a driver
//! whose clock is off can never make it panic.

use std::ops::{Add, Sub};
use std::time::Duration;

/// A point in time: nanoseconds of CLOCK_MONOTONIC (or of a simulation's
/// clock).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Time(u64);

impl Time {
    /// The clock's origin.
    pub const ZERO: Time = Time(0);
    /// The farthest time that can be represented.
    pub const MAX: Time = Time(u64::MAX);

    /// A time this many nanoseconds after the origin.
    pub const fn from_nanos(ns: u64) -> Time {
        Time(ns)
    }

    /// A time this many whole seconds after the origin (saturating).
    pub const fn from_secs(secs: u64) -> Time {
        Time(secs.saturating_mul(1_000_000_000))
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole seconds since the origin, as events print them.
    pub const fn secs(self) -> u64 {
        self.0 / 1_000_000_000
    }

    /// How long after `earlier` this is (zero if it is not later).
    pub fn since(self, earlier: Time) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// The current CLOCK_MONOTONIC time (for drivers; the supervisor is
    /// always told the time).
    pub fn now() -> Time {
        Time(crate::sys::clock::monotonic_ns())
    }
}

impl Add<Duration> for Time {
    type Output = Time;

    /// Saturates at [`Time::MAX`].
    fn add(self, d: Duration) -> Time {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Time(self.0.saturating_add(ns))
    }
}

impl Sub<Time> for Time {
    type Output = Duration;

    /// Zero when `rhs` is later.
    fn sub(self, rhs: Time) -> Duration {
        self.since(rhs)
    }
}

/// Unix time `secs` in UTC as (year, month, day, hour, minute, second) of
/// the proleptic Gregorian calendar: the wall-clock counterpart of
/// [`crate::process::local_time`], computed without the C library (days to
/// a civil date by 400-year eras, so any `i64` of seconds converts).
pub fn utc_time(secs: i64) -> [i64; 6] {
    let (days, tod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    [year, month, day, tod / 3600, tod / 60 % 60, tod % 60]
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_time_converts_across_eras_and_leap_days() {
        assert_eq!(utc_time(0), [1970, 1, 1, 0, 0, 0]);
        assert_eq!(utc_time(1_780_000_000), [2026, 5, 28, 20, 26, 40]);
        assert_eq!(utc_time(951_825_600), [2000, 2, 29, 12, 0, 0]);
        assert_eq!(utc_time(-1), [1969, 12, 31, 23, 59, 59]);
        assert_eq!(utc_time(4_107_542_399), [2100, 2, 28, 23, 59, 59]);
    }

    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Time::from_secs(10);
        assert_eq!(Time::from_secs(5) - t, Duration::ZERO);
        assert_eq!(t - Time::from_secs(4), Duration::from_secs(6));
        assert_eq!(Time::MAX + Duration::from_secs(1), Time::MAX);
        assert_eq!(Time::from_secs(u64::MAX), Time::MAX);
        assert_eq!((t + Duration::from_millis(1500)).secs(), 11);
    }
}
