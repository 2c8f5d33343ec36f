//! Services: their settings, their state transitions (protocol.md §5.1), starting them
//! (protocol.md §5.2, protocol.md §5.2), reaping (protocol.md §5.2), automatic restarts (protocol.md §5.4), retries
//! (protocol.md §5.2), signalling and deleting (protocol.md §3.3).

use super::action::{ActionResult, ChildStep, ControlLink, Errno, FdSource, ProcessSettings, Step, Usage};
use super::conn::{Conn, ConnKind};
use super::log::{log, Lossy};
use super::queue::{Issuer, Pending};
use super::registry::NameBuf;
use super::service::{Exited, Service, Setting, State};
use super::{is_start_at, Failed, Res, Supervisor};
use crate::ids::{ConnId, ServiceId};
use crate::time::Time;
use daemonproxy_proto::{
    EnvList, Event, ExitReason, FdEntry, FdList, Name, ServiceState, Signal, Special, StartWhen, Triggers, Umask,
};
use std::time::Duration;

/// Delay before retrying a start whose fork step failed (protocol.md §5.2).
const RETRY_DELAY: Duration = Duration::from_secs(3);

/// Fewest services started in one pass. A fork costs a fraction of a
/// millisecond: a thousand services due at once (a restart storm) would
/// keep the loop from its connections for half a second; four keep an
/// `echo`'s answer within a few milliseconds, and the rest start in the
/// next rounds, which come at once.
const STARTS_PER_PASS: usize = 4;

/// One more start per pass for every this many connections. Between two
/// passes every connection is written its events (a few microseconds each,
/// against a fork's hundreds): with a thousand clients, four starts per
/// pass would spend most of the loop writing a few lines at a time to each
/// (a storm of 200 starts seen by 1,000 clients took 2.3 times as long);
/// growing the starts with the connections keeps the two shares of the
/// loop about even.
const CONNECTIONS_PER_START: usize = 16;

impl Supervisor {
    // ----- commands ------------------------------------------------------

    /// `service.args` / `service.tags`: store and broadcast.
    pub(super) fn service_setting(&mut self, name: Name<'_>, which: Setting, value: &[u8], now: Time) -> Res {
        let key = self.service_or_create(name)?;
        self.set_setting(key, which, value, which.full_error())?;
        self.emit_setting(None, key, which, now);
        Ok(())
    }

    /// `service.fds`: a warning for each handle not yet defined, then as a
    /// setting.
    pub(super) fn service_fds(&mut self, id: ConnId, name: Name<'_>, fds: FdList<'_>, now: Time) -> Res {
        let key = self.service_or_create(name)?;
        for entry in fds.entries() {
            if let FdEntry::Handle(h) = entry {
                if self.handles.key(h.as_bytes()).is_none() {
                    self.emit(Some(id), Event::FdNotYetDefined { entry: h.as_bytes() }, now);
                }
            }
        }
        self.set_setting(key, Setting::Fds, fds.raw(), Setting::Fds.full_error())?;
        self.emit_setting(None, key, Setting::Fds, now);
        Ok(())
    }

    /// `service.auto_up NAME INTERVAL TRIGGERS`: a trigger that already
    /// holds starts the service at once.
    pub(super) fn service_auto_up(
        &mut self,
        name: Name<'_>,
        interval: Option<u32>,
        triggers: Triggers<'_>,
        now: Time,
    ) -> Res {
        let key = self.service_or_create(name)?;
        if let (Some(i), Some(s)) = (interval, self.services.get_mut(key)) {
            s.interval = i;
        }
        self.set_setting(key, Setting::Triggers, triggers.raw(), Setting::Triggers.full_error())?;
        let signals = self.signals;
        if self.services.get(key).is_some_and(|s| s.wants_auto_start(|sig| signals.pending(sig))) {
            self.request_start(key, now, now);
        }
        self.emit_setting(None, key, Setting::Triggers, now);
        Ok(())
    }

