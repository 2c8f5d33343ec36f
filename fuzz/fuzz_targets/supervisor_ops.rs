//! Arbitrary sequences of commands, exits, signals and clock advances
//! against the sans-IO supervisor (pretend processes, virtual time).
//!
//! `reexec` writes the whole state and reads it back into a new
//! supervisor in the middle of all that.
//!
//! Invariants checked after every step: no panic; every state written is
//! read back; the pid index names
//! exactly the running services (`check_invariants`); a deleted service
//! never goes `up` again before a new `start`; every `up` is followed by
//! exactly one `down` (checked when all pretend processes are made to exit
//! at the end).
#![no_main]

use daemonproxy_core::proto::{Event, ExitReason, ServiceState, Signal};
use daemonproxy_core::sim::Sim;
use daemonproxy_core::ConnId;
use std::time::Duration;
use libfuzzer_sys::fuzz_target;
use std::collections::{HashMap, HashSet};

const NAMES: [&str; 4] = ["a", "b", "c", "d"];
const SIGNALS: [Signal; 4] = [Signal::HUP, Signal::INT, Signal::USR1, Signal::TERM];

/// Command templates; `{}` is a service name.
const TEMPLATES: [&str; 17] = [
    "service.args\t{}\ttrue",
    "service.args\t{}",
    "service.start\t{}",
    "service.start\t{}\t-",
    "service.start\t{}\t1003",
    "service.signal\t{}\tTERM",
    "service.delete\t{}",
    "service.auto_up\t{}\t1\talways",
    "service.auto_up\t{}\t2\tSIGHUP",
    "service.auto_up\t{}\t-",
    "service.auto_up\t{}\t0\talways",
    "service.fds\t{}\tnull\tmissing\tnull",
    "service.fds\t{}\tnull\tcontrol.cmd",
    "signal.clear\tSIGHUP\t1",
    "statedump",
    "fd.pipe\tr.{}\tw.{}",
    "reexec",
];

/// Follows the event stream. Keyed by pid, because `statedump` repeats the
/// current `up`/`down` lines of every service.
#[derive(Default)]
struct Track {
    /// Pids reported up and not yet down, with their service.
    running: HashMap<u32, String>,
    /// Pids reported down.
    exited: HashSet<u32>,
    /// Names deleted and not started since.
    deleted: HashMap<String, bool>,
    overflow: bool,
}

impl Track {
    fn take(&mut self, sim: &mut Sim, me: ConnId) {
        for line in sim.events(me) {
            let line = line.as_bytes();
            if std::env::var_os("TRACE").is_some() {
                eprintln!("< {}", String::from_utf8_lossy(line));
            }
            match Event::parse(line) {
                Ok(Event::ServiceState { name, state }) => {
                    let n = name.as_str().to_owned();
                    match state {
                        ServiceState::Up { pid, .. } => {
                            if !self.running.contains_key(&pid) {
                                assert!(!self.deleted.get(&n).copied().unwrap_or(false), "deleted {n} went up");
                                assert!(!self.exited.contains(&pid), "pid {pid} up again");
                                assert!(!self.running.values().any(|r| *r == n), "{n} up twice at once");
                                self.running.insert(pid, n);
                            }
                        }
                        ServiceState::Exited { pid, .. } => {
                            if self.running.remove(&pid).is_none() {
                                assert!(self.exited.contains(&pid) || self.overflow, "down of {n} pid {pid} without up");
                            }
                            self.exited.insert(pid);
                        }
                        ServiceState::Deleted => {
                            assert!(!self.running.values().any(|r| *r == n), "{n} deleted while up");
                            self.deleted.insert(n, true);
                        }
                        ServiceState::Start { .. } | ServiceState::Down => {
                            self.deleted.insert(n, false);
                        }
                    }
                }
                Ok(Event::Overflow) => self.overflow = true,
                _ => {}
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut sim = Sim::new();
    let me = sim.attach();
    let mut track = Track::default();
    for step in data.chunks(2).take(400) {
        let (op, arg) = (step[0], step.get(1).copied().unwrap_or(0));
        let name = NAMES[usize::from(arg >> 6) % NAMES.len()];
        match op % 6 {
            0 | 1 => {
                let line = TEMPLATES[usize::from(arg) % TEMPLATES.len()].replace("{}", name) + "\n";
                if std::env::var_os("TRACE").is_some() {
                    eprint!("> {line}");
                }
                sim.send(me, &line);
            }
            2 => {
                let live: Vec<i32> = sim.processes().keys().copied().collect();
                if !live.is_empty() {
                    let pid = live[usize::from(arg) % live.len()];
                    let how = if arg & 1 == 0 {
                        ExitReason::Exit(arg >> 1)
                    } else {
                        ExitReason::Signal(Signal::from_number(u16::from(arg % 31) + 1))
                    };
                    sim.exit(pid, how);
                }
            }
            3 => sim.signal(SIGNALS[usize::from(arg) % SIGNALS.len()]),
            4 => sim.advance(Duration::from_millis(u64::from(arg) * 125)),
            _ => sim.fail_fork((arg % 5 == 0).then_some(libc::EAGAIN)),
        }
        sim.advance(Duration::ZERO);
        track.take(&mut sim, me);
        if let Err(e) = sim.supervisor().check_invariants() {
            panic!("invariant broken: {e}");
        }
        // A `reexec` wrote the state and read it back.
        assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    }
    // Stop every restart source, end every process: each up gets its down.
    sim.fail_fork(None);
    for n in NAMES {
        sim.send(me, &format!("service.auto_up\t{n}\t-\nservice.start\t{n}\t-\n"));
    }
    sim.send(me, "signal.clear\tSIGHUP\t1000000\n");
    loop {
        let live: Vec<i32> = sim.processes().keys().copied().collect();
        if live.is_empty() {
            break;
        }
        for pid in live {
            sim.exit(pid, ExitReason::Exit(0));
        }
        sim.advance_secs(10);
        track.take(&mut sim, me);
    }
    track.take(&mut sim, me);
    sim.supervisor().check_invariants().unwrap();
    if !track.overflow {
        assert!(track.running.is_empty(), "up without down: {:?}", track.running);
    }
});
