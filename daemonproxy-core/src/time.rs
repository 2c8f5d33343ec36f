//! Time as the daemon keeps it: nanoseconds of CLOCK_MONOTONIC.
//!
//! The protocol prints whole seconds of CLOCK_MONOTONIC (truncated), and a
//! controller schedules starts in those seconds, so the daemon must use
//! that clock and not a private epoch.

/// Nanoseconds of CLOCK_MONOTONIC.
pub type Time = u64;

/// One second.
pub const SEC: Time = 1_000_000_000;

/// Whole seconds of a time, as printed in events.
#[inline]
pub fn secs(t: Time) -> u64 {
    t / SEC
}

/// The current time.
pub fn now() -> Time {
    crate::sys::clock::monotonic_ns()
}
