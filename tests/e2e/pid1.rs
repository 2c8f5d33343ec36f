//! Running as PID 1 (§12.7, §0 item 6, §14): the daemon is the init of a
//! new PID namespace (`unshare --fork --pid --mount-proc`). It reaps the
//! orphans it adopts, reports SIGTERM/SIGINT as `signal` events instead of
//! dying, has the terminate guard (code 1) by default, and exits or execs
//! only through the configured path.
//!
//! `unshare --kill-child` makes the namespace die with the `unshare`
//! process the harness kills at the end, so nothing survives a failing
//! test. Where namespaces are not permitted the tests print why and pass.

use crate::harness::{self, children_of, fields, poll_until, Daemon, TIMEOUT};
use crate::shutdown;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

/// `unshare` options giving a new PID namespace with its own /proc, or
/// `None` when the machine does not allow it.
fn unshare_options() -> Option<Vec<&'static str>> {
    let candidates: [&[&str]; 2] = [
        &["--fork", "--pid", "--mount-proc", "--kill-child"],
        &["--user", "--map-root-user", "--fork", "--pid", "--mount-proc", "--kill-child"],
    ];
    for opts in candidates {
        let Ok(mut child) =
            Command::new("unshare").args(opts).arg("true").stdout(Stdio::null()).stderr(Stdio::null()).spawn()
        else {
            return None;
        };
        if harness::wait_timeout(&mut child) == Some(0) {
            return Some(opts.to_vec());
        }
    }
    None
}

/// Starts `daemonproxy ARGS... -i` as PID 1 of a new namespace; returns
/// the daemon (whose `pid()` is the `unshare` process) and the host pid
/// of the namespace's init, or `None` (with a message) to skip.
pub fn start_as_pid1(test: &str, args: &[&str]) -> Option<(Daemon, i32)> {
    let Some(opts) = unshare_options() else {
        eprintln!(
            "SKIPPED {test}: this machine does not permit a new PID namespace \
             (`unshare --fork --pid --mount-proc true` failed, also with --user --map-root-user)"
        );
        return None;
    };
    let mut d = Daemon::spawn_interactive(Command::new("unshare").args(&opts).arg(harness::bin()).args(args).arg("-i"));
    d.sync();
    let init = poll_until("the namespace's init", || {
        children_of(d.pid()).into_iter().find(|p| comm(p.pid) == "daemonproxy").map(|p| p.pid)
    });
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).expect("init status");
    let nspid = status.lines().find_map(|l| l.strip_prefix("NSpid:")).expect("NSpid line");
    assert_eq!(nspid.split_whitespace().last(), Some("1"), "daemon is not PID 1 in its namespace: {nspid}");
    Some((d, init))
}

/// `/proc/PID/comm`.
pub fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).map(|s| s.trim_end().to_owned()).unwrap_or_default()
}

/// Waits (bounded) until `pid` has no children at all: every orphan it
/// adopted has exited and been reaped.
fn wait_no_children(pid: i32) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let kids = children_of(pid);
        if kids.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            let list: Vec<String> = kids.iter().map(|k| format!("{} {} {}", k.pid, k.state, comm(k.pid))).collect();
            panic!("children of PID 1 never went away (Z = not reaped): {list:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The state field of NAME in a statedump.
fn state_of(dump: &[String], name: &str) -> String {
    let prefix = format!("service.state\t{name}\t");
    let l = dump.iter().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("{name} not in {dump:?}"));
    fields(l)[2].to_owned()
}

