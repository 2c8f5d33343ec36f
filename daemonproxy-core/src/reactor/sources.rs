//! Descriptors of the embedding program, watched by the reactor: the way
//! to plug a front-end of your own into the event loop (a TCP listener, a
//! timerfd, a D-Bus connection...).
//!
//! A registered descriptor's callback runs in the reactor's loop, after
//! signals and exits were handled and before the connections run, with
//! the reactor itself at hand: it can attach connections, send them
//! commands, take their events, register or deregister descriptors.
//! Readiness is edge-triggered (epoll's `EPOLLET`, as mio uses it): read
//! or write until the call would block, or the next report may never come.

use std::fmt;
use std::os::fd::RawFd;

use super::Reactor;

/// A registered descriptor.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SourceId(pub(crate) usize);

/// What to watch a descriptor for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Interest {
    pub(crate) readable: bool,
    pub(crate) writable: bool,
}

impl Interest {
    /// Readable (or closed).
    pub const READABLE: Interest = Interest { readable: true, writable: false };
    /// Writable.
    pub const WRITABLE: Interest = Interest { readable: false, writable: true };
    /// Both.
    pub const BOTH: Interest = Interest { readable: true, writable: true };
}

/// What the poll reported for a descriptor.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Readiness {
    /// Data (or a connection) can be read.
    pub readable: bool,
    /// Data can be written.
    pub writable: bool,
    /// The peer closed its end (reading gives end of file).
    pub closed: bool,
    /// An error is pending on the descriptor.
    pub error: bool,
}

impl Readiness {
    pub(crate) fn merge(&mut self, other: Readiness) {
        self.readable |= other.readable;
        self.writable |= other.writable;
        self.closed |= other.closed;
        self.error |= other.error;
    }
}

/// The function called when a registered descriptor is ready.
pub type Callback = Box<dyn FnMut(&mut Reactor, SourceId, Readiness)>;

/// One registered descriptor.
pub(crate) struct Source {
    pub fd: RawFd,
    /// Taken out while it runs (it may reach the reactor).
    pub callback: Option<Callback>,
    /// Readiness reported and not yet handed to the callback.
    pub ready: Option<Readiness>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source").field("fd", &self.fd).field("ready", &self.ready).finish_non_exhaustive()
    }
}
