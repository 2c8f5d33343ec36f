//! The daemon's log (protocol.md §7 of the protocol reference): `LEVEL: message`
//! lines written to a handle's descriptor.
//!
//! The log is observable in ways that scripts depend on, so its mechanics
//! follow the original: messages are dropped and counted while the
//! destination is blocked or full (a 1024-byte buffer holds what waits,
//! and all messages are dropped while any are counted), a
//! `warning: lost N log messages` notice follows the next successful
//! write, two quick retries are made once the destination is seen
//! writable, then one retry every 0.5 s, never a busy loop.
//!
//! The log writes nothing itself: it holds the bytes and offers them to
//! the driver ([`Log::poll_write`]), which reports how the write went
//! ([`Log::handle_written`]). While the destination is not known to be
//! blocked, messages wait in an unbounded-by-design but capped queue, so
//! that a burst logged between two drains is not lost; when a write then
//! fails, the queue is cut back to what the original's 1024-byte buffer
//! would have held and the rest is counted as lost.

use super::registry::NameBuf;
use crate::ids::FdId;
use crate::time::Time;
use daemonproxy_proto::LogLevel;
use std::fmt::{self, Write as _};
use std::time::Duration;

/// Size of the original's log buffer: what may wait while the destination
/// is blocked (protocol.md §7.3).
pub const LOG_BUFFER: usize = 1024;

/// Most bytes queued between two drains while the destination works.
const QUEUE_CAP: usize = 64 * 1024;

/// Retry period while the destination stays blocked.
const RETRY: Duration = Duration::from_millis(500);

/// Where log lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// This descriptor; `name` is the handle it belongs to, if any.
    Fd { fd: FdId, name: Option<NameBuf> },
    /// Waiting for a handle called `name` to exist (or to have a descriptor).
    Suspended(NameBuf),
    /// Nowhere: messages are discarded (after `--daemonize` without log.dest).
    Discard,
}

/// The log. See the module documentation.
#[derive(Debug)]
pub struct Log {
    filter: LogLevel,
    queue: Vec<u8>,
    lost: u64,
    target: Target,
    blocked: bool,
    /// Quick retries left once the destination is seen writable.
    quick: u8,
    /// When the next slow retry is due, once the quick ones failed.
    retry_at: Option<Time>,
    /// Whether the driver saw the destination writable since the last try.
    writable: bool,
    /// Whether the driver can report the destination's writability.
    pollable: bool,
    /// A write may be attempted now.
    attempt: bool,
    /// The destination changed and the driver has not been told.
    moved: bool,
    /// `--log-timestamps`: lines start with the wall-clock time the
    /// driver last gave ([`Log::set_wall_clock`]; none until it does).
    stamps: Option<Option<Duration>>,
}

/// A wall-clock time (since the Unix epoch) as UTC in ISO 8601 with
/// milliseconds, `2026-12-04T17:50:12.345Z`: what `--log-timestamps` puts
/// before each log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp(pub Duration);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = i64::try_from(self.0.as_secs()).unwrap_or(i64::MAX);
        let [year, month, day, hour, minute, second] = crate::time::utc_time(secs);
        let ms = self.0.subsec_millis();
        write!(f, "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{ms:03}Z")
    }
}

/// Formats into a fixed-size stack buffer, cutting what does not fit.
struct Cut<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl fmt::Write for Cut<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Displays bytes as text, replacing invalid UTF-8 (for values that are
/// text by nature, such as paths).
pub struct Lossy<'a>(pub &'a [u8]);

impl fmt::Display for Lossy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_char(char::REPLACEMENT_CHARACTER)?;
            }
        }
        Ok(())
    }
}

impl Log {
    /// A log that waits for the handle `stderr` (the reactor registers
    /// descriptor 2 under that name, protocol.md §10).
    pub fn new(filter: LogLevel) -> Log {
        Log {
            filter,
            queue: Vec::with_capacity(LOG_BUFFER),
            lost: 0,
            target: Target::Suspended(NameBuf::from_static("stderr")),
            blocked: false,
            quick: 0,
            retry_at: None,
            writable: false,
            pollable: true,
            attempt: false,
            moved: true,
            stamps: None,
        }
    }

    /// Starts each line with the wall-clock time (`--log-timestamps`).
    pub fn stamp_lines(&mut self) {
        self.stamps.get_or_insert(None);
    }

    /// The wall-clock time (since the Unix epoch) for the lines logged from
    /// now on, when they are stamped.
    pub fn set_wall_clock(&mut self, since_epoch: Duration) {
        if let Some(t) = &mut self.stamps {
            *t = Some(since_epoch);
        }
    }

    /// The current filter.
    pub fn filter(&self) -> LogLevel {
        self.filter
    }

    /// Sets the filter.
    pub fn set_filter(&mut self, level: LogLevel) {
        self.filter = level;
    }

