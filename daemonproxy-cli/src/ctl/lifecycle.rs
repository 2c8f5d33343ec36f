//! `ctl start|stop|restart NAME` and `ctl shutdown`: the policy lives here,
//! in the client; the daemon only executes commands and reports events.
//!
//! **start** sends `service.start NAME`, waits for the `up` event (within
//! `--timeout`), then waits [`EXEC_GRACE`] more for a sign that the
//! program could not be executed: the daemon's broadcast
//! `error\tservice NAME: exec "PROG" failed: ERROR`, or a `down` with exit
//! status 3 (what a failed exec exits with). Either one means failure
//! (exit status 1). A `down` for another reason within the grace is
//! reported but is not a failure: the program did run. The daemon sends no
//! event when an exec succeeds, hence the grace.
//!
//! **stop** clears the service's auto_up triggers (`service.auto_up NAME
//! -`, which keeps the interval), cancels a pending start
//! (`service.start NAME -`), sends TERM to its process group
//! (`service.signal NAME TERM group`) and waits for `down`. If it is still
//! up `--kill-after` seconds after the stop began, KILL goes to the group,
//! and `down` is waited for within `--timeout`. A start that races with the
//! stop (an `up` or `start` event for the service meanwhile) gets the same
//! treatment. Exit status 5 tells that KILL was needed.
//!
//! **restart** is stop then start; afterwards the auto_up triggers that
//! stop cleared are set again, so a service meant to be kept up still is.
//!
//! **shutdown** stops every service that way (KILL after TIMEOUT), then
//! sends `terminate 0` and waits for the daemon to close the connection.
//! With `--guard CODE`, the code is checked first (clearing the guard and
//! setting it again) so that a wrong code stops nothing, and the guard is
//! cleared right before `terminate`: with a guard set, `terminate` could
//! only exec the exec-on-exit command, not exit.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use daemonproxy_proto::{Event, ExitReason, OwnedEvent, ServiceInfo, ServiceState, Snapshot, Trigger};

use super::conn::{Conn, Next};
use super::reply::{answers, exec_failure, quotes_a_command, without_quote};
use super::{fail, print_line, warn, Failure, EXIT_FAILED, EXIT_KILLED, EXIT_OK, EXIT_TIMEOUT};

/// How long after `up` a sign of a failed exec is waited for.
pub(super) const EXEC_GRACE: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------- start

/// How a start ended.
#[derive(Debug, PartialEq)]
pub(super) enum StartOutcome {
    /// Up, and no sign of a failed exec within the grace.
    Up { pid: u32 },
    /// Up, then down within the grace, not as a failed exec.
    Exited { pid: u32, reason: ExitReason },
    /// The program could not be executed: the daemon's text for it, or
    /// `None` when only the exit status 3 tells.
    ExecFailed { error: Option<String> },
    /// The start was cancelled, or the service deleted, before `up`.
    Cancelled,
}

impl StartOutcome {
    /// Why the start failed (`None`: the program ran).
    pub(super) fn problem(&self, name: &str) -> Option<String> {
        match self {
            StartOutcome::Up { .. } | StartOutcome::Exited { .. } => None,
            StartOutcome::ExecFailed { error: Some(text) } => Some(format!("{name}: {text}")),
            StartOutcome::ExecFailed { error: None } => {
                Some(format!("{name}: exited with status 3 at once, as a failed exec does (see the daemon's log)"))
            }
            StartOutcome::Cancelled => Some(format!("{name}: the start was cancelled before the service came up")),
        }
    }
}

/// Follows the events after a `service.start NAME` to its outcome.
#[derive(Debug)]
pub(super) struct StartWatch {
    name: String,
    /// Pid and arrival of the `up` event.
    up: Option<(u32, Instant)>,
    /// The text of the exec failure event.
    exec_error: Option<String>,
}

impl StartWatch {
    pub(super) fn new(name: &str) -> StartWatch {
        StartWatch { name: name.to_owned(), up: None, exec_error: None }
    }

