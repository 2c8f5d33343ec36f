//! Per-service process settings (issue 11): environment, working
//! directory, user, resource limits and umask, applied to real processes,
//! and each failing step reported with its errno text and exit status 3.

use crate::harness::*;
use std::process::Command;

/// Whether the tests run as root (user switching needs it).
fn root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Defines service `w` running `script` with its stdout on file `out`, so
/// its output cannot mix with the events.
fn define(d: &mut Daemon, out: &std::path::Path, script: &str) {
    d.cmd(&format!("fd.open\tout\twrite,create,trunc\t{}", out.display()));
    d.cmd(&format!("service.args\tw\tsh\t-c\t{script}"));
    d.cmd("service.fds\tw\tnull\tout\tstderr");
}

/// Starts `w`, waits for it to end, returns its `down` line.
fn run_once(d: &mut Daemon) -> String {
    d.send("service.start\tw");
    d.wait_state("w", "down")
}

#[test]
fn a_service_runs_with_its_environment_directory_limits_and_umask() {
    let dir = tempdir();
    let out = dir.path().join("out");
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let mut d = Daemon::interactive_clean(&[]);
    define(&mut d, &out, r#"echo "$GREETING|${HOME-unset}|$(pwd)|$(ulimit -n)|$(ulimit -Hn)|$(umask)""#);
    assert_eq!(d.cmd("service.env\tw\tGREETING=hello world\t-HOME"), ["service.env\tw\tGREETING=hello world\t-HOME"]);
    assert_eq!(d.cmd(&format!("service.cwd\tw\t{}", work.display())), [format!("service.cwd\tw\t{}", work.display())]);
    assert_eq!(d.cmd("service.rlimit\tw\tnofile=64:128"), ["service.rlimit\tw\tnofile=64:128"]);
    assert_eq!(d.cmd("service.umask\tw\t027"), ["service.umask\tw\t027"]);
    let down = run_once(&mut d);
    assert_eq!(&fields(&down)[5..7], ["exit", "0"], "{down}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text, format!("hello world|unset|{}|64|128|0027\n", work.display()));
    // Cleared settings: the daemon's own again.
    for cmd in ["service.env\tw", "service.cwd\tw", "service.rlimit\tw", "service.umask\tw"] {
        assert_eq!(d.cmd(cmd), [format!("{cmd}\t")], "cleared echo keeps its TAB, as service.tags does");
    }
    run_once(&mut d);
    let text = std::fs::read_to_string(&out).unwrap();
    let second = text.lines().nth(1).unwrap_or_default();
    assert!(second.starts_with('|') && !second.ends_with("|64|128|0027"), "{text}");
}

#[test]
fn as_root_service_user_drops_to_an_unprivileged_user() {
    if !root() {
        eprintln!("skipped: needs root");
        return;
    }
    let dir = tempdir();
    let out = dir.path().join("out");
    let mut d = Daemon::interactive_clean(&[]);
    define(&mut d, &out, r#"echo "$(id -u) $(id -g) $(id -G)""#);
    assert_eq!(d.cmd("service.user\tw\t65534\t65534\t100"), ["service.user\tw\t65534\t65534\t100"]);
    let down = run_once(&mut d);
    assert_eq!(&fields(&down)[5..7], ["exit", "0"], "{down}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "65534 65534 65534 100\n");
}

/// Starts `w` and returns its exec-style error event and `down` line.
fn failing_start(d: &mut Daemon) -> (String, String) {
    d.send("service.start\tw");
    let error = d.out.wait_for("the error event", |l| l.starts_with("error\tservice w: "));
    let down = d.wait_state("w", "down");
    (error, down)
}

#[test]
fn each_failing_step_is_reported_with_its_errno_and_exit_status_3() {
    let mut d = Daemon::interactive_clean(&[]);
    d.cmd("service.args\tw\t/bin/true");
    d.cmd("service.cwd\tw\t/no/such/dir");
    let (error, down) = failing_start(&mut d);
    assert_eq!(error, "error\tservice w: chdir \"/no/such/dir\" failed: No such file or directory");
    assert_eq!(&fields(&down)[5..7], ["exit", "3"]);
    // The report names the directory of that start, whatever it is now.
    d.cmd("service.cwd\tw");
    // A limit above what the kernel allows anyone (fs.nr_open).
    d.cmd("service.rlimit\tw\tnofile=4000000000:4000000000");
    let (error, down) = failing_start(&mut d);
    assert_eq!(error, "error\tservice w: setrlimit nofile failed: Operation not permitted");
    assert_eq!(&fields(&down)[5..7], ["exit", "3"]);
}

#[test]
fn switching_user_without_privilege_fails_at_setgroups() {
    // An unprivileged daemon (made so with setpriv when the tests run as
    // root) cannot give a service other credentials.
    let mut cmd = if root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin(), "-i"]);
        c
    } else {
        let mut c = Command::new(bin());
        c.arg("-i");
        c
    };
    let mut d = Daemon::spawn(clean_fds(&mut cmd));
    for _ in 0..4 {
        assert!(d.out.next().starts_with("info\t"));
    }
    d.cmd("service.args\tw\t/bin/true");
    d.cmd("service.user\tw\t0\t0");
    let (error, down) = failing_start(&mut d);
    assert_eq!(error, "error\tservice w: setgroups failed: Operation not permitted");
    assert_eq!(&fields(&down)[5..7], ["exit", "3"]);
}

#[test]
fn bad_settings_are_refused_and_change_nothing() {
    let mut d = Daemon::interactive_clean(&[]);
    d.cmd("service.env\tw\tA=1");
    for (line, msg) in [
        ("service.env\tw\tNOEQUALS", "invalid env entry \"NOEQUALS\""),
        ("service.env\tw\t=x", "invalid env entry \"=x\""),
        ("service.user\tw\tnobody\t1", "invalid uid \"nobody\""),
        ("service.user\tw\t1", "missing gid argument"),
        ("service.rlimit\tw\tbogus=1:2", "unknown rlimit resource \"bogus\""),
        ("service.rlimit\tw\tnofile=9:8", "rlimit soft above hard for nofile"),
        ("service.umask\tw\t9", "invalid umask \"9\""),
    ] {
        let reply = d.cmd(line);
        assert_eq!(reply.len(), 1, "{line}: {reply:?}");
        assert!(reply[0].starts_with(&format!("error\t{msg}, for command \"")), "{line}: {reply:?}");
    }
    d.send("statedump");
    let dump = d.sync();
    assert!(dump.contains(&"service.env\tw\tA=1".to_string()), "{dump:?}");
    for setting in ["service.user\tw", "service.rlimit\tw", "service.umask\tw", "service.cwd\tw"] {
        assert!(!dump.iter().any(|l| l.starts_with(setting)), "{setting} was never set: {dump:?}");
    }
}
