//! `reexec` on virtual time: the supervisor's whole state is written and
//! read back into a new supervisor, as a new image of the daemon does
//! (issue 13). The descriptors and the exec itself are the reactor's and
//! are tested end to end (tests/e2e/reexec.rs).

use crate::support::*;
use daemonproxy_core::supervisor::Supervisor;
use std::time::Duration;

/// A world with something of everything a state holds: services up, down
/// after an exit, waiting for a delayed start, with every setting; pipes
/// and files; signal counts; the guard, exec-on-exit and log settings.
fn busy_world() -> (Sim, ConnId, i32) {
    let (mut s, me) = world();
    let web = start_up(&mut s, me, "web", "sleep\t1000");
    for line in [
        "service.tags\tweb\tfront\tv2",
        "service.env\tweb\tA=1\t-HOME",
        "service.cwd\tweb\t/srv",
        "service.user\tweb\t100\t100\t5\t6",
        "service.rlimit\tweb\tnofile=10:20\tcore=0:unlimited",
        "service.umask\tweb\t027",
        "service.args\tlater\ttrue",
        "service.args\tcrashy\tfalse",
        "service.auto_up\tcrashy\t30\talways",
        "fd.pipe\tr\tw",
        "fd.open\tlog\twrite,create\t/var/log/x",
        "service.fds\tweb\tnull\tw\tlog",
        "terminate.guard\t+\t7",
        "terminate.exec_args\t/sbin/recover\t-x",
        "log.filter\tdebug",
    ] {
        cmd(&mut s, me, line);
    }
    cmd(&mut s, me, &format!("service.start\tlater\t{}", T0 + 500));
    let crashy = s.pid_of("crashy").expect("crashy runs");
    s.exit(crashy, ExitReason::Exit(1));
    s.signal(Signal::from_name(b"HUP").unwrap());
    s.signal(Signal::from_name(b"HUP").unwrap());
    s.advance_secs(3);
    s.events(me);
    (s, me, web)
}

#[test]
fn statedump_is_the_same_after_a_reexec() {
    let (mut s, me, web) = busy_world();
    let before = statedump(&mut s, me);
    assert!(before.iter().any(|l| l.starts_with("signal\tSIGHUP\t")), "{before:#?}");
    assert_eq!(cmd(&mut s, me, "reexec"), ["info\treexec done"]);
    assert_eq!(s.reexecs(), [b"".to_vec()]);
    assert_eq!(statedump(&mut s, me), before);
    assert_eq!(s.supervisor().terminate_guard(), Some(7));
    assert_eq!(s.supervisor().exec_on_exit(), b"/sbin/recover\t-x");
    assert_eq!(s.pid_of("web"), Some(web));
    // Ten more in a row change nothing either.
    for _ in 0..10 {
        assert_eq!(cmd(&mut s, me, "reexec"), ["info\treexec done"]);
    }
    assert_eq!(statedump(&mut s, me), before);
}

#[test]
fn timers_go_on_after_a_reexec() {
    let (mut s, me, web) = busy_world();
    cmd(&mut s, me, "reexec");
    // The delayed start and the restart of the crashed service happen
    // when they were due, once.
    s.advance_secs(500);
    let events = s.events(me);
    let later = s.pid_of("later").expect("later started");
    let crashy = s.pid_of("crashy").expect("crashy restarted");
    assert_eq!(events.iter().filter(|l| l.starts_with("service.state\tlater\tup\t")).count(), 1, "{events:#?}");
    assert_eq!(events.iter().filter(|l| l.starts_with("service.state\tcrashy\tup\t")).count(), 1, "{events:#?}");
    // A process that ran before the reexec is reported when it exits.
    s.exit(web, ExitReason::Signal(Signal::from_name(b"TERM").unwrap()));
    let events = round(&mut s, me);
    assert!(events.iter().any(|l| l.starts_with("service.state\tweb\tdown\t")), "{events:#?}");
    assert!(later != crashy);
}

#[test]
fn commands_after_reexec_in_the_same_input_run_in_the_new_image() {
    let (mut s, me) = world();
    let c = s.connect(ConnKind::Interactive);
    s.send(c, "echo\tbefore\nreexec\necho\tafter\n");
    assert_eq!(round(&mut s, c), ["before", "info\treexec done", "after"]);
    assert_eq!(s.events(me), ["info\treexec done"]);
    // Half a line stays half a line.
    s.send(c, "ech");
    assert_eq!(cmd(&mut s, me, "reexec"), ["info\treexec done"]);
    s.send(c, "o\twhole\n");
    assert_eq!(round(&mut s, c), ["info\treexec done", "whole"]);
}