    /// Follows one event; the outcome, once it is known.
    pub(super) fn see(&mut self, ev: &OwnedEvent) -> Option<StartOutcome> {
        match ev.event() {
            Ok(Event::ServiceState { name, state }) if name.as_str() == self.name => match (state, self.up) {
                (ServiceState::Up { pid, .. }, None) => {
                    self.up = Some((pid, Instant::now()));
                    None
                }
                (ServiceState::Exited { pid, reason, .. }, Some(_)) => {
                    Some(if self.exec_error.is_some() || reason == ExitReason::Exit(3) {
                        StartOutcome::ExecFailed { error: self.exec_error.take() }
                    } else {
                        StartOutcome::Exited { pid, reason }
                    })
                }
                (ServiceState::Down | ServiceState::Deleted, _) => Some(StartOutcome::Cancelled),
                _ => None,
            },
            Ok(Event::Error { message }) => {
                if let Some((name, text)) = exec_failure(message) {
                    if name == self.name {
                        self.exec_error = Some(text);
                    }
                }
                None
            }
            _ => None,
        }
    }

    /// The outcome when nothing more is going to be waited for.
    fn settle(&mut self) -> Option<StartOutcome> {
        let (pid, _) = self.up?;
        Some(match self.exec_error.take() {
            Some(text) => StartOutcome::ExecFailed { error: Some(text) },
            None => StartOutcome::Up { pid },
        })
    }
}

/// Waits for the outcome of a start whose command has been executed:
/// `up` within `--timeout`, then the grace. Every event is shown to
/// `shown` first.
pub(super) fn await_start(
    conn: &mut Conn,
    mut watch: StartWatch,
    shown: &mut dyn FnMut(&OwnedEvent) -> Result<(), Failure>,
) -> Result<StartOutcome, Failure> {
    let up_deadline = conn.answer_deadline();
    loop {
        let until = watch.up.map(|(_, at)| at + EXEC_GRACE).or(up_deadline);
        match conn.next(None, until)? {
            Next::Event(ev) => {
                shown(&ev)?;
                if let Some(outcome) = watch.see(&ev) {
                    return Ok(outcome);
                }
            }
            Next::Waited => {
                return watch.settle().ok_or_else(|| {
                    let secs = conn.timeout.as_secs_f64();
                    fail(EXIT_TIMEOUT, format!("{} did not come up within {secs} s (see the daemon's log)", watch.name))
                })
            }
            Next::Closed => return Err(conn.closed()),
            Next::Synced => {}
        }
    }
}

/// Sends `service.start NAME` and follows it to its outcome.
fn start_service(conn: &mut Conn, name: &str) -> Result<StartOutcome, Failure> {
    let line = format!("service.start\t{name}");
    conn.send(line.as_bytes())?;
    let mark = conn.send_sync()?;
    let until = conn.answer_deadline();
    let mut watch = StartWatch::new(name);
    loop {
        match conn.next(Some(mark), until)? {
            Next::Event(ev) => {
                if let Ok(Event::Error { message }) = ev.event() {
                    if answers(line.as_bytes(), message) {
                        return Err(fail(EXIT_FAILED, format!("cannot start {name}: {}", without_quote(message))));
                    }
                }
                if let Some(outcome) = watch.see(&ev) {
                    return Ok(outcome);
                }
            }
            Next::Synced => return await_start(conn, watch, &mut |_| Ok(())),
            Next::Waited => return Err(conn.no_answer()),
            Next::Closed => return Err(conn.closed()),
        }
    }
}

/// Prints how a start went; the exit status.
fn report_start(name: &str, outcome: &StartOutcome) -> Result<i32, Failure> {
    if let Some(problem) = outcome.problem(name) {
        return Err(fail(EXIT_FAILED, problem));
    }
    match outcome {
        StartOutcome::Up { pid } => print_line(&format!("{name}: up (pid {pid})"))?,
        StartOutcome::Exited { pid, reason } => {
            print_line(&format!("{name}: up (pid {pid}), then down at once ({})", exit_text(*reason)))?;
        }
        StartOutcome::ExecFailed { .. } | StartOutcome::Cancelled => {}
    }
    Ok(EXIT_OK)
}

