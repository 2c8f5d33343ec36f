//! The clean-shutdown recipe (`examples/shutdown.conf`, `examples/shutdown.sh`)
//! end to end: SIGTERM or SIGINT start the handler service, which sends
//! SIGTERM to every service's process group, SIGKILL to the stubborn ones
//! after its timeout, and then `terminate`s the daemon with its exit code.
//! The PID-1 variant (`examples/container.conf`) is in `pid1.rs`.

use crate::harness::{self, fields, poll_until, Daemon, KillGroups};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// Each service's line of a statedump, as fields.
pub fn service_states(d: &mut Daemon) -> BTreeMap<String, Vec<String>> {
    d.send("statedump");
    d.sync()
        .iter()
        .filter(|l| l.starts_with("service.state\t"))
        .map(|l| (fields(l)[1].to_owned(), fields(l).iter().map(|f| f.to_string()).collect()))
        .collect()
}

/// Waits (bounded) until every service of `names` is up.
pub fn wait_up(d: &mut Daemon, names: &[&str]) {
    poll_until("every service up", || {
        let states = service_states(d);
        names.iter().all(|n| states.get(*n).is_some_and(|f| f[2] == "up")).then_some(())
    });
}

/// Follows the event stream to its end (the daemon has exited) and returns
/// the exit status and, for each service that went down meanwhile, the
/// reason and value of its last `down` (`signal SIGTERM`, `exit 0`, ...);
/// panics if a stopped service is started again.
pub fn follow_to_exit(d: &mut Daemon) -> (Option<i32>, BTreeMap<String, String>) {
    let mut downs = BTreeMap::new();
    while let Some(line) = d.out.next_bytes() {
        let line = String::from_utf8_lossy(&line).into_owned();
        match fields(&line)[..] {
            ["service.state", name, "up", ..] => {
                assert!(!downs.contains_key(name), "{name} started again after it was stopped");
            }
            ["service.state", name, "down", _, _, reason, value, ..] => {
                downs.insert(name.to_owned(), format!("{reason} {value}"));
            }
            _ => {}
        }
    }
    (harness::wait_timeout(&mut d.child), downs)
}

/// The pids of every `up` event among `lines`, as the daemon sees them:
/// each process leads its own session.
pub fn sessions(lines: &[String]) -> Vec<i32> {
    lines
        .iter()
        .filter_map(|l| match fields(l)[..] {
            ["service.state", _, "up", _, pid, ..] => pid.parse().ok(),
            _ => None,
        })
        .collect()
}

/// The log of a finished daemon: `info: daemonproxy exiting` came, and
/// only the handler (which sent `terminate` and waits for the connection
/// to close) was still running then. The log is read to its end first
/// (every process that shares it has ended), since the reader may lag
/// behind the daemon's exit.
pub fn assert_exit_log(d: &Daemon) {
    d.log.rest_until_eof();
    let log = d.log.seen.lock().unwrap().clone();
    assert!(log.iter().any(|l| l == "info: daemonproxy exiting"), "{log:#?}");
    let running: Vec<&String> = log.iter().filter(|l| l.contains(" running as pid ")).collect();
    assert!(running.iter().all(|l| l.starts_with("warning: service 'shutdown' ")), "left running: {running:#?}");
    assert!(log.iter().any(|l| l.starts_with("shutdown: terminating with status ")), "{log:#?}");
}

/// Kills, when dropped, the process groups of every `up` event of a daemon
/// that sees this machine's pids, so that a failing test leaves nothing.
pub struct Leftovers(pub Arc<Mutex<Vec<String>>>);

impl Drop for Leftovers {
    fn drop(&mut self) {
        let lines = self.0.lock().map(|l| l.clone()).unwrap_or_default();
        drop(KillGroups(sessions(&lines)));
    }
}

/// Waits (bounded) until no process is left in any session the daemon's
/// services created: services, their children, the handler and its timer.
fn assert_nothing_left(d: &Daemon) {
    let started = sessions(&d.out.seen.lock().unwrap());
    assert!(!started.is_empty());
    poll_until("every process of the run to end", || {
        let left = harness::all_procs().into_iter().filter(|p| p.state != 'Z' && started.contains(&p.session)).count();
        (left == 0).then_some(())
    });
}

/// `daemonproxy -i -c CONFIG` in the repository root (the examples' paths
/// are relative to it). Standard input stays open, so only `terminate`
/// ends the daemon.
fn daemon(config: &Path) -> Daemon {
    Daemon::spawn(Command::new(harness::bin()).arg("-i").arg("-c").arg(config).current_dir(harness::repo_root()))
}

