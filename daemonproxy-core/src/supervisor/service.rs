//! Service records and their states (protocol.md §5).

use super::registry::NameBuf;
use crate::time::Time;
use daemonproxy_proto::{
    EnvList, ExitReason, FdList, NotifyMode, Rlimits, ServiceState, Signal, Trigger, Triggers, Umask, UserIds,
};

/// What a service is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// No process; the last exit, if any is still shown.
    Down(Option<Exited>),
    /// A start is due at this time.
    Start(Time),
    /// A process is running.
    Up {
        /// Its pid.
        pid: i32,
        /// When it was started.
        since: Time,
    },
}

/// How and when the last process of a service ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exited {
    /// When it was reaped.
    pub at: Time,
    /// Its pid.
    pub pid: i32,
    /// When it was started.
    pub since: Time,
    /// Exit status or signal.
    pub reason: ExitReason,
}

/// Which variable setting of a service (for the pool budget, protocol.md §8.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// `service.args`
    Args,
    /// `service.tags`
    Tags,
    /// `service.fds`
    Fds,
    /// `service.auto_up` triggers
    Triggers,
    /// `service.env`
    Env,
    /// `service.cwd`
    Cwd,
    /// `service.user` (stored as `UID\tGID[\tGROUPS]`)
    User,
    /// `service.rlimit`
    Rlimit,
}

impl Setting {
    /// Bytes of the key a setting takes in a pool object, as the
    /// original's `args=...` records do (the extensions count the same way).
    fn key_len(self) -> usize {
        match self {
            Setting::Args | Setting::Tags | Setting::User => 4,
            Setting::Fds | Setting::Env | Setting::Cwd => 3,
            Setting::Triggers => 8,
            Setting::Rlimit => 6,
        }
    }

    /// Every setting, in slot order.
    const ALL: [Setting; 8] = [
        Setting::Args,
        Setting::Tags,
        Setting::Fds,
        Setting::Triggers,
        Setting::Env,
        Setting::Cwd,
        Setting::User,
        Setting::Rlimit,
    ];

    fn slot(self) -> usize {
        self as usize
    }

    /// The error of a value that does not fit the service's pool object.
    pub fn full_error(self) -> &'static str {
        match self {
            Setting::Args => "unable to set argv",
            Setting::Tags => "unable to set tags",
            Setting::Fds => "unable to set file descriptors",
            Setting::Triggers => "unable to set auto_up triggers",
            Setting::Env => "unable to set environment",
            Setting::Cwd => "unable to set working directory",
            Setting::User => "unable to set user",
            Setting::Rlimit => "unable to set resource limits",
        }
    }
}

/// Slots of what the last start used, after the settings: an error
/// reported later describes that start, whatever the settings are by then.
const PROGRAM: usize = 8;
const STARTED_CWD: usize = 9;
const STARTED_USER: usize = 10;
/// Number of slots.
const SLOTS: usize = 11;

/// A service's variable-length values packed in one buffer: one
/// allocation per service instead of one per value, and none at all when
/// a value is replaced by one that fits the buffer's capacity.
#[derive(Debug, Default)]
struct Packed {
    data: Vec<u8>,
    /// Where each slot ends in `data` (slot *i* starts where *i-1* ends;
    /// each value is at most a command line, so all fit 16 bits).
    ends: [u16; SLOTS],
    /// Slots explicitly set (only `service.fds` has a default that differs
    /// from an empty value).
    present: u16,
}

impl Packed {
    fn range(&self, slot: usize) -> std::ops::Range<usize> {
        let start = if slot == 0 { 0 } else { self.ends[slot - 1] as usize };
        start..self.ends[slot] as usize
    }

    fn get(&self, slot: usize) -> Option<&[u8]> {
        (self.present & (1 << slot) != 0).then(|| &self.data[self.range(slot)])
    }