/// The service from a snapshot, or the failure for a missing one.
fn service<'s>(snap: &'s Snapshot, name: &str) -> Result<&'s ServiceInfo, Failure> {
    snap.services.get(name).ok_or_else(|| fail(EXIT_FAILED, format!("no service named {name}")))
}

/// `ctl start NAME`.
pub(super) fn start(conn: &mut Conn, name: &str) -> Result<i32, Failure> {
    let snap = conn.statedump()?;
    if let ServiceState::Up { pid, .. } = service(&snap, name)?.state {
        print_line(&format!("{name}: already up (pid {pid})"))?;
        return Ok(EXIT_OK);
    }
    let outcome = start_service(conn, name)?;
    report_start(name, &outcome)
}

// ----------------------------------------------------------------- stop

/// How a service's stop ended.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stopped {
    /// It was not running (its triggers, if any, were cleared).
    NotRunning,
    /// A pending start was cancelled.
    Cancelled,
    /// It went down after TERM (or on its own).
    Down(ExitReason),
    /// It was still up when the time was over and got KILL.
    Killed(ExitReason),
}

/// Errors that only say a stop raced with the service's own change of
/// state: nothing to report.
const RACES: [&[u8]; 2] = [b"no service.start pending", b"service is not running"];

/// Stops services: one, or all of them (`only: None`).
struct Stopper<'c> {
    conn: &'c mut Conn,
    /// The daemon's state, kept current with every event.
    snap: Snapshot,
    only: Option<&'c str>,
    kill_after: Duration,
    /// KILL time has come: services that come up now get KILL at once.
    killing: bool,
    killed: BTreeSet<String>,
    results: BTreeMap<String, Stopped>,
    /// An error answered one of the commands.
    failed: bool,
}

