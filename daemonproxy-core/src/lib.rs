//! daemonproxy-core: the supervisor and its event loop, usable as a library.
//!
//! A [`Reactor`] holds services (children it starts, watches and restarts
//! on request), named handles (descriptors kept across restarts) and
//! controllers (anything that sends commands and receives events: stdin,
//! a config file, control-socket clients, service connections, or an
//! in-process controller of the embedding program). Commands and events
//! are the lines of the daemonproxy protocol, defined by
//! [`daemonproxy_proto`], which this crate re-exports as [`proto`].
//!
//! The library never exits the process and never assumes it is the only
//! thread: [`Reactor::run`] returns an [`Outcome`] and the caller decides.
//! It does change process-wide state that a supervisor cannot avoid: it
//! reaps every child (`waitpid(-1)`, so a program embedding it must not
//! wait for its own children elsewhere), catches the reported signals and
//! SIGCHLD (through signal-hook, restored when the reactor is dropped),
//! and catches the fatal signals to report them (restored on drop).
//!
//! ```no_run
//! use daemonproxy_core::{Options, Reactor, Outcome};
//!
//! let mut reactor = Reactor::new(Options::default()).expect("setup");
//! let me = reactor.attach();
//! reactor.send(me, b"service.args\tsleeper\tsleep\t1\nservice.start\tsleeper\n");
//! let mut events = Vec::new();
//! while !String::from_utf8_lossy(&events).contains("\tdown\t") {
//!     reactor.run_once(Some(std::time::Duration::from_millis(100)));
//!     reactor.take_events(me, &mut events);
//! }
//! ```
#![deny(unsafe_code)]

mod client;
mod handle;
#[doc(hidden)]
pub mod log;
pub mod process;
pub mod processes;
mod reactor;
mod registry;
mod service;
mod supervisor;
#[allow(unsafe_code)]
pub(crate) mod sys;
pub mod time;

pub use daemonproxy_proto as proto;
pub use reactor::{Reactor, HANDLED_SIGNALS};
pub use supervisor::{Outcome, Supervisor};
pub use time::{Time, SEC};

use daemonproxy_proto::LogLevel;

/// How to build a [`Reactor`].
#[derive(Clone, Debug)]
pub struct Options {
    /// Initial log filter (§11.1).
    pub log_filter: LogLevel,
    /// `--fd-pool N xM`: at most N handles, descriptions cut to fit M.
    pub fd_pool: Option<(usize, usize)>,
    /// `--service-pool N xM`: at most N services, M bytes of settings each.
    pub service_pool: Option<(usize, usize)>,
    /// The terminate guard (0 or `None`: none).
    pub exit_guard: Option<i64>,
    /// Exec-on-exit arguments (TAB-separated; empty: none).
    pub exec_args: Vec<u8>,
    /// Register descriptors 3..=1023 open at start-up as `fd_N` handles.
    pub register_inherited: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            log_filter: LogLevel::Debug,
            fd_pool: None,
            service_pool: None,
            exit_guard: None,
            exec_args: Vec::new(),
            register_inherited: false,
        }
    }
}
