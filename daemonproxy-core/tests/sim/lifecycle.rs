//! Every service state transition of §9.1 on virtual time: starting,
//! exits, automatic restarts and their throttle (§9.5), signal triggers,
//! fork and exec failures (§9.6, §0 item 5), a missing handle (§9.3), and
//! services with control connections (§8.1).

use crate::support::*;
use daemonproxy_core::supervisor::{ChildStep, Errno};
use daemonproxy_core::Time;
use std::time::Duration;

#[test]
fn a_process_gets_its_descriptors_and_arguments_as_listed() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.fds\tw\tnull\tstdout\t-\tstderr\t");
    let pid = start_up(&mut s, me, "w", "prog\t-x\t\tlast");
    let p = &s.processes()[&pid];
    assert_eq!(p.argv, b"prog\t-x\t\tlast");
    assert_eq!(p.fds, [Some(NULL_FD), Some(1), None, Some(2), None]);
    assert_eq!(p.control, None);
}

#[test]
fn exit_status_and_uptime_in_the_down_event_and_in_statedump() {
    let (mut s, me) = world();
    let pid = start_up(&mut s, me, "s", "sh\t-c\texit 7");
    s.advance_secs(3);
    // While up, statedump computes the uptime and DOWNTIME stays `-`.
    assert_eq!(dumped(&mut s, me, "service.state\t"), [format!("service.state\ts\tup\t{T0}\t{pid}\t-\t-\t3\t-")]);
    s.advance_secs(2);
    s.exit(pid, ExitReason::Exit(7));
    assert_eq!(s.events(me), [down("s", 1005, pid, "exit\t7", 5)]);
    // The exit information stays, with the downtime computed.
    s.advance_secs(10);
    assert_eq!(dumped(&mut s, me, "service.state\t"), [format!("service.state\ts\tdown\t1005\t{pid}\texit\t7\t5\t10")]);
    // Until the next start request.
    assert_eq!(cmd(&mut s, me, "service.start\ts"), [start("s", 1015), up("s", 1015, pid + 1)]);
}

#[test]
fn killed_services_report_the_signal_name_or_sig_dash_question_mark() {
    let (mut s, me) = world();
    for (sig, name) in [(Signal::KILL, "SIGKILL"), (Signal::ABRT, "SIGABRT"), (Signal::from_number(40), "SIG-?")] {
        let pid = s.pid_of("k").unwrap_or_else(|| start_up(&mut s, me, "k", "sleep\t60"));
        s.exit(pid, ExitReason::Signal(sig));
        assert_eq!(s.events(me), [down("k", T0, pid, &format!("signal\t{name}"), 0)]);
        cmd(&mut s, me, "service.start\tk");
    }
}

#[test]
fn a_pid_reaped_twice_or_belonging_to_no_service_changes_nothing() {
    let (mut s, me) = world_with(Options::new().log_filter(LogLevel::Trace));
    let pid = start_up(&mut s, me, "s", "true");
    s.exit(pid, ExitReason::Exit(0));
    assert_eq!(s.events(me), [down("s", T0, pid, "exit\t0", 0)]);
    s.log();
    s.exit(pid, ExitReason::Exit(1));
    s.exit(4242, ExitReason::Exit(0));
    assert_eq!(s.events(me), Vec::<String>::new());
    // Orphans (as PID 1 or subreaper) are reaped with a debug line (§0 item 6).
    assert_eq!(
        s.log(),
        [
            format!("debug: reaped pid {pid} which belongs to no service"),
            "debug: reaped pid 4242 which belongs to no service".to_owned()
        ]
    );
    assert_eq!(dumped(&mut s, me, "service.state\t"), [format!("service.state\ts\tdown\t{T0}\t{pid}\texit\t0\t0\t0")]);
}

