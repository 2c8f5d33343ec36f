//! Times for people: durations as `3h 2m`, wall-clock timestamps, and the
//! daemon's CLOCK_MONOTONIC seconds turned into Unix time.
//!
//! The daemon's events carry whole seconds of CLOCK_MONOTONIC, which `ctl`
//! shares with it on the same host; [`Clock`] reads both clocks once, so
//! a monotonic second can be shown as the wall-clock time it corresponds
//! to (to the second, and as of now: a wall clock set since then moves
//! the result).

use std::time::{SystemTime, UNIX_EPOCH};

use daemonproxy_core::Time;

/// `42s`, `5m 12s`, `3h 2m`, `4d 7h`: the two largest units, the second
/// left out when it is zero.
pub(super) fn human_duration(secs: u64) -> String {
    let (big, big_unit, small, small_unit) = match secs {
        0..=59 => return format!("{secs}s"),
        60..=3599 => (secs / 60, "m", secs % 60, "s"),
        3600..=86_399 => (secs / 3600, "h", secs % 3600 / 60, "m"),
        _ => (secs / 86_400, "d", secs % 86_400 / 3600, "h"),
    };
    if small == 0 {
        format!("{big}{big_unit}")
    } else {
        format!("{big}{big_unit} {small}{small_unit}")
    }
}

/// Seconds and milliseconds since the Unix epoch (a clock set before it
/// counts as the epoch).
fn unix_secs(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (i64::try_from(d.as_secs()).unwrap_or(i64::MAX), d.subsec_millis()),
        Err(_) => (0, 0),
    }
}

/// `2024-05-01T12:34:56.789`: local time, to the millisecond (`@SECS.mmm`
/// Unix time if the C library cannot convert it).
pub(super) fn timestamp(t: SystemTime) -> String {
    let (secs, millis) = unix_secs(t);
    format_local(secs, millis, daemonproxy_core::process::local_time(secs))
}

fn format_local(secs: i64, millis: u32, local: Option<[i64; 6]>) -> String {
    match local {
        Some([y, mo, d, h, mi, s]) => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{millis:03}"),
        None => format!("@{secs}.{millis:03}"),
    }
}

/// Both clocks, read once.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    /// Whole seconds of CLOCK_MONOTONIC, as the daemon prints them.
    pub(super) mono: u64,
    /// Unix time, whole seconds.
    pub(super) unix: i64,
}

impl Clock {
    pub(super) fn now() -> Clock {
        Clock { mono: Time::now().secs(), unix: unix_secs(SystemTime::now()).0 }
    }

    /// The Unix time of a second of the daemon's clock.
    pub(super) fn unix_of(&self, mono: u64) -> i64 {
        let back = i64::try_from(self.mono.abs_diff(mono)).unwrap_or(i64::MAX);
        if mono <= self.mono {
            self.unix.saturating_sub(back)
        } else {
            self.unix.saturating_add(back)
        }
    }

    /// Whole seconds from now until a second of the daemon's clock (0 if
    /// it has passed).
    pub(super) fn until(&self, mono: u64) -> u64 {
        mono.saturating_sub(self.mono)
    }

    /// Whole seconds from a second of the daemon's clock until now (0 if
    /// it is still to come).
    pub(super) fn since(&self, mono: u64) -> u64 {
        self.mono.saturating_sub(mono)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (60, "1m"),
            (312, "5m 12s"),
            (3600, "1h"),
            (10_920, "3h 2m"),
            (86_399, "23h 59m"),
            (86_400, "1d"),
            (90_000, "1d 1h"),
            (u64::MAX, "213503982334601d 7h"),
        ];
        for (secs, text) in cases {
            assert_eq!(human_duration(secs), text, "{secs}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(format_local(0, 7, Some([2024, 5, 1, 9, 4, 3])), "2024-05-01T09:04:03.007");
        assert_eq!(format_local(1_714_550_000, 250, None), "@1714550000.250");
        let t = UNIX_EPOCH + Duration::from_millis(1_714_550_000_123);
        assert_eq!(unix_secs(t), (1_714_550_000, 123));
        assert_eq!(unix_secs(UNIX_EPOCH - Duration::from_millis(1500)), (0, 0));
        let shown = timestamp(t);
        assert!(shown.ends_with(".123") && shown.len() == 23, "{shown}");
    }

    #[test]
    fn monotonic_seconds_as_unix_time() {
        let c = Clock { mono: 1000, unix: 1_714_550_000 };
        assert_eq!(c.unix_of(990), 1_714_549_990);
        assert_eq!(c.unix_of(1003), 1_714_550_003);
        assert_eq!((c.until(1003), c.until(990)), (3, 0));
        assert_eq!((c.since(990), c.since(1003)), (10, 0));
    }
}
