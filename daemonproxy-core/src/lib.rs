//! daemonproxy-core: the supervisor and its event loop, usable as a library.
//!
//! Two layers, each with one job:
//!
//! * [`Supervisor`] owns all state (services, named handles, connections,
//!   signal counts, the log) and makes every decision. It does no I/O: it
//!   is fed what happened and drained of what to do, in the manner of
//!   quinn-proto's `Connection`. It names descriptors with [`FdId`]s and
//!   never reads a clock, so it runs the same under the real event loop
//!   and under a simulation on virtual time ([`sim::Sim`]).
//! * [`Reactor`] owns the operating system: a mio `Poll`, every
//!   descriptor, the children (fork/exec, reaping), the signal handlers and
//!   the clock. It executes the supervisor's actions and feeds their
//!   results back. Its front-ends (stdin/stdout, config files, the control
//!   socket and its clients, services' control connections) are small
//!   modules; a program embedding it adds its own.
//!
//! ```text
//!  inputs (with `now`)                          outputs (drained in this order)
//!  ───────────────────                          ───────────────────────────────
//!  bytes from connection C ──┐                ┌─▶ 1. poll_action: Open, Pipe, Socket,
//!  end of C's input          │                │      Listen, Chdir, Kill, Spawn, Close...
//!  a child exited            │  ┌──────────┐  │      (answered by handle_result)
//!  an exec failed            ├─▶│Supervisor│──┼─▶ 2. poll_transmit: bytes for C
//!  a signal arrived          │  └──────────┘  │      (answered by handle_written)
//!  the result of an action   │                ├─▶ 3. poll_log: bytes for the log
//!  C can be written again    │                │      (answered by handle_log_written)
//!  time passed ──────────────┘                ├─▶ poll_outcome: stop, with a code
//!                                             └─▶ poll_timeout: when to call handle_timeout
//! ```
//!
//! The driver repeats 1-3 until all are empty after every input (an answer
//! is an input too); [`Supervisor`] documents the contract.
//!
//! The library never exits the process and never assumes it is the only
//! thread: [`Reactor::run`] returns an [`Outcome`] and the caller decides.
//! It does change process-wide state that a supervisor cannot avoid: it
//! reaps every child (`waitpid(-1)`, so a program embedding it must not
//! wait for its own children elsewhere), catches the reported signals and
//! SIGCHLD (through signal-hook) and the fatal signals, all restored when
//! the reactor is dropped. Hence one reactor per process at a time.
//!
//! A program with a controller of its own:
//!
//! ```no_run
//! use daemonproxy_core::{Options, Reactor};
//! use std::time::Duration;
//!
//! let mut reactor = Reactor::new(Options::new()).expect("setup");
//! let me = reactor.attach();
//! reactor.send(me, b"service.args\tsleeper\tsleep\t1\nservice.start\tsleeper\n");
//! let mut events = Vec::new();
//! while !String::from_utf8_lossy(&events).contains("\tdown\t") {
//!     reactor.run_once(Some(Duration::from_millis(100)));
//!     reactor.take_events(me, &mut events);
//! }
//! ```
//!
//! Front-ends of your own: [`Reactor::register`] watches a descriptor and
//! calls back when it is ready, [`Reactor::attach_writer`] makes a
//! controller whose events go wherever you write them (see
//! `examples/tcp_frontend.rs`). A program with its own event loop watches
//! [`Reactor::as_raw_fd`](std::os::fd::AsRawFd::as_raw_fd) and calls [`Reactor::run_once`] (see
//! `examples/outer_loop.rs`).
#![deny(unsafe_code)]

mod error;
mod ids;
mod options;
pub mod process;
mod reactor;
pub mod sim;
pub mod supervisor;
#[allow(unsafe_code)]
pub(crate) mod sys;
pub mod time;

pub use daemonproxy_proto as proto;
pub use error::{Error, ErrorKind, Outcome};
pub use ids::{ConnId, FdId, RequestId};
pub use options::Options;
pub use reactor::{take_restore_state, Callback, Interest, Reactor, Readiness, SourceId};
pub use supervisor::{ConnKind, Supervisor, Written};
pub use time::Time;

/// The crate's README, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