impl<'c> Stopper<'c> {
    fn new(conn: &'c mut Conn, snap: Snapshot, only: Option<&'c str>, kill_after: Duration) -> Stopper<'c> {
        Stopper {
            conn,
            snap,
            only,
            kill_after,
            killing: false,
            killed: BTreeSet::new(),
            results: BTreeMap::new(),
            failed: false,
        }
    }

    fn is_target(&self, name: &str) -> bool {
        self.only.is_none_or(|only| only == name)
    }

    /// Targets still running or about to start.
    fn pending(&self) -> Vec<String> {
        let running = |s: &ServiceInfo| matches!(s.state, ServiceState::Up { .. } | ServiceState::Start { .. });
        self.snap.services.iter().filter(|(n, s)| self.is_target(n) && running(s)).map(|(n, _)| n.clone()).collect()
    }

    fn send(&mut self, line: String) -> Result<(), Failure> {
        self.conn.send(line.as_bytes())
    }

    /// TERM, or KILL once its time has come, to the service's group.
    fn signal(&mut self, name: &str) -> Result<(), Failure> {
        let signal = if self.killing { "KILL" } else { "TERM" };
        if self.killing {
            self.killed.insert(name.to_owned());
        }
        self.send(format!("service.signal\t{name}\t{signal}\tgroup"))
    }

    /// What the service needs in the state it has.
    fn act(&mut self, name: &str, state: ServiceState) -> Result<(), Failure> {
        match state {
            ServiceState::Up { .. } => self.signal(name),
            ServiceState::Start { .. } => self.send(format!("service.start\t{name}\t-")),
            _ => Ok(()),
        }
    }

    /// Handles one event: keeps the snapshot current and reacts to a
    /// target's change of state.
    fn observe(&mut self, ev: &OwnedEvent) -> Result<(), Failure> {
        let Ok(event) = ev.event() else { return Ok(()) };
        match event {
            Event::ServiceState { name, state } if self.is_target(name.as_str()) => {
                let name = name.as_str();
                self.act(name, state)?;
                let result = match state {
                    ServiceState::Exited { reason, .. } if self.killed.contains(name) => Some(Stopped::Killed(reason)),
                    ServiceState::Exited { reason, .. } => Some(Stopped::Down(reason)),
                    ServiceState::Down => Some(Stopped::Cancelled),
                    _ => None,
                };
                if let Some(result) = result {
                    self.results.insert(name.to_owned(), result);
                }
            }
            // This connection sends nothing but the stop's commands, so
            // an error that quotes a command answers one of them.
            Event::Error { message }
                if quotes_a_command(message) && !RACES.iter().any(|race| message.starts_with(race)) =>
            {
                warn(&String::from_utf8_lossy(message));
                self.failed = true;
            }
            _ => {}
        }
        self.snap.apply(&event);
        Ok(())
    }

    /// Stops the targets; their outcomes by name.
    fn run(mut self) -> Result<(BTreeMap<String, Stopped>, bool), Failure> {
        let begun = Instant::now();
        let targets: Vec<(String, ServiceState, bool)> = self
            .snap
            .services
            .iter()
            .filter(|(n, _)| self.is_target(n))
            .map(|(n, s)| (n.clone(), s.state, s.auto_up.is_some()))
            .collect();
        for (name, state, auto_up) in &targets {
            if *auto_up {
                self.send(format!("service.auto_up\t{name}\t-"))?;
            }
            self.act(name, *state)?;
        }
        // Once these commands have been executed, no trigger can start a
        // target any more.
        let mark = self.conn.send_sync()?;
        let until = self.conn.answer_deadline();
        loop {
            match self.conn.next(Some(mark), until)? {
                Next::Event(ev) => self.observe(&ev)?,
                Next::Synced => break,
                Next::Waited => return Err(self.conn.no_answer()),
                Next::Closed => return Err(self.conn.closed()),
            }
        }
        let mut deadline = begun.checked_add(self.kill_after);
        loop {
            let pending = self.pending();
            if pending.is_empty() {
                break;
            }
            match self.conn.next(None, deadline)? {
                Next::Event(ev) => self.observe(&ev)?,
                Next::Waited if !self.killing => {
                    self.killing = true;
                    for name in &pending {
                        let state = self.snap.services[name].state;
                        self.act(name, state)?;
                    }
                    deadline = self.conn.answer_deadline();
                }
                Next::Waited => {
                    let secs = self.conn.timeout.as_secs_f64();
                    let names = pending.join(", ");
                    return Err(fail(EXIT_TIMEOUT, format!("still up {secs} s after KILL: {names}")));
                }
                Next::Closed => return Err(self.conn.closed()),
                Next::Synced => {}
            }
        }
        for (name, _, _) in targets {
            self.results.entry(name).or_insert(Stopped::NotRunning);
        }
        Ok((self.results, self.failed))
    }
}

/// `exit 0`, `signal SIGTERM`.
fn exit_text(reason: ExitReason) -> String {
    match reason {
        ExitReason::Exit(status) => format!("exit {status}"),
        ExitReason::Signal(signal) => format!("signal {signal}"),
    }
}

/// Prints the outcome of each stop (`show_idle`: also of the services
/// that were not running); the exit status.
fn report_stops(
    results: &BTreeMap<String, Stopped>,
    failed: bool,
    kill_after: Duration,
    show_idle: bool,
) -> Result<i32, Failure> {
    let mut status = EXIT_OK;
    for (name, stopped) in results {
        let text = match stopped {
            Stopped::NotRunning if !show_idle => continue,
            Stopped::NotRunning => "not running".to_owned(),
            Stopped::Cancelled => "pending start cancelled".to_owned(),
            Stopped::Down(reason) => format!("stopped ({})", exit_text(*reason)),
            Stopped::Killed(reason) => {
                status = EXIT_KILLED;
                format!("still up {} s after TERM, killed ({})", kill_after.as_secs_f64(), exit_text(*reason))
            }
        };
        print_line(&format!("{name}: {text}"))?;
    }
    Ok(if failed { EXIT_FAILED } else { status })
}

/// `ctl stop NAME`.
pub(super) fn stop(conn: &mut Conn, name: &str, kill_after: Duration) -> Result<i32, Failure> {
    let snap = conn.statedump()?;
    service(&snap, name)?;
    let (results, failed) = Stopper::new(conn, snap, Some(name), kill_after).run()?;
    report_stops(&results, failed, kill_after, true)
}