/// `examples/shutdown.conf` as it is: SIGTERM stops `web` with SIGTERM and
/// `stubborn`, which traps it, with SIGKILL after 5 s; the daemon exits
/// with status 0 and nothing is left.
#[test]
fn shutdown_conf_stops_everything_on_sigterm() {
    let mut d = daemon(Path::new("examples/shutdown.conf"));
    let _leftovers = Leftovers(d.out.seen.clone());
    wait_up(&mut d, &["web", "stubborn"]);
    harness::kill(d.pid(), libc::SIGTERM);
    let (status, downs) = follow_to_exit(&mut d);
    assert_eq!(status, Some(0), "log: {:#?}", d.log.seen.lock().unwrap());
    assert_eq!(downs["web"], "signal SIGTERM");
    assert_eq!(downs["stubborn"], "signal SIGKILL");
    let log = d.log.seen.lock().unwrap().clone();
    assert!(log.iter().any(|l| l == "stubborn: ignoring SIGTERM"), "stubborn got no SIGTERM: {log:#?}");
    assert_exit_log(&d);
    assert_nothing_left(&d);
}

/// The handler with its own exit code, on SIGINT, with the cases around
/// the plain ones: a restart that is scheduled is cancelled (the service
/// never runs again), a service that is down is left alone, and a process
/// that ignores SIGTERM after its group leader has died is killed.
#[test]
fn shutdown_handler_on_sigint_with_exit_code() {
    let dir = harness::tempdir();
    let script = harness::repo_root().join("examples/shutdown.sh");
    let config = harness::write_file(
        dir.path(),
        "shutdown.conf",
        &format!(
            "service.args\tshutdown\tsh\t{}\t2\t7\n\
             service.fds\tshutdown\tcontrol.socket\tcontrol.socket\tstderr\n\
             service.auto_up\tshutdown\t1\tSIGTERM\tSIGINT\n\
             service.args\tweb\tsleep\t100000\n\
             service.auto_up\tweb\t1\talways\n\
             service.args\tstubborn\tsh\t-c\ttrap '' TERM; while :; do sleep 1; done\n\
             service.auto_up\tstubborn\t1\talways\n\
             service.args\tleader\tsh\t-c\t(trap '' TERM; exec sleep 100000) & exec sleep 100000\n\
             service.auto_up\tleader\t1\talways\n\
             service.args\tflaky\tsh\t-c\texit 1\n\
             service.auto_up\tflaky\t100000\talways\n\
             service.args\tidle\tsleep\t100000\n",
            script.display()
        ),
    );
    let mut d = daemon(&config);
    let _leftovers = Leftovers(d.out.seen.clone());
    wait_up(&mut d, &["web", "stubborn", "leader"]);
    poll_until("flaky's restart, far ahead", || {
        let flaky = service_states(&mut d).remove("flaky")?;
        (flaky[2] == "start" && flaky[3].parse::<i64>().ok()? > harness::mono_secs() + 1000).then_some(())
    });
    harness::kill(d.pid(), libc::SIGINT);
    let (status, downs) = follow_to_exit(&mut d);
    assert_eq!(status, Some(7), "log: {:#?}", d.log.seen.lock().unwrap());
    assert_eq!(downs["web"], "signal SIGTERM");
    assert_eq!(downs["stubborn"], "signal SIGKILL");
    assert_eq!(downs["leader"], "signal SIGTERM");
    let log = d.log.seen.lock().unwrap().clone();
    assert!(!log.iter().any(|l| l.contains("'idle'") || l.contains("'flaky'")), "{log:#?}");
    let cancelled = d.out.seen.lock().unwrap().iter().any(|l| l == "service.state\tflaky\tdown\t-\t-\t-\t-\t-\t-");
    assert!(cancelled, "flaky's pending start was not cancelled");
    assert_exit_log(&d);
    assert_nothing_left(&d);
}

/// A handler given the wrong guard code says why the daemon did not exit,
/// and the daemon runs on.
#[test]
fn shutdown_handler_reports_a_refused_terminate() {
    let dir = harness::tempdir();
    let script = harness::repo_root().join("examples/shutdown.sh");
    let config = harness::write_file(
        dir.path(),
        "guarded.conf",
        &format!(
            "service.args\tshutdown\tsh\t{}\t1\t0\t6\n\
             service.fds\tshutdown\tcontrol.socket\tcontrol.socket\tstderr\n\
             service.auto_up\tshutdown\t1\tSIGTERM\n",
            script.display()
        ),
    );
    let mut d = Daemon::spawn(
        Command::new(harness::bin()).args(["--exit-guard", "5", "-i", "-c"]).arg(&config).current_dir(dir.path()),
    );
    let _leftovers = Leftovers(d.out.seen.clone());
    d.sync();
    harness::kill(d.pid(), libc::SIGTERM);
    let refused = d.log.wait_for("the handler's report", |l| l.starts_with("shutdown: refused: "));
    assert_eq!(refused, "shutdown: refused: incorrect guard code, for command \"terminate.guard\t-\t6\"");
    d.wait_state("shutdown", "down");
    assert_eq!(d.cmd("echo\tstill-running"), ["still-running"]);
    assert_eq!(d.cmd("terminate.guard\t-\t5"), Vec::<String>::new());
    d.send("terminate\t3");
    assert_eq!(harness::wait_timeout(&mut d.child), Some(3));
    assert_nothing_left(&d);
}