    /// `service.start NAME [TS | -]`.
    pub(super) fn service_start(&mut self, name: Name<'_>, when: StartWhen, now: Time) -> Res {
        let key = self.existing_service(name)?;
        let Some(s) = self.services.get(key) else { return Ok(()) };
        let at = match when {
            StartWhen::Cancel => {
                if !matches!(s.state, State::Start(_)) || s.spawning {
                    return self.fail("no service.start pending");
                }
                self.set_state(key, State::Down(None));
                self.emit_state(None, key, now, true);
                return Ok(());
            }
            StartWhen::Now => now,
            StartWhen::At(ts) => {
                if u64::from(ts) <= now.secs() {
                    return self.fail("invalid timestamp");
                }
                Time::from_secs(ts.into())
            }
        };
        if s.args().split(|&b| b == b'\t').next().is_none_or(<[u8]>::is_empty) {
            return self.fail("no args configured for service");
        }
        if matches!(s.state, State::Up { .. }) {
            return self.fail("service is not startable");
        }
        self.request_start(key, at, now);
        Ok(())
    }

    /// `service.signal NAME SIGNAL [group]`: waits for the kill's result.
    pub(super) fn service_signal(&mut self, issuer: Issuer, name: Name<'_>, signal: Signal, group: bool) -> Res {
        let key = self.existing_service(name)?;
        let Some(State::Up { pid, .. }) = self.services.get(key).map(|s| s.state) else {
            return self.fail("service is not running");
        };
        log!(self.log, Debug, "Sending signal {} to service \"{}\" pid {}", signal.number(), name, pid);
        self.queue.kill(pid, signal, group, Pending::Kill { issuer, name: NameBuf::new(name), pid, group });
        self.wait_for_result(&issuer);
        Ok(())
    }

    /// The result of `service.signal`'s kill.
    pub(super) fn signalled(
        &mut self,
        issuer: Issuer,
        name: NameBuf,
        pid: i32,
        group: bool,
        r: ActionResult,
        now: Time,
    ) {
        if let ActionResult::Failed { errno, .. } = r {
            let what = if group { "pgid" } else { "pid" };
            self.report_errno(issuer, &format!("can't kill {name} ({what} {pid}): "), errno, now);
        }
        self.done_waiting(&issuer, now);
    }

    /// `service.delete NAME`.
    pub(super) fn service_delete(&mut self, name: Name<'_>, now: Time) -> Res {
        let key = self.existing_service(name)?;
        match self.services.get(key) {
            Some(s) if matches!(s.state, State::Up { .. }) || s.spawning => return self.fail("service is running"),
            Some(s) if matches!(s.state, State::Start(_)) => self.set_state(key, State::Down(None)),
            _ => {}
        }
        self.services.remove(name.as_bytes());
        self.emit(None, Event::ServiceState { name, state: ServiceState::Deleted }, now);
        Ok(())
    }

    // ----- records and settings ------------------------------------------

    /// `service.env`, `service.cwd`, `service.user`, `service.rlimit`: store
    /// (`None` clears) and broadcast, like `service.args`.
    pub(super) fn process_setting(&mut self, name: Name<'_>, which: Setting, value: Option<&[u8]>, now: Time) -> Res {
        let key = self.service_or_create(name)?;
        if let Some(budget) = self.service_obj {
            let counted = value.filter(|v| !v.is_empty() || which == Setting::Cwd).map(<[u8]>::len);
            if self.services.get(key).is_some_and(|s| s.budget_with(which, counted) > budget) {
                return self.fail(which.full_error());
            }
        }
        if let Some(s) = self.services.get_mut(key) {
            s.set_value(which, value);
        }
        self.emit_setting(None, key, which, now);
        Ok(())
    }

    /// `service.umask NAME [MODE]`.
    pub(super) fn service_umask(&mut self, name: Name<'_>, umask: Option<Umask>, now: Time) -> Res {
        let key = self.service_or_create(name)?;
        if let Some(s) = self.services.get_mut(key) {
            s.umask = umask;
        }
        self.emit(None, Event::ServiceUmask { name, umask }, now);
        Ok(())
    }

    pub(super) fn service_or_create(&mut self, name: Name<'_>) -> Result<ServiceId, Failed> {
        match self.services.key_or_insert(name, Service::new) {
            Some(k) => Ok(k),
            None => {
                let _ = self.fail("Unable to allocate new service");
                Err(Failed)
            }
        }
    }