#[test]
fn reexec_with_a_program_passes_it_on() {
    let (mut s, me) = world();
    assert_eq!(cmd(&mut s, me, "reexec\t/usr/sbin/daemonproxy\t-i"), ["info\treexec done"]);
    assert_eq!(s.reexecs(), [b"/usr/sbin/daemonproxy\t-i".to_vec()]);
}

#[test]
fn a_failed_reexec_is_reported_and_the_daemon_carries_on() {
    let (mut s, me, _) = busy_world();
    let before = statedump(&mut s, me);
    s.log();
    s.fail_reexec(Some(libc::ENOENT));
    assert_err(&mut s, me, "reexec\t/no/such", "reexec failed: No such file or directory");
    let log = s.log();
    assert!(log.contains(&"info: re-executing the daemon".to_owned()), "{log:#?}");
    assert!(log.contains(&"error: reexec failed: No such file or directory".to_owned()), "{log:#?}");
    assert_eq!(statedump(&mut s, me), before);
    // The connection that waited for the result goes on.
    assert_eq!(cmd(&mut s, me, "echo\tstill"), ["still"]);
}

#[test]
fn the_reexec_signal_reexecutes_instead_of_being_recorded() {
    let usr2 = Signal::from_name(b"USR2").unwrap();
    let (mut s, me) = world_with(Options::new().reexec_signal(usr2));
    s.signal(usr2);
    assert_eq!(s.reexecs().len(), 1);
    assert_eq!(s.events(me), ["info\treexec done"]);
    assert!(dumped(&mut s, me, "signal\t").is_empty());
    // Other signals are recorded as ever.
    s.signal(Signal::from_name(b"USR1").unwrap());
    assert_eq!(s.reexecs().len(), 1);
    assert_eq!(s.events(me), [format!("signal\tSIGUSR1\t{T0}\t1")]);
}

#[test]
fn a_state_of_another_version_or_a_damaged_one_is_refused_without_panic() {
    let (s, _, _) = busy_world();
    let mut state = Vec::new();
    s.supervisor().save_state(|_, _| true, &mut state);
    let opts = Options::new();
    assert!(Supervisor::restore(&opts, &state).is_ok());
    // Every truncation is refused.
    for len in 0..state.len() {
        let e = Supervisor::restore(&opts, &state[..len]).expect_err("a truncated state");
        assert!(e.message().starts_with("reexec: "), "{e}");
    }
    // Another version says which.
    let version = env!("CARGO_PKG_VERSION").as_bytes();
    let at = state.windows(version.len()).position(|w| w == version).expect("the version is written");
    let mut other = state.clone();
    other[at] = b'9';
    let e = Supervisor::restore(&opts, &other).expect_err("another version");
    assert!(e.message().contains("the state was written by daemonproxy 9"), "{e}");
    // Flipped bytes anywhere: an error or a state, never a panic.
    for i in 0..state.len() {
        let mut bad = state.clone();
        bad[i] ^= 0xa5;
        let _ = Supervisor::restore(&opts, &bad);
    }
    // A pool too small for the state is refused.
    let e = Supervisor::restore(&Options::new().service_pool(2, 512), &state).expect_err("small pool");
    assert!(e.message().contains("pool too small"), "{e}");
}

#[test]
fn a_reexec_while_a_statedump_is_being_written_finishes_it_first() {
    let (mut s, me, _) = busy_world();
    let c = s.connect(ConnKind::Interactive);
    s.block(c);
    s.send(c, "statedump\n");
    s.advance(Duration::from_millis(10));
    cmd(&mut s, me, "reexec");
    s.unblock(c);
    let events = round(&mut s, c);
    let dump: Vec<&String> = events.iter().filter(|l| !l.starts_with("info\t")).collect();
    // (A new connection hears of the signals received first.)
    assert_eq!(dump[0], &format!("signal\tSIGHUP\t{T0}\t2"));
    let whole = statedump(&mut s, me);
    assert_eq!(dump[1..], whole.iter().collect::<Vec<_>>());
}