    fn set(&mut self, slot: usize, value: Option<&[u8]>) {
        let r = self.range(slot);
        let new = value.map_or(0, <[u8]>::len);
        let tail = self.data.len() - r.end;
        if new > r.len() {
            self.data.resize(self.data.len() + new - r.len(), 0);
        }
        self.data.copy_within(r.end..r.end + tail, r.start + new);
        self.data.truncate(r.start + new + tail);
        if let Some(v) = value {
            self.data[r.start..r.start + new].copy_from_slice(v);
        }
        let delta = new as i64 - r.len() as i64;
        for end in &mut self.ends[slot..] {
            *end = (i64::from(*end) + delta) as u16;
        }
        match value {
            Some(_) => self.present |= 1 << slot,
            None => self.present &= !(1 << slot),
        }
    }
}

/// One service.
#[derive(Debug)]
pub struct Service {
    /// Its name.
    pub name: NameBuf,
    values: Packed,
    /// Restart interval in seconds (0: never set).
    pub interval: u32,
    /// A start was asked of the driver and its result is not in yet.
    pub spawning: bool,
    /// `service.umask`.
    pub umask: Option<Umask>,
    /// `service.notify`.
    pub notify: Option<NotifyMode>,
    /// `service.listen_fds`.
    pub listen_fds: bool,
    /// When its current process reported readiness.
    pub ready: Option<Time>,
    /// Current state.
    pub state: State,
}

impl Service {
    /// A new service: down, no arguments, default descriptors, no triggers.
    pub fn new(name: NameBuf) -> Service {
        Service {
            name,
            values: Packed::default(),
            interval: 0,
            spawning: false,
            umask: None,
            notify: None,
            listen_fds: false,
            ready: None,
            state: State::Down(None),
        }
    }

    /// The argument list (TAB-separated).
    pub fn args(&self) -> &[u8] {
        self.values.get(Setting::Args.slot()).unwrap_or(b"")
    }

    /// The tags.
    pub fn tags(&self) -> &[u8] {
        self.values.get(Setting::Tags.slot()).unwrap_or(b"")
    }