    fn existing_service(&mut self, name: Name<'_>) -> Result<ServiceId, Failed> {
        match self.services.key(name.as_bytes()) {
            Some(k) => Ok(k),
            None => {
                let _ = self.fail("No such service");
                Err(Failed)
            }
        }
    }

    /// Stores a service setting within the pool budget.
    fn set_setting(&mut self, key: ServiceId, which: Setting, value: &[u8], error: &str) -> Res {
        let Some(s) = self.services.get_mut(key) else { return Ok(()) };
        if let Some(budget) = self.service_obj {
            let default = match which {
                Setting::Fds => value == FdList::DEFAULT.raw(),
                _ => value.is_empty(),
            };
            let len = (!default).then_some(value.len());
            if s.budget_with(which, len) > budget {
                return self.fail(error);
            }
        }
        s.set(which, value);
        Ok(())
    }

    /// Sends a service's state.
    pub(super) fn emit_state(&mut self, to: Option<ConnId>, key: ServiceId, now: Time, live: bool) {
        let Some(s) = self.services.get(key) else { return };
        self.scratch.clear();
        Event::ServiceState { name: s.name.name(), state: s.event_state(now, live) }.encode(&mut self.scratch);
        self.deliver(to, now);
    }

    /// Sends one of a service's settings events.
    fn emit_setting(&mut self, to: Option<ConnId>, key: ServiceId, which: Setting, now: Time) {
        let Some(s) = self.services.get(key) else { return };
        self.scratch.clear();
        encode_setting(s, s.name.name(), which, &mut self.scratch);
        self.deliver(to, now);
    }

    // ----- state transitions ------------------------------------------------

    /// Changes a service's state, keeping the schedule of due starts.
    fn set_state(&mut self, key: ServiceId, state: State) {
        let Some(s) = self.services.get_mut(key) else { return };
        let old = std::mem::replace(&mut s.state, state);
        if old == state {
            return;
        }
        if let State::Start(at) = state {
            self.schedule.add(key, at);
        }
        if matches!(old, State::Start(_)) {
            let Supervisor { schedule, services, .. } = self;
            schedule.remove(|k, at| is_start_at(services, k, at));
        }
    }

    /// Requests a start at `at` (now or later) unless the service runs;
    /// broadcasts the `start` state.
    pub(super) fn request_start(&mut self, key: ServiceId, at: Time, now: Time) {
        let Some(s) = self.services.get(key) else { return };
        if matches!(s.state, State::Up { .. }) || s.spawning {
            log!(self.log, Debug, "service \"{}\" is already running", s.name);
            return;
        }
        if at > now {
            log!(self.log, Debug, "start service \"{}\" in {} seconds", s.name, (at - now).as_secs());
        } else {
            log!(self.log, Debug, "start service \"{}\" now", s.name);
        }
        self.set_state(key, State::Start(at));
        self.emit_state(None, key, now, true);
    }

    /// Starts every service whose start is due (protocol.md §5.2).
    pub(super) fn start_due(&mut self, now: Time) {
        // (A few at most, see STARTS_PER_PASS: the rest stay due, so the
        // driver comes back at once, after serving its connections.)
        if self.schedule.len() == 0 {
            return;
        }
        let most = STARTS_PER_PASS.max(self.conns.len() / CONNECTIONS_PER_START);
        let mut due = std::mem::take(&mut self.keys);
        due.clear();
        {
            let Supervisor { schedule, services, .. } = self;
            schedule.take_due(now, most, &mut due, |k, at| is_start_at(services, k, at));
        }
        let batch = due.len() > 1;
        for &key in &due {
            self.start_service(key, now, batch);
        }
        self.keys = due;
    }

