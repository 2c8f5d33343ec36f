//! Controllers (§4): anything that sends commands and may receive events.
//!
//! The interactive stdin/stdout pair, the config file, control-socket
//! clients, service connections and in-process controllers are all the same
//! thing here: an input framer (if commands come in), an output buffer (if
//! events go out), and the bookkeeping of §3.8-§3.9 (back-pressure, the
//! overflow state, blocked-write timeouts) and §4.4 (signal delivery).

use crate::registry::NameBuf;
use crate::sys;
use crate::time::{Time, SEC};
use daemonproxy_proto::LineFramer;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Output buffer size. Larger than the original's 2048 bytes (allowed by
/// §0 item 7) so that many replies go out in one write.
pub const OUT_CAPACITY: usize = 64 * 1024;

/// A command (and each statedump step) runs only with this much room free.
pub const STEP_ROOM: usize = 1024;

/// Room a statedump step waits for: one service is five lines, each at
/// most a little longer than a command line.
pub const DUMP_STEP_ROOM: usize = 6 * 1024;

/// Input buffer size; a full buffer stops reading (§3.9).
pub const IN_CAPACITY: usize = 4 * 1024;

/// Received descriptors kept for `fd.take` per controller.
pub const MAX_ANCILLARY: usize = 2;

/// Default blocked-output timeouts (§3.9), in seconds.
pub const DEFAULT_RESET_TIMEOUT: u32 = 15;
/// See [`DEFAULT_RESET_TIMEOUT`].
pub const DEFAULT_CLOSE_TIMEOUT: u32 = 30;

/// What kind of controller this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// stdin/stdout under `-i`.
    Interactive,
    /// The config file (no events).
    Config,
    /// A control-socket client.
    Socket,
    /// A service's `control.*` connection.
    Service,
    /// A controller inside this process (library use).
    InProcess,
}

/// Where a statedump stands (§5.1): it resumes after the last name emitted
/// (with the position where that name was, to resume without a search).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dump {
    /// Handles after this name.
    Handles(Option<(NameBuf, usize)>),
    /// Services after this name.
    Services(Option<(NameBuf, usize)>),
    /// The signal records.
    Signals,
}

/// How the controller's descriptors are held.
#[derive(Debug)]
pub enum Io {
    /// One descriptor for both directions (sockets, socketpairs); `socket`
    /// enables SCM_RIGHTS and MSG_NOSIGNAL.
    Owned { fd: OwnedFd, socket: bool },
    /// A read-only file (the config file).
    File(OwnedFd),
    /// Borrowed descriptors (stdin/stdout), never closed by the daemon.
    Borrowed { input: Option<RawFd>, output: Option<RawFd> },
    /// No descriptor: lines are pushed and taken by the embedding program.
    InProcess,
}

/// Result of reading a controller's input.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// Some bytes arrived.
    Data,
    /// Nothing now.
    WouldBlock,
    /// End of input.
    Eof,
    /// The buffer is full: take lines out first.
    Full,
}

/// One controller.
#[derive(Debug)]
pub struct Client {
    /// Its kind.
    pub kind: Kind,
    /// Its descriptors.
    pub io: Io,
    /// Whether commands are read from it.
    pub reads: bool,
    /// Whether events are sent to it (and the direction is still open).
    pub events: bool,
    /// Incoming bytes.
    pub framer: LineFramer,
    out: Vec<u8>,
    out_pos: usize,
    /// Lines are being dropped; `overflow` follows when the buffer drains.
    pub overflow: bool,
    /// When a write first failed with "would block" (reset by any write).
    pub blocked_since: Option<Time>,
    /// The reset-timeout warning was logged for this blocked episode.
    pub warned: bool,
    /// Reset timeout, seconds.
    pub reset_timeout: u32,
    /// Close timeout, seconds.
    pub close_timeout: u32,
    /// Time of the last signal delivered (§4.4).
    pub signal_mark: Time,
    /// A statedump in progress.
    pub dump: Option<Dump>,
    /// Input has ended (or `exit`): flush, then destroy.
    pub closing: bool,
    /// End of input was read; handled once the buffered lines have run.
    pub eof: bool,
    /// The reactor saw the input readable (edge-triggered) and it has not
    /// yet been read until "would block".
    pub in_ready: bool,
    /// Descriptors received with SCM_RIGHTS, for `fd.take`.
    pub ancillary: VecDeque<OwnedFd>,
}

impl Client {
    /// A controller of `kind` over `io`.
    pub fn new(kind: Kind, io: Io, reads: bool, events: bool) -> Client {
        Client {
            kind,
            io,
            reads,
            events,
            framer: LineFramer::with_capacity(if reads { IN_CAPACITY } else { 0 }),
            out: Vec::new(),
            out_pos: 0,
            overflow: false,
            blocked_since: None,
            warned: false,
            reset_timeout: DEFAULT_RESET_TIMEOUT,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            signal_mark: 0,
            dump: None,
            closing: false,
            eof: false,
            in_ready: true,
            ancillary: VecDeque::new(),
        }
    }

