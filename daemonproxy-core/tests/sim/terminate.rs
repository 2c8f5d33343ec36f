//! The process-level commands (§5.4, §5.8, §14): `terminate`, the
//! terminate guard, exec-on-exit, `chdir`, and the control socket.

use crate::support::*;
use daemonproxy_core::supervisor::Step;

#[test]
fn terminate_from_an_in_process_controller_decides_the_outcome() {
    // Issue 9: a `terminate` of an in-process controller was lost (this
    // is the supervisor's half; the reactor's is tested with the reactor).
    let (mut s, me) = world();
    assert_silent(&mut s, me, "terminate\t3");
    let outcome = s.outcome();
    assert_eq!(outcome, Some(Outcome::Exit { code: 3 }));
    assert_eq!(outcome.map(|o| o.exit_status()), Some(3));
    assert_eq!(s.outcome(), None, "decided once");
}

#[test]
fn terminate_stops_the_commands_that_follow_and_keeps_its_code() {
    for (code, status) in [("300", 44), ("-1", 255), ("7\textra", 7), ("0", 0), ("256", 0)] {
        let (mut s, _me) = world();
        let c = s.connect(ConnKind::Socket);
        s.send(c, &format!("echo\tbefore\nterminate\t{code}\necho\tafter\n"));
        assert_eq!(s.events(c), ["before"], "terminate {code:?}");
        let outcome = s.outcome().unwrap_or_else(|| panic!("no outcome for terminate {code:?}"));
        assert_eq!(outcome.exit_status(), status, "terminate {code:?}");
        let code: i64 = code.split('\t').next().unwrap().parse().unwrap();
        assert_eq!(outcome, Outcome::Exit { code });
        assert_eq!(outcome.message(), "terminated normally");
    }
}

#[test]
fn terminate_needs_an_integer_code() {
    let (mut s, me) = world();
    for line in ["terminate", "terminate\t", "terminate\tx", "terminate\t1.5", "terminate\t3x"] {
        assert_err(&mut s, me, line, "Expected integer");
    }
    assert_eq!(s.outcome(), None);
}

#[test]
fn the_terminate_guard_rules_with_every_error_text() {
    let (mut s, me) = world();
    assert_silent(&mut s, me, "terminate.guard\t+\t5\textra");
    assert_eq!(s.supervisor().terminate_guard(), Some(5));
    for (line, msg) in [
        ("terminate\t0", "terminate guard code required"),
        ("terminate\t0\tx", "terminate guard code required"),
        ("terminate\t0\t4", "incorrect terminate guard code"),
        ("terminate\t0\t5", "cannot exit, and exec-on-exit is not configured"),
        ("terminate.guard\t+\t6", "terminate guard code is already set"),
        ("terminate.guard\t-\t4", "incorrect guard code"),
    ] {
        assert_err(&mut s, me, line, msg);
    }
    assert_eq!(s.outcome(), None);
    assert_silent(&mut s, me, "terminate.guard\t-\t5");
    assert_eq!(s.supervisor().terminate_guard(), None);
    assert_err(&mut s, me, "terminate.guard\t-\t5", "terminate guard was not set");
    // Negative codes are fine.
    assert_silent(&mut s, me, "terminate.guard\t+\t-3");
    assert_err(&mut s, me, "terminate\t1\t3", "incorrect terminate guard code");
    assert_err(&mut s, me, "terminate\t1\t-3", "cannot exit, and exec-on-exit is not configured");
    assert_silent(&mut s, me, "terminate.guard\t-\t-3");
    assert_silent(&mut s, me, "terminate\t9");
    assert_eq!(s.outcome(), Some(Outcome::Exit { code: 9 }));
}

#[test]
fn terminate_guard_argument_errors() {
    let (mut s, me) = world();
    for (line, msg) in [
        ("terminate.guard", "expected + or -"),
        ("terminate.guard\t", "expected + or -"),
        ("terminate.guard\tx\t1", "expected + or -"),
        ("terminate.guard\t++\t1", "expected + or -"),
        ("terminate.guard\t+", "Expected integer"),
        ("terminate.guard\t+\tx", "Expected integer"),
        ("terminate.guard\t-", "Expected integer"),
        ("terminate.guard\t+\t0", "code cannot be 0"),
        ("terminate.guard\t-\t0", "code cannot be 0"),
    ] {
        assert_err(&mut s, me, line, msg);
    }
    assert_eq!(s.supervisor().terminate_guard(), None, "none of them set a guard");
}