    /// Whether messages of `level` are written.
    #[inline]
    pub fn enabled(&self, level: LogLevel) -> bool {
        level > self.filter
    }

    /// Logs one message (if the filter lets it through).
    pub fn log(&mut self, level: LogLevel, args: fmt::Arguments<'_>) {
        if self.enabled(level) {
            self.append(level, args, &[]);
        }
    }

    /// Logs `prefix` followed by raw bytes (a command line, as received:
    /// the log shows what was sent, byte for byte, protocol.md §2.1).
    pub fn log_bytes(&mut self, level: LogLevel, args: fmt::Arguments<'_>, raw: &[u8], suffix: &str) {
        if self.enabled(level) {
            let mut tail = [0u8; LOG_BUFFER];
            let n = raw.len().min(LOG_BUFFER - suffix.len());
            tail[..n].copy_from_slice(&raw[..n]);
            tail[n..n + suffix.len()].copy_from_slice(suffix.as_bytes());
            self.append(level, args, &tail[..n + suffix.len()]);
        }
    }

    /// Formats `LEVEL: message` + `raw` + LF, and queues it or counts it as
    /// lost.
    fn append(&mut self, level: LogLevel, args: fmt::Arguments<'_>, raw: &[u8]) {
        if self.target == Target::Discard {
            return;
        }
        let mut line = [0u8; LOG_BUFFER];
        let mut w = Cut { buf: &mut line[..LOG_BUFFER - 1], len: 0 };
        if let Some(Some(t)) = self.stamps {
            let _ = write!(w, "{} ", Timestamp(t));
        }
        let _ = write!(w, "{}: {}", level.name(), args);
        let mut n = w.len;
        let extra = raw.len().min(LOG_BUFFER - 1 - n);
        line[n..n + extra].copy_from_slice(&raw[..extra]);
        n += extra;
        line[n] = b'\n';
        n += 1;
        // What waits for a blocked or missing destination is bounded by the
        // original's buffer; between two drains of a working one, by the cap.
        let working = !self.blocked && matches!(self.target, Target::Fd { .. });
        let room = if working { QUEUE_CAP } else { LOG_BUFFER };
        if self.lost > 0 || self.queue.len() + n > room {
            self.lost += 1;
        } else {
            self.queue.extend_from_slice(&line[..n]);
            if !self.blocked {
                self.attempt = true;
            }
        }
    }

    /// Where an error message goes now, if errors are logged.
    pub fn error_destination(&self) -> Option<FdId> {
        match self.target {
            Target::Fd { fd, .. } if self.enabled(LogLevel::Error) => Some(fd),
            _ => None,
        }
    }

    /// The bytes to write now, and where (a driver writes them with one
    /// write call and reports with [`Log::handle_written`]).
    pub fn poll_write(&self) -> Option<(FdId, &[u8])> {
        match self.target {
            Target::Fd { fd, .. } if self.attempt && !self.queue.is_empty() => Some((fd, &self.queue)),
            _ => None,
        }
    }

    /// How the write offered by [`Log::poll_write`] went: `Some(n)` bytes
    /// written (0 counts as a failure), `None` failed or would block.
    pub fn handle_written(&mut self, written: Option<usize>, now: Time) {
        match written {
            Some(n) if n > 0 => {
                self.queue.drain(..n.min(self.queue.len()));
                self.unblock();
                if self.lost > 0 {
                    let mut note = [0u8; 64];
                    let mut w = Cut { buf: &mut note, len: 0 };
                    let _ = writeln!(w, "warning: lost {} log messages", self.lost);
                    if self.queue.len() + w.len <= LOG_BUFFER {
                        let len = w.len;
                        self.queue.extend_from_slice(&note[..len]);
                        self.lost = 0;
                    }
                }
                self.attempt = !self.queue.is_empty();
            }
            _ => {
                self.block();
                self.attempt = false;
                if self.quick == 0 {
                    // The last quick retry (or a slow one) failed.
                    self.retry_at = Some(now + RETRY);
                }
            }
        }
    }

    fn block(&mut self) {
        if !self.blocked {
            self.blocked = true;
            self.quick = 2;
            self.retry_at = None;
            self.writable = false;
            self.cut_to_buffer();
        }
    }

    /// Keeps what the original's 1024-byte buffer would hold (whole lines)
    /// and counts the rest as lost.
    fn cut_to_buffer(&mut self) {
        if self.queue.len() <= LOG_BUFFER {
            return;
        }
        let mut keep = 0;
        for line in self.queue.split_inclusive(|&b| b == b'\n') {
            if keep + line.len() > LOG_BUFFER {
                break;
            }
            keep += line.len();
        }
        let dropped = self.queue[keep..].iter().filter(|&&b| b == b'\n').count();
        self.queue.truncate(keep);
        self.lost += dropped as u64;
    }