/// As PID 1: a service that double-forks orphans over and over; every
/// orphan is adopted and reaped (no zombie left, seen from the host and
/// from inside the namespace); SIGTERM and SIGINT become `signal` events;
/// `terminate 0` is refused by the default guard; after
/// `terminate.guard - 1`, `terminate 0` exits with status 0.
#[test]
fn pid1_reaps_orphans_reports_signals_and_honours_the_guard() {
    const TEST: &str = "pid1_reaps_orphans_reports_signals_and_honours_the_guard";
    let dir = harness::tempdir();
    let cfg = harness::write_file(
        dir.path(),
        "pid1.conf",
        "service.args\torphans\tsh\t-c\t(sleep 0.2 &) ; (sleep 0.3 &) ; exit 0\n\
         service.auto_up\torphans\t1\talways\n",
    );
    let Some((mut d, init)) = start_as_pid1(TEST, &["-c", cfg.to_str().unwrap()]) else { return };

    // The orphans are adopted by PID 1 (their parent is the daemon).
    poll_until("an orphan adopted by PID 1", || children_of(init).iter().any(|c| comm(c.pid) == "sleep").then_some(()));
    for _ in 0..3 {
        let down = d.out.wait_for("an orphan maker cycle", |l| l.starts_with("service.state\torphans\tdown\t"));
        let f = fields(&down);
        assert_eq!((f[5], f[6]), ("exit", "0"), "{down}");
    }

    // Stop making orphans; then every orphan must be gone, i.e. reaped.
    // (state events of the running cycle may come with the reply)
    let out = d.cmd("service.auto_up\torphans\t1");
    assert!(out.contains(&"service.auto_up\torphans\t-".to_owned()), "{out:?}");
    poll_until("the orphan maker to stop", || {
        let dump = {
            d.send("statedump");
            d.sync()
        };
        match state_of(&dump, "orphans").as_str() {
            "down" => Some(()),
            "start" => {
                d.cmd("service.start\torphans\t-");
                None
            }
            _ => None,
        }
    });
    wait_no_children(init);

    // The same, seen from inside the namespace: exactly two processes (the
    // daemon and the checking shell), no zombie.
    d.cmd(
        "service.args\tzcheck\tsh\t-c\tn=0; for p in /proc/[0-9]*; do n=$((n+1)); read -r l < $p/stat || continue; \
         case \"$l\" in *\") Z \"*) echo \"ZOMBIE $l\";; esac; done; echo \"ZCHECK-DONE $n\"",
    );
    d.cmd("service.fds\tzcheck\tnull\tstderr\tstderr");
    d.send("service.start\tzcheck");
    let done = d.log.wait_for("the in-namespace zombie check", |l| l.starts_with("ZCHECK-DONE "));
    let zombies: Vec<String> = d.log.seen.lock().unwrap().iter().filter(|l| l.starts_with("ZOMBIE")).cloned().collect();
    assert!(zombies.is_empty(), "zombies inside the namespace: {zombies:?}");
    assert_eq!(done, "ZCHECK-DONE 2", "processes in the namespace besides the daemon and the check");
    let down = d.out.wait_for("zcheck down", |l| l.starts_with("service.state\tzcheck\tdown\t"));
    assert_eq!((fields(&down)[5], fields(&down)[6]), ("exit", "0"));

    // SIGTERM and SIGINT from the host are recorded, not fatal.
    harness::kill(init, libc::SIGTERM);
    let ev = d.out.wait_for("signal SIGTERM", |l| l.starts_with("signal\tSIGTERM\t"));
    assert_eq!(fields(&ev)[3], "1");
    harness::kill(init, libc::SIGINT);
    let ev = d.out.wait_for("signal SIGINT", |l| l.starts_with("signal\tSIGINT\t"));
    assert_eq!(fields(&ev)[3], "1");
    assert!(harness::alive(init));

    // The default guard (1) refuses a plain terminate.
    assert_eq!(
        d.cmd("terminate\t0"),
        vec!["error\tterminate guard code required, for command \"terminate\t0\"".to_owned()]
    );
    assert_eq!(
        d.cmd("terminate\t0\t2"),
        vec!["error\tincorrect terminate guard code, for command \"terminate\t0\t2\"".to_owned()]
    );
    assert!(harness::alive(init));

    // Clear it, then terminate: PID 1 exits 0 (and unshare with it).
    assert_eq!(d.cmd("terminate.guard\t-\t1"), Vec::<String>::new());
    d.send("terminate\t0");
    assert_eq!(harness::wait_timeout(&mut d.child), Some(0));
    d.log.wait_for("the exit message", |l| l == "info: daemonproxy exiting");
    assert!(
        !d.log.seen.lock().unwrap().iter().any(|l| l.contains("interactive session ended")),
        "exited through end of input, not terminate"
    );
    assert!(!harness::alive(init));
}

/// As PID 1 with `terminate.exec_args`: `terminate 0 1` (guard code 1)
/// execs the configured program, which keeps PID 1 and sees
/// DAEMONPROXY_EXITCODE=0 and DAEMONPROXY_ERROR="terminated normally".
#[test]
fn pid1_terminate_execs_the_exec_args_as_pid1() {
    const TEST: &str = "pid1_terminate_execs_the_exec_args_as_pid1";
    let Some((mut d, init)) = start_as_pid1(TEST, &["-c", "/dev/null"]) else { return };
    let prog = "sh\t-c\techo \"EXECED pid=$$ code=$DAEMONPROXY_EXITCODE err=$DAEMONPROXY_ERROR\" >&2; exit 7";
    assert_eq!(d.cmd(&format!("terminate.exec_args\t{prog}")), Vec::<String>::new());
    assert_eq!(
        d.cmd("terminate\t0"),
        vec!["error\tterminate guard code required, for command \"terminate\t0\"".to_owned()]
    );
    d.send("terminate\t0\t1");
    let l = d.log.wait_for("the exec'd program's line", |l| l.starts_with("EXECED "));
    assert_eq!(l, "EXECED pid=1 code=0 err=terminated normally");
    assert!(d.log.seen.lock().unwrap().iter().any(|l| l == "warning: daemonproxy exec_on_exit to 'sh'"));
    assert_eq!(harness::wait_timeout(&mut d.child), Some(7), "the exec'd program's status");
    assert!(!harness::alive(init));
}