#[test]
fn services_due_at_the_same_time_all_start() {
    let (mut s, me) = world();
    for n in ["a", "b", "c"] {
        cmd(&mut s, me, &format!("service.args\t{n}\ttrue"));
        assert_eq!(cmd(&mut s, me, &format!("service.start\t{n}\t1002")), [start(n, 1002)]);
    }
    s.advance_secs(2);
    let ev = s.events(me);
    assert_eq!(ev.len(), 3, "{ev:?}");
    for n in ["a", "b", "c"] {
        let pid = s.pid_of(n).unwrap_or_else(|| panic!("{n} not started: {ev:?}"));
        assert!(ev.contains(&up(n, 1002, pid)), "{ev:?}");
    }
}

#[test]
fn auto_restart_after_a_short_run_waits_the_interval_after_the_exit() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\ta\ttrue");
    assert_eq!(
        cmd(&mut s, me, "service.auto_up\ta\t5\talways"),
        [start("a", T0), "service.auto_up\ta\t5\talways".to_owned(), up("a", T0, PID0)]
    );
    s.advance_secs(2);
    s.exit(PID0, ExitReason::Exit(1));
    // One `start` event per restart (§16 row 18), at exit + interval.
    assert_eq!(s.events(me), [down("a", 1002, PID0, "exit\t1", 2), start("a", 1007)]);
    s.advance_secs(4);
    assert_eq!(s.events(me), Vec::<String>::new());
    s.advance_secs(1);
    assert_eq!(s.events(me), [up("a", 1007, PID0 + 1)]);
}

#[test]
fn auto_restart_after_a_run_as_long_as_the_interval_is_immediate() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\ta\ttrue");
    cmd(&mut s, me, "service.auto_up\ta\t2\talways");
    s.advance_secs(2);
    s.exit(PID0, ExitReason::Signal(Signal::TERM));
    assert_eq!(s.events(me), [down("a", 1002, PID0, "signal\tSIGTERM", 2), start("a", 1002), up("a", 1002, PID0 + 1)]);
}

#[test]
fn an_interval_never_set_still_throttles_restarts_to_one_second() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tz\tfalse");
    assert_eq!(
        cmd(&mut s, me, "service.auto_up\tz\t-\talways"),
        [start("z", T0), "service.auto_up\tz\t0\talways".to_owned(), up("z", T0, PID0)]
    );
    for (i, pid) in (PID0..PID0 + 3).enumerate() {
        let t = T0 + i as u64;
        s.exit(pid, ExitReason::Exit(1));
        assert_eq!(s.events(me), [down("z", t, pid, "exit\t1", 0), start("z", t + 1)]);
        s.advance_secs(1);
        assert_eq!(s.events(me), [up("z", t + 1, pid + 1)]);
    }
    assert_eq!(dumped(&mut s, me, "service.auto_up\t"), ["service.auto_up\tz\t0\talways"]);
}

#[test]
fn clearing_the_triggers_keeps_a_scheduled_restart_and_start_dash_cancels_it() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tw\ttrue");
    cmd(&mut s, me, "service.auto_up\tw\t5\talways");
    s.exit(PID0, ExitReason::Exit(0));
    assert_eq!(s.events(me), [down("w", T0, PID0, "exit\t0", 0), start("w", 1005)]);
    assert_eq!(cmd(&mut s, me, "service.auto_up\tw\t5"), ["service.auto_up\tw\t-"]);
    s.advance_secs(5);
    assert_eq!(s.events(me), [up("w", 1005, PID0 + 1)], "the pending restart still happens");
    s.exit(PID0 + 1, ExitReason::Exit(0));
    s.advance_secs(60);
    assert_eq!(s.events(me), [down("w", 1005, PID0 + 1, "exit\t0", 0)], "no trigger, no restart");
    // Cancelling a scheduled restart.
    cmd(&mut s, me, "service.auto_up\tw\t5\talways");
    s.exit(PID0 + 2, ExitReason::Exit(0));
    assert_eq!(s.events(me), [down("w", 1065, PID0 + 2, "exit\t0", 0), start("w", 1070)]);
    assert_eq!(cmd(&mut s, me, "service.start\tw\t-"), [down_clear("w")]);
    s.advance_secs(60);
    assert_eq!(s.events(me), Vec::<String>::new());
    assert!(s.processes().is_empty());
}