#[test]
fn a_guard_from_the_options_needs_exec_on_exit_to_terminate() {
    let (mut s, me) = world_with(Options::new().terminate_guard(1));
    assert_err(&mut s, me, "terminate\t0\t1", "cannot exit, and exec-on-exit is not configured");
    assert_silent(&mut s, me, "terminate.exec_args\trecover\t--now");
    assert_silent(&mut s, me, "terminate\t4\t1");
    assert_eq!(s.outcome(), Some(Outcome::Exit { code: 4 }));
    assert_eq!(s.armed_exec_on_exit(), b"recover\t--now");
    // A guard code of 0 is no guard.
    let (mut s, me) = world_with(Options::new().terminate_guard(0).exec_on_exit("x"));
    assert_silent(&mut s, me, "terminate\t2");
    assert_eq!(s.outcome(), Some(Outcome::Exit { code: 2 }));
}

#[test]
fn exec_on_exit_is_armed_changed_and_disabled() {
    let (mut s, me) = world_with(Options::new().exec_on_exit("first\targ"));
    assert_eq!(s.armed_exec_on_exit(), b"first\targ", "armed from the options at once");
    assert_silent(&mut s, me, "terminate.exec_args\tsh\t-c\techo \"$DAEMONPROXY_ERROR\"\t\t");
    assert_eq!(s.armed_exec_on_exit(), b"sh\t-c\techo \"$DAEMONPROXY_ERROR\"\t\t");
    assert_eq!(s.supervisor().exec_on_exit(), s.armed_exec_on_exit());
    assert_silent(&mut s, me, "terminate.exec_args");
    assert_eq!(s.armed_exec_on_exit(), b"");
    assert_silent(&mut s, me, "terminate.exec_args\tagain");
    assert_silent(&mut s, me, "terminate.exec_args\t");
    assert_eq!(s.supervisor().exec_on_exit(), b"");
}

#[test]
fn exec_on_exit_arguments_are_at_most_255_bytes() {
    let (mut s, me) = world();
    let ok = "x".repeat(255);
    assert_silent(&mut s, me, &format!("terminate.exec_args\t{ok}"));
    let long = format!("terminate.exec_args\t{}", "y".repeat(256));
    assert_err(&mut s, me, &long, "exec arguments exceed buffer size (255)");
    assert_eq!(s.armed_exec_on_exit(), ok.as_bytes(), "unchanged");
    assert_err(&mut s, me, "terminate.exec_args\ta\0b", "command contains a NUL byte");
    assert_eq!(s.armed_exec_on_exit(), ok.as_bytes());
}

#[test]
fn chdir_changes_the_working_directory() {
    let (mut s, me) = world();
    assert_eq!(s.cwd(), b"/");
    assert_silent(&mut s, me, "chdir\t/srv/app");
    assert_eq!(s.cwd(), b"/srv/app");
    // The next commands run after it.
    s.send(me, "chdir\trel\nfd.open\tf\tread\tfile\n");
    assert_eq!(round(&mut s, me), ["fd.state\tf\tfile\tread\tfile"]);
    assert_eq!(s.cwd(), b"rel");
}

#[test]
fn chdir_errors_leave_the_directory_alone() {
    let (mut s, me) = world();
    s.fail_path("/nope", libc::ENOENT);
    s.fail_path("/etc/passwd", libc::ENOTDIR);
    for (line, msg) in [
        ("chdir", "missing path argument"),
        ("chdir\t/tmp\t", "unexpected argument after path"),
        ("chdir\t/tmp\textra", "unexpected argument after path"),
        ("chdir\t", "chdir failed: No such file or directory"),
        ("chdir\t/nope", "chdir failed: No such file or directory"),
        ("chdir\t/etc/passwd", "chdir failed: Not a directory"),
    ] {
        assert_err(&mut s, me, line, msg);
    }
    assert_eq!(s.cwd(), b"/");
}

#[test]
fn socket_create_listens_and_replaces_the_previous_socket() {
    let (mut s, me) = world();
    assert_silent(&mut s, me, "socket.create\t-\t/run/dp.sock");
    let (fd, path) = s.supervisor().control_socket().expect("a control socket");
    assert_eq!(path, b"/run/dp.sock");
    assert_eq!(s.open_fds()[&fd.get()], SimFd::Listener(b"/run/dp.sock".to_vec()));
    assert_eq!(s.log(), Vec::<String>::new());
    // Empty options too; the old socket is closed and unlinked first.
    assert_silent(&mut s, me, "socket.create\t\t/run/dp2.sock");
    assert!(!s.open_fds().contains_key(&fd.get()));
    assert_eq!(s.supervisor().control_socket().map(|(_, p)| p.to_vec()), Some(b"/run/dp2.sock".to_vec()));
    assert_eq!(s.log(), ["info: Unlinked control socket /run/dp.sock"]);
    // A stale socket at the path is replaced.
    s.stale_socket("/run/stale.sock");
    assert_silent(&mut s, me, "socket.create\t-\t/run/stale.sock");
    assert_eq!(
        s.log(),
        ["info: Unlinked control socket /run/dp2.sock", "info: Unlinked control socket /run/stale.sock"]
    );
}

