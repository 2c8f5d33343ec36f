//! Connections: their lifecycle, their input, their output and the order
//! in which their commands run (protocol.md §1, protocol.md §2.1-protocol.md §4.6, protocol.md §1).

use super::action::{Errno, FdKind, Written};
use super::conn::{Conn, ConnKind, DUMP_STEP_ROOM, MAX_ANCILLARY};
use super::log::{log, Lossy};
use super::Supervisor;
use crate::ids::{ConnId, FdId};
use crate::time::Time;
use daemonproxy_proto::{Event, Frame, LogLevel};
use std::time::Duration;

impl Supervisor {
    /// Adds a connection of `kind` (a front-end of the driver's: the
    /// interactive session, a config file, a control-socket client just
    /// accepted, an in-process controller) and returns its id. Pending
    /// `signal` events are delivered to it at once (protocol.md §4.4).
    pub fn open_connection(&mut self, kind: ConnKind, now: Time) -> ConnId {
        let (reads, events) = match kind {
            ConnKind::Config => (true, false),
            _ => (true, true),
        };
        let id = ConnId(self.conns.insert(Conn::new(kind, reads, events)));
        self.admission.opened(kind);
        log!(self.log, Debug, "creating client {}", id);
        self.run_conn(id, now);
        id
    }

    /// Where the driver reads the next input of `conn` into (then calls
    /// [`Supervisor::handle_input`]). `None` while the connection must not
    /// be read: it takes no commands, its input ended, or its buffer is
    /// full until its commands run (back-pressure, protocol.md §4.6).
    pub fn input_buffer(&mut self, conn: ConnId) -> Option<&mut [u8]> {
        let c = self.conns.get_mut(conn.0)?;
        if !c.reads || c.closing || c.eof || c.detached {
            return None;
        }
        let spare = c.framer.spare();
        (!spare.is_empty()).then_some(spare)
    }

    /// `n` bytes were read into [`Supervisor::input_buffer`]: runs the
    /// complete lines.
    pub fn handle_input(&mut self, conn: ConnId, n: usize, now: Time) {
        if let Some(c) = self.conns.get_mut(conn.0) {
            c.framer.commit(n);
            self.run_conn(conn, now);
        }
    }

    /// Names where a connection's commands come from (a config file's
    /// path): its failed commands are then logged as `SOURCE:LINE:
    /// message`, which points the user at the line to fix.
    pub fn set_connection_source(&mut self, conn: ConnId, source: &[u8]) {
        if let Some(c) = self.conns.get_mut(conn.0) {
            c.source = Some(source.into());
        }
    }

    /// Whether the connection takes input now (what
    /// [`Supervisor::input_buffer`] would offer room for).
    pub fn wants_input(&self, conn: ConnId) -> bool {
        self.conns.get(conn.0).is_some_and(|c| c.reads && !c.closing && !c.eof && !c.detached && !c.framer.is_full())
    }

    /// Queues lines of the driver's own to a connection (a banner), as
    /// they are: not logged, not counted as events.
    pub fn greet(&mut self, conn: ConnId, lines: &[u8]) {
        if let Some(c) = self.conns.get_mut(conn.0) {
            c.queue(lines);
            self.list(conn);
        }
    }

    /// Gives bytes to a connection and runs its complete lines; returns how
    /// many fitted its input buffer (retry the rest after its commands
    /// ran, for example after taking its output).
    pub fn push_input(&mut self, conn: ConnId, bytes: &[u8], now: Time) -> usize {
        let Some(c) = self.conns.get_mut(conn.0) else { return 0 };
        if !c.reads || c.closing || c.eof {
            return 0;
        }
        let n = c.framer.push(bytes);
        self.run_conn(conn, now);
        n
    }

    /// The connection's input ended (end of file, or the peer reset it):
    /// its buffered lines run, then it closes once its output is out
    /// (protocol.md §2.1, protocol.md §4.5).
    pub fn handle_input_end(&mut self, conn: ConnId, now: Time) {
        if let Some(c) = self.conns.get_mut(conn.0) {
            c.eof = true;
            self.run_conn(conn, now);
        }
    }

    /// Reading the connection failed: logged, then as end of input.
    pub fn handle_input_error(&mut self, conn: ConnId, errno: Errno, now: Time) {
        log!(self.log, Error, "read(client[{}])): {}", conn, errno);
        if self.conns.contains(conn.0) {
            self.input_ended(conn, now);
            self.maybe_finish(conn, now);
        }
    }

    /// A descriptor arrived with the connection's input (SCM_RIGHTS), with
    /// what the driver found out about it, for a later `fd.take`. Call it
    /// before [`Supervisor::handle_input`] for the bytes it came with.
    pub fn handle_received_fd(&mut self, conn: ConnId, fd: FdId, what: Result<FdKind, Errno>) {
        log!(self.log, Debug, "Received ancillary file descriptor {}", fd);
        match self.conns.get_mut(conn.0) {
            Some(c) if c.ancillary.len() < MAX_ANCILLARY => c.ancillary.push_back((fd, what)),
            _ => {
                log!(self.log, Error, "No room for ancillary file descriptor {}", fd);
                self.queue.close(fd);
            }
        }
    }