#[test]
fn a_trigger_signal_starts_a_down_service_at_once_and_leaves_a_running_one_alone() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\th\treload");
    assert_eq!(cmd(&mut s, me, "service.auto_up\th\t5\tSIGHUP"), ["service.auto_up\th\t5\tSIGHUP"]);
    s.advance_secs(3);
    s.signal(Signal::HUP);
    let ev = s.events(me);
    // The signal event's place among the state events is not fixed.
    let states: Vec<&String> = ev.iter().filter(|l| l.starts_with("service.state")).collect();
    assert_eq!(states, [&start("h", 1003), &up("h", 1003, PID0)], "{ev:?}");
    assert!(ev.contains(&"signal\tSIGHUP\t1003\t1".to_owned()), "{ev:?}");
    assert_eq!(ev.len(), 3, "{ev:?}");
    // Running: only the signal is reported.
    s.signal(Signal::HUP);
    assert_eq!(s.events(me), ["signal\tSIGHUP\t1003\t2"]);
    assert_eq!(s.processes().len(), 1);
    // Other signals do not trigger it; unrecorded ones are not even seen.
    s.exit(PID0, ExitReason::Exit(0));
    s.events(me);
    cmd(&mut s, me, "signal.clear\tHUP\t2");
    s.signal(Signal::USR1);
    s.signal(Signal::PIPE);
    assert_eq!(s.events(me), ["signal\tSIGUSR1\t1003\t1"]);
    assert!(s.processes().is_empty());
}

#[test]
fn a_trigger_signal_moves_a_pending_start_to_now() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\th\treload");
    cmd(&mut s, me, "service.auto_up\th\t5\tSIGUSR2");
    assert_eq!(cmd(&mut s, me, "service.start\th\t1100"), [start("h", 1100)]);
    s.advance_secs(1);
    s.signal(Signal::USR2);
    let states: Vec<String> = s.events(me).into_iter().filter(|l| l.starts_with("service.state")).collect();
    assert_eq!(states, [start("h", 1001), up("h", 1001, PID0)]);
    s.advance_secs(200);
    assert_eq!(s.processes().len(), 1, "the old deadline does not start it twice");
}

#[test]
fn setting_triggers_while_a_trigger_signal_is_pending_starts_at_once() {
    let (mut s, me) = world();
    s.signal(Signal::USR1);
    assert_eq!(s.events(me), ["signal\tSIGUSR1\t1000\t1"]);
    cmd(&mut s, me, "service.args\th\thandler");
    assert_eq!(
        cmd(&mut s, me, "service.auto_up\th\t3\tHUP\tUSR1"),
        [start("h", T0), "service.auto_up\th\t3\tHUP\tUSR1".to_owned(), up("h", T0, PID0)]
    );
}

#[test]
fn signal_triggers_are_level_triggered_until_cleared() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\th\thandler");
    cmd(&mut s, me, "service.auto_up\th\t5\tSIGHUP");
    s.signal(Signal::HUP);
    s.signal(Signal::HUP);
    s.events(me);
    s.advance_secs(1);
    s.exit(PID0, ExitReason::Exit(0));
    assert_eq!(s.events(me), [down("h", 1001, PID0, "exit\t0", 1), start("h", 1006)]);
    s.advance_secs(5);
    assert_eq!(s.events(me), [up("h", 1006, PID0 + 1)]);
    // One of the two receptions cleared: still pending, so again.
    assert_silent(&mut s, me, "signal.clear\tSIGHUP\t1");
    s.advance_secs(6);
    s.exit(PID0 + 1, ExitReason::Exit(0));
    assert_eq!(s.events(me), [down("h", 1012, PID0 + 1, "exit\t0", 6), start("h", 1012), up("h", 1012, PID0 + 2)]);
    assert_silent(&mut s, me, "signal.clear\tHUP\t1");
    s.exit(PID0 + 2, ExitReason::Exit(0));
    s.advance_secs(60);
    assert_eq!(s.events(me), [down("h", 1012, PID0 + 2, "exit\t0", 0)]);
    assert!(s.processes().is_empty());
}