    /// The descriptor list.
    pub fn fds(&self) -> FdList<'_> {
        match self.values.get(Setting::Fds.slot()) {
            None => FdList::DEFAULT,
            // Stored lists were validated by the parser.
            Some(v) => FdList::new(v).unwrap_or(FdList::DEFAULT),
        }
    }

    /// The trigger list.
    pub fn triggers(&self) -> Triggers<'_> {
        Triggers::new(self.values.get(Setting::Triggers.slot()).unwrap_or(b"")).unwrap_or(Triggers::NONE)
    }

    /// The environment changes.
    pub fn env(&self) -> EnvList<'_> {
        EnvList::new(self.values.get(Setting::Env.slot()).unwrap_or(b"")).unwrap_or(EnvList::NONE)
    }

    /// The working directory, if set.
    pub fn cwd(&self) -> Option<&[u8]> {
        self.values.get(Setting::Cwd.slot())
    }

    /// The credentials, if set.
    pub fn user(&self) -> Option<UserIds<'_>> {
        UserIds::parse(self.values.get(Setting::User.slot())?).ok()
    }

    /// The resource limits.
    pub fn rlimits(&self) -> Rlimits<'_> {
        Rlimits::new(self.values.get(Setting::Rlimit.slot()).unwrap_or(b"")).unwrap_or(Rlimits::NONE)
    }

    /// Whether a setting holds a value.
    pub fn is_set(&self, which: Setting) -> bool {
        self.values.get(which.slot()).is_some()
    }

    /// Whether any process setting (environment, directory, credentials,
    /// limits, umask) is set.
    pub fn has_process_settings(&self) -> bool {
        [Setting::Env, Setting::Cwd, Setting::User, Setting::Rlimit].iter().any(|s| self.values.get(s.slot()).is_some())
            || self.umask.is_some()
    }

    /// The program (`argv[0]`) of the last start, as spawned: an exec
    /// failure reported later names it, whatever `service.args` says by
    /// then.
    pub fn program(&self) -> &[u8] {
        self.values.get(PROGRAM).unwrap_or(b"")
    }

    /// The working directory of the last start.
    pub fn started_cwd(&self) -> &[u8] {
        self.values.get(STARTED_CWD).unwrap_or(b"")
    }

    /// The credentials of the last start.
    pub fn started_user(&self) -> Option<UserIds<'_>> {
        UserIds::parse(self.values.get(STARTED_USER)?).ok()
    }

    /// Remembers what a start uses (program, directory, credentials), for
    /// the reports of its failures.
    pub fn note_start(&mut self) {
        self.ready = None;
        let args = self.values.range(Setting::Args.slot());
        let tab = self.values.data[args.clone()].iter().position(|&b| b == b'\t');
        self.copy_slot(args.start..tab.map_or(args.end, |i| args.start + i), PROGRAM);
        for (from, to) in [(Setting::Cwd.slot(), STARTED_CWD), (Setting::User.slot(), STARTED_USER)] {
            if self.values.get(from).is_some() {
                self.copy_slot(self.values.range(from), to);
            } else {
                self.values.set(to, None);
            }
        }
    }

    /// Copies bytes of the buffer into slot `to` (through the stack: both
    /// are in the same buffer).
    fn copy_slot(&mut self, from: std::ops::Range<usize>, to: usize) {
        let mut tmp = [0u8; daemonproxy_proto::MAX_LINE];
        let n = from.len().min(tmp.len());
        tmp[..n].copy_from_slice(&self.values.data[from.start..from.start + n]);
        self.values.set(to, Some(&tmp[..n]));
    }

    /// The value of a setting that counts against the pool budget.
    fn counted(&self, which: Setting) -> Option<usize> {
        let v = self.values.get(which.slot())?;
        (which == Setting::Fds || !v.is_empty()).then_some(v.len())
    }

    /// Stores a process setting's value (`None` clears it).
    pub fn set_value(&mut self, which: Setting, value: Option<&[u8]>) {
        self.values.set(which.slot(), value.filter(|v| !v.is_empty() || which == Setting::Cwd));
    }

    /// Pool budget used with `which` replaced by a value of `len` bytes
    /// (`None`: the default, which costs nothing).
    pub fn budget_with(&self, which: Setting, len: Option<usize>) -> usize {
        Setting::ALL
            .into_iter()
            .map(|s| {
                let l = if s == which { len } else { self.counted(s) };
                l.map_or(0, |l| s.key_len() + l + 2)
            })
            .sum()
    }

    /// Stores a setting, reusing the buffer when it fits.
    pub fn set(&mut self, which: Setting, value: &[u8]) {
        let value = match which {
            Setting::Fds if value == FdList::DEFAULT.raw() => None,
            Setting::Fds => Some(value),
            _ => Some(value).filter(|v| !v.is_empty()),
        };
        self.values.set(which.slot(), value);
    }

    /// Whether an exit (or setting the triggers) should (re)start it: an
    /// `always` trigger, or a trigger signal whose count is nonzero.
    pub fn wants_auto_start(&self, pending: impl Fn(Signal) -> bool) -> bool {
        self.triggers().iter().any(|t| match t {
            Trigger::Always => true,
            Trigger::Signal(s) => pending(s),
        })
    }

    /// Whether `sig` is one of its triggers.
    pub fn triggered_by(&self, sig: Signal) -> bool {
        self.triggers().iter().any(|t| t == Trigger::Signal(sig))
    }

    /// The state as an event reports it at `now` (`live`: a state change
    /// as it happens, whose uptime/downtime fields are 0).
    pub fn event_state(&self, now: Time, live: bool) -> ServiceState {
        match self.state {
            State::Down(None) => ServiceState::Down,
            State::Start(at) => ServiceState::Start { at: at.secs() },
            State::Up { pid, since } => ServiceState::Up {
                since: since.secs(),
                pid: pid as u32,
                uptime: if live { 0 } else { (now - since).as_secs() },
            },
            State::Down(Some(e)) => ServiceState::Exited {
                at: e.at.secs(),
                pid: e.pid as u32,
                reason: e.reason,
                uptime: (e.at - e.since).as_secs(),
                downtime: if live { 0 } else { (now - e.at).as_secs() },
            },
        }
    }
}

