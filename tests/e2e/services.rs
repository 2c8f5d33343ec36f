//! Service lifecycle with real processes: states and their fields (§6.1,
//! §9), exec failures (§0 item 5), automatic starts and throttling (§9.5),
//! delayed starts, sessions (§0 item 2), reaping, and the object pools
//! (§13).

use crate::harness::{self, fields, Client, Daemon, KillGroups, KillGuard};
use std::path::Path;
use std::time::{Duration, Instant};

fn ok(d: &mut Daemon, line: &str) -> Vec<String> {
    let r = d.cmd(line);
    assert!(!r.iter().any(|l| l.starts_with("error") || l.starts_with("warning")), "{line:?} failed: {r:?}");
    r
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The error event for a failed command (§3.10).
fn error_for(message: &str, line: &str) -> String {
    let shown = if line.len() >= 30 { format!("{}...", &line[..30]) } else { line.to_owned() };
    format!("error\t{message}, for command \"{shown}\"")
}

fn ts(line: &str) -> i64 {
    fields(line)[3].parse().unwrap_or_else(|_| panic!("no timestamp in {line:?}"))
}

/// Checks the shape of a live `service.state` event (§6.1).
fn check_state(line: &str, name: &str, state: &str) -> Vec<String> {
    let f: Vec<String> = fields(line).into_iter().map(str::to_owned).collect();
    assert_eq!(f.len(), 9, "{line:?}");
    assert_eq!((f[0].as_str(), f[1].as_str(), f[2].as_str()), ("service.state", name, state), "{line:?}");
    match state {
        "start" => assert_eq!(f[4..], ["-", "-", "-", "-", "-"], "{line:?}"),
        "up" => {
            assert!(f[4].parse::<i32>().is_ok(), "{line:?}");
            assert_eq!(f[5..], ["-", "-", "0", "-"], "{line:?}");
        }
        "down" => {
            assert!(f[4].parse::<i32>().is_ok(), "{line:?}");
            assert!(f[5] == "exit" || f[5] == "signal", "{line:?}");
            assert!(f[7].parse::<u64>().is_ok(), "{line:?}");
            assert_eq!(f[8], "0", "{line:?}");
        }
        _ => unreachable!(),
    }
    f
}

#[test]
fn lifecycle_start_up_down_with_exit_status_and_uptime() {
    let mut d = Daemon::interactive(&[]);
    ok(&mut d, "service.args\ts\tsh\t-c\tsleep 1.2; exit 7");
    let t0 = harness::mono_secs();
    // `up` may follow before the sync token.
    let r = d.cmd("service.start\ts");
    check_state(&r[0], "s", "start");
    assert!((t0..=harness::mono_secs()).contains(&ts(&r[0])), "{r:?}");
    let up = r.get(1).cloned().unwrap_or_else(|| d.wait_state("s", "up"));
    let f = check_state(&up, "s", "up");
    let pid: i32 = f[4].parse().unwrap();
    let _g = KillGuard(pid);
    assert!(ts(&up) >= ts(&r[0]));

    // While up, statedump computes the uptime, DOWNTIME stays `-`.
    d.send("statedump");
    let dump = d.sync();
    let st = dump.iter().find(|l| l.starts_with("service.state\ts\t")).expect("state in dump");
    let f = fields(st);
    assert_eq!((f[2], f[4], f[5], f[6], f[8]), ("up", pid.to_string().as_str(), "-", "-", "-"), "{st}");
    // Then the five lines of a service, in order.
    let i = dump.iter().position(|l| l == st).unwrap();
    assert_eq!(
        dump[i + 1..i + 5],
        [
            "service.tags\ts\t",
            "service.args\ts\tsh\t-c\tsleep 1.2; exit 7",
            "service.fds\ts\tnull\tnull\tnull",
            "service.auto_up\ts\t-"
        ]
    );

    let down = d.wait_state("s", "down");
    let f = check_state(&down, "s", "down");
    assert_eq!((f[4].as_str(), f[5].as_str(), f[6].as_str()), (pid.to_string().as_str(), "exit", "7"), "{down}");
    let uptime: i64 = f[7].parse().unwrap();
    assert!((1..=2).contains(&uptime), "{down}");
    assert!((1..=2).contains(&(ts(&down) - ts(&up))), "{up} / {down}");
    assert!(!harness::alive(pid));

    // The exit information stays until the next start.
    d.send("statedump");
    let dump = d.sync();
    let st = dump.iter().find(|l| l.starts_with("service.state\ts\t")).unwrap();
    let g = fields(st);
    assert_eq!(g[..8], f.iter().map(String::as_str).collect::<Vec<_>>()[..8], "{st}");
    assert!(g[8].parse::<u64>().is_ok(), "{st}");

    // Exit status is taken mod 256; exit 0 too.
    ok(&mut d, "service.args\ts\tsh\t-c\texit 300");
    d.start_up("s");
    assert_eq!(fields(&d.wait_state("s", "down"))[5..7], ["exit", "44"]);
    ok(&mut d, "service.args\ts\ttrue");
    d.start_up("s");
    assert_eq!(fields(&d.wait_state("s", "down"))[5..7], ["exit", "0"]);
}

#[test]
fn killed_services_report_the_signal_name() {
    let mut d = Daemon::interactive(&[]);
    ok(&mut d, "service.args\tk\tsleep\t60");
    for (sig, name) in [("KILL", "SIGKILL"), ("SIGTERM", "SIGTERM"), ("10", "SIGUSR1"), ("40", "SIG-?")] {
        let pid = d.start_up("k");
        let _g = KillGuard(pid);
        d.send(&format!("service.signal\tk\t{sig}"));
        let down = d.wait_state("k", "down");
        let f = check_state(&down, "k", "down");
        assert_eq!((f[4].as_str(), f[5].as_str(), f[6].as_str()), (pid.to_string().as_str(), "signal", name), "{down}");
    }
    assert!(!d.out.seen.lock().unwrap().iter().any(|l| l.starts_with("error")));
    // Not running any more.
    let line = "service.signal\tk\tKILL";
    assert_eq!(d.cmd(line), [error_for("service is not running", line)]);
    // A service killing itself with SIGABRT.
    ok(&mut d, "service.args\ta\tsh\t-c\tkill -ABRT $$");
    d.start_up("a");
    assert_eq!(fields(&d.wait_state("a", "down"))[5..7], ["signal", "SIGABRT"]);
}

/// `up`, the broadcast exec error, then `down ... exit 3` (§0 item 5).
fn check_exec_failure(d: &mut Daemon, c: &mut Client, name: &str, prog: &str, errtext: &str) {
    ok(d, &format!("service.args\t{name}\t{prog}"));
    d.send(&format!("service.start\t{name}"));
    let want_err = format!("error\tservice {name}: exec \"{prog}\" failed: {errtext}");
    let mut lines = Vec::new();
    loop {
        let l = d.out.next();
        let done = l.starts_with(&format!("service.state\t{name}\tdown\t"));
        lines.push(l);
        if done {
            break;
        }
    }
    lines.extend(d.sync());
    let states: Vec<&str> = lines.iter().filter(|l| l.starts_with("service.state")).map(|l| fields(l)[2]).collect();
    assert_eq!(states, ["start", "up", "down"], "{lines:#?}");
    let down = lines.iter().find(|l| l.starts_with(&format!("service.state\t{name}\tdown"))).unwrap();
    assert_eq!(fields(down)[5..7], ["exit", "3"], "{lines:?}");
    assert_eq!(lines.iter().filter(|l| **l == want_err).count(), 1, "{lines:#?}");
    // Broadcast: the socket client gets it as well.
    c.lines.wait_for("exec error at the socket client", |l| l == want_err);
}

#[test]
fn exec_failures_are_reported_and_exit_3() {
    let dir = harness::tempdir();
    let sock = dir.path().join("ctl.sock");
    let mut d = Daemon::interactive(&["-S", p(&sock)]);
    d.sync();
    let mut c = Client::connect(&sock);
    c.sync();
    check_exec_failure(&mut d, &mut c, "missing", "/no/such/program", "No such file or directory");
    check_exec_failure(&mut d, &mut c, "nopath", "no-such-program-in-path-xyz", "No such file or directory");
    let plain = harness::write_file(dir.path(), "plain.sh", "#!/bin/sh\nexit 0\n");
    check_exec_failure(&mut d, &mut c, "noexec", p(&plain), "Permission denied");
    check_exec_failure(&mut d, &mut c, "dir", p(dir.path()), "Permission denied");
}

/// Event lines, taken by predicate: a line that does not match stays
/// queued for later takes, so a command's reply and asynchronous state
/// events can be awaited in any order without losing either.
struct Backlog {
    lines: std::collections::VecDeque<String>,
    last: Vec<String>,
}

impl Backlog {
    fn new() -> Backlog {
        Backlog { lines: Default::default(), last: Vec::new() }
    }

    fn take(&mut self, d: &Daemon, what: &str, pred: impl Fn(&str) -> bool) -> String {
        if let Some(i) = self.lines.iter().position(|l| pred(l)) {
            return self.lines.remove(i).unwrap();
        }
        let deadline = Instant::now() + harness::TIMEOUT;
        loop {
            assert!(Instant::now() < deadline, "never saw {what}; queued: {:#?}", self.lines);
            let l = d.out.next();
            if pred(&l) {
                return l;
            }
            self.lines.push_back(l);
        }
    }

    /// The next `service.state NAME STATE` line, skipping exact repeats of
    /// the previous one (the original repeats `start`, §16 row 18).
    fn state(&mut self, d: &Daemon, name: &str, state: &str) -> String {
        let prefix = format!("service.state\t{name}\t{state}\t");
        let last = self.last.iter().find(|l| l.starts_with(&prefix)).cloned();
        let l = self.take(d, &format!("{name} {state}"), |l| l.starts_with(&prefix) && Some(l) != last.as_deref());
        self.last.retain(|l| !l.starts_with(&prefix));
        self.last.push(l.clone());
        l
    }

    /// Everything still queued plus what arrives up to a sync token.
    fn drain(&mut self, d: &mut Daemon) -> Vec<String> {
        let mut v: Vec<String> = self.lines.drain(..).collect();
        v.extend(d.sync());
        v
    }
}

/// Disables auto-up for NAME and ends it `down` with nothing pending.
fn stop_auto(d: &mut Daemon, name: &str) {
    d.send(&format!("service.auto_up\t{name}\t1"));
    harness::poll_until(&format!("{name} down"), || {
        d.send(&format!("service.start\t{name}\t-"));
        d.send(&format!("service.signal\t{name}\tKILL"));
        d.send("statedump");
        let dump = d.sync();
        dump.iter().any(|l| l.starts_with(&format!("service.state\t{name}\tdown\t"))).then_some(())
    });
}

#[test]
fn auto_up_always_restart_is_delayed_by_the_interval_after_a_short_run() {
    let mut d = Daemon::interactive(&[]);
    ok(&mut d, "service.args\ta\ttrue");
    let mut b = Backlog::new();
    d.send("service.auto_up\ta\t2\talways");
    b.take(&d, "auto_up reply", |l| l == "service.auto_up\ta\t2\talways");
    // The start precedes the reply.
    let first = b.lines.front().cloned().unwrap_or_default();
    check_state(&first, "a", "start");
    b.state(&d, "a", "start");
    b.state(&d, "a", "up");
    let down1 = b.state(&d, "a", "down");
    let seen_down = Instant::now();
    let start2 = b.state(&d, "a", "start");
    // Restart at reap time + interval (§16 row 19).
    assert_eq!(ts(&start2), ts(&down1) + 2, "{down1} / {start2}");
    // Clearing the triggers does not cancel the pending start (§16 row 20).
    d.send("service.auto_up\ta\t2");
    b.take(&d, "auto_up reply", |l| l == "service.auto_up\ta\t-");
    let up2 = b.state(&d, "a", "up");
    assert!(seen_down.elapsed() >= Duration::from_millis(1000), "restarted after {:?}", seen_down.elapsed());
    assert!(ts(&up2) >= ts(&start2), "{start2} / {up2}");
    b.state(&d, "a", "down");
    // The restart decision is taken when the exit is handled, before our
    // next command: nothing is scheduled any more.
    let after = b.drain(&mut d);
    assert!(!after.iter().any(|l| l.starts_with("service.state\ta\tstart") && *l != start2), "{after:?}");
    assert!(!after.iter().any(|l| l.starts_with("error")), "{after:?}");
}

#[test]
fn auto_up_always_restarts_at_once_after_a_run_longer_than_the_interval() {
    let mut d = Daemon::interactive(&[]);
    let mut groups = KillGroups::default();
    ok(&mut d, "service.args\tl\tsh\t-c\tsleep 1.3");
    let mut b = Backlog::new();
    d.send("service.auto_up\tl\t1\talways");
    b.state(&d, "l", "start");
    groups.add(fields(&b.state(&d, "l", "up"))[4].parse().unwrap());
    let down = b.state(&d, "l", "down");
    let seen_down = Instant::now();
    let start = b.state(&d, "l", "start");
    assert_eq!(ts(&start), ts(&down), "{down} / {start}");
    groups.add(fields(&b.state(&d, "l", "up"))[4].parse().unwrap());
    assert!(seen_down.elapsed() < Duration::from_millis(900), "restart took {:?}", seen_down.elapsed());
    stop_auto(&mut d, "l");
}

#[test]
fn auto_up_interval_zero_is_still_throttled_to_one_second() {
    let mut d = Daemon::interactive(&[]);
    ok(&mut d, "service.args\tz\ttrue");
    let mut b = Backlog::new();
    d.send("service.auto_up\tz\t-\talways");
    b.take(&d, "auto_up reply", |l| l == "service.auto_up\tz\t0\talways");
    b.state(&d, "z", "start");
    b.state(&d, "z", "up");
    let mut last_up = Instant::now();
    for _ in 0..2 {
        let down = b.state(&d, "z", "down");
        let start = b.state(&d, "z", "start");
        assert!(ts(&start) > ts(&down), "restart not throttled: {down} / {start}");
        b.state(&d, "z", "up");
        assert!(last_up.elapsed() >= Duration::from_millis(600), "restarted after {:?}", last_up.elapsed());
        last_up = Instant::now();
    }
    stop_auto(&mut d, "z");
    d.send("statedump");
    let dump = d.sync();
    assert!(dump.contains(&"service.auto_up\tz\t-".to_owned()), "{dump:?}");
}

#[test]
fn auto_up_signal_trigger_starts_and_repeats_until_cleared() {
    let mut d = Daemon::interactive(&[]);
    ok(&mut d, "service.args\th\ttrue");
    // No pending SIGHUP: nothing starts.
    assert_eq!(d.cmd("service.auto_up\th\t1\tSIGHUP"), ["service.auto_up\th\t1\tSIGHUP"]);
    let mut b = Backlog::new();
    harness::kill(d.pid(), libc::SIGHUP);
    b.take(&d, "signal event", |l| l.starts_with("signal\tSIGHUP\t") && l.ends_with("\t1"));
    b.state(&d, "h", "start");
    b.state(&d, "h", "up");
    let down1 = b.state(&d, "h", "down");
    // Level-triggered: restarted after the interval while the count is
    // nonzero.
    let start2 = b.state(&d, "h", "start");
    assert_eq!(ts(&start2), ts(&down1) + 1, "{down1} / {start2}");
    d.send("signal.clear\tSIGHUP\t1");
    // The start already scheduled still happens, then no more.
    b.state(&d, "h", "up");
    b.state(&d, "h", "down");
    let after = b.drain(&mut d);
    assert!(!after.iter().any(|l| l.starts_with("service.state\th\tstart") && *l != start2), "{after:?}");
    assert!(!after.iter().any(|l| l.starts_with("error")), "{after:?}");
    d.send("statedump");
    let dump = d.sync();
    assert!(!dump.iter().any(|l| l.starts_with("signal\t")), "{dump:?}");
    assert!(dump.iter().any(|l| l.starts_with("service.state\th\tdown\t")), "{dump:?}");
}

#[test]
fn delayed_start_happens_at_the_timestamp_and_can_be_cancelled() {
    let mut d = Daemon::interactive(&[]);
    ok(&mut d, "service.args\td\ttrue");
    let now = harness::mono_secs();
    let at = now + 2;
    let t = Instant::now();
    assert_eq!(d.cmd(&format!("service.start\td\t{at}")), [format!("service.state\td\tstart\t{at}\t-\t-\t-\t-\t-")]);
    let up = d.wait_state("d", "up");
    assert_eq!(ts(&up), at, "{up}");
    assert!(harness::mono_secs() >= at);
    assert!(t.elapsed() >= Duration::from_millis(900), "{:?}", t.elapsed());
    d.wait_state("d", "down");

    for bad in [format!("{}", harness::mono_secs() - 1), "soon".to_owned(), String::new()] {
        let line = format!("service.start\td\t{bad}");
        assert_eq!(d.cmd(&line), [error_for("invalid timestamp", &line)]);
    }

    // Cancel a pending start: back to down with no exit information.
    let later = harness::mono_secs() + 30;
    assert_eq!(
        d.cmd(&format!("service.start\td\t{later}")),
        [format!("service.state\td\tstart\t{later}\t-\t-\t-\t-\t-")]
    );
    assert_eq!(d.cmd("service.start\td\t-"), ["service.state\td\tdown\t-\t-\t-\t-\t-\t-"]);
    let line = "service.start\td\t-";
    assert_eq!(d.cmd(line), [error_for("no service.start pending", line)]);
    // A pending start can be moved to now.
    let later = harness::mono_secs() + 60;
    ok(&mut d, &format!("service.start\td\t{later}"));
    let t = Instant::now();
    d.start_up("d");
    assert!(t.elapsed() < Duration::from_secs(5));
    d.wait_state("d", "down");
    d.send("statedump");
    let dump = d.sync();
    let st = dump.iter().find(|l| l.starts_with("service.state\td\t")).unwrap();
    assert!(st.starts_with("service.state\td\tdown\t"), "{st}");
}

#[test]
fn each_service_leads_its_own_session_and_group_signals_reach_grandchildren() {
    let mut d = Daemon::interactive(&[]);
    let mut groups = KillGroups::default();
    ok(&mut d, "service.args\tg\tsh\t-c\tsleep 60 & wait");
    let pid = d.start_up("g");
    groups.add(pid);
    let grandchild = harness::poll_until("the background sleep", || {
        harness::children_of(pid).into_iter().find(|c| c.state != 'Z').map(|c| c.pid)
    });
    let _g = KillGuard(grandchild);
    let st = harness::proc_stat(pid).expect("service process");
    assert_eq!((st.pgrp, st.session), (pid, pid), "service is not a session leader");
    let gst = harness::proc_stat(grandchild).expect("grandchild");
    assert_eq!((gst.pgrp, gst.session), (pid, pid));
    let dst = harness::proc_stat(d.pid()).unwrap();
    assert_ne!(dst.session, pid);

    d.send("service.signal\tg\tTERM\tgroup");
    let down = d.wait_state("g", "down");
    assert_eq!(fields(&down)[5..7], ["signal", "SIGTERM"], "{down}");
    harness::poll_until("grandchild terminated", || (!harness::alive(grandchild)).then_some(()));
    assert!(!d.out.seen.lock().unwrap().iter().any(|l| l.starts_with("error")));

    // Unknown flags are rejected.
    let pid2 = d.start_up("g");
    groups.add(pid2);
    let line = "service.signal\tg\tTERM\tgroup,bogus";
    assert_eq!(d.cmd(line), [error_for("unknown option \"bogus\"", line)]);
    // (Racing the child's setsid is covered by the next test.)
    harness::poll_until("setsid", || harness::proc_stat(pid2).filter(|s| s.session == pid2));
    d.send("service.signal\tg\tKILL\tgroup");
    d.wait_state("g", "down");
}

/// `group` must work as soon as `up` has been reported: the new process
/// group has to exist by then (§0 item 2: "always reaches the whole
/// group").
#[test]
fn group_signal_right_after_up_reaches_the_new_group() {
    let mut d = Daemon::interactive(&[]);
    let mut groups = KillGroups::default();
    ok(&mut d, "service.args\tq\tsleep\t60");
    for _ in 0..100 {
        let pid = d.start_up("q");
        groups.add(pid);
        d.send("service.signal\tq\tKILL\tgroup");
        let down =
            d.out.wait_for("down or error", |l| l.starts_with("service.state\tq\tdown\t") || l.starts_with("error"));
        if down.starts_with("error") {
            // Clean up before failing.
            d.send("service.signal\tq\tKILL");
            d.wait_state("q", "down");
            panic!("group signal right after up failed: {down}");
        }
        assert_eq!(fields(&down)[5..7], ["signal", "SIGKILL"], "{down}");
    }
}

#[test]
fn services_are_reaped_and_leave_no_zombies_when_they_fork_and_exit() {
    let dir = harness::tempdir();
    let pidfile = dir.path().join("gc.pid");
    let mut d = Daemon::interactive(&[]);
    ok(&mut d, &format!("service.args\tf\tsh\t-c\tsleep 60 & echo $! > {}; exit 0", p(&pidfile)));
    let pid = d.start_up("f");
    let down = d.wait_state("f", "down");
    assert_eq!(fields(&down)[5..7], ["exit", "0"], "{down}");
    let gc: i32 = harness::poll_until("grandchild pid", || std::fs::read_to_string(&pidfile).ok()?.trim().parse().ok());
    let _g = KillGuard(gc);
    harness::assert_no_zombies(d.pid());
    assert!(!harness::children_of(d.pid()).iter().any(|c| c.pid == pid), "service {pid} not reaped");
    // The orphan exits later; if it was re-parented to the daemon, the
    // daemon reaps it too.
    harness::kill(gc, libc::SIGKILL);
    harness::poll_until("grandchild gone", || (!harness::alive(gc)).then_some(()));
    harness::assert_no_zombies(d.pid());
    assert_eq!(d.cmd("echo\tstill-fine"), ["still-fine"]);
}

#[test]
fn a_hundred_services_exiting_at_once_give_exactly_a_hundred_down_events() {
    let mut d = Daemon::interactive(&[]);
    let mut groups = KillGroups::default();
    ok(&mut d, "fd.pipe\tgate.r\tgate.w");
    let names: Vec<String> = (0..100).map(|i| format!("s{i:03}")).collect();
    let mut batch = String::new();
    for n in &names {
        batch.push_str(&format!("service.args\t{n}\tcat\nservice.fds\t{n}\tgate.r\tnull\tnull\nservice.start\t{n}\n"));
    }
    d.send_raw(batch.as_bytes());
    let mut up = std::collections::BTreeSet::new();
    while up.len() < 100 {
        let l = d.out.next();
        assert!(!l.starts_with("error") && !l.contains("\tdown\t"), "{l}");
        if let Some(rest) = l.strip_prefix("service.state\t") {
            let f: Vec<&str> = rest.split('\t').collect();
            if f[1] == "up" {
                groups.add(f[3].parse().unwrap());
                assert!(up.insert(f[0].to_owned()), "second up for {}", f[0]);
            }
        }
    }
    d.sync();
    // Closing the only write end ends every `cat` at the same moment
    // (none of them may hold the write end themselves).
    d.send("fd.delete\tgate.w");
    let mut deleted = 0;
    let mut down = std::collections::BTreeSet::new();
    while down.len() < 100 {
        let l = d.out.next();
        if l.starts_with("service.state\t") {
            let f = fields(&l);
            assert_eq!((f[2], f[5], f[6]), ("down", "exit", "0"), "{l}");
            assert!(down.insert(f[1].to_owned()), "second down for {}", f[1]);
        } else {
            assert_eq!(l, "fd.state\tgate.w\tdeleted");
            deleted += 1;
        }
    }
    let extra = d.sync();
    deleted += extra.iter().filter(|l| *l == "fd.state\tgate.w\tdeleted").count();
    assert_eq!(deleted, 1);
    assert!(!extra.iter().any(|l| l.starts_with("service.state")), "{extra:?}");
    assert_eq!(down, up);
    harness::assert_no_zombies(d.pid());
    d.send("statedump");
    let states: Vec<String> = d.sync().into_iter().filter(|l| l.starts_with("service.state\t")).collect();
    assert_eq!(states.len(), 100);
    assert!(states.iter().all(|l| fields(l)[2] == "down"), "{states:?}");
}

#[test]
fn service_pool_limits_the_number_of_services() {
    let mut d = Daemon::interactive_clean(&["--service-pool", "2"]);
    ok(&mut d, "service.args\ta\ttrue");
    ok(&mut d, "service.args\tb\ttrue");
    let line = "service.args\tc\ttrue";
    assert_eq!(d.cmd(line), [error_for("Unable to allocate new service", line)]);
    let line = "service.tags\tc\tx";
    assert_eq!(d.cmd(line), [error_for("Unable to allocate new service", line)]);
    // Existing services still work, and deleting one frees a slot.
    ok(&mut d, "service.tags\ta\tweb");
    assert_eq!(d.cmd("service.delete\ta"), ["service.state\ta\tdeleted\t-\t-\t-\t-\t-\t-"]);
    assert_eq!(d.cmd("service.args\tc\ttrue"), ["service.args\tc\ttrue"]);
    d.start_up("c");
    d.wait_state("c", "down");
}

#[test]
fn service_pool_object_size_bounds_the_stored_settings() {
    let mut d = Daemon::interactive_clean(&["--service-pool", "2x64"]);
    assert_eq!(d.cmd("service.args\tx\techo\tshort"), ["service.args\tx\techo\tshort"]);
    let long = format!("service.args\tx\techo\t{}", "a".repeat(100));
    assert_eq!(d.cmd(&long), [error_for("unable to set argv", &long)]);
    let long = format!("service.tags\tx\t{}", "t".repeat(100));
    assert_eq!(d.cmd(&long), [error_for("unable to set tags", &long)]);
    // The previous value stays.
    d.send("statedump");
    let dump = d.sync();
    assert!(dump.contains(&"service.args\tx\techo\tshort".to_owned()), "{dump:?}");
    assert!(dump.contains(&"service.tags\tx\t".to_owned()), "{dump:?}");
}

#[test]
fn fd_pool_limits_the_number_of_handles() {
    let dir = harness::tempdir();
    let file = harness::write_file(dir.path(), "f.txt", "");
    let mut d = Daemon::interactive_clean(&["--fd-pool", "8"]);
    d.send("statedump");
    let builtins = d.sync().iter().filter(|l| l.starts_with("fd.state\t")).count();
    assert_eq!(builtins, 7);
    ok(&mut d, &format!("fd.open\tf1\tread\t{}", p(&file)));
    let line = format!("fd.open\tf2\tread\t{}", p(&file));
    assert_eq!(d.cmd(&line), [error_for("Unable to allocate new file descriptor object", &line)]);
    let line = "fd.socket\ts\tunix";
    assert_eq!(d.cmd(line), [error_for("Unable to allocate new file descriptor object", line)]);
    let line = "fd.pipe\tp.r\tp.w";
    assert_eq!(d.cmd(line), [error_for("failed to create pipe", line)]);
    // One free object is not enough for a pipe.
    assert_eq!(d.cmd("fd.delete\tf1"), ["fd.state\tf1\tdeleted"]);
    assert_eq!(d.cmd(line), [error_for("failed to create pipe", line)]);
    ok(&mut d, &format!("fd.open\tf2\tread\t{}", p(&file)));
    // Replacing needs a free object too.
    let line = format!("fd.open\tf2\tread\t{}", p(&file));
    assert_eq!(d.cmd(&line), [error_for("Unable to allocate new file descriptor object", &line)]);
}

#[test]
fn fd_pool_object_size_truncates_long_descriptions() {
    let dir = harness::tempdir();
    let path = dir.path().join("p".repeat(150));
    let path_s = p(&path).to_owned();
    let mut d = Daemon::interactive_clean(&["--fd-pool", "10x32"]);
    let r = ok(&mut d, &format!("fd.open\tf\twrite,create\t{path_s}"));
    assert_eq!(r.len(), 1);
    let f = fields(&r[0]);
    assert_eq!(f[..4], ["fd.state", "f", "file", "write,create"], "{r:?}");
    let desc = f[4];
    assert!(desc.ends_with("...") && desc.len() < path_s.len(), "{desc:?}");
    assert!(path_s.starts_with(&desc[..desc.len() - 3]), "{desc:?}");
    // Capacity at least 32 + M - len(name) - 2 (§13.1).
    assert!(desc.len() >= 32 + 32 - 1 - 2, "{desc:?} ({} bytes)", desc.len());
    // The open used the full path.
    ok(&mut d, "service.args\tw\tsh\t-c\techo full >&1");
    ok(&mut d, "service.fds\tw\tnull\tf\tnull");
    d.start_up("w");
    d.wait_state("w", "down");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "full\n");
    d.send("statedump");
    let dump = d.sync();
    assert!(dump.contains(&r[0]), "{dump:?}");
}