#[test]
fn socket_create_argument_errors_keep_the_current_socket() {
    let (mut s, me) = world();
    cmd(&mut s, me, "socket.create\t-\t/run/keep.sock");
    let long = format!("/{}", "l".repeat(107));
    for (line, msg) in [
        ("socket.create".to_owned(), "missing argument"),
        ("socket.create\t-".into(), "missing argument"),
        ("socket.create\tx\t/run/other".into(), "Invalid options"),
        ("socket.create\t--\t/run/other".into(), "Invalid options"),
        ("socket.create\t-\t".into(), "Failed to create control socket"),
        (format!("socket.create\t-\t{long}"), "Failed to create control socket"),
    ] {
        assert_err(&mut s, me, &line, msg);
    }
    assert_eq!(s.supervisor().control_socket().map(|(_, p)| p.to_vec()), Some(b"/run/keep.sock".to_vec()));
}

#[test]
fn socket_create_failures_are_logged_with_their_reason() {
    let (mut s, me) = world();
    cmd(&mut s, me, "socket.create\t-\t/run/old.sock");
    s.fail_path("/run/busy.sock", libc::EADDRINUSE);
    let line = "socket.create\t-\t/run/busy.sock";
    assert_err(&mut s, me, line, "Failed to create control socket");
    let mut log = vec![
        "info: Unlinked control socket /run/old.sock".to_owned(),
        "error: bind(control_socket, /run/busy.sock): Address already in use".to_owned(),
    ];
    log.extend(failure_log(me, line, "Failed to create control socket"));
    assert_eq!(s.log(), log);
    assert_eq!(s.supervisor().control_socket(), None, "the old one is gone even so");
    // Something that is not a socket in the way is left alone.
    s.fail_path_at("/run/file", Step::Unlink, libc::EEXIST);
    assert_err(&mut s, me, "socket.create\t-\t/run/file", "Failed to create control socket");
    assert_eq!(s.log()[0], "error: Can't unlink control socket: File exists");
    assert_eq!(s.supervisor().control_socket(), None);
}

#[test]
fn a_socket_another_daemon_listens_on_is_not_taken_over() {
    let (mut s, me) = world();
    s.live_socket("/run/dp.sock", Some(4242));
    let line = "socket.create\t-\t/run/dp.sock";
    assert_err(&mut s, me, line, "Failed to create control socket");
    let mut log = vec!["error: control socket /run/dp.sock: already running (pid 4242)".to_owned()];
    log.extend(failure_log(me, line, "Failed to create control socket"));
    assert_eq!(s.log(), log);
    assert_eq!(s.supervisor().control_socket(), None);
    // Without the listener's pid.
    s.live_socket("/run/other.sock", None);
    s.supervisor_mut().create_control_socket(b"/run/other.sock");
    s.settle();
    assert_eq!(s.log(), ["error: control socket /run/other.sock: already running"]);
}

#[test]
fn socket_delete_closes_the_socket_and_spares_the_connections() {
    let (mut s, me) = world();
    cmd(&mut s, me, "socket.create\t-\t/run/dp.sock");
    let (fd, _) = s.supervisor().control_socket().unwrap();
    let client = s.connect(ConnKind::Socket);
    assert_silent(&mut s, me, "socket.delete\tignored\targs");
    assert_eq!(s.supervisor().control_socket(), None);
    assert!(!s.open_fds().contains_key(&fd.get()));
    assert_eq!(s.log(), ["info: Unlinked control socket /run/dp.sock"]);
    assert_eq!(cmd(&mut s, client, "echo\tstill-here"), ["still-here"]);
    // Without a socket: nothing at all.
    assert_silent(&mut s, me, "socket.delete");
    assert_eq!(s.log(), Vec::<String>::new());
}

#[test]
fn the_drivers_own_control_socket_logs_its_failure_only() {
    let mut s = Sim::new();
    s.fail_path("/run/ro/dp.sock", libc::EROFS);
    s.supervisor_mut().create_control_socket(b"/run/ro/dp.sock");
    s.settle();
    assert_eq!(s.supervisor().control_socket(), None);
    assert_eq!(s.log(), ["error: bind(control_socket, /run/ro/dp.sock): Read-only file system"]);
    s.supervisor_mut().create_control_socket(b"/run/dp.sock");
    s.settle();
    assert_eq!(s.supervisor().control_socket().map(|(_, p)| p.to_vec()), Some(b"/run/dp.sock".to_vec()));
    assert_eq!(s.log(), Vec::<String>::new());
}