/// The container recipe (`examples/container.conf`, run with the
/// Dockerfile's `--exit-guard 1`) as PID 1: SIGTERM from outside starts
/// the shutdown handler, which stops `app` with SIGTERM and a `stubborn`
/// service (added here, it traps SIGTERM) with SIGKILL, clears the guard
/// it knows and terminates PID 1 with status 0; every process of the
/// namespace is gone afterwards.
#[test]
fn pid1_container_conf_shuts_down_cleanly() {
    const TEST: &str = "pid1_container_conf_shuts_down_cleanly";
    let dir = harness::tempdir();
    let root = harness::repo_root();
    let conf = std::fs::read_to_string(root.join("examples/container.conf")).expect("examples/container.conf");
    let script = root.join("examples/shutdown.sh");
    assert!(conf.contains("\t/etc/daemonproxy/shutdown.sh\t"), "the image's path of the handler");
    let conf = conf.replace("\t/etc/daemonproxy/shutdown.sh\t", &format!("\t{}\t", script.display()))
        + "service.args\tstubborn\tsh\t-c\ttrap 'echo \"stubborn: ignoring SIGTERM\" >&2' TERM; while :; do sleep 1 & wait $!; done\n\
           service.fds\tstubborn\tnull\tstderr\tstderr\n\
           service.auto_up\tstubborn\t1\talways\n";
    let cfg = harness::write_file(dir.path(), "container.conf", &conf);
    let Some((mut d, init)) = start_as_pid1(TEST, &["--exit-guard", "1", "-c", cfg.to_str().unwrap()]) else {
        return;
    };
    let namespace = std::fs::read_link(format!("/proc/{init}/ns/pid")).expect("the namespace of PID 1");

    shutdown::wait_up(&mut d, &["app", "stubborn"]);
    harness::kill(init, libc::SIGTERM);
    let (status, downs) = shutdown::follow_to_exit(&mut d);
    assert_eq!(status, Some(0), "{:#?}", d.log.seen.lock().unwrap());
    assert_eq!(downs["app"], "signal SIGTERM");
    assert_eq!(downs["stubborn"], "signal SIGKILL");
    let log = d.log.seen.lock().unwrap().clone();
    assert!(log.iter().any(|l| l == "stubborn: ignoring SIGTERM"), "stubborn got no SIGTERM: {log:#?}");
    assert!(!log.iter().any(|l| l.contains("attempting to continue")), "{log:#?}");
    shutdown::assert_exit_log(&d);
    poll_until("every process of the namespace to end", || {
        let left = harness::all_procs()
            .into_iter()
            .filter(|p| std::fs::read_link(format!("/proc/{}/ns/pid", p.pid)).is_ok_and(|ns| ns == namespace))
            .count();
        (left == 0).then_some(())
    });
}

/// As PID 1 (no `--subreaper` needed): the orphans of a service that
/// double-forks are adopted, and an extended connection hears of their
/// ends as `orphan.exit PID TS exit|signal VALUE`, with their pids as
/// seen in the namespace; the service itself gets its `service.rusage`.
#[test]
fn pid1_reports_orphan_exits_to_extended_connections() {
    const TEST: &str = "pid1_reports_orphan_exits_to_extended_connections";
    let Some((mut d, init)) = start_as_pid1(TEST, &["-c", "/dev/null"]) else { return };
    assert_eq!(d.cmd("conn.extended\ton"), Vec::<String>::new());
    // The first orphan exits when the test writes to a FIFO, once it is
    // an orphan; the second sleeps until a `kill` service sends it SIGTERM
    // (its pid is the namespace's).
    let dir = harness::tempdir();
    let fifo = dir.path().join("fifo");
    harness::mkfifo(&fifo);
    d.cmd(&harness::double_forking_service(&fifo));
    d.cmd("service.fds\tforker\tnull\tstderr\tstderr");
    d.send("service.start\tforker");
    let pid_of = |tag: &str| -> String {
        let l = d.log.wait_for(tag, |l| l.starts_with(&format!("{tag} ")));
        l[tag.len() + 1..].to_owned()
    };
    let (exiter, sleeper) = (pid_of("EXITER"), pid_of("SLEEPER"));
    let down = d.out.wait_for("forker down", |l| l.starts_with("service.state\tforker\tdown\t"));
    assert_eq!((fields(&down)[5], fields(&down)[6]), ("exit", "0"), "{down}");
    let usage = d.out.wait_for("its rusage", |l| l.starts_with("service.rusage\tforker\t"));
    assert_eq!(fields(&usage).len(), 6, "{usage}");
    harness::open_fifo_writer(&fifo).write_all(b"go\n").unwrap();
    let ev = d.out.wait_for("the exiter's end", |l| l.starts_with("orphan.exit\t"));
    assert_eq!(fields(&ev)[1..], [&*exiter, fields(&ev)[2], "exit", "7"], "{ev}");

    d.cmd(&format!("service.args\tkiller\tkill\t-TERM\t{sleeper}"));
    d.send("service.start\tkiller");
    // The killer and its victim end in either order.
    let ends = d.out.wait_for_each(&["orphan.exit\t", "service.rusage\tkiller\t"]);
    let ev = &ends[0];
    assert_eq!(fields(ev)[1..], [&*sleeper, fields(ev)[2], "signal", "SIGTERM"], "{ev}");
    wait_no_children(init);

    assert_eq!(d.cmd("terminate.guard\t-\t1"), Vec::<String>::new());
    d.send("terminate\t0");
    assert_eq!(harness::wait_timeout(&mut d.child), Some(0));
}
