//! End-to-end tests: the real `daemonproxy` binary, driven through its
//! protocol, with real child processes. One test binary (so the harness is
//! compiled once); every test is bounded in time and reaps what it starts.

mod harness;

mod abuse;
mod check;
mod cli;
mod commands;
mod compat;
mod controllers;
mod ctl;
mod docs;
mod examples;
mod faults;
mod handles;
mod logging;
mod pid1;
mod readiness;
mod reexec;
mod services;
mod settings;
mod shutdown;
