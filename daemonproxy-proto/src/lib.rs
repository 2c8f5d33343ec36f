//! The daemonproxy wire protocol: every command and event as a typed value,
//! the line framer, and a small blocking client for controller authors.
//!
//! daemonproxy talks to its controllers in TAB-separated lines ending in LF.
//! This crate is the single definition of those lines:
//!
//! * [`Command`]: the lines a controller sends, parsed with typed and
//!   validated arguments ([`Command::parse`]) and written back
//!   ([`Command::encode`]). Parsing borrows from the line and does not
//!   allocate.
//! * [`Event`]: the lines daemonproxy sends, written into a caller's buffer
//!   ([`Event::encode`]) and parsed back ([`Event::parse`]) for controller
//!   authors.
//! * [`LineFramer`]: bytes in, lines out, with the protocol's 1023-byte line
//!   limit and the original's overflow behaviour, for any chunking.
//! * [`ParseError`]: a small `Copy` error whose `Display` texts are the
//!   protocol's error messages.
//! * [`Client`]: a blocking controller over any `Read` + `Write` pair (a
//!   controller service's stdin/stdout, a control-socket stream): send
//!   commands, read events, `sync`, and a `statedump` snapshot.
//!
//! Besides the original's protocol, the opt-in extensions of
//! daemonproxy-rs are typed the same way: the per-service process settings
//! ([`EnvList`], [`UserIds`], [`Rlimits`], [`Umask`], `service.cwd`),
//! readiness and socket activation ([`NotifyMode`], `service.ready`,
//! [`NotifyFields`], `service.listen_fds`), `conn.extended` with its
//! `service.rusage` and `orphan.exit` events, and `reexec`. A controller
//! that does not use them sees exactly the original's lines.
//!
//! Section numbers (protocol.md §N) in this crate are those of
//! `docs/protocol.md`, the protocol reference in the repository.
//!
//! Guarantees: no unsafe code, no dependencies, no panic on any input. The
//! protocol types do no I/O at all; the client does I/O only through the
//! reader and writer it is given.
//!
//! A controller's side of a conversation:
//!
//! ```
//! use daemonproxy_proto::{Command, Event, Name, ServiceState};
//!
//! // Commands to send.
//! let web = Name::from_text("web").unwrap();
//! let mut out = Vec::new();
//! Command::ServiceArgs { name: web, args: b"sleep\t30" }.encode(&mut out);
//! Command::ServiceStart { name: web, when: daemonproxy_proto::StartWhen::Now }.encode(&mut out);
//! assert_eq!(out, b"service.args\tweb\tsleep\t30\nservice.start\tweb\n");
//!
//! // An event received.
//! match Event::parse(b"service.state\tweb\tup\t695\t14268\t-\t-\t0\t-") {
//!     Ok(Event::ServiceState { name, state: ServiceState::Up { pid, .. } }) => {
//!         assert_eq!((name.as_str(), pid), ("web", 14268));
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```
#![forbid(unsafe_code)]

mod addr;
mod client;
mod command;
mod error;
mod event;
mod fields;
mod flags;
mod frame;
mod level;
mod name;
mod rlimit;
mod settings;
mod signal;

pub use addr::{AddrKind, SocketAddr, MAX_UNIX_PATH};
pub use client::{
    AutoUp, Client, Credentials, HandleInfo, OwnedEvent, Readiness, ServiceInfo, SignalInfo, Snapshot, SyncMark,
};
pub use command::{
    Command, CommandKind, FdEntry, FdList, LogFilterArg, Special, StartWhen, Trigger, Triggers, MAX_EXEC_ARGS,
    MAX_INTERVAL, MAX_TIMEOUT,
};
pub use error::{CommandError, ParseError};
pub use event::{
    encode_command_error, encode_unknown_command, Event, ExitReason, FdInfo, InvalidEvent, ServiceState,
    ERROR_MESSAGE_MAX, ERROR_QUOTE_LEN,
};
pub use flags::{Domain, OpenFlags, PipeFlags, SockType, SocketFlags, DEFAULT_LISTEN_BACKLOG};
pub use frame::{is_ignored, Frame, LineFramer, DEFAULT_CAPACITY, MAX_EVENT_LINE, MAX_LINE, TAB_HINT};
pub use level::LogLevel;
pub use name::{is_name_byte, Name, MAX_NAME_LEN};
pub use rlimit::{Limit, Resource, Rlimit, Rlimits};
pub use settings::{EnvEntry, EnvList, Groups, NotifyFields, NotifyMode, Umask, UserIds, NOTIFY_FDS};
pub use signal::Signal;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
