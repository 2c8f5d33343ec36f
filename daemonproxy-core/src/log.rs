//! The daemon's log (§11): `LEVEL: message` lines on a descriptor.
//!
//! The log is observable in ways that scripts depend on, so its mechanics
//! follow the original exactly: a 1024-byte buffer, one plain `write` per
//! flush, messages dropped and counted while the destination is blocked or
//! full (and all messages dropped while any are counted), a
//! `warning: lost N log messages` notice after the next successful write,
//! two quick retries once the destination is writable and then one retry
//! every 0.5 s, never a busy loop. Each write to a blocking descriptor is
//! bounded by a 62.5 ms timer so a full pipe cannot hang the daemon.

use crate::registry::NameBuf;
use crate::sys;
use crate::time::{Time, SEC};
use daemonproxy_proto::LogLevel;
use std::fmt::{self, Write as _};
use std::os::fd::RawFd;

/// Size of the log buffer; observable, so fixed (§11.4).
pub const LOG_BUFFER: usize = 1024;

/// Retry period while the destination stays blocked.
const RETRY: Time = SEC / 2;

/// Where log lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// This descriptor; `name` is the handle it belongs to, if any.
    Fd { fd: RawFd, name: Option<NameBuf> },
    /// Waiting for a handle called `name` to exist (or to have a descriptor).
    Suspended(NameBuf),
    /// Nowhere: messages are discarded (after `--daemonize` without log.dest).
    Discard,
}

/// The log writer. See the module documentation.
pub struct Log {
    filter: LogLevel,
    buf: Vec<u8>,
    lost: u64,
    target: Target,
    blocked: bool,
    /// Quick retries left once the destination is seen writable.
    quick: u8,
    /// When the next slow retry is due, once the quick ones failed.
    retry_at: Option<Time>,
    /// Whether the reactor saw the destination writable since the last try.
    writable: bool,
    /// Whether the destination can be polled (pipes, sockets, ttys).
    pollable: bool,
    guard: Option<sys::signal::WriteTimeout>,
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Log").field("filter", &self.filter).field("target", &self.target).finish()
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

/// Displays bytes as text, replacing invalid UTF-8 (log lines only).
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
    /// A log on descriptor 2 under the name `stderr` (so that it re-attaches
    /// to a new `stderr` handle if that one is replaced, §16 row 34).
    pub fn new(filter: LogLevel, fd: RawFd, name: Option<NameBuf>) -> Log {
        Log {
            filter,
            buf: Vec::with_capacity(LOG_BUFFER),
            lost: 0,
            target: Target::Fd { fd, name },
            blocked: false,
            quick: 0,
            retry_at: None,
            writable: false,
            pollable: true,
            guard: None,
        }
    }

