//! Service records and their states (§9).

use super::registry::NameBuf;
use crate::time::Time;
use daemonproxy_proto::{ExitReason, FdList, ServiceState, Signal, Trigger, Triggers};

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

/// Which variable setting of a service (for the pool budget, §13.2).
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
}

impl Setting {
    fn key_len(self) -> usize {
        match self {
            Setting::Args | Setting::Tags => 4,
            Setting::Fds => 3,
            Setting::Triggers => 8,
        }
    }

    /// Every setting, in slot order.
    const ALL: [Setting; 4] = [Setting::Args, Setting::Tags, Setting::Fds, Setting::Triggers];

    fn slot(self) -> usize {
        self as usize
    }
}

/// Slot of the program of the last start, after the settings.
const PROGRAM: usize = 4;
/// Number of slots.
const SLOTS: usize = 5;

/// A service's variable-length values packed in one buffer: one
/// allocation per service instead of one per value, and none at all when
/// a value is replaced by one that fits the buffer's capacity.
#[derive(Debug, Default)]
struct Packed {
    data: Vec<u8>,
    /// Where each slot ends in `data` (slot *i* starts where *i-1* ends).
    ends: [u32; SLOTS],
    /// Slots explicitly set (only `service.fds` has a default that differs
    /// from an empty value).
    present: u8,
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
            *end = (i64::from(*end) + delta) as u32;
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
    /// Current state.
    pub state: State,
}

impl Service {
    /// A new service: down, no arguments, default descriptors, no triggers.
    pub fn new(name: NameBuf) -> Service {
        Service { name, values: Packed::default(), interval: 0, spawning: false, state: State::Down(None) }
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

    /// The program (`argv[0]`) of the last start, as spawned: an exec
    /// failure reported later names it, whatever `service.args` says by
    /// then.
    pub fn program(&self) -> &[u8] {
        self.values.get(PROGRAM).unwrap_or(b"")
    }

    /// Remembers the program of a start (the first argument).
    pub fn note_program(&mut self) {
        let r = self.values.range(Setting::Args.slot());
        let end = self.values.data[r.clone()].iter().position(|&b| b == b'\t').map_or(r.end, |i| r.start + i);
        // Copied out first: the slot it goes to is in the same buffer.
        let mut prog = [0u8; daemonproxy_proto::MAX_LINE];
        let n = (end - r.start).min(prog.len());
        prog[..n].copy_from_slice(&self.values.data[r.start..r.start + n]);
        self.values.set(PROGRAM, Some(&prog[..n]));
    }

    /// The value of a setting that counts against the pool budget.
    fn counted(&self, which: Setting) -> Option<usize> {
        let v = self.values.get(which.slot())?;
        (which == Setting::Fds || !v.is_empty()).then_some(v.len())
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
        s.note_program();
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