    /// Resolves a service's descriptor list by name, now (protocol.md §5.2), into
    /// `self.plan` (and the positions of `control.*` entries into
    /// `self.slots`). Returns whether a control connection sends commands
    /// and receives events, and the first name that does not exist.
    fn resolve_fds(&mut self, key: ServiceId) -> Option<(bool, bool, Option<NameBuf>)> {
        let Supervisor { services, handles, plan, slots, .. } = self;
        let s = services.get(key)?;
        plan.clear();
        slots.clear();
        let (mut commands, mut events, mut missing) = (false, false, None);
        for (i, entry) in s.fds().entries().enumerate() {
            let source = match entry {
                FdEntry::Closed => FdSource::Closed,
                FdEntry::Handle(n) => match Special::from_name(n.as_bytes()) {
                    Some(sp @ (Special::ControlCmd | Special::ControlEvent | Special::ControlSocket)) => {
                        commands |= sp != Special::ControlEvent;
                        events |= sp != Special::ControlCmd;
                        slots.push(i);
                        FdSource::Control
                    }
                    _ => match handles.by_name(n.as_bytes()).and_then(|h| h.fd) {
                        Some(fd) => FdSource::Fd(fd),
                        None => {
                            missing.get_or_insert(NameBuf::new(n));
                            FdSource::Closed
                        }
                    },
                },
            };
            plan.push(source);
        }
        Some((commands, events, missing))
    }

    /// Asks for a due service's process.
    fn start_service(&mut self, key: ServiceId, now: Time, batch: bool) {
        match self.services.get(key) {
            Some(s) if matches!(s.state, State::Start(at) if at <= now) && !s.spawning => {}
            _ => return,
        }
        let Some((commands, events, missing)) = self.resolve_fds(key) else { return };
        if let Some(n) = missing {
            log!(self.log, Error, "file descriptor \"{}\" does not exist", n);
            self.queue.spawn_aborting(Pending::Spawn { key, conn: None });
        } else {
            let control = (!self.slots.is_empty()).then(|| {
                let mut c = Conn::new(ConnKind::Service, commands, events);
                c.detached = true;
                ControlLink { conn: ConnId(self.conns.insert(c)), commands, events }
            });
            let log_to = self.log.error_destination();
            let notify = self.checked_notify(key, now);
            let Supervisor { services, queue, plan, env, .. } = self;
            let Some(s) = services.get_mut(key) else { return };
            s.note_start();
            let listen = s.listen_fds && listen_env(s, env);
            let process = ProcessSettings {
                env: if listen { EnvList::new(env).unwrap_or(EnvList::NONE) } else { s.env() },
                cwd: s.cwd(),
                user: s.user(),
                rlimits: s.rlimits(),
                umask: s.umask,
            };
            let then = Pending::Spawn { key, conn: control.map(|c| c.conn) };
            queue.spawn(s.args(), plan, &process, then).with(control, batch, log_to).readiness(notify, listen);
        }
        if let Some(s) = self.services.get_mut(key) {
            s.spawning = true;
        }
    }

    /// The result of a start.
    pub(super) fn spawned(&mut self, key: ServiceId, conn: Option<ConnId>, r: ActionResult, now: Time) {
        let Some(s) = self.services.get_mut(key) else { return };
        s.spawning = false;
        let (pid, failure) = match r {
            ActionResult::Spawned { pid } => (pid, None),
            ActionResult::ChildFailed { pid, step, errno } => (pid, Some((step, errno))),
            ActionResult::Failed { step, errno } => {
                if let Some(c) = conn {
                    self.destroy_conn(c, now);
                }
                match step {
                    Step::Socketpair => log!(self.log, Error, "can't create socketpair: {}", errno),
                    _ => log!(self.log, Error, "fork failed: {}", errno),
                }
                return self.retry_start(key, now);
            }
            _ => return,
        };
        self.set_state(key, State::Up { pid, since: now });
        self.pids.insert(pid, key);
        if let Some(id) = conn {
            if let Some(c) = self.conns.get_mut(id.0) {
                c.detached = false;
                log!(self.log, Debug, "creating client {}", id);
            }
        }
        self.emit_state(None, key, now, true);
        if let Some((step, errno)) = failure {
            self.report_child_failure(key, step, errno, now);
        }
        if let Some(c) = conn {
            self.run_conn(c, now);
        }
    }