/// `ctl restart NAME`.
pub(super) fn restart(conn: &mut Conn, name: &str, kill_after: Duration) -> Result<i32, Failure> {
    let snap = conn.statedump()?;
    let auto_up = service(&snap, name)?.auto_up.clone();
    let (results, failed) = Stopper::new(conn, snap, Some(name), kill_after).run()?;
    let stop_status = report_stops(&results, failed, kill_after, true)?;
    let outcome = start_service(conn, name);
    // Unless the connection failed, the triggers are set again whatever
    // the start gave: the service was configured to be kept up.
    let answered = outcome.as_ref().map_or_else(|f| f.status == EXIT_FAILED, |_| true);
    if let (Some(auto_up), true) = (auto_up, answered) {
        let triggers: Vec<String> = auto_up
            .triggers
            .iter()
            .map(|t| match t {
                Trigger::Always => "always".to_owned(),
                Trigger::Signal(signal) => signal.to_string(),
            })
            .collect();
        let line = format!("service.auto_up\t{name}\t-\t{}", triggers.join("\t"));
        conn.send(line.as_bytes())?;
        for ev in conn.sync()? {
            if let Ok(Event::Error { message }) = ev.event() {
                if answers(line.as_bytes(), message) {
                    warn(&format!("the auto_up triggers of {name} were not set again: {}", without_quote(message)));
                }
            }
        }
    }
    let start_status = report_start(name, &outcome?)?;
    Ok(if start_status != EXIT_OK { start_status } else { stop_status })
}

// ------------------------------------------------------------- shutdown

/// Checks `--guard CODE` before anything is stopped: clears the guard and
/// sets it again. Returns whether the daemon has a guard.
fn check_guard(conn: &mut Conn, code: i64) -> Result<bool, Failure> {
    let clear = format!("terminate.guard\t-\t{code}");
    conn.send(clear.as_bytes())?;
    let answer = conn.sync()?.into_iter().find_map(|ev| match ev.event() {
        Ok(Event::Error { message }) if answers(clear.as_bytes(), message) => Some(without_quote(message)),
        _ => None,
    });
    match answer {
        None => {
            let set = format!("terminate.guard\t+\t{code}");
            conn.send(set.as_bytes())?;
            for ev in conn.sync()? {
                if let Ok(Event::Error { message }) = ev.event() {
                    if answers(set.as_bytes(), message) {
                        return Err(fail(
                            EXIT_FAILED,
                            format!("cannot set the terminate guard again: {}", without_quote(message)),
                        ));
                    }
                }
            }
            Ok(true)
        }
        Some(text) if text == "terminate guard was not set" => {
            warn("the daemon has no terminate guard; --guard is not needed");
            Ok(false)
        }
        Some(text) => Err(fail(
            EXIT_FAILED,
            format!("--guard {code} is not the daemon's terminate guard code ({text}); nothing was stopped"),
        )),
    }
}

/// Sends `terminate 0` (after clearing the guard) and waits for the daemon
/// to close the connection.
fn terminate(conn: &mut Conn, guard: Option<i64>) -> Result<(), Failure> {
    let mut lines = Vec::new();
    if let Some(code) = guard {
        lines.push(format!("terminate.guard\t-\t{code}"));
    }
    lines.push("terminate\t0".to_owned());
    for line in &lines {
        conn.send(line.as_bytes())?;
    }
    // The daemon executes nothing after a successful terminate: the token
    // coming back means it did not terminate.
    let Ok(mark) = conn.send_sync() else { return Ok(()) };
    let until = conn.answer_deadline();
    loop {
        match conn.next(Some(mark), until)? {
            Next::Event(ev) => {
                let Ok(Event::Error { message }) = ev.event() else { continue };
                if !lines.iter().any(|l| answers(l.as_bytes(), message)) {
                    continue;
                }
                let text = without_quote(message);
                let hint = if text == "terminate guard code required" {
                    "; the daemon runs with a terminate guard (as PID 1 it has guard 1 unless started with \
                     --exit-guard): pass its code with --guard CODE. The services were stopped already"
                } else {
                    ""
                };
                return Err(fail(EXIT_FAILED, format!("terminate failed: {text}{hint}")));
            }
            Next::Synced => return Err(fail(EXIT_FAILED, "the daemon did not terminate")),
            Next::Waited => {
                let secs = conn.timeout.as_secs_f64();
                return Err(fail(
                    EXIT_TIMEOUT,
                    format!(
                        "the connection was not closed within {secs} s of terminate (with exec-on-exit, the \
                         program executed keeps it open)"
                    ),
                ));
            }
            Next::Closed => return Ok(()),
        }
    }
}