/// §2.1 and Appendix B.4: a signal-triggered handler that writes
/// `signal.clear` on its command connection and exits is not restarted,
/// even when the daemon sees its command and its exit in the same
/// iteration: the restart decision comes after the commands the service
/// wrote before exiting. The daemon is stopped while the handler writes and
/// exits, so both are waiting when it resumes.
#[test]
fn handler_that_clears_its_trigger_and_exits_is_not_restarted() {
    let dir = harness::tempdir();
    let go = dir.path().join("go");
    let mut d = Daemon::interactive(&[]);
    let script = format!("while [ ! -e {} ]; do sleep 0.01; done; printf 'signal.clear\\tSIGHUP\\t1\\n'", p(&go));
    d.cmd(&format!("service.args\th\tsh\t-c\t{script}"));
    d.cmd("service.fds\th\tnull\tcontrol.cmd\tnull");
    d.cmd("service.auto_up\th\t1\tSIGHUP");
    for round in 0..8 {
        let _ = std::fs::remove_file(&go);
        harness::kill(d.pid(), libc::SIGHUP);
        let up = d.out.wait_for("h up", |l| l.starts_with("service.state\th\tup\t"));
        let pid: i32 = fields(&up)[4].parse().unwrap();
        harness::kill(d.pid(), libc::SIGSTOP);
        std::fs::write(&go, b"").unwrap();
        let deadline = Instant::now() + harness::TIMEOUT;
        while harness::proc_stat(pid).is_none_or(|st| st.state != 'Z') {
            assert!(Instant::now() < deadline, "handler {pid} did not exit");
            std::thread::sleep(Duration::from_millis(5));
        }
        harness::kill(d.pid(), libc::SIGCONT);
        d.out.wait_for("h down", |l| l.starts_with("service.state\th\tdown\t"));
        let after = d.sync();
        assert!(
            !after.iter().any(|l| l.starts_with("service.state\th\tstart\t")),
            "round {round}: restarted although its trigger was cleared: {after:?}"
        );
    }
}

