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
}

/// One service.
#[derive(Debug)]
pub struct Service {
    /// Its name.
    pub name: NameBuf,
    args: Vec<u8>,
    tags: Vec<u8>,
    /// `None`: the default `null\tnull\tnull`.
    fds: Option<Vec<u8>>,
    triggers: Vec<u8>,
    /// Restart interval in seconds (0: never set).
    pub interval: u32,
    /// Current state.
    pub state: State,
    /// The program (`argv[0]`) of the last start, as spawned: an exec
    /// failure reported later names it, whatever `service.args` says by
    /// then. The buffer is reused, so starts do not allocate.
    pub program: Vec<u8>,
    /// A start was asked of the driver and its result is not in yet.
    pub spawning: bool,
}

impl Service {
    /// A new service: down, no arguments, default descriptors, no triggers.
    pub fn new(name: NameBuf) -> Service {
        Service {
            name,
            args: Vec::new(),
            tags: Vec::new(),
            fds: None,
            triggers: Vec::new(),
            interval: 0,
            state: State::Down(None),
            program: Vec::new(),
            spawning: false,
        }
    }

    /// The argument list (TAB-separated).
    pub fn args(&self) -> &[u8] {
        &self.args
    }

    /// The tags.
    pub fn tags(&self) -> &[u8] {
        &self.tags
    }

    /// The descriptor list.
    pub fn fds(&self) -> FdList<'_> {
        match &self.fds {
            None => FdList::DEFAULT,
            // Stored lists were validated by the parser.
            Some(v) => FdList::new(v).unwrap_or(FdList::DEFAULT),
        }
    }

    /// The trigger list.
    pub fn triggers(&self) -> Triggers<'_> {
        Triggers::new(&self.triggers).unwrap_or(Triggers::NONE)
    }

    fn slot(&self, which: Setting) -> Option<&Vec<u8>> {
        match which {
            Setting::Args => Some(&self.args).filter(|v| !v.is_empty()),
            Setting::Tags => Some(&self.tags).filter(|v| !v.is_empty()),
            Setting::Fds => self.fds.as_ref(),
            Setting::Triggers => Some(&self.triggers).filter(|v| !v.is_empty()),
        }
    }

    /// Pool budget used with `which` replaced by a value of `len` bytes
    /// (`None`: the default, which costs nothing).
    pub fn budget_with(&self, which: Setting, len: Option<usize>) -> usize {
        [Setting::Args, Setting::Tags, Setting::Fds, Setting::Triggers]
            .into_iter()
            .map(|s| {
                let l = if s == which { len } else { self.slot(s).map(Vec::len) };
                l.map_or(0, |l| s.key_len() + l + 2)
            })
            .sum()
    }

    /// Stores a setting, reusing the existing allocation when it fits.
    pub fn set(&mut self, which: Setting, value: &[u8]) {
        let slot = match which {
            Setting::Args => &mut self.args,
            Setting::Tags => &mut self.tags,
            Setting::Triggers => &mut self.triggers,
            Setting::Fds => {
                if value == FdList::DEFAULT.raw() {
                    self.fds = None;
                    return;
                }
                self.fds.get_or_insert_with(Vec::new)
            }
        };
        slot.clear();
        slot.extend_from_slice(value);
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

    /// Remembers the program of a start (the first argument).
    pub fn note_program(&mut self) {
        let prog = self.args.split(|&b| b == b'\t').next().unwrap_or(b"");
        self.program.clear();
        self.program.extend_from_slice(prog);
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