    /// Bounds every write with the 62.5 ms timer (installs a SIGALRM
    /// handler for the life of the log; a library user may skip this when
    /// its log descriptor never blocks).
    pub fn install_write_timeout(&mut self) {
        self.guard = sys::signal::WriteTimeout::new().ok();
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

    /// The descriptor currently written to.
    pub fn fd(&self) -> Option<RawFd> {
        match self.target {
            Target::Fd { fd, .. } => Some(fd),
            _ => None,
        }
    }

    /// Whether the log waits for its destination to become writable.
    pub fn wants_writable(&self) -> Option<RawFd> {
        (self.blocked && self.pollable && self.quick > 0).then(|| self.fd()).flatten()
    }

    /// Tells the log whether its descriptor can be polled (epoll refuses
    /// regular files and character devices, which count as always ready).
    pub fn set_pollable(&mut self, pollable: bool) {
        self.pollable = pollable;
    }

    /// The reactor saw the destination writable.
    pub fn mark_writable(&mut self) {
        self.writable = true;
    }

    /// Logs one message (if the filter lets it through).
    pub fn log(&mut self, level: LogLevel, args: fmt::Arguments<'_>) {
        if self.enabled(level) {
            self.append(level, args);
            if !self.blocked {
                self.flush();
            }
        }
    }

    /// Formats `LEVEL: message\n` into the buffer, or counts it as lost.
    fn append(&mut self, level: LogLevel, args: fmt::Arguments<'_>) {
        if self.target == Target::Discard {
            return;
        }
        let mut line = [0u8; LOG_BUFFER];
        let mut w = Cut { buf: &mut line[..LOG_BUFFER - 1], len: 0 };
        let _ = write!(w, "{}: {}", level.name(), args);
        let mut n = w.len;
        line[n] = b'\n';
        n += 1;
        if self.lost > 0 || self.buf.len() + n > LOG_BUFFER {
            self.lost += 1;
        } else {
            self.buf.extend_from_slice(&line[..n]);
        }
    }

    /// Writes the buffer out, one `write` per call until it is empty or a
    /// write fails (which marks the log blocked).
    fn flush(&mut self) {
        let Target::Fd { fd, .. } = self.target else { return };
        while !self.buf.is_empty() {
            let r = match &mut self.guard {
                Some(g) => g.write_guarded(sys::raw::borrow(fd), &self.buf),
                None => sys::fd::write(sys::raw::borrow(fd), &self.buf),
            };
            match r {
                Ok(n) if n > 0 => {
                    self.buf.drain(..n);
                    self.unblock();
                    if self.lost > 0 {
                        let mut note = [0u8; 64];
                        let mut w = Cut { buf: &mut note, len: 0 };
                        let _ = writeln!(w, "warning: lost {} log messages", self.lost);
                        if self.buf.len() + w.len <= LOG_BUFFER {
                            let len = w.len;
                            self.buf.extend_from_slice(&note[..len]);
                            self.lost = 0;
                        }
                    }
                }
                _ => {
                    self.block();
                    return;
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
        }
    }

    fn unblock(&mut self) {
        self.blocked = false;
        self.quick = 0;
        self.retry_at = None;
        self.writable = false;
    }

    /// One of the reactor's two log steps per iteration: retries a blocked
    /// destination when it is due (§11.4).
    pub fn step(&mut self, now: Time) {
        if !self.blocked {
            if !self.buf.is_empty() {
                self.flush();
            }
            return;
        }
        if self.quick > 0 {
            if !self.writable && self.pollable {
                return;
            }
            // Still blocked while trying: a failed write must not re-arm
            // the quick retries (that would retry only when woken).
            self.quick -= 1;
            self.writable = false;
            self.flush();
            if self.blocked && self.quick == 0 {
                self.retry_at = Some(now + RETRY);
            }
            return;
        }
        if self.retry_at.is_some_and(|t| now >= t) {
            self.flush();
            if self.blocked {
                self.retry_at = Some(now + RETRY);
            }
        }
    }

    /// Whether a quick retry is due without waiting: a blocked destination
    /// that cannot be polled counts as writable at once (§11.4).
    pub fn retry_now(&self) -> bool {
        self.blocked && self.quick > 0 && (!self.pollable || self.writable)
    }

    /// When the reactor must wake for a slow retry.
    pub fn next_deadline(&self) -> Option<Time> {
        if self.blocked && self.quick == 0 {
            self.retry_at
        } else {
            None
        }
    }

    /// `log.dest fd NAME` with the handle's descriptor (`None`: no handle
    /// of that name yet, or one without a descriptor): switch at once and
    /// write what is buffered there.
    pub fn set_dest(&mut self, name: NameBuf, fd: Option<RawFd>) {
        self.unblock();
        self.set_target(match fd {
            Some(fd) => Target::Fd { fd, name: Some(name) },
            None => Target::Suspended(name),
        });
        self.flush();
    }

    /// The name the log follows, if any.
    pub fn dest_name(&self) -> Option<NameBuf> {
        match self.target {
            Target::Fd { name, .. } => name,
            Target::Suspended(n) => Some(n),
            Target::Discard => None,
        }
    }

    /// Whether the log waits for a handle to appear.
    pub fn is_suspended(&self) -> bool {
        matches!(self.target, Target::Suspended(_))
    }

    /// The handle the log writes to is going away (deleted or replaced):
    /// suspend until a handle of that name exists again.
    pub fn detach(&mut self, fd: RawFd) {
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
        self.buf.clear();
        self.set_target(Target::Discard);
    }

    /// Changes the destination; the last-resort fatal-signal handler
    /// writes to the same descriptor.
    fn set_target(&mut self, target: Target) {
        self.target = target;
        self.pollable = true;
        sys::signal::set_fatal_log_fd(self.fd().unwrap_or(-1));
    }

    /// Writes what it can without waiting (at exit).
    pub fn flush_now(&mut self) {
        self.blocked = false;
        self.flush();
    }
}

/// Logs a formatted message: `log!(log, Error, "x {}", y)`.
#[macro_export]
#[doc(hidden)]
macro_rules! log {
    ($log:expr, $level:ident, $($arg:tt)*) => {{
        let l: &mut $crate::log::Log = &mut $log;
        if l.enabled(::daemonproxy_proto::LogLevel::$level) {
            l.log(::daemonproxy_proto::LogLevel::$level, format_args!($($arg)*));
        }
    }};
}