#[test]
fn fork_failure_retries_every_three_seconds_until_it_works() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tw\ttrue");
    s.fail_fork(Some(libc::EAGAIN));
    assert_eq!(cmd(&mut s, me, "service.start\tw"), [start("w", T0), start("w", 1003)]);
    let failure = ["error: fork failed: Resource temporarily unavailable", "info: will retry in 3 seconds"];
    assert_eq!(s.log(), failure);
    s.advance_secs(2);
    assert_eq!(s.events(me), Vec::<String>::new());
    s.advance_secs(1);
    assert_eq!(s.events(me), [start("w", 1006)], "it keeps trying");
    assert_eq!(s.log(), failure);
    s.fail_fork(None);
    s.advance_secs(3);
    assert_eq!(s.events(me), [up("w", 1006, PID0)]);
    assert_eq!(s.log(), Vec::<String>::new());
}

#[test]
fn exec_failure_is_broadcast_and_the_child_exits_3() {
    let (mut s, me) = world();
    let other = s.attach();
    s.fail_exec("/no/such", libc::ENOENT);
    cmd(&mut s, me, "service.args\tbad\t/no/such\targ");
    let want_err = "error\tservice bad: exec \"/no/such\" failed: No such file or directory";
    assert_eq!(cmd(&mut s, me, "service.start\tbad"), [start("bad", T0), up("bad", T0, PID0), want_err.to_owned()]);
    assert_eq!(s.events(other).last().map(String::as_str), Some(want_err), "broadcast");
    // The daemon logs it too (the child's own line goes to the log's
    // descriptor number in its process, often /dev/null there).
    assert_eq!(s.log(), ["error: service bad: exec \"/no/such\" failed: No such file or directory"]);
    s.exit(PID0, ExitReason::Exit(3));
    assert_eq!(s.events(me), [down("bad", T0, PID0, "exit\t3", 0)]);
}

#[test]
fn exec_failure_names_the_program_spawned_even_after_the_args_changed() {
    // Issue 16: the failure arrives after the spawn (the reactor learns
    // it from the child's status pipe), and the arguments changed since.
    let (mut s, me) = world();
    let pid = start_up(&mut s, me, "x", "nosuchprog\targ");
    assert_eq!(cmd(&mut s, me, "service.args\tx\t/bin/true"), ["service.args\tx\t/bin/true"]);
    let now = s.now();
    s.supervisor_mut().handle_child_failed(pid, ChildStep::Exec, Errno(libc::ENOENT), now);
    s.settle();
    assert_eq!(s.events(me), ["error\tservice x: exec \"nosuchprog\" failed: No such file or directory"]);
    s.log();
    // A failure reported for a pid that is no service's is ignored.
    s.supervisor_mut().handle_child_failed(pid + 7, ChildStep::Exec, Errno(libc::ENOENT), now);
    s.settle();
    assert_eq!((s.events(me), s.log()), (vec![], vec![]));
}

#[test]
fn a_missing_handle_makes_the_child_abort() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tm\tcat");
    assert_eq!(
        cmd(&mut s, me, "service.fds\tm\tnull\tnosuch\tstderr"),
        ["warning: fd \"nosuch\" is not yet defined", "service.fds\tm\tnull\tnosuch\tstderr"]
    );
    assert_eq!(cmd(&mut s, me, "service.start\tm"), [start("m", T0), up("m", T0, PID0)]);
    assert_eq!(s.log(), ["error: file descriptor \"nosuch\" does not exist"]);
    // What was started is the stand-in that aborts, not the program.
    assert_eq!(s.processes()[&PID0].argv, b"");
    s.exit(PID0, ExitReason::Signal(Signal::ABRT));
    assert_eq!(s.events(me), [down("m", T0, PID0, "signal\tSIGABRT", 0)]);
}

