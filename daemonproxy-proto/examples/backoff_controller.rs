//! A daemonproxy controller in Rust, built on the crate's blocking client.
//!
//! Policy (the same as `examples/controller.sh`): keep the managed services
//! running; when one exits, restart it after a delay that doubles (1, 2,
//! 4 ... 30 s) while it keeps exiting quickly, and goes back to 1 s after a
//! run of 10 s or more. On SIGTERM to the daemon: clear the signal, stop
//! every managed service (`service.signal NAME SIGTERM`, or cancel a
//! pending start), wait for their `down` events, then `terminate 0`.
//!
//! Run it as a controller service (events on stdin, commands on stdout), as
//! `examples/rust-controller.conf` does; in a config file the fields of a
//! line are separated by single TABs (written `\t` here, so that no one
//! copies spaces):
//!
//! ```text
//! service.args\tcontroller\ttarget/debug/examples/backoff_controller[\tSERVICE...]
//! service.fds\tcontroller\tcontrol.event\tcontrol.cmd\tstderr
//! service.auto_up\tcontroller\t1\talways
//! ```
//!
//! With SERVICE names it manages those services (defined elsewhere, e.g.
//! in the config file); without, it defines a demo service `worker`.
//! Build it with `cargo build -p daemonproxy-proto --example backoff_controller`.

use daemonproxy_proto::{
    Client, Command, Event, ExitReason, Name, OwnedEvent, ServiceState, Signal, Snapshot, StartWhen,
};
use std::collections::{BTreeMap, VecDeque};
use std::io::{self, StdinLock, Stdout};

const FIRST_DELAY: u64 = 1;
const MAX_DELAY: u64 = 30;
const LONG_RUN: u64 = 10;

struct Controller {
    client: Client<StdinLock<'static>, Stdout>,
    /// The daemon's state, kept current by applying every event.
    state: Snapshot,
    /// The managed services and the delay before their next restart.
    delays: BTreeMap<String, u64>,
    stopping: bool,
    /// Events read while waiting for a sync token, handled next.
    backlog: VecDeque<OwnedEvent>,
}

fn main() -> io::Result<()> {
    let mut client = Client::stdio();
    let mut names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        names.push("worker".into());
        client.send_line(b"service.args\tworker\tsh\t-c\techo \"worker $$ working\" >&2; sleep 3")?;
        client.send_line(b"service.fds\tworker\tnull\tstderr\tstderr")?;
    }
    if let Some(bad) = names.iter().find(|n| Name::from_text(n).is_none()) {
        eprintln!("backoff_controller: invalid service name {bad:?}");
        std::process::exit(2);
    }
    let delays = names.into_iter().map(|n| (n, FIRST_DELAY)).collect();
    let mut c = Controller { client, state: Snapshot::default(), delays, stopping: false, backlog: VecDeque::new() };
    c.resync()?;
    c.run()
}

impl Controller {
    fn run(&mut self) -> io::Result<()> {
        loop {
            let ev = match self.backlog.pop_front() {
                Some(ev) => ev,
                None => match self.client.next_event()? {
                    Some(ev) => ev,
                    None => return Ok(()), // the daemon has gone
                },
            };
            let Ok(event) = ev.event() else { continue };
            self.state.apply(&event);
            match event {
                Event::Overflow => self.resync()?,
                Event::Signal { signal: Signal::TERM, count, .. } if !self.stopping => self.stop(count)?,
                Event::ServiceState { name, state } if self.delays.contains_key(name.as_str()) => {
                    match state {
                        ServiceState::Up { .. } if self.stopping => self.signal(name)?,
                        ServiceState::Exited { at, uptime, reason, .. } if !self.stopping => {
                            self.restart_later(name, at, uptime, reason)?;
                        }
                        _ => {}
                    }
                    self.terminate_when_stopped()?;
                }
                _ => {}
            }
        }
    }

    /// Learns the whole state (at start and after lost events), then
    /// starts the managed services that are down, or goes on stopping.
    fn resync(&mut self) -> io::Result<()> {
        self.state = self.client.statedump()?;
        let term = self.state.signal_count(Signal::TERM);
        if self.stopping || term > 0 {
            return self.stop(term);
        }
        let down: Vec<String> = self.delays.keys().filter(|n| !self.is_running(n)).cloned().collect();
        for name in down {
            let name = Name::from_text(&name).expect("checked in main");
            self.client.send(&Command::ServiceStart { name, when: StartWhen::Now })?;
        }
        Ok(())
    }

    fn restart_later(&mut self, name: Name<'_>, at: u64, uptime: u64, reason: ExitReason) -> io::Result<()> {
        let delay = self.delays.get_mut(name.as_str()).expect("a managed service");
        if uptime >= LONG_RUN {
            *delay = FIRST_DELAY;
        }
        let reason = match reason {
            ExitReason::Exit(status) => format!("exit {status}"),
            ExitReason::Signal(sig) => format!("signal {sig}"),
        };
        eprintln!("backoff_controller: {name} exited ({reason}), restart in {delay}s");
        let when = u32::try_from(at + *delay).unwrap_or(u32::MAX);
        *delay = (*delay * 2).min(MAX_DELAY);
        // service.start refuses a second that has already begun, which
        // happens when this controller sees the `down` late: start now then.
        self.client.send(&Command::ServiceStart { name, when: StartWhen::At(when) })?;
        for ev in self.client.sync()? {
            match ev.event() {
                Ok(Event::Error { message }) if message.starts_with(b"invalid timestamp") => {
                    self.client.send(&Command::ServiceStart { name, when: StartWhen::Now })?;
                }
                _ => self.backlog.push_back(ev),
            }
        }
        Ok(())
    }

    /// SIGTERM to the daemon (`count` receptions to clear): stop every
    /// managed service; terminate once all are down.
    fn stop(&mut self, count: u64) -> io::Result<()> {
        if !self.stopping {
            eprintln!("backoff_controller: SIGTERM, stopping");
        }
        self.stopping = true;
        if count > 0 {
            self.client.send(&Command::SignalClear { signal: Signal::TERM, count })?;
        }
        let names: Vec<String> = self.delays.keys().cloned().collect();
        for name in &names {
            let name = Name::from_text(name).expect("checked in main");
            match self.state.services.get(name.as_str()).map(|s| s.state) {
                Some(ServiceState::Up { .. }) => self.signal(name)?,
                Some(ServiceState::Start { .. }) => {
                    self.client.send(&Command::ServiceStart { name, when: StartWhen::Cancel })?;
                }
                _ => {}
            }
        }
        self.terminate_when_stopped()
    }

    fn signal(&mut self, name: Name<'_>) -> io::Result<()> {
        self.client.send(&Command::ServiceSignal { name, signal: Signal::TERM, group: false })
    }

    fn terminate_when_stopped(&mut self) -> io::Result<()> {
        if self.stopping && !self.delays.keys().any(|n| self.is_running(n)) {
            eprintln!("backoff_controller: all stopped, terminating");
            self.client.send(&Command::Terminate { code: 0, guard: None })?;
        }
        Ok(())
    }

    /// Up, or about to start.
    fn is_running(&self, name: &str) -> bool {
        self.state
            .services
            .get(name)
            .is_some_and(|s| matches!(s.state, ServiceState::Up { .. } | ServiceState::Start { .. }))
    }
}
