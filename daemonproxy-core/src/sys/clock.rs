//! The monotonic clock the reactor measures time with.
//!
//! `std::time::Instant` reads the same clock but does not expose its value;
//! the supervisor wants plain nanoseconds it can store and compare.

/// Nanoseconds of `CLOCK_MONOTONIC` (time since an unspecified start, never
/// going backwards, not affected by changes of the wall clock).
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always
    // exists on Linux, so the call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(ts.tv_nsec as u64)
}

/// Unix time `secs` as local (year, month 1-12, day, hour, minute, second),
/// through the C library's `localtime_r`; `None` if it cannot convert it.
pub(crate) fn local_time(secs: i64) -> Option<[i64; 6]> {
    let t = secs as libc::time_t;
    // SAFETY: `libc::tm` is a plain C struct (integers and a nullable
    // pointer) for which all-zero bytes are a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers come from live references; localtime_r is the
    // reentrant variant and writes only to `tm`.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return None;
    }
    Some([
        i64::from(tm.tm_year) + 1900,
        i64::from(tm.tm_mon) + 1,
        i64::from(tm.tm_mday),
        i64::from(tm.tm_hour),
        i64::from(tm.tm_min),
        i64::from(tm.tm_sec),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_clock_advances() {
        let a = monotonic_ns();
        let t = std::time::Instant::now();
        while t.elapsed() < std::time::Duration::from_millis(2) {}
        let b = monotonic_ns();
        assert!(b >= a + 2_000_000, "{a} {b}");
        assert!(b - a < 10_000_000_000);
    }
}