    /// The descriptor commands are read from.
    pub fn input_fd(&self) -> Option<RawFd> {
        match &self.io {
            Io::Owned { fd, .. } | Io::File(fd) => Some(fd.as_raw_fd()),
            Io::Borrowed { input, .. } => *input,
            Io::InProcess => None,
        }
    }

    /// The descriptor events are written to.
    pub fn output_fd(&self) -> Option<RawFd> {
        match &self.io {
            Io::Owned { fd, .. } => Some(fd.as_raw_fd()),
            Io::Borrowed { output, .. } => *output,
            Io::File(_) | Io::InProcess => None,
        }
    }

    /// Bytes queued and not yet written.
    pub fn queued(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Room left in the output buffer.
    pub fn free(&self) -> usize {
        OUT_CAPACITY - self.queued()
    }

    /// Whether the next command may run (§3.8): room for its output, or the
    /// output is dropped anyway.
    pub fn may_step(&mut self, now: Time) -> bool {
        if !self.events || self.overflow || self.free() >= STEP_ROOM {
            return true;
        }
        self.flush(now);
        self.free() >= STEP_ROOM || self.overflow || !self.events
    }

    /// Queues one complete line (LF included). Returns whether it was
    /// queued; a line that does not fit even after a flush puts the
    /// controller into the overflow state.
    pub fn queue(&mut self, line: &[u8], now: Time) -> bool {
        if !self.events || self.overflow {
            return false;
        }
        if self.free() < line.len() {
            self.flush(now);
            if self.free() < line.len() {
                self.overflow = true;
                return false;
            }
        }
        if self.out_pos > 0 && self.out.len() + line.len() > OUT_CAPACITY {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
        self.out.extend_from_slice(line);
        true
    }

    /// Writes queued output until done or the peer blocks; leaves the
    /// overflow state with an `overflow` line once everything is out.
    pub fn flush(&mut self, now: Time) {
        if matches!(self.io, Io::InProcess) {
            return;
        }
        let Some(fd) = self.output_fd().filter(|_| self.events) else {
            self.out.clear();
            self.out_pos = 0;
            return;
        };
        let socket = matches!(self.io, Io::Owned { socket: true, .. });
        loop {
            while self.out_pos < self.out.len() {
                let data = &self.out[self.out_pos..];
                let r = if socket {
                    sys::fd::send_nosignal(sys::raw::borrow(fd), data)
                } else {
                    sys::fd::write(sys::raw::borrow(fd), data)
                };
                match r {
                    Ok(n) => {
                        self.out_pos += n;
                        self.blocked_since = None;
                        self.warned = false;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.blocked_since.get_or_insert(now);
                        return;
                    }
                    Err(_) => {
                        // The reader went away: close the event direction
                        // and keep executing commands (§4.5).
                        self.events = false;
                        self.out.clear();
                        self.out_pos = 0;
                        self.blocked_since = None;
                        return;
                    }
                }
            }
            self.out.clear();
            self.out_pos = 0;
            if !self.overflow {
                return;
            }
            self.overflow = false;
            self.out.extend_from_slice(b"overflow\n");
        }
    }

    /// Takes everything queued (in-process controllers), leaving the
    /// overflow state with an `overflow` line as a flush would.
    pub fn take_output(&mut self, into: &mut Vec<u8>) {
        into.extend_from_slice(&self.out[self.out_pos..]);
        self.out.clear();
        self.out_pos = 0;
        if self.overflow {
            self.overflow = false;
            into.extend_from_slice(b"overflow\n");
        }
    }

    /// Reads what is available into the framer; received descriptors are
    /// appended to `fds`.
    pub fn read(&mut self, fds: &mut Vec<OwnedFd>) -> io::Result<Read> {
        let Some(fd) = self.input_fd().filter(|_| self.reads) else { return Ok(Read::WouldBlock) };
        let socket = matches!(self.io, Io::Owned { socket: true, .. });
        let spare = self.framer.spare();
        if spare.is_empty() {
            return Ok(Read::Full);
        }
        loop {
            let r = if socket {
                sys::fd::recv_with_fds(sys::raw::borrow(fd), spare, fds)
            } else {
                sys::fd::read(sys::raw::borrow(fd), spare)
            };
            return match r {
                Ok(0) => Ok(Read::Eof),
                Ok(n) => {
                    self.framer.commit(n);
                    Ok(Read::Data)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Read::WouldBlock),
                Err(e) => Err(e),
            };
        }
    }

    /// When the blocked-output timeouts fire, if the output is blocked.
    pub fn timeout_deadline(&self) -> Option<Time> {
        let since = self.blocked_since?;
        let reset = since + u64::from(self.reset_timeout) * SEC;
        let close = since + u64::from(self.close_timeout) * SEC;
        Some(if self.warned { close } else { reset.min(close) })
    }
}