    /// How the write of [`Supervisor::poll_transmit`]'s bytes went.
    pub fn handle_written(&mut self, conn: ConnId, written: Written, now: Time) {
        let Some(c) = self.conns.get_mut(conn.0) else { return };
        match written {
            Written::Bytes(n) => c.written(n),
            Written::WouldBlock => c.blocked(now),
            Written::Closed => c.output_closed(),
        }
        self.run_conn(conn, now);
    }

    /// The connection's output became writable again after
    /// [`Written::WouldBlock`].
    pub fn handle_writable(&mut self, conn: ConnId, now: Time) {
        let Some(c) = self.conns.get_mut(conn.0) else { return };
        if c.write_blocked {
            c.write_blocked = false;
            self.list(conn);
            self.run_conn(conn, now);
        }
    }

    /// Moves the output of an in-process connection into `into` (as if it
    /// had been written), and lets its waiting commands run.
    pub fn take_output(&mut self, conn: ConnId, into: &mut Vec<u8>, now: Time) {
        if let Some(c) = self.conns.get_mut(conn.0) {
            c.take_output(into);
            self.run_conn(conn, now);
        }
    }

    /// `conn.event_timeout RESET CLOSE` (protocol.md §4.6, protocol.md §3.7).
    pub(super) fn set_event_timeouts(&mut self, id: ConnId, reset: u32, close: u32) {
        if let Some(c) = self.conns.get_mut(id.0) {
            c.reset_timeout = reset;
            c.close_timeout = close;
        }
    }

    /// `exit`: the connection closes once its output is out.
    pub(super) fn exit_conn(&mut self, id: ConnId) {
        if let Some(c) = self.conns.get_mut(id.0) {
            c.closing = true;
        }
    }

    /// Ends a connection at once.
    pub(super) fn destroy_conn(&mut self, id: ConnId, now: Time) {
        if !self.conns.contains(id.0) {
            return;
        }
        let c = self.conns.remove(id.0);
        self.admission.closed(c.kind);
        self.queue.forget(id);
        if c.detached {
            // A control connection whose service never started: the
            // driver never knew it.
            return;
        }
        log!(self.log, Debug, "destroying client {}", id);
        for (fd, _) in c.ancillary {
            log!(self.log, Warning, "closing leftover ancillary file descriptor {}", fd);
            self.queue.close(fd);
        }
        self.queue.close_connection(id);
        if c.kind == ConnKind::Interactive {
            self.session_ended(now);
        }
    }

    /// Ends the connection if nothing is left to do.
    fn maybe_finish(&mut self, id: ConnId, now: Time) {
        if self.conns.get(id.0).is_some_and(Conn::finished) {
            self.destroy_conn(id, now);
        }
    }

    /// Lists a connection for writing if it has output to write.
    pub(super) fn list(&mut self, id: ConnId) {
        if let Some(c) = self.conns.get_mut(id.0) {
            if !c.listed && c.wants_transmit() {
                c.listed = true;
                self.transmit.push_back(id);
            }
        }
    }

    /// Queues the line(s) in `scratch` to one connection or, with `None`,
    /// to every connection (protocol.md §4.5).
    pub(super) fn deliver(&mut self, to: Option<ConnId>, now: Time) {
        let _ = now;
        match to {
            Some(id) => self.deliver_one(id),
            None => {
                let mut ids = std::mem::take(&mut self.conn_ids);
                ids.clear();
                ids.extend(self.conns.iter().map(|(k, _)| ConnId(k)));
                for &id in &ids {
                    self.deliver_one(id);
                }
                self.conn_ids = ids;
            }
        }
    }

    fn deliver_one(&mut self, id: ConnId) {
        let Supervisor { conns, log, scratch, .. } = self;
        let Some(c) = conns.get_mut(id.0) else { return };
        if c.queue(scratch) {
            if log.enabled(LogLevel::Debug) {
                // The original quotes the line with its LF (protocol.md §7.2).
                for line in scratch.split_inclusive(|&b| b == b'\n') {
                    log.log(LogLevel::Debug, format_args!("client[{}] event: \"{}\"", id, Lossy(line)));
                }
            }
            self.list(id);
        }
    }

    /// Encodes `ev` and sends it.
    pub(super) fn emit(&mut self, to: Option<ConnId>, ev: Event<'_>, now: Time) {
        self.scratch.clear();
        ev.encode(&mut self.scratch);
        self.deliver(to, now);
    }