#[test]
fn a_handle_deleted_after_service_fds_is_missing_at_the_next_start() {
    let (mut s, me) = world();
    cmd(&mut s, me, "fd.open\tin\tread\t/srv/in");
    cmd(&mut s, me, "service.fds\tr\tin\tnull\tnull");
    let pid = start_up(&mut s, me, "r", "cat");
    assert_eq!(s.processes()[&pid].fds[0], Some(4));
    s.exit(pid, ExitReason::Exit(0));
    assert_eq!(
        cmd(&mut s, me, "fd.delete\tin"),
        [down("r", T0, pid, "exit\t0", 0), "fd.state\tin\tdeleted".to_owned()]
    );
    cmd(&mut s, me, "service.start\tr");
    assert_eq!(s.log(), ["error: file descriptor \"in\" does not exist"]);
    assert_eq!(s.processes()[&s.pid_of("r").unwrap()].argv, b"");
}

#[test]
fn handle_exit_earlier_than_the_start_does_not_panic() {
    // Issue 9: a `now` before the service's start used to overflow.
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tw\ttrue");
    cmd(&mut s, me, "service.auto_up\tw\t5\talways");
    s.events(me);
    s.supervisor_mut().handle_exit(PID0, ExitReason::Exit(0), None, Time::from_secs(10));
    s.settle();
    assert_eq!(s.events(me), [down("w", 10, PID0, "exit\t0", 0)]);
    // The restart decision and statedump measure from that time too.
    s.advance_secs(0);
    assert_eq!(s.events(me), [start("w", 15), up("w", T0, PID0 + 1)]);
    s.exit(PID0 + 1, ExitReason::Exit(0));
    s.supervisor().check_invariants().unwrap();
}

#[test]
fn control_event_and_cmd_make_one_connection_that_sees_its_own_up_first() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.fds\tctl\tcontrol.event\tcontrol.cmd\tstderr");
    let pid = start_up(&mut s, me, "ctl", "controller");
    let conn = s.processes()[&pid].control.expect("a control connection");
    assert_eq!(s.processes()[&pid].fds, [None, None, Some(2)]);
    assert_eq!(s.events(conn), [up("ctl", T0, pid)]);
    // It drives the daemon: replies to it alone, broadcasts to everyone.
    s.send(conn, "echo\tctl-hello\nservice.args\tworker\ttrue\n");
    assert_eq!(round(&mut s, conn), ["ctl-hello", "service.args\tworker\ttrue"]);
    assert_eq!(s.events(me), ["service.args\tworker\ttrue"]);
    // Each start makes a new connection.
    s.exit(pid, ExitReason::Exit(0));
    assert_eq!(s.events(conn), [down("ctl", T0, pid, "exit\t0", 0)]);
    cmd(&mut s, me, "service.start\tctl");
    let pid2 = s.pid_of("ctl").unwrap();
    let conn2 = s.processes()[&pid2].control.unwrap();
    assert_ne!(conn2, conn);
    assert_eq!(s.events(conn2), [up("ctl", T0, pid2)]);
}

#[test]
fn control_socket_alone_gives_both_directions_and_pending_signals() {
    let (mut s, me) = world();
    s.signal(Signal::TERM);
    cmd(&mut s, me, "service.fds\tc\tcontrol.socket\tcontrol.socket\tstderr");
    let pid = start_up(&mut s, me, "c", "controller");
    let p = &s.processes()[&pid];
    assert_eq!(p.fds, [None, None, Some(2)]);
    let conn = p.control.unwrap();
    assert_eq!(s.events(conn), [up("c", T0, pid), "signal\tSIGTERM\t1000\t1".to_owned()]);
    assert_eq!(cmd(&mut s, conn, "echo\tboth"), ["both"]);
}

#[test]
fn control_cmd_alone_takes_commands_and_receives_nothing() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.fds\tc\tnull\tcontrol.cmd\tstderr");
    let pid = start_up(&mut s, me, "c", "writer");
    let conn = s.processes()[&pid].control.unwrap();
    assert_eq!(cmd(&mut s, conn, "service.args\tmade.by.cmd\ttrue"), Vec::<String>::new());
    assert_eq!(cmd(&mut s, conn, "echo\tlost"), Vec::<String>::new());
    assert_eq!(s.events(me), ["service.args\tmade.by.cmd\ttrue"]);
}