impl Service {
    /// Writes the whole record.
    pub(crate) fn save(&self, w: &mut super::state::Writer) {
        w.bytes(self.name.as_bytes());
        w.u32(u32::from(self.values.present));
        for slot in 0..SLOTS {
            w.bytes(&self.values.data[self.values.range(slot)]);
        }
        w.u32(self.interval);
        w.opt_u64(self.umask.map(|m| u64::from(m.bits())));
        match self.notify {
            None => w.u8(0),
            Some(NotifyMode::Socket) => w.u8(1),
            Some(NotifyMode::Fd(n)) => {
                w.u8(2);
                w.u32(n);
            }
        }
        w.bool(self.listen_fds);
        w.opt_u64(self.ready.map(Time::as_nanos));
        match self.state {
            State::Down(None) => w.u8(0),
            State::Start(at) => {
                w.u8(1);
                w.time(at);
            }
            State::Up { pid, since } => {
                w.u8(2);
                w.u32(pid as u32);
                w.time(since);
            }
            State::Down(Some(e)) => {
                w.u8(3);
                w.time(e.at);
                w.u32(e.pid as u32);
                w.time(e.since);
                match e.reason {
                    ExitReason::Exit(code) => {
                        w.u8(0);
                        w.u32(u32::from(code));
                    }
                    ExitReason::Signal(sig) => {
                        w.u8(1);
                        w.u32(u32::from(sig.number()));
                    }
                }
            }
        }
    }

    /// Reads what [`Service::save`] wrote.
    pub(crate) fn load(r: &mut super::state::Reader<'_>) -> super::state::Got<Service> {
        use super::state::Bad;
        let mut s = Service::new(r.name()?);
        let present = r.u32()? as u16;
        for slot in 0..SLOTS {
            let v = r.bytes()?;
            s.values.set(slot, (present & (1 << slot) != 0).then_some(v));
        }
        s.interval = r.u32()?;
        s.umask = match r.opt_u64()? {
            Some(m) => Some(Umask::new(m as u16).ok_or(Bad("bad umask"))?),
            None => None,
        };
        s.notify = match r.u8()? {
            0 => None,
            1 => Some(NotifyMode::Socket),
            2 => Some(NotifyMode::Fd(r.u32()?)),
            _ => return Err(Bad("bad notify mode")),
        };
        s.listen_fds = r.bool()?;
        s.ready = r.opt_u64()?.map(Time::from_nanos);
        s.state = match r.u8()? {
            0 => State::Down(None),
            1 => State::Start(r.time()?),
            2 => State::Up { pid: r.u32()? as i32, since: r.time()? },
            3 => {
                let (at, pid, since) = (r.time()?, r.u32()? as i32, r.time()?);
                let reason = match r.u8()? {
                    0 => ExitReason::Exit(r.u32()? as u8),
                    _ => ExitReason::Signal(Signal::from_number(r.u32()? as u16)),
                };
                State::Down(Some(Exited { at, pid, since, reason }))
            }
            _ => return Err(Bad("bad service state")),
        };
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_values_replace_in_place_and_keep_their_neighbours() {
        let mut s = Service::new(NameBuf::from_static("s"));
        assert_eq!(s.fds().raw(), FdList::DEFAULT.raw());
        s.set(Setting::Tags, b"t1\tt2");
        s.set(Setting::Args, b"/bin/prog\t-x");
        s.set(Setting::Fds, b"");
        s.set(Setting::Triggers, b"always");
        assert_eq!((s.args(), s.tags(), s.fds().raw()), (&b"/bin/prog\t-x"[..], &b"t1\tt2"[..], &b""[..]));
        s.note_start();
        s.set(Setting::Args, b"other");
        assert_eq!((s.program(), s.args(), s.tags()), (&b"/bin/prog"[..], &b"other"[..], &b"t1\tt2"[..]));
        assert_eq!(s.triggers().raw(), b"always");
        s.set(Setting::Fds, FdList::DEFAULT.raw());
        s.set(Setting::Tags, b"");
        assert_eq!((s.fds().raw(), s.tags(), s.triggers().raw()), (FdList::DEFAULT.raw(), &b""[..], &b"always"[..]));
        // The empty list is a value of its own, and budgets count it.
        assert_eq!(s.budget_with(Setting::Fds, Some(0)), 4 + 5 + 2 + 8 + 6 + 2 + 3 + 2);
    }
}