    /// Runs a connection: delivers due signals, executes queued commands
    /// and statedump steps while its output has room and no command waits
    /// for a result (protocol.md §1 step 6, protocol.md §4.6); ends it when it is done.
    pub(super) fn run_conn(&mut self, id: ConnId, now: Time) {
        let mut line = std::mem::take(&mut self.line);
        loop {
            if self.outcome.is_some() {
                break;
            }
            let Some(c) = self.conns.get(id.0) else { break };
            if c.waiting || c.detached || !c.may_step() {
                break;
            }
            self.deliver_signals(id, now);
            let Some(c) = self.conns.get_mut(id.0) else { break };
            if c.dump.is_some() {
                // A service takes five lines of up to a command line each:
                // wait for room for all of them rather than overflow.
                if c.events && !c.overflow && c.free() < DUMP_STEP_ROOM {
                    break;
                }
                self.dump_step(id, now);
                continue;
            }
            if c.closing {
                break;
            }
            let too_long = match c.framer.next_frame() {
                None => {
                    if c.eof {
                        self.input_ended(id, now);
                    }
                    break;
                }
                Some(Frame::Line(l)) => {
                    line.clear();
                    line.extend_from_slice(l);
                    None
                }
                Some(Frame::TooLong { first_byte }) => Some(first_byte),
            };
            c.line = c.line.saturating_add(1);
            match too_long {
                None => self.execute(id, &line, now),
                Some(b'#') => {}
                Some(_) => self.line_too_long(id, now),
            }
        }
        self.line = line;
        self.maybe_finish(id, now);
    }

    fn line_too_long(&mut self, id: ConnId, now: Time) {
        log!(self.log, Debug, "controller[{}] command length exceeds 1024 bytes, discarding", id);
        log!(self.log, Error, "controller[{}] command exceeds buffer size", id);
        self.scratch.clear();
        self.scratch.extend_from_slice(b"error\tline too long\n");
        self.deliver(Some(id), now);
    }

    /// End of a connection's input (protocol.md §2.1): the config file executes a final
    /// line without LF, others discard it; then the connection closes.
    fn input_ended(&mut self, id: ConnId, now: Time) {
        let mut line = std::mem::take(&mut self.line);
        let Some(c) = self.conns.get_mut(id.0) else { return };
        let config = c.kind == ConnKind::Config;
        let last = match c.framer.finish() {
            None => None,
            Some(Frame::Line(l)) => {
                line.clear();
                line.extend_from_slice(l);
                Some(false)
            }
            Some(Frame::TooLong { first_byte }) => Some(first_byte != b'#'),
        };
        if last.is_some() {
            c.line = c.line.saturating_add(1);
        }
        c.closing = true;
        match last {
            None => {}
            Some(_) if !config => log!(self.log, Warning, "Command ends with EOF... ignored"),
            Some(true) => {
                log!(self.log, Warning, "Command ends with EOF... processing anyway");
                self.line_too_long(id, now);
            }
            Some(false) => {
                log!(self.log, Warning, "Command ends with EOF... processing anyway");
                self.execute(id, &line, now);
            }
        }
        self.line = line;
    }

    /// Delivers `signal` events that became due for this connection (protocol.md §4.4).
    #[inline]
    fn deliver_signals(&mut self, id: ConnId, now: Time) {
        if let Some(c) = self.conns.get(id.0) {
            if c.events && self.signals.any_since(c.signal_mark) {
                self.deliver_due_signals(id, c.signal_mark, now);
            }
        }
    }

    #[cold]
    fn deliver_due_signals(&mut self, id: ConnId, mark: Time, now: Time) {
        let signals = self.signals;
        for r in signals.since(mark) {
            self.emit(Some(id), Event::Signal { signal: r.signal, at: r.last.secs(), count: r.count }, now);
            if let Some(c) = self.conns.get_mut(id.0) {
                c.signal_mark = r.last;
            }
        }
    }

    /// Delivers new `signal` events to every connection that can take them
    /// now (the others get them before their next command).
    pub(super) fn deliver_signals_to_all(&mut self, now: Time) {
        let mut ids = std::mem::take(&mut self.conn_ids);
        ids.clear();
        ids.extend(
            self.conns.iter().filter(|(_, c)| !c.waiting && !c.detached && c.may_step()).map(|(k, _)| ConnId(k)),
        );
        for &id in &ids {
            self.deliver_signals(id, now);
        }
        self.conn_ids = ids;
    }

    /// Applies blocked-output timeouts (protocol.md §4.6).
    pub(super) fn check_timeouts(&mut self, now: Time) {
        let mut ids = std::mem::take(&mut self.conn_ids);
        ids.clear();
        ids.extend(self.conns.iter().filter(|(_, c)| c.blocked_since.is_some()).map(|(k, _)| ConnId(k)));
        for &id in &ids {
            let Some(c) = self.conns.get_mut(id.0) else { continue };
            let Some(since) = c.blocked_since else { continue };
            let blocked = now - since;
            let secs = blocked.as_secs();
            if blocked >= Duration::from_secs(c.close_timeout.into()) {
                log!(self.log, Error, "controller {} blocked pipe for {} seconds, closing connection", id, secs);
                self.destroy_conn(id, now);
            } else if blocked >= Duration::from_secs(c.reset_timeout.into()) {
                if !c.warned {
                    c.warned = true;
                    log!(self.log, Warning, "controller {} blocked pipe for {} seconds", id, secs);
                }
                if c.framer.pending() >= super::conn::STEP_ROOM && !c.overflow {
                    // Its queued commands may run again (output dropped).
                    c.overflow = true;
                    self.run_conn(id, now);
                }
            }
        }
        self.conn_ids = ids;
    }
}