    /// A step of a service's start failed in its process (usually the
    /// exec): besides its exit status 3 (and for an exec the log line the
    /// child wrote itself), every connection gets an error event naming
    /// the step as that start did it, and the errno (protocol.md §5.2):
    /// `service NAME: exec "PROG" failed: ERROR`,
    /// `service NAME: chdir "DIR" failed: ERROR`, ...
    pub(super) fn report_child_failure(&mut self, key: ServiceId, step: ChildStep, errno: Errno, now: Time) {
        let Some(s) = self.services.get(key) else { return };
        let ids = s.started_user();
        let what = match step {
            ChildStep::Exec => format!("exec \"{}\"", Lossy(s.program())),
            ChildStep::Chdir => format!("chdir \"{}\"", Lossy(s.started_cwd())),
            ChildStep::Rlimit(r) => format!("setrlimit {}", r.name()),
            ChildStep::Setgroups => "setgroups".to_string(),
            ChildStep::Setgid => format!("setgid {}", ids.map_or(0, |u| u.gid)),
            ChildStep::Setuid => format!("setuid {}", ids.map_or(0, |u| u.uid)),
            _ => "dup2".to_string(),
        };
        let text = format!("service {}: {what} failed: {errno}", s.name);
        // The log says it too, for a daemon without controllers, with a
        // hint for the usual cause of a program "with spaces" not found.
        let spaced = step == ChildStep::Exec && s.program().contains(&b' ');
        let hint = if spaced { format!(" ({})", daemonproxy_proto::TAB_HINT) } else { String::new() };
        log!(self.log, Error, "{text}{hint}");
        self.emit(None, Event::Error { message: text.as_bytes() }, now);
    }

    fn retry_start(&mut self, key: ServiceId, now: Time) {
        log!(self.log, Info, "will retry in 3 seconds");
        self.set_state(key, State::Start(now + RETRY_DELAY));
        self.emit_state(None, key, now, true);
    }

    // ----- exits, restarts, signals -----------------------------------------

    /// A child was reaped (protocol.md §5.2): its `down` state now; the restart is
    /// decided later ([`Supervisor::decide_restarts`]).
    pub(super) fn reaped(&mut self, pid: i32, how: ExitReason, usage: Option<Usage>, now: Time) {
        let Some(key) = self.pids.remove(&pid) else {
            log!(self.log, Debug, "reaped pid {} which belongs to no service", pid);
            self.emit_extended(Event::OrphanExit { pid: pid as u32, at: now.secs(), reason: how }, now);
            return;
        };
        let Some(s) = self.services.get(key) else { return };
        let State::Up { since, .. } = s.state else { return };
        self.set_state(key, State::Down(Some(Exited { at: now, pid, since, reason: how })));
        self.emit_state(None, key, now, true);
        if let (Some(u), Some(s)) = (usage, self.services.get(key)) {
            let name = s.name;
            let ev = Event::ServiceRusage {
                name: name.name(),
                at: now.secs(),
                utime_us: u.user.as_micros() as u64,
                stime_us: u.system.as_micros() as u64,
                maxrss_kb: u.max_rss_kb,
            };
            self.emit_extended(ev, now);
        }
        self.restarts.push((key, pid));
    }

    /// Restarts the services reaped since the last call whose triggers
    /// still ask for it (level-triggered, protocol.md §5.4), unless something else (a
    /// start, a delete) happened to them meanwhile.
    pub(super) fn decide_restarts(&mut self, now: Time) {
        if self.restarts.is_empty() {
            return;
        }
        let mut restarts = std::mem::take(&mut self.restarts);
        let signals = self.signals;
        for &(key, pid) in &restarts {
            let Some(s) = self.services.get(key) else { continue };
            let State::Down(Some(e)) = s.state else { continue };
            if e.pid != pid || !s.wants_auto_start(|sig| signals.pending(sig)) {
                continue;
            }
            // Interval 0 (never set) still throttles to 1 s (protocol.md §5.3).
            let interval = Duration::from_secs(s.interval.max(1).into());
            let at = if e.at - e.since < interval { e.at + interval } else { now };
            self.request_start(key, at, now);
        }
        restarts.clear();
        self.restarts = restarts;
    }