/// Issue 16: an exec failure names the program that was spawned, even when
/// `service.args` changed before the failure was read back. A `PATH` of
/// thousands of missing directories makes the failing exec search take
/// milliseconds; both services start in one batch, so the daemon forks and
/// goes on, and the new arguments arrive while the children still search.
#[test]
fn exec_failure_names_the_program_spawned_not_the_current_args() {
    let long_path: String = (0..14000).map(|i| format!("/nx/{i}")).collect::<Vec<_>>().join(":");
    let mut cmd = std::process::Command::new(crate::harness::bin());
    cmd.arg("-i").env("PATH", &long_path);
    let mut d = Daemon::spawn(crate::harness::clean_fds(&mut cmd));
    for _ in 0..4 {
        assert!(d.out.next().starts_with("info\t"));
    }
    for name in ["x", "y"] {
        d.cmd(&format!("service.args\t{name}\tnosuchprog"));
        d.cmd(&format!("service.fds\t{name}\tnull\tnull\tstderr"));
    }
    d.send_raw(b"service.start\tx\nservice.start\ty\n");
    d.wait_state("x", "up");
    d.send("service.args\tx\t/bin/true");
    let error = d.out.wait_for("x's exec error", |l| l.starts_with("error\tservice x: exec "));
    assert_eq!(error, "error\tservice x: exec \"nosuchprog\" failed: No such file or directory");
    d.wait_state("x", "down");
    // The child logs it itself, through its own descriptor 2 (here the
    // daemon's stderr), naming what it tried to execute.
    d.log.wait_for("the child's log line", |l| l == "error: exec(nosuchprog, ...) failed: No such file or directory");
}