/// `ctl shutdown [--guard CODE] [TIMEOUT]`.
pub(super) fn shutdown(conn: &mut Conn, kill_after: Duration, guard: Option<i64>) -> Result<i32, Failure> {
    let guard = match guard {
        Some(code) => check_guard(conn, code)?.then_some(code),
        None => None,
    };
    let snap = conn.statedump()?;
    let (results, failed) = Stopper::new(conn, snap, None, kill_after).run()?;
    let status = report_stops(&results, failed, kill_after, false)?;
    terminate(conn, guard)?;
    print_line("daemonproxy terminated")?;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch_lines(lines: &[&str]) -> (StartWatch, Option<StartOutcome>) {
        let mut w = StartWatch::new("web");
        let mut outcome = None;
        for l in lines {
            if let Some(o) = w.see(&OwnedEvent::new(l.as_bytes())) {
                outcome.get_or_insert(o);
            }
        }
        (w, outcome)
    }

    const START: &str = "service.state\tweb\tstart\t100\t-\t-\t-\t-\t-";
    const UP: &str = "service.state\tweb\tup\t100\t42\t-\t-\t0\t-";
    const EXEC_ERROR: &str = "error\tservice web: exec \"nosuch\" failed: No such file or directory";
    const EXIT3: &str = "service.state\tweb\tdown\t100\t42\texit\t3\t0\t0";

    #[test]
    fn a_failed_exec_is_seen() {
        let (_, o) = watch_lines(&[START, UP, EXEC_ERROR, EXIT3]);
        let error = Some("exec \"nosuch\" failed: No such file or directory".to_owned());
        assert_eq!(o, Some(StartOutcome::ExecFailed { error: error.clone() }));
        assert_eq!(o.unwrap().problem("web").unwrap(), "web: exec \"nosuch\" failed: No such file or directory");
        // The error alone decides once the grace is over.
        let (mut w, o) = watch_lines(&[START, UP, EXEC_ERROR]);
        assert_eq!(o, None);
        assert_eq!(w.settle(), Some(StartOutcome::ExecFailed { error }));
        // Exit status 3 without the error (lost to an overflow).
        let (_, o) = watch_lines(&[START, UP, EXIT3]);
        assert_eq!(o, Some(StartOutcome::ExecFailed { error: None }));
    }

    #[test]
    fn other_services_and_early_exits() {
        let other = "error\tservice web2: exec \"x\" failed: No such file or directory";
        let (mut w, o) = watch_lines(&[START, "service.state\tweb2\tup\t100\t43\t-\t-\t0\t-", UP, other]);
        assert_eq!(o, None);
        assert_eq!(w.settle(), Some(StartOutcome::Up { pid: 42 }));
        let (_, o) = watch_lines(&[UP, "service.state\tweb\tdown\t100\t42\texit\t1\t0\t0"]);
        let exited = StartOutcome::Exited { pid: 42, reason: ExitReason::Exit(1) };
        assert_eq!(o.as_ref(), Some(&exited));
        assert_eq!(exited.problem("web"), None);
        let (_, o) = watch_lines(&[START, "service.state\tweb\tdown\t-\t-\t-\t-\t-\t-"]);
        assert_eq!(o, Some(StartOutcome::Cancelled));
        // Nothing is settled before `up`.
        let (mut w, _) = watch_lines(&[START]);
        assert_eq!(w.settle(), None);
    }
}
