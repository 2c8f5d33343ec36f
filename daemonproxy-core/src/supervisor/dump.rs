//! `statedump` (protocol.md §3.2): the whole state, to the issuer, one step at a time
//! so that it never overflows a connection that reads.

use super::conn::Dump;
use super::service::Setting;
use super::services::{encode_process_settings, encode_readiness, encode_setting};
use super::Supervisor;
use crate::ids::{ConnId, ServiceId};
use crate::time::Time;
use daemonproxy_proto::Event;

impl Supervisor {
    /// `statedump`: starts a dump for a connection that receives events.
    pub(super) fn start_dump(&mut self, id: ConnId) {
        if let Some(c) = self.conns.get_mut(id.0) {
            if c.events {
                c.dump = Some(Dump::Handles(None));
            }
        }
    }

    /// One statedump step: one handle, one service (five lines) or the
    /// signal records.
    pub(super) fn dump_step(&mut self, id: ConnId, now: Time) {
        let Some(c) = self.conns.get_mut(id.0) else { return };
        if c.overflow || !c.events {
            c.dump = None;
            return;
        }
        let Some(step) = c.dump else { return };
        let next = match step {
            Dump::Handles(after) => match self.handles.next_after(after.as_ref().map(|(n, i)| (n, *i))) {
                Some((name, key)) => {
                    self.emit_handle(Some(id), name.as_bytes(), now);
                    Some(Dump::Handles(Some((name, key))))
                }
                None => Some(Dump::Services(None)),
            },
            Dump::Services(after) => match self.services.next_after(after.as_ref().map(|(n, i)| (n, *i))) {
                Some((name, key)) => {
                    self.emit_service(id, key, now);
                    Some(Dump::Services(Some((name, key))))
                }
                None => Some(Dump::Signals),
            },
            Dump::Signals => {
                let signals = self.signals;
                for r in signals.since(Time::ZERO) {
                    self.emit(Some(id), Event::Signal { signal: r.signal, at: r.last.secs(), count: r.count }, now);
                }
                None
            }
        };
        if let Some(c) = self.conns.get_mut(id.0) {
            c.dump = if c.overflow { None } else { next };
        }
    }

    /// Sends a service's statedump lines in one piece (five, plus one per
    /// process or readiness setting that is set, and its readiness).
    fn emit_service(&mut self, id: ConnId, key: ServiceId, now: Time) {
        let Some(s) = self.services.get(key) else { return };
        let name = s.name.name();
        self.scratch.clear();
        Event::ServiceState { name, state: s.event_state(now, false) }.encode(&mut self.scratch);
        for which in [Setting::Tags, Setting::Args, Setting::Fds, Setting::Triggers] {
            encode_setting(s, name, which, &mut self.scratch);
        }
        encode_process_settings(s, name, &mut self.scratch);
        encode_readiness(s, name, &mut self.scratch);
        self.deliver(Some(id), now);
    }
}
