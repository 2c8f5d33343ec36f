//! The supervisor on virtual time ([`daemonproxy_core::sim::Sim`]): every
//! command and every service state transition of docs/protocol.md, good and bad
//! cases, without a single real process, descriptor or sleep. One test
//! binary, so the helpers are compiled once.

mod support;

mod admission;
mod connections;
mod handles;
mod lifecycle;
mod logging;
mod readiness;
mod reexec;
mod services;
mod settings;
mod terminate;