#[test]
fn control_event_alone_delivers_events_and_takes_no_commands() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.fds\tc\tcontrol.event\tnull\tstderr");
    let pid = start_up(&mut s, me, "c", "reader");
    let conn = s.processes()[&pid].control.unwrap();
    assert_eq!(s.events(conn), [up("c", T0, pid)]);
    assert_eq!(s.send(conn, "service.args\tsneaky\ttrue\n"), 0, "no command direction");
    // It stays open for later broadcasts (§16 row 27).
    cmd(&mut s, me, "service.tags\tc\tlater");
    assert_eq!(s.events(conn), ["service.tags\tc\tlater"]);
    assert!(!dumped(&mut s, me, "service.args\t").iter().any(|l| l.contains("sneaky")));
}

#[test]
fn a_handler_that_clears_its_signal_before_exiting_is_not_restarted() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tonhup\treload");
    cmd(&mut s, me, "service.fds\tonhup\tnull\tcontrol.cmd\tstderr");
    cmd(&mut s, me, "service.auto_up\tonhup\t5\tSIGHUP");
    s.signal(Signal::HUP);
    s.events(me);
    let conn = s.processes()[&PID0].control.unwrap();
    // The clear and the exit arrive in the same round: the clear counts.
    s.reap(PID0, ExitReason::Exit(0));
    s.send(conn, "signal.clear\tSIGHUP\t1\n");
    s.end_input(conn);
    s.advance_secs(60);
    assert_eq!(s.events(me), [down("onhup", T0, PID0, "exit\t0", 0)]);
    assert!(s.processes().is_empty());
    assert_eq!(dumped(&mut s, me, "signal\t"), Vec::<String>::new());
}

#[test]
fn a_handler_whose_clear_comes_after_its_exit_runs_once_more() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tonhup\treload");
    cmd(&mut s, me, "service.fds\tonhup\tnull\tcontrol.cmd\tstderr");
    cmd(&mut s, me, "service.auto_up\tonhup\t5\tSIGHUP");
    s.signal(Signal::HUP);
    s.events(me);
    let conn = s.processes()[&PID0].control.unwrap();
    s.exit(PID0, ExitReason::Exit(0));
    s.send(conn, "signal.clear\tSIGHUP\t1\n");
    assert_eq!(s.events(me), [down("onhup", T0, PID0, "exit\t0", 0), start("onhup", 1005)]);
    s.advance_secs(5);
    assert_eq!(s.events(me), [up("onhup", 1005, PID0 + 1)]);
}

#[test]
fn a_control_service_whose_socket_pair_fails_retries_in_three_seconds() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.fds\tc\tcontrol.socket\tnull\tnull");
    cmd(&mut s, me, "service.args\tc\tcontroller");
    s.fail_pipes(Some(libc::EMFILE));
    assert_eq!(cmd(&mut s, me, "service.start\tc"), [start("c", T0), start("c", 1003)]);
    assert_eq!(s.log(), ["error: can't create socketpair: Too many open files", "info: will retry in 3 seconds"]);
    s.fail_pipes(None);
    s.advance_secs(3);
    assert_eq!(s.events(me), [up("c", 1003, PID0)]);
    let conn = s.processes()[&PID0].control.unwrap();
    assert_eq!(s.events(conn), [up("c", 1003, PID0)]);
    s.supervisor().check_invariants().unwrap();
}

