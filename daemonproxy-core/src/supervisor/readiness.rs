//! Facts for the controller beyond up and down: readiness
//! (`service.notify`, `service.ready`), socket activation
//! (`service.listen_fds`), and, for connections that ask
//! (`conn.extended`), resource usage and orphan exits. All opt-in: a
//! controller that uses none of it sees the original's stream.

use super::log::{log, Lossy};
use super::service::State;
use super::{Res, Supervisor};
use crate::ids::{ConnId, ServiceId};
use crate::time::Time;
use daemonproxy_proto::{Event, Name, NotifyFields, NotifyMode, MAX_EVENT_LINE};

impl Supervisor {
    /// `service.notify NAME [fd N | socket]`. A pipe descriptor must lie
    /// beyond the service's descriptor list.
    pub(super) fn service_notify(&mut self, name: Name<'_>, mode: Option<NotifyMode>, now: Time) -> Res {
        let key = self.service_or_create(name)?;
        if let (Some(NotifyMode::Fd(n)), Some(s)) = (mode, self.services.get(key)) {
            if (n as usize) < s.fds().raw_entries().count() {
                return self.fail("notify fd is inside the service's descriptor list");
            }
        }
        if let Some(s) = self.services.get_mut(key) {
            s.notify = mode;
        }
        self.emit(None, Event::ServiceNotify { name, mode }, now);
        Ok(())
    }

    /// `service.listen_fds NAME on|off`.
    pub(super) fn service_listen_fds(&mut self, name: Name<'_>, on: bool, now: Time) -> Res {
        let key = self.service_or_create(name)?;
        if let Some(s) = self.services.get_mut(key) {
            s.listen_fds = on;
        }
        self.emit(None, Event::ServiceListenFds { name, on }, now);
        Ok(())
    }

    /// `conn.extended on|off`.
    pub(super) fn conn_extended(&mut self, id: ConnId, on: bool) {
        if let Some(c) = self.conns.get_mut(id.0) {
            c.extended = on;
        }
    }

    /// How a start of service `key` reports readiness: its setting, unless
    /// a pipe descriptor now lies inside its descriptor list (the list grew
    /// since the setting): then the start goes on without it, and every
    /// connection is told.
    pub(super) fn checked_notify(&mut self, key: ServiceId, now: Time) -> Option<NotifyMode> {
        let s = self.services.get(key)?;
        let mode = s.notify?;
        if let NotifyMode::Fd(n) = mode {
            if (n as usize) < s.fds().raw_entries().count() {
                let text = format!("service {}: notify fd {n} is inside its descriptor list, not used", s.name);
                self.emit(None, Event::Error { message: text.as_bytes() }, now);
                return None;
            }
        }
        Some(mode)
    }

    /// Sends an event to the connections that asked for extended events.
    pub(super) fn emit_extended(&mut self, ev: Event<'_>, now: Time) {
        if !self.conns.iter().any(|(_, c)| c.extended) {
            return;
        }
        self.scratch.clear();
        ev.encode(&mut self.scratch);
        let mut ids = std::mem::take(&mut self.conn_ids);
        ids.clear();
        ids.extend(self.conns.iter().filter(|(_, c)| c.extended).map(|(k, _)| ConnId(k)));
        for &id in &ids {
            self.deliver(Some(id), now);
        }
        self.conn_ids = ids;
    }

    /// The process `pid` of a service wrote its readiness line (`fd`
    /// mode): `service.ready` to every connection.
    pub fn handle_ready(&mut self, pid: i32, now: Time) {
        let Some(&key) = self.pids.get(&pid) else { return };
        let Some(s) = self.services.get_mut(key) else { return };
        if !matches!(s.state, State::Up { pid: p, .. } if p == pid) {
            return;
        }
        s.ready = Some(now);
        let name = s.name;
        self.emit(None, Event::ServiceReady { name: name.name(), at: now.secs(), pid: pid as u32 }, now);
    }

    /// A datagram arrived on the notification socket (`socket` mode) from
    /// process `sender`, whose session and process group are `group`. It
    /// counts only for a running service whose process leads that session
    /// or group (each service leads its own session) and that asked for
    /// the socket; others are dropped with a debug line. Every message is
    /// broadcast as `service.notify NAME TS PID FIELD...` (its
    /// `VAR=VALUE` lines, cut to fit an event line), and `READY=1` also as
    /// `service.ready`.
    pub fn handle_notify_message(&mut self, sender: i32, group: [i32; 2], payload: &[u8], now: Time) {
        let key = group.iter().find_map(|g| self.pids.get(g).copied());
        let Some((key, s)) = key.and_then(|k| Some((k, self.services.get(k)?))) else {
            log!(self.log, Debug, "dropped a readiness message from pid {} (no service of its session)", sender);
            return;
        };
        if s.notify != Some(NotifyMode::Socket) {
            log!(self.log, Debug, "dropped a readiness message from pid {} (service {} did not ask)", sender, s.name);
            return;
        }
        let name = s.name;
        let mut fields = std::mem::take(&mut self.env);
        fields.clear();
        let room = MAX_EVENT_LINE.saturating_sub(40 + name.as_bytes().len());
        let mut ready = false;
        for line in payload.split(|&b| b == b'\n').filter(|l| !l.is_empty() && !l.contains(&0)) {
            ready |= line == b"READY=1";
            if fields.len() + line.len() < room {
                if !fields.is_empty() {
                    fields.push(b'\t');
                }
                // A TAB inside a value would split the field.
                fields.extend(line.iter().map(|&b| if b == b'\t' { b' ' } else { b }));
            }
        }
        if let Some(f) = NotifyFields::new(&fields) {
            let ev = Event::ServiceNotifyMessage { name: name.name(), at: now.secs(), pid: sender as u32, fields: f };
            self.emit(None, ev, now);
        } else {
            log!(self.log, Debug, "empty readiness message from pid {}: {}", sender, Lossy(payload));
        }
        self.env = fields;
        if ready {
            let pid = match self.services.get(key).map(|s| s.state) {
                Some(State::Up { pid, .. }) => pid,
                _ => return,
            };
            self.handle_ready(pid, now);
        }
    }
}
