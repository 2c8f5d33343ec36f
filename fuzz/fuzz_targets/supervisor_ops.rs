//! Arbitrary sequences of commands, exits, signals and clock advances
//! against the sans-IO supervisor (pretend processes, virtual time).
//!
//! Invariants checked after every step: no panic; the pid index names
//! exactly the running services (`check_invariants`); a deleted service
//! never goes `up` again before a new `start`; every `up` is followed by
//! exactly one `down` (checked when all pretend processes are made to exit
//! at the end).
#![no_main]

use daemonproxy_core::processes::{Simulated, WaitStatus};
use daemonproxy_core::proto::{Event, ServiceState, Signal};
use daemonproxy_core::{Options, Supervisor, SEC};
use libfuzzer_sys::fuzz_target;
use std::collections::{HashMap, HashSet};

const NAMES: [&str; 4] = ["a", "b", "c", "d"];
const SIGNALS: [Signal; 4] = [Signal::HUP, Signal::INT, Signal::USR1, Signal::TERM];

/// Command templates; `{}` is a service name.
const TEMPLATES: [&str; 16] = [
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
    fn take(&mut self, sup: &mut Supervisor, me: usize, buf: &mut Vec<u8>) {
        buf.clear();
        sup.take_events(me, buf);
        for line in buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
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
    let procs = Simulated::new();
    let Ok(mut sup) = Supervisor::simulated(&Options::default(), Box::new(procs.clone())) else { return };
    let me = sup.attach();
    let mut now = 1000 * SEC;
    let mut track = Track::default();
    let mut buf = Vec::new();
    for step in data.chunks(2).take(400) {
        let (op, arg) = (step[0], step.get(1).copied().unwrap_or(0));
        let name = NAMES[usize::from(arg >> 6) % NAMES.len()];
        match op % 6 {
            0 | 1 => {
                let line = TEMPLATES[usize::from(arg) % TEMPLATES.len()].replace("{}", name) + "\n";
                if std::env::var_os("TRACE").is_some() {
                    eprint!("> {line}");
                }
                sup.send(me, line.as_bytes(), now);
            }
            2 => {
                let live: Vec<i32> = procs.with(|s| s.live.keys().copied().collect());
                if !live.is_empty() {
                    let pid = live[usize::from(arg) % live.len()];
                    procs.exit(pid);
                    let status =
                        if arg & 1 == 0 { WaitStatus::Exited(arg >> 1) } else { WaitStatus::Signaled(i32::from(arg % 31) + 1) };
                    sup.handle_exit(pid, status, now);
                }
            }
            3 => sup.handle_signal(SIGNALS[usize::from(arg) % SIGNALS.len()], now),
            4 => {
                now += u64::from(arg) * SEC / 8;
                sup.start_due(now);
                sup.check_timeouts(now);
            }
            _ => procs.with(|s| s.fail_fork = (arg % 5 == 0).then_some(libc::EAGAIN)),
        }
        sup.start_due(now);
        track.take(&mut sup, me, &mut buf);
        if let Err(e) = sup.check_invariants() {
            panic!("invariant broken: {e}");
        }
    }
    // Stop every restart source, end every process: each up gets its down.
    procs.with(|s| s.fail_fork = None);
    for n in NAMES {
        sup.send(me, format!("service.auto_up\t{n}\t-\nservice.start\t{n}\t-\n").as_bytes(), now);
    }
    sup.send(me, b"signal.clear\tSIGHUP\t1000000\n", now);
    loop {
        let live: Vec<i32> = procs.with(|s| s.live.keys().copied().collect());
        if live.is_empty() {
            break;
        }
        for pid in live {
            procs.exit(pid);
            sup.handle_exit(pid, WaitStatus::Exited(0), now);
        }
        now += 10 * SEC;
        sup.start_due(now);
        track.take(&mut sup, me, &mut buf);
    }
    track.take(&mut sup, me, &mut buf);
    sup.check_invariants().unwrap();
    if !track.overflow {
        assert!(track.running.is_empty(), "up without down: {:?}", track.running);
    }
});
