//! Connections (protocol.md §1): anything that sends commands and may receive events.
//!
//! The interactive stdin/stdout pair, the config file, control-socket
//! clients, service connections and in-process controllers are all the
//! same thing here: an input framer (if commands come in), an output buffer
//! (if events go out), and the bookkeeping of protocol.md §4.6-protocol.md §4.6 (back-pressure,
//! the overflow state, blocked-write timeouts) and protocol.md §4.4 (signal delivery).
//! The driver moves the bytes: it reads into [`Conn::framer`] and writes
//! what [`Conn::pending`] shows.

use super::registry::NameBuf;
use crate::ids::{FdId, HandleId, ServiceId};
use crate::time::Time;
use daemonproxy_proto::LineFramer;
use std::collections::VecDeque;
use std::time::Duration;

/// Output buffer size. Larger than the original's 2048 bytes (allowed by
/// protocol.md §4.6) so that many replies go out in one write.
pub const OUT_CAPACITY: usize = 64 * 1024;

/// Capacity a drained output buffer keeps (the size of the original's
/// whole buffer): room for the replies and events of a small controller,
/// which then never allocates again (with pools set, the steady state
/// does not allocate). What a burst (a statedump, a flood of broadcasts)
/// grew beyond it is given back once the burst is out, so an idle client
/// costs this much rather than its high-water mark.
pub const OUT_KEEP: usize = 2048;

/// A command (and each statedump step) runs only with this much room free.
pub const STEP_ROOM: usize = 1024;

/// Room a statedump step waits for: one service is at most thirteen lines
/// (five, five process settings, three of readiness), each at most a
/// little longer than a command line.
pub const DUMP_STEP_ROOM: usize = 14 * 1024;

/// Input buffer size; a full buffer stops reading (protocol.md §4.6).
pub const IN_CAPACITY: usize = 4 * 1024;

/// Received descriptors kept for `fd.take` per connection.
pub const MAX_ANCILLARY: usize = 2;

/// Default blocked-output timeouts (protocol.md §4.6), in seconds.
pub const DEFAULT_RESET_TIMEOUT: u32 = 15;
/// See [`DEFAULT_RESET_TIMEOUT`].
pub const DEFAULT_CLOSE_TIMEOUT: u32 = 30;

/// What kind of connection this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnKind {
    /// stdin/stdout of an interactive session (`-i`): its end ends the
    /// daemon (unless the terminate guard is set).
    Interactive,
    /// A config file or stdin read as one (commands only, no events; a
    /// last line without LF is still executed).
    Config,
    /// A control-socket client.
    Socket,
    /// A service's `control.*` connection.
    Service,
    /// A controller inside the embedding program: the embedding program
    /// takes its output itself ([`crate::Supervisor::take_output`]); the
    /// driver never writes it.
    InProcess,
    /// A front-end of the embedding program's (a TCP client, say): the
    /// driver writes its output to whatever the embedding program gave
    /// for it.
    Custom,
}

/// Where a statedump stands (protocol.md §3.2): it resumes after the last name emitted
/// (with that record's key, to resume without a search).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dump {
    /// Handles after this name.
    Handles(Option<(NameBuf, HandleId)>),
    /// Services after this name.
    Services(Option<(NameBuf, ServiceId)>),
    /// The signal records.
    Signals,
}

/// One connection.
#[derive(Debug)]
pub struct Conn {
    /// Its kind.
    pub kind: ConnKind,
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
    /// The driver reported "would block" and no writability since.
    pub write_blocked: bool,
    /// Listed in the supervisor's transmit queue.
    pub listed: bool,
    /// The reset-timeout warning was logged for this blocked episode.
    pub warned: bool,
    /// Reset timeout, seconds.
    pub reset_timeout: u32,
    /// Close timeout, seconds.
    pub close_timeout: u32,
    /// Time of the last signal delivered (protocol.md §4.4).
    pub signal_mark: Time,
    /// A statedump in progress.
    pub dump: Option<Dump>,
    /// Input has ended (or `exit`): flush, then end.
    pub closing: bool,
    /// End of input was read; handled once the buffered lines have run.
    pub eof: bool,
    /// A command of this connection waits for the result of an action.
    pub waiting: bool,
    /// Its driver has not connected it yet (a service's control connection
    /// between the spawn request and its result).
    pub detached: bool,
    /// `conn.extended on`: it also gets `service.rusage` and `orphan.exit`.
    pub extended: bool,
    /// Descriptors received with its input, for `fd.take` (with what the
    /// driver found out about each, or why it could not).
    pub ancillary: VecDeque<(FdId, Result<super::action::FdKind, super::action::Errno>)>,
    /// Where its commands come from (a config file's path): its failures
    /// are then logged as `SOURCE:LINE: message`.
    pub source: Option<Box<[u8]>>,
    /// Lines taken from its input so far (the current one's number).
    pub line: u32,
}