    /// A recorded signal arrived (protocol.md §6, protocol.md §5.4): count it, start the
    /// services it triggers, tell every connection.
    pub(super) fn signal_received(&mut self, sig: Signal, now: Time) {
        if Some(sig) == self.reexec_signal {
            let _ = self.reexec(None, b"");
            return;
        }
        if !self.signals.received(sig, now) {
            return;
        }
        let mut keys = std::mem::take(&mut self.keys);
        keys.clear();
        keys.extend(self.services.iter().filter(|(_, _, s)| s.triggered_by(sig)).map(|(_, k, _)| k));
        for &key in &keys {
            self.request_start(key, now, now);
        }
        self.keys = keys;
        // The services it triggers are forked before connections hear of
        // the signal, as in the original's loop (state machines, then
        // controllers): `start`, `up`, then `signal`.
        self.start_due(now);
        self.deliver_signals_to_all(now);
    }
}

/// Composes a service's environment changes with socket activation's
/// `LISTEN_FDS` (its descriptors from 3 to the end of its list) and
/// `LISTEN_FDNAMES` (their handle names) into `env`. Returns whether it
/// has any such descriptor.
fn listen_env(s: &Service, env: &mut Vec<u8>) -> bool {
    let fds = s.fds();
    let count = fds.raw_entries().count().saturating_sub(3);
    if count == 0 {
        return false;
    }
    env.clear();
    env.extend_from_slice(s.env().raw());
    if !env.is_empty() {
        env.push(b'\t');
    }
    env.extend_from_slice(format!("LISTEN_FDS={count}\tLISTEN_FDNAMES=").as_bytes());
    for (i, entry) in fds.raw_entries().skip(3).enumerate() {
        if i > 0 {
            env.push(b':');
        }
        let named = !entry.is_empty() && entry != b"-";
        env.extend_from_slice(if named { entry } else { b"unknown" });
    }
    true
}

/// Encodes the statedump lines of a service's process settings, for those
/// that are set (none: nothing, so the dump is the original's).
pub(super) fn encode_process_settings(s: &Service, name: Name<'_>, out: &mut Vec<u8>) {
    if !s.has_process_settings() {
        return;
    }
    for which in [Setting::Env, Setting::Cwd, Setting::User, Setting::Rlimit] {
        if s.is_set(which) {
            encode_setting(s, name, which, out);
        }
    }
    if let Some(umask) = s.umask {
        Event::ServiceUmask { name, umask: Some(umask) }.encode(out);
    }
}

/// Encodes the statedump lines of a service's readiness settings and
/// state, for those that are set: `service.notify`, `service.listen_fds`,
/// and `service.ready` when its current process reported readiness.
pub(super) fn encode_readiness(s: &Service, name: Name<'_>, out: &mut Vec<u8>) {
    if s.notify.is_some() {
        Event::ServiceNotify { name, mode: s.notify }.encode(out);
    }
    if s.listen_fds {
        Event::ServiceListenFds { name, on: true }.encode(out);
    }
    if let (Some(at), State::Up { pid, .. }) = (s.ready, s.state) {
        Event::ServiceReady { name, at: at.secs(), pid: pid as u32 }.encode(out);
    }
}

/// Encodes one of a service's settings events (`name` is the service's).
/// Inlined so that statedump's fixed list of settings becomes one encoder
/// per event instead of a call and a dispatch on `which` per line (8% of a
/// statedump's instructions).
#[inline]
pub(super) fn encode_setting(s: &Service, name: Name<'_>, which: Setting, out: &mut Vec<u8>) {
    let ev = match which {
        Setting::Args => Event::ServiceArgs { name, args: s.args() },
        Setting::Tags => Event::ServiceTags { name, tags: s.tags() },
        Setting::Fds => Event::ServiceFds { name, fds: s.fds().raw() },
        Setting::Env => Event::ServiceEnv { name, env: s.env() },
        Setting::Cwd => Event::ServiceCwd { name, path: s.cwd() },
        Setting::User => Event::ServiceUser { name, user: s.user() },
        Setting::Rlimit => Event::ServiceRlimit { name, limits: s.rlimits() },
        Setting::Triggers => {
            let t = s.triggers();
            Event::ServiceAutoUp { name, auto_up: (!t.is_empty()).then_some((s.interval, t)) }
        }
    };
    ev.encode(out);
}