    fn unblock(&mut self) {
        self.blocked = false;
        self.quick = 0;
        self.retry_at = None;
        self.writable = false;
    }

    /// The driver saw the destination writable.
    pub fn handle_writable(&mut self, now: Time) {
        self.writable = true;
        self.step(now);
    }

    /// Retries a blocked destination when a retry is due (protocol.md §7.3).
    pub fn step(&mut self, now: Time) {
        if !self.blocked {
            self.attempt = !self.queue.is_empty();
            return;
        }
        if self.quick > 0 {
            if !self.writable && self.pollable {
                return;
            }
            self.quick -= 1;
            self.writable = false;
            self.attempt = true;
            return;
        }
        if self.retry_at.is_some_and(|t| now >= t) {
            self.attempt = true;
        }
    }

    /// When a retry is due: at once for a quick retry on a destination
    /// that cannot report writability (it counts as writable), or the next
    /// slow retry.
    pub fn deadline(&self) -> Option<Time> {
        if !self.blocked || self.attempt {
            return None;
        }
        if self.quick > 0 {
            (!self.pollable || self.writable).then_some(Time::ZERO)
        } else {
            self.retry_at
        }
    }

    /// Whether the log waits for its destination to become writable.
    pub fn wants_writable(&self) -> bool {
        self.blocked && self.pollable && self.quick > 0
    }

    /// Tells the log whether the driver can report its destination's
    /// writability (epoll refuses regular files and character devices,
    /// which count as always ready).
    pub fn set_pollable(&mut self, pollable: bool) {
        self.pollable = pollable;
    }

    /// `log.dest fd NAME` with the handle's descriptor (`None`: no handle
    /// of that name yet, or one without a descriptor): switch at once and
    /// write what is buffered there.
    pub fn set_dest(&mut self, name: NameBuf, fd: Option<FdId>) {
        self.unblock();
        self.set_target(match fd {
            Some(fd) => Target::Fd { fd, name: Some(name) },
            None => Target::Suspended(name),
        });
        self.attempt = !self.queue.is_empty();
    }

    /// The name of the handle the log waits for, if it is suspended.
    #[inline]
    pub fn waiting_for(&self) -> Option<NameBuf> {
        match self.target {
            Target::Suspended(n) => Some(n),
            _ => None,
        }
    }

    /// The handle the log writes to lost its descriptor `fd` (deleted or
    /// replaced): suspend until a handle of that name exists again.
    pub fn detach(&mut self, fd: FdId) {
        if let Target::Fd { fd: cur, name } = self.target {
            if cur == fd {
                self.unblock();
                self.set_target(match name {
                    Some(n) => Target::Suspended(n),
                    None => Target::Discard,
                });
            }
        }
    }

    /// Discard everything until `log.dest` (after `--daemonize`).
    pub fn discard(&mut self) {
        self.unblock();
        self.queue.clear();
        self.set_target(Target::Discard);
    }

    fn set_target(&mut self, target: Target) {
        self.target = target;
        self.pollable = true;
        self.moved = true;
    }

    /// The new destination, once after each change (for the driver).
    pub fn take_moved(&mut self) -> Option<Option<FdId>> {
        if !std::mem::take(&mut self.moved) {
            return None;
        }
        Some(match self.target {
            Target::Fd { fd, .. } => Some(fd),
            _ => None,
        })
    }

    /// Ignores the blocked state once (at exit: write what can be written).
    pub fn force(&mut self) {
        self.blocked = false;
        self.attempt = !self.queue.is_empty();
    }
}

impl Log {
    /// Writes the log's lasting state (destination, what waits, losses).
    pub(crate) fn save(&self, w: &mut super::state::Writer) {
        match self.target {
            Target::Fd { fd, name } => {
                w.u8(0);
                w.u32(fd.get());
                w.bytes(name.as_ref().map_or(&b""[..], NameBuf::as_bytes));
            }
            Target::Suspended(name) => {
                w.u8(1);
                w.bytes(name.as_bytes());
            }
            Target::Discard => w.u8(2),
        }
        w.i64(self.filter as i64);
        w.bytes(&self.queue);
        w.u64(self.lost);
    }

    /// Reads what [`Log::save`] wrote (the filter given is the default).
    pub(crate) fn load(filter: LogLevel, r: &mut super::state::Reader<'_>) -> super::state::Got<Log> {
        use super::state::Bad;
        let mut log = Log::new(filter);
        let target = match r.u8()? {
            0 => {
                let fd = FdId::new(r.u32()?);
                let name = r.bytes()?;
                let name = if name.is_empty() {
                    None
                } else {
                    Some(daemonproxy_proto::Name::new(name).map(NameBuf::new).ok_or(Bad("bad log name"))?)
                };
                Target::Fd { fd, name }
            }
            1 => Target::Suspended(r.name()?),
            2 => Target::Discard,
            _ => return Err(Bad("bad log target")),
        };
        let filter = r.i64()?.clamp(-16, 16) as i32;
        log.filter = LogLevel::Debug.step(filter - LogLevel::Debug as i32);
        log.queue = r.bytes()?.to_vec();
        log.lost = r.u64()?;
        log.set_target(target);
        log.attempt = !log.queue.is_empty();
        Ok(log)
    }
}