impl Conn {
    /// A connection of `kind`.
    pub fn new(kind: ConnKind, reads: bool, events: bool) -> Conn {
        Conn {
            kind,
            reads,
            events,
            framer: LineFramer::with_capacity(if reads { IN_CAPACITY } else { 0 }),
            out: Vec::new(),
            out_pos: 0,
            overflow: false,
            blocked_since: None,
            write_blocked: false,
            listed: false,
            warned: false,
            reset_timeout: DEFAULT_RESET_TIMEOUT,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            signal_mark: Time::ZERO,
            dump: None,
            closing: false,
            eof: false,
            waiting: false,
            detached: false,
            extended: false,
            ancillary: VecDeque::new(),
            source: None,
            line: 0,
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

    /// The queued bytes.
    pub fn pending(&self) -> &[u8] {
        &self.out[self.out_pos..]
    }

    /// Whether the next command may run (protocol.md §4.6): room for its output, or
    /// the output is dropped anyway.
    pub fn may_step(&self) -> bool {
        !self.events || self.overflow || self.free() >= STEP_ROOM
    }

    /// Whether the driver should be given this connection's output.
    pub fn wants_transmit(&self) -> bool {
        self.events && !self.write_blocked && self.kind != ConnKind::InProcess && self.queued() > 0
    }

    /// Queues one or more complete lines. Returns whether they were queued;
    /// lines that do not fit put the connection into the overflow state.
    pub fn queue(&mut self, lines: &[u8]) -> bool {
        if !self.events || self.overflow {
            return false;
        }
        if self.free() < lines.len() {
            self.overflow = true;
            return false;
        }
        if self.out_pos > 0 && self.out.len() + lines.len() > OUT_CAPACITY {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
        self.out.extend_from_slice(lines);
        true
    }

    /// `n` bytes were written. Once everything is out, the overflow state
    /// ends with an `overflow` line (protocol.md §4.6).
    pub fn written(&mut self, n: usize) {
        self.out_pos = (self.out_pos + n).min(self.out.len());
        self.blocked_since = None;
        self.warned = false;
        if self.out_pos == self.out.len() {
            self.drained();
            if self.overflow {
                self.overflow = false;
                self.out.extend_from_slice(b"overflow\n");
            }
        }
    }

    /// A write would block.
    pub fn blocked(&mut self, now: Time) {
        self.write_blocked = true;
        self.blocked_since.get_or_insert(now);
    }

    /// The reader went away: the event direction is closed, and commands
    /// keep being executed (protocol.md §4.5).
    pub fn output_closed(&mut self) {
        self.events = false;
        self.out = Vec::new();
        self.out_pos = 0;
        self.blocked_since = None;
        self.write_blocked = false;
    }

    /// Takes everything queued (in-process connections), ending the
    /// overflow state with an `overflow` line as a write would.
    pub fn take_output(&mut self, into: &mut Vec<u8>) {
        into.extend_from_slice(self.pending());
        self.drained();
        if self.overflow {
            self.overflow = false;
            into.extend_from_slice(b"overflow\n");
        }
    }

    /// Everything queued is out: empties the buffer and, unless a statedump
    /// is still filling it, gives back what it grew beyond [`OUT_KEEP`].
    fn drained(&mut self) {
        self.out.clear();
        self.out_pos = 0;
        if self.dump.is_none() && self.out.capacity() > OUT_KEEP {
            self.out.shrink_to(OUT_KEEP);
        }
    }

    /// When the blocked-output timeouts fire, if the output is blocked.
    pub fn timeout_deadline(&self) -> Option<Time> {
        let since = self.blocked_since?;
        let reset = since + Duration::from_secs(self.reset_timeout.into());
        let close = since + Duration::from_secs(self.close_timeout.into());
        Some(if self.warned { close } else { reset.min(close) })
    }

    /// Writes what goes on across `reexec`: its kind and settings, the
    /// input not yet executed and the output not yet written.
    pub(crate) fn save(&self, w: &mut super::state::Writer) {
        w.u8(match self.kind {
            ConnKind::Interactive => 0,
            ConnKind::Config => 1,
            ConnKind::Socket => 2,
            ConnKind::Service => 3,
            ConnKind::InProcess => 4,
            ConnKind::Custom => 5,
        });
        w.bool(self.reads);
        w.bool(self.events);
        w.bool(self.extended);
        w.bool(self.closing);
        w.bool(self.eof);
        w.bool(self.overflow);
        w.u32(self.reset_timeout);
        w.u32(self.close_timeout);
        w.time(self.signal_mark);
        w.bytes(self.framer.unconsumed());
        w.bytes(self.pending());
    }

    /// Reads what [`Conn::save`] wrote.
    pub(crate) fn load(r: &mut super::state::Reader<'_>) -> super::state::Got<Conn> {
        let kind = match r.u8()? {
            0 => ConnKind::Interactive,
            1 => ConnKind::Config,
            2 => ConnKind::Socket,
            3 => ConnKind::Service,
            4 => ConnKind::InProcess,
            5 => ConnKind::Custom,
            _ => return Err(super::state::Bad("bad connection kind")),
        };
        let (reads, events) = (r.bool()?, r.bool()?);
        let mut c = Conn::new(kind, reads, events);
        c.extended = r.bool()?;
        c.closing = r.bool()?;
        c.eof = r.bool()?;
        c.overflow = r.bool()?;
        c.reset_timeout = r.u32()?;
        c.close_timeout = r.u32()?;
        c.signal_mark = r.time()?;
        c.framer.push(r.bytes()?);
        c.out.extend_from_slice(r.bytes()?);
        Ok(c)
    }

    /// Whether nothing is left to do: no direction left (an event-only
    /// service connection whose reader went away), or closing with its
    /// output out (or without an event direction).
    pub fn finished(&self) -> bool {
        let dead = !self.reads && !self.events && self.kind != ConnKind::Config;
        dead || (self.closing && !self.waiting && (self.queued() == 0 || !self.events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn burst(c: &mut Conn, bytes: usize) {
        let line = [b"x".repeat(999), b"\n".to_vec()].concat();
        for _ in 0..bytes / line.len() {
            assert!(c.queue(&line));
        }
    }

    #[test]
    fn a_drained_buffer_gives_back_what_a_burst_grew() {
        let mut c = Conn::new(ConnKind::Socket, true, true);
        burst(&mut c, 40_000);
        assert!(c.out.capacity() >= 40_000);
        // Partly written: the rest waits in place.
        c.written(20_000);
        assert!(c.out.capacity() >= 40_000);
        c.written(c.queued());
        assert_eq!(c.out.capacity(), OUT_KEEP);
        // Small output fits the capacity kept: no allocation again.
        let kept = c.out.as_ptr();
        for _ in 0..100 {
            assert!(c.queue(b"service.state\tw\tup\n"));
            c.written(c.queued());
        }
        assert_eq!((c.out.as_ptr(), c.out.capacity()), (kept, OUT_KEEP));
        // In-process controllers' output is taken, not written: the same.
        burst(&mut c, 10_000);
        c.take_output(&mut Vec::new());
        assert_eq!(c.out.capacity(), OUT_KEEP);
        // Once the reader is gone, nothing is kept.
        burst(&mut c, 10_000);
        c.output_closed();
        assert_eq!(c.out.capacity(), 0);
    }

    #[test]
    fn a_statedump_keeps_its_buffer_until_it_is_done() {
        let mut c = Conn::new(ConnKind::Socket, true, true);
        c.dump = Some(Dump::Signals);
        burst(&mut c, 40_000);
        c.written(c.queued());
        assert!(c.out.capacity() >= 40_000, "shrunk between two dump steps");
        c.dump = None;
        burst(&mut c, 1_000);
        c.written(c.queued());
        assert_eq!(c.out.capacity(), OUT_KEEP);
    }
}