#[test]
fn the_throttle_and_timestamps_keep_sub_second_precision() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\ta\ttrue");
    cmd(&mut s, me, "service.auto_up\ta\t2\talways");
    // Ran 1.9 s of a 2 s interval: restarted 2 s after the exit (at 1003.9).
    s.advance(Duration::from_millis(1900));
    s.exit(PID0, ExitReason::Exit(0));
    assert_eq!(s.events(me), [down("a", 1001, PID0, "exit\t0", 1), start("a", 1003)]);
    s.advance(Duration::from_millis(1999));
    assert_eq!(s.events(me), Vec::<String>::new(), "not before 1003.9");
    s.advance(Duration::from_millis(1));
    assert_eq!(s.events(me), [up("a", 1003, PID0 + 1)]);
    // Ran exactly 2 s: at once.
    s.advance_secs(2);
    s.exit(PID0 + 1, ExitReason::Exit(0));
    assert_eq!(s.events(me), [down("a", 1005, PID0 + 1, "exit\t0", 2), start("a", 1005), up("a", 1005, PID0 + 2)]);
    // At 1005.9 the current second is in the past, the next one is not.
    cmd(&mut s, me, "service.auto_up\ta\t2");
    s.exit(PID0 + 2, ExitReason::Exit(0));
    s.events(me);
    assert_err(&mut s, me, "service.start\ta\t1005", "invalid timestamp");
    assert_eq!(cmd(&mut s, me, "service.start\ta\t1006"), [start("a", 1006)]);
    s.advance(Duration::from_millis(99));
    assert_eq!(s.events(me), Vec::<String>::new(), "not before 1006.0");
    s.advance(Duration::from_millis(1));
    assert_eq!(s.events(me), [up("a", 1006, PID0 + 3)]);
}

#[test]
fn setting_always_on_a_running_service_does_not_start_it_twice() {
    let (mut s, me) = world();
    let pid = start_up(&mut s, me, "r", "sleep\t60");
    assert_eq!(cmd(&mut s, me, "service.auto_up\tr\t1\talways"), ["service.auto_up\tr\t1\talways"]);
    assert_eq!(s.processes().len(), 1);
    // Its exit then restarts it.
    s.advance_secs(1);
    s.exit(pid, ExitReason::Exit(0));
    assert_eq!(s.events(me), [down("r", 1001, pid, "exit\t0", 1), start("r", 1001), up("r", 1001, pid + 1)]);
}

#[test]
fn a_crowd_of_due_starts_is_spread_over_passes_that_come_at_once() {
    let (mut s, me) = world();
    for i in 0..100 {
        cmd(&mut s, me, &format!("service.args\ts{i}\ttrue"));
    }
    let at = T0 + 5;
    for i in 0..100 {
        cmd(&mut s, me, &format!("service.start\ts{i}\t{at}"));
    }
    s.events(me);
    s.advance_secs(4);
    assert!(s.processes().is_empty());
    // One pass at the due second starts some; the rest are due at once,
    // so a driver serves its connections and comes straight back.
    let now = s.now() + std::time::Duration::from_secs(1);
    s.supervisor_mut().handle_timeout(now);
    s.settle();
    let first = s.processes().len();
    assert!((1..100).contains(&first), "{first} started in the first pass");
    assert_eq!(s.supervisor_mut().poll_timeout(), Some(now));
    // All of them by the end of that second, each once.
    s.advance_secs(1);
    assert_eq!(s.processes().len(), 100);
    let ups = s.events(me).iter().filter(|l| l.starts_with("service.state\t") && l.contains("\tup\t")).count();
    assert_eq!(ups, 100);
}

/// How many of 100 services due at the same second the first pass starts,
/// with `clients` connections besides the controller.
fn started_in_first_pass(clients: usize) -> usize {
    let (mut s, me) = world();
    for _ in 0..clients {
        s.attach();
    }
    for i in 0..100 {
        cmd(&mut s, me, &format!("service.args\ts{i}\ttrue"));
    }
    let at = T0 + 5;
    for i in 0..100 {
        cmd(&mut s, me, &format!("service.start\ts{i}\t{at}"));
    }
    s.advance_secs(4);
    assert!(s.processes().is_empty());
    let now = s.now() + std::time::Duration::from_secs(1);
    s.supervisor_mut().handle_timeout(now);
    s.settle();
    s.processes().len()
}

#[test]
fn a_pass_starts_more_when_more_connections_wait_for_its_events() {
    // Each pass ends by writing every connection its events: with many
    // connections, a few starts per pass would spend the loop on writes.
    let few = started_in_first_pass(0);
    let many = started_in_first_pass(800);
    assert!(few < many && many < 100, "{few} with one connection, {many} with 801");
}