/// Logs a formatted message: `log!(log, Error, "x {}", y)`.
macro_rules! log {
    ($log:expr, $level:ident, $($arg:tt)*) => {{
        let l: &mut $crate::supervisor::log::Log = &mut $log;
        if l.enabled($crate::proto::LogLevel::$level) {
            l.log($crate::proto::LogLevel::$level, format_args!($($arg)*));
        }
    }};
}
pub(crate) use log;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_iso_8601_with_milliseconds() {
        let at = |secs: u64, ms: u64| Timestamp(Duration::from_millis(secs * 1000 + ms)).to_string();
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 7), "2000-02-29T00:00:00.007Z");
        assert_eq!(at(1_796_406_612, 345), "2026-12-04T17:50:12.345Z");
        assert_eq!(at(4_102_444_799, 999), "2099-12-31T23:59:59.999Z");
        assert_eq!(at(253_402_300_799, 0), "9999-12-31T23:59:59.000Z");
    }

    #[test]
    fn lines_are_stamped_only_when_asked_and_once_the_clock_is_known() {
        let mut l = Log::new(LogLevel::Debug);
        l.set_wall_clock(Duration::from_secs(1_796_406_612));
        l.log(LogLevel::Info, format_args!("plain"));
        l.stamp_lines();
        l.log(LogLevel::Info, format_args!("no clock yet"));
        l.set_wall_clock(Duration::from_millis(1_796_406_612_345));
        l.log(LogLevel::Error, format_args!("stamped"));
        assert_eq!(
            String::from_utf8_lossy(&l.queue),
            "info: plain\ninfo: no clock yet\n2026-12-04T17:50:12.345Z error: stamped\n"
        );
    }

    fn attached() -> Log {
        let mut l = Log::new(LogLevel::Debug);
        l.set_dest(NameBuf::from_static("stderr"), Some(FdId::new(2)));
        l
    }

    fn text(l: &Log) -> String {
        String::from_utf8_lossy(l.poll_write().map_or(&[][..], |(_, b)| b)).into_owned()
    }

    #[test]
    fn blocked_destination_keeps_one_buffer_then_counts_and_reports_losses() {
        let mut l = attached();
        let now = Time::from_secs(10);
        for i in 0..100 {
            log!(l, Info, "message number {i} with some padding to make it longer");
        }
        assert!(text(&l).starts_with("info: message number 0 "));
        l.handle_written(None, now);
        assert!(l.poll_write().is_none(), "no attempt until writable");
        assert!(l.queue.len() <= LOG_BUFFER);
        assert!(l.lost > 0);
        let lost_before = l.lost;
        log!(l, Info, "more");
        assert_eq!(l.lost, lost_before + 1, "everything is dropped while any is counted");
        assert!(l.wants_writable());
        l.handle_writable(now);
        let n = l.poll_write().unwrap().1.len();
        l.handle_written(Some(n), now);
        assert_eq!(text(&l), format!("warning: lost {} log messages\n", lost_before + 1));
    }

    #[test]
    fn unpollable_destination_retries_twice_at_once_then_every_half_second() {
        let mut l = attached();
        l.set_pollable(false);
        let t0 = Time::from_secs(100);
        log!(l, Error, "x");
        l.handle_written(None, t0);
        for _ in 0..2 {
            assert_eq!(l.deadline(), Some(Time::ZERO), "a quick retry is due at once");
            l.step(t0);
            assert!(l.poll_write().is_some());
            l.handle_written(None, t0);
        }
        assert_eq!(l.deadline(), Some(t0 + RETRY));
        l.step(t0 + Duration::from_millis(100));
        assert!(l.poll_write().is_none());
        l.step(t0 + RETRY);
        assert!(l.poll_write().is_some());
    }

    #[test]
    fn detached_log_waits_for_its_handle_and_filter_applies() {
        let mut l = attached();
        l.detach(FdId::new(2));
        assert_eq!(l.waiting_for(), Some(NameBuf::from_static("stderr")));
        log!(l, Debug, "hidden");
        log!(l, Info, "kept");
        assert!(l.poll_write().is_none());
        l.set_dest(NameBuf::from_static("stderr"), Some(FdId::new(7)));
        assert_eq!(l.poll_write().map(|(fd, b)| (fd, b.to_vec())), Some((FdId::new(7), b"info: kept\n".to_vec())));
    }
}
