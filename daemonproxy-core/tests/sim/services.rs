//! The service commands of §5.2: their settings, replies, broadcasts and
//! exact error lines, and the service pool of §13.2.

use crate::support::*;

#[test]
fn args_and_tags_are_stored_verbatim_and_cleared() {
    let (mut s, me) = world();
    assert_eq!(cmd(&mut s, me, "service.args\tfoo\tsleep\t30"), ["service.args\tfoo\tsleep\t30"]);
    assert_eq!(cmd(&mut s, me, "service.args\tfoo\ta\t\tb\t"), ["service.args\tfoo\ta\t\tb\t"]);
    assert_eq!(cmd(&mut s, me, "service.tags\tfoo\tx=1\t\ty"), ["service.tags\tfoo\tx=1\t\ty"]);
    assert_eq!(
        statedump(&mut s, me)[7..],
        [
            "service.state\tfoo\tdown\t-\t-\t-\t-\t-\t-",
            "service.tags\tfoo\tx=1\t\ty",
            "service.args\tfoo\ta\t\tb\t",
            "service.fds\tfoo\tnull\tnull\tnull",
            "service.auto_up\tfoo\t-",
        ]
    );
    // Absent and empty both clear; the TAB after the name stays.
    assert_eq!(cmd(&mut s, me, "service.args\tfoo"), ["service.args\tfoo\t"]);
    assert_eq!(cmd(&mut s, me, "service.tags\tfoo\t"), ["service.tags\tfoo\t"]);
    assert_eq!(dumped(&mut s, me, "service.args\t"), ["service.args\tfoo\t"]);
    assert_eq!(dumped(&mut s, me, "service.tags\t"), ["service.tags\tfoo\t"]);
    // A 31-byte name is the longest.
    let n31 = "n".repeat(31);
    assert_eq!(cmd(&mut s, me, &format!("service.tags\t{n31}")), [format!("service.tags\t{n31}\t")]);
}

#[test]
fn every_service_command_checks_its_name_first() {
    let (mut s, me) = world();
    for c in [
        "service.args",
        "service.tags",
        "service.fds",
        "service.auto_up",
        "service.start",
        "service.signal",
        "service.delete",
    ] {
        assert_err(&mut s, me, c, "Expected service name");
        assert_err(&mut s, me, &format!("{c}\t"), "Expected service name");
        assert_err(&mut s, me, &format!("{c}\t\tx"), "Expected service name");
        assert_err(&mut s, me, &format!("{c}\tbad!\tx"), "Invalid service name");
        assert_err(&mut s, me, &format!("{c}\t{}\tx", "n".repeat(32)), "Invalid service name");
        // CR is data, so a CRLF line names an invalid service.
        assert_err(&mut s, me, &format!("{c}\tfoo\r"), "Invalid service name");
    }
    for c in ["service.start", "service.signal\tnosuch\tTERM", "service.delete"] {
        let line = if c.contains('\t') { c.to_owned() } else { format!("{c}\tnosuch") };
        assert_err(&mut s, me, &line, "No such service");
    }
    // None of them created anything.
    assert_eq!(statedump(&mut s, me), BUILTIN_FD_STATES);
}

#[test]
fn fds_warn_only_for_names_not_yet_defined() {
    let (mut s, me) = world();
    assert_eq!(
        cmd(&mut s, me, "service.fds\tfoo\tnull\tmissing\t-\t\tstderr\tcontrol.cmd\tlater"),
        [
            "warning: fd \"missing\" is not yet defined",
            "warning: fd \"later\" is not yet defined",
            "service.fds\tfoo\tnull\tmissing\t-\t\tstderr\tcontrol.cmd\tlater",
        ]
    );
    // Once the handle exists, no warning.
    cmd(&mut s, me, "fd.open\tlater\tread\t/srv/later");
    assert_eq!(cmd(&mut s, me, "service.fds\tfoo\tlater\t-"), ["service.fds\tfoo\tlater\t-"]);
}

#[test]
fn fds_default_is_unset_and_an_empty_list_means_no_descriptors() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tfresh\ttrue");
    assert_eq!(dumped(&mut s, me, "service.fds\t"), ["service.fds\tfresh\tnull\tnull\tnull"]);
    assert_eq!(cmd(&mut s, me, "service.fds\tfresh"), ["service.fds\tfresh\t"]);
    assert_eq!(dumped(&mut s, me, "service.fds\t"), ["service.fds\tfresh\t"]);
    cmd(&mut s, me, "service.start\tfresh");
    let pid = s.pid_of("fresh").unwrap();
    assert_eq!(s.processes()[&pid].fds, Vec::<Option<u32>>::new(), "an empty list gives no descriptors");
    s.exit(pid, ExitReason::Exit(0));
    s.events(me);
    assert_eq!(cmd(&mut s, me, "service.fds\tfresh\tnull\tnull\tnull"), ["service.fds\tfresh\tnull\tnull\tnull"]);
    cmd(&mut s, me, "service.start\tfresh");
    let pid = s.pid_of("fresh").unwrap();
    assert_eq!(s.processes()[&pid].fds, [Some(NULL_FD); 3]);
}

#[test]
fn failing_auto_creating_commands_leave_the_service_behind() {
    let (mut s, me) = world();
    assert_err(&mut s, me, "service.fds\tleft\tnull\tbad!", "invalid fd name");
    assert_err(&mut s, me, &format!("service.fds\tleft2\t{}", "f".repeat(32)), "invalid fd name");
    assert_err(&mut s, me, "service.auto_up\tleft3\t5\tBOGUS", "unable to set auto_up triggers");
    assert_err(&mut s, me, "service.auto_up\tleft4\t0", "invalid interval");
    // A command that never got a valid name creates nothing.
    assert_err(&mut s, me, "service.args\tbad!\tx", "Invalid service name");
    let states: Vec<String> = dumped(&mut s, me, "service.state\t");
    assert_eq!(states, [down_clear("left"), down_clear("left2"), down_clear("left3"), down_clear("left4")]);
    // The refused trigger list kept its valid interval.
    assert_eq!(cmd(&mut s, me, "service.auto_up\tleft3\t-\tHUP"), ["service.auto_up\tleft3\t5\tHUP"]);
}

#[test]
fn auto_up_examples_of_section_5_2() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tfoo\tsleep\t30");
    // `always` starts at once: the start event precedes the auto_up event.
    let ev = cmd(&mut s, me, "service.auto_up\tfoo\t5\talways");
    assert_eq!(ev, [start("foo", T0), "service.auto_up\tfoo\t5\talways".to_owned(), up("foo", T0, PID0)]);
    assert_eq!(cmd(&mut s, me, "service.auto_up\tfoo\t-\tSIGUSR1\tUSR2"), ["service.auto_up\tfoo\t5\tSIGUSR1\tUSR2"]);
    assert_eq!(cmd(&mut s, me, "service.auto_up\tfoo\t3"), ["service.auto_up\tfoo\t-"]);
    assert_eq!(cmd(&mut s, me, "service.auto_up\tfoo\t-\tHUP"), ["service.auto_up\tfoo\t3\tHUP"]);
    assert_eq!(cmd(&mut s, me, "service.auto_up\tfoo\t-"), ["service.auto_up\tfoo\t-"]);
    // Never set: reported as 0. Signals never caught are accepted.
    assert_eq!(cmd(&mut s, me, "service.auto_up\tbar\t-\tSIGHUP"), ["service.auto_up\tbar\t0\tSIGHUP"]);
    assert_eq!(cmd(&mut s, me, "service.auto_up\tbar\t-\tSIGKILL\tTERM"), ["service.auto_up\tbar\t0\tSIGKILL\tTERM"]);
    assert_eq!(cmd(&mut s, me, "service.auto_up\tbar\t2147483647"), ["service.auto_up\tbar\t-"]);
    // Empty fields are kept in the echo and skipped when interpreted.
    assert_eq!(
        cmd(&mut s, me, "service.auto_up\tbar\t-\tUSR1\t\tHUP"),
        ["service.auto_up\tbar\t2147483647\tUSR1\t\tHUP"]
    );
}

#[test]
fn auto_up_errors_keep_the_valid_interval_and_the_old_triggers() {
    let (mut s, me) = world();
    assert_err(&mut s, me, "service.auto_up\tbaz\t7\tBOGUS", "unable to set auto_up triggers");
    assert_eq!(cmd(&mut s, me, "service.auto_up\tbaz\t-\tHUP"), ["service.auto_up\tbaz\t7\tHUP"]);
    assert_err(&mut s, me, "service.auto_up\tbaz\t9\tHUP\tNOPE", "unable to set auto_up triggers");
    assert_err(&mut s, me, "service.auto_up\tbaz\t5\t1", "unable to set auto_up triggers");
    assert_err(&mut s, me, "service.auto_up\tbaz\t5\tsighup", "unable to set auto_up triggers");
    for (line, msg) in [
        ("service.auto_up\tbaz", "Expected integer"),
        ("service.auto_up\tbaz\t", "Expected integer"),
        ("service.auto_up\tbaz\t-x", "Expected integer"),
        ("service.auto_up\tbaz\t5s", "Expected integer"),
        ("service.auto_up\tbaz\t0", "invalid interval"),
        ("service.auto_up\tbaz\t-1", "invalid interval"),
        ("service.auto_up\tbaz\t2147483648", "invalid interval"),
    ] {
        assert_err(&mut s, me, line, msg);
    }
    // The refused lists stored their interval (5, the last valid one);
    // the refused intervals changed nothing; the triggers are still HUP.
    assert_eq!(dumped(&mut s, me, "service.auto_up\t"), ["service.auto_up\tbaz\t5\tHUP"]);
}

#[test]
fn start_needs_arguments_and_a_service_that_is_not_running() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.tags\tnoargs\tx");
    assert_err(&mut s, me, "service.start\tnoargs", "no args configured for service");
    cmd(&mut s, me, "service.args\temptyfirst\t\tx");
    assert_err(&mut s, me, "service.start\temptyfirst", "no args configured for service");
    // Checked for a timestamped start too, after the timestamp.
    assert_err(&mut s, me, "service.start\tnoargs\t2000", "no args configured for service");
    assert_err(&mut s, me, "service.start\tnoargs\t1", "invalid timestamp");
    start_up(&mut s, me, "s", "sleep\t30");
    assert_err(&mut s, me, "service.start\ts", "service is not startable");
    assert_err(&mut s, me, "service.start\ts\t2000", "service is not startable");
    assert_err(&mut s, me, "service.start\ts\t-", "no service.start pending");
    assert_eq!(s.processes().len(), 1);
}

#[test]
fn start_at_a_timestamp_waits_for_it() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\td\ttrue");
    assert_eq!(cmd(&mut s, me, "service.start\td\t1005"), [start("d", 1005)]);
    assert_eq!(dumped(&mut s, me, "service.state\t"), [start("d", 1005)]);
    s.advance_secs(4);
    assert!(s.processes().is_empty(), "started early");
    assert_eq!(s.events(me), Vec::<String>::new());
    s.advance_secs(1);
    assert_eq!(s.events(me), [up("d", 1005, PID0)]);
    // The next whole second is the earliest timestamp accepted.
    s.exit(PID0, ExitReason::Exit(0));
    s.events(me);
    assert_eq!(cmd(&mut s, me, "service.start\td\t1006"), [start("d", 1006)]);
}

#[test]
fn start_rejects_past_and_malformed_timestamps() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\ts\ttrue");
    for arg in ["1000", "999", "0", "-5", "", "x", "12x", "1.5", "2147483648", "99999999999"] {
        assert_err(&mut s, me, &format!("service.start\ts\t{arg}"), "invalid timestamp");
    }
    assert_eq!(dumped(&mut s, me, "service.state\t"), [down_clear("s")]);
    // The largest timestamp accepted.
    assert_eq!(cmd(&mut s, me, "service.start\ts\t2147483647"), [start("s", 2147483647)]);
}

#[test]
fn start_reschedules_a_pending_start_earlier_later_or_now() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\ts\ttrue");
    assert_eq!(cmd(&mut s, me, "service.start\ts\t1100"), [start("s", 1100)]);
    assert_eq!(cmd(&mut s, me, "service.start\ts\t1010"), [start("s", 1010)]);
    assert_eq!(cmd(&mut s, me, "service.start\ts\t1020"), [start("s", 1020)]);
    s.advance_secs(15);
    assert_eq!(s.events(me), Vec::<String>::new(), "the start moved to 1020");
    // Without a timestamp: now.
    assert_eq!(cmd(&mut s, me, "service.start\ts"), [start("s", 1015), up("s", 1015, PID0)]);
    // The old deadlines do not start it again.
    s.exit(PID0, ExitReason::Exit(0));
    s.advance_secs(200);
    assert_eq!(s.events(me), [down("s", 1015, PID0, "exit\t0", 0)]);
    assert!(s.processes().is_empty());
}

#[test]
fn start_cancelled_returns_to_down_without_exit_information() {
    let (mut s, me) = world();
    let pid = start_up(&mut s, me, "s", "true");
    s.advance_secs(2);
    s.exit(pid, ExitReason::Exit(4));
    assert_eq!(s.events(me), [down("s", 1002, pid, "exit\t4", 2)]);
    assert_err(&mut s, me, "service.start\ts\t-", "no service.start pending");
    assert_eq!(cmd(&mut s, me, "service.start\ts\t1100"), [start("s", 1100)]);
    assert_eq!(cmd(&mut s, me, "service.start\ts\t-\textra"), [down_clear("s")]);
    assert_eq!(dumped(&mut s, me, "service.state\t"), [down_clear("s")]);
    assert_err(&mut s, me, "service.start\ts\t-", "no service.start pending");
    s.advance_secs(200);
    assert_eq!(s.events(me), Vec::<String>::new());
    assert!(s.processes().is_empty(), "a cancelled start never forks");
    // A start "now" can be cancelled before the fork, by a later command
    // of the same batch.
    s.send(me, "service.start\ts\nservice.start\ts\t-\n");
    assert_eq!(round(&mut s, me), [start("s", 1202), down_clear("s")]);
    assert!(s.processes().is_empty());
}

#[test]
fn start_can_no_longer_be_cancelled_once_the_fork_is_asked_for() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\ts\ttrue");
    s.send(me, "service.start\ts\n");
    // The timers ask for the fork, and more commands arrive before the
    // spawn is answered (a driver that answers it later than the drain
    // order asks): too late to cancel, or to delete.
    let now = s.now();
    s.supervisor_mut().handle_timeout(now);
    s.send(me, "service.start\ts\t-\nservice.delete\ts\n");
    assert_eq!(
        round(&mut s, me),
        [
            start("s", T0),
            err("no service.start pending", "service.start\ts\t-"),
            err("service is running", "service.delete\ts"),
            up("s", T0, PID0),
        ]
    );
}

#[test]
fn signal_sends_the_signal_to_the_process_or_its_group() {
    let (mut s, me) = world();
    let pid = start_up(&mut s, me, "s", "sleep\t30");
    assert_silent(&mut s, me, "service.signal\ts\tTERM");
    assert_silent(&mut s, me, "service.signal\ts\tSIGUSR1\tgroup");
    assert_silent(&mut s, me, "service.signal\ts\t0\tgroup,group");
    assert_silent(&mut s, me, "service.signal\ts\tIOT");
    assert_eq!(
        s.kills(),
        [
            (pid, Signal::TERM, false),
            (pid, Signal::USR1, true),
            (pid, Signal::from_number(0), true),
            (pid, Signal::ABRT, false)
        ]
    );
    // The exit it causes is reported as usual.
    s.advance_secs(3);
    s.exit(pid, ExitReason::Signal(Signal::TERM));
    assert_eq!(s.events(me), [down("s", 1003, pid, "signal\tSIGTERM", 3)]);
}

#[test]
fn signal_argument_errors() {
    let (mut s, me) = world();
    start_up(&mut s, me, "s", "sleep\t30");
    for (line, msg) in [
        ("service.signal\ts", "Expected signal argument"),
        ("service.signal\ts\t", "Expected signal argument"),
        ("service.signal\ts\t65536", "Invalid signal number"),
        ("service.signal\ts\t15x", "Invalid signal number"),
        ("service.signal\ts\tSIGFOO", "Invalid signal argument"),
        ("service.signal\ts\tsigterm", "Invalid signal argument"),
        ("service.signal\ts\tTERM\tbogus", "unknown option \"bogus\""),
        ("service.signal\ts\tTERM\tgroup,", "unknown option \"\""),
        ("service.signal\ts\tTERM\t", "unknown option \"\""),
        ("service.signal\ts\tTERM\tgroup,x,group", "unknown option \"x\""),
    ] {
        assert_err(&mut s, me, line, msg);
    }
    assert_eq!(s.kills(), []);
}

#[test]
fn signal_needs_a_running_process() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\ts\tsleep\t30");
    assert_err(&mut s, me, "service.signal\ts\tTERM", "service is not running");
    cmd(&mut s, me, "service.start\ts\t2000");
    assert_err(&mut s, me, "service.signal\ts\tTERM", "service is not running");
    cmd(&mut s, me, "service.start\ts");
    s.exit(PID0, ExitReason::Exit(0));
    s.events(me);
    assert_err(&mut s, me, "service.signal\ts\tKILL", "service is not running");
    assert_eq!(s.kills(), []);
}

#[test]
fn signal_that_cannot_be_sent_reports_the_errno() {
    let (mut s, me) = world();
    let pid = start_up(&mut s, me, "s", "sleep\t30");
    s.fail_kills(Some(libc::EPERM));
    let pid_msg = format!("can't kill s (pid {pid}): Operation not permitted");
    let pgid_msg = format!("can't kill s (pgid {pid}): Operation not permitted");
    assert_err(&mut s, me, "service.signal\ts\tTERM", &pid_msg);
    assert_err(&mut s, me, "service.signal\ts\tTERM\tgroup", &pgid_msg);
    let mut log = failure_log(me, "service.signal\ts\tTERM", &pid_msg).to_vec();
    log.extend(failure_log(me, "service.signal\ts\tTERM\tgroup", &pgid_msg));
    assert_eq!(s.log(), log);
    // The service is still up, and a later signal works again.
    s.fail_kills(None);
    assert_silent(&mut s, me, "service.signal\ts\tHUP");
    assert_eq!(s.kills(), [(pid, Signal::HUP, false)]);
}

#[test]
fn delete_is_refused_only_while_running() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tplain\ttrue");
    assert_eq!(cmd(&mut s, me, "service.delete\tplain\textra"), [deleted("plain")]);
    assert_err(&mut s, me, "service.delete\tplain", "No such service");
    let pid = start_up(&mut s, me, "s", "sleep\t30");
    assert_err(&mut s, me, "service.delete\ts", "service is running");
    s.exit(pid, ExitReason::Exit(0));
    s.events(me);
    // Improvement (§16 row 13): a service that ran may be deleted.
    assert_eq!(cmd(&mut s, me, "service.delete\ts"), [deleted("s")]);
    assert_eq!(dumped(&mut s, me, "service."), Vec::<String>::new());
    // The name can be reused, and starts from the defaults.
    assert_eq!(cmd(&mut s, me, "service.tags\ts\tnew"), ["service.tags\ts\tnew"]);
    assert_eq!(
        dumped(&mut s, me, "service."),
        [
            down_clear("s"),
            "service.tags\ts\tnew".to_owned(),
            "service.args\ts\t".to_owned(),
            "service.fds\ts\tnull\tnull\tnull".to_owned(),
            "service.auto_up\ts\t-".to_owned(),
        ]
    );
}

#[test]
fn deleting_a_pending_service_cancels_its_start_and_triggers() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tp\ttrue");
    cmd(&mut s, me, "service.start\tp\t1005");
    assert_eq!(cmd(&mut s, me, "service.delete\tp"), [deleted("p")]);
    cmd(&mut s, me, "service.args\tq\ttrue");
    cmd(&mut s, me, "service.auto_up\tq\t1\tSIGHUP");
    assert_eq!(cmd(&mut s, me, "service.delete\tq"), [deleted("q")]);
    s.advance_secs(10);
    s.signal(Signal::HUP);
    assert_eq!(s.events(me), ["signal\tSIGHUP\t1010\t1"]);
    assert!(s.processes().is_empty());
}

#[test]
fn service_pool_limits_the_number_of_services() {
    let (mut s, me) = world_with(Options::new().service_pool(2, 512));
    cmd(&mut s, me, "service.args\ta\ttrue");
    cmd(&mut s, me, "service.args\tb\ttrue");
    for line in ["service.args\tc\ttrue", "service.tags\tc\tx", "service.fds\tc", "service.auto_up\tc\t1"] {
        assert_err(&mut s, me, line, "Unable to allocate new service");
    }
    // Existing services still work, and deleting one frees a slot.
    assert_eq!(cmd(&mut s, me, "service.tags\ta\tweb"), ["service.tags\ta\tweb"]);
    assert_eq!(cmd(&mut s, me, "service.delete\ta"), [deleted("a")]);
    assert_eq!(cmd(&mut s, me, "service.args\tc\ttrue"), ["service.args\tc\ttrue"]);
}

#[test]
fn service_pool_object_size_bounds_the_settings() {
    let (mut s, me) = world_with(Options::new().service_pool(2, 64));
    assert_eq!(cmd(&mut s, me, "service.args\tx\techo\tshort"), ["service.args\tx\techo\tshort"]);
    for (line, msg) in [
        (format!("service.args\tx\techo\t{}", "a".repeat(60)), "unable to set argv"),
        (format!("service.tags\tx\t{}", "t".repeat(60)), "unable to set tags"),
        (format!("service.fds\tx\t{}", "null\t".repeat(12)), "unable to set file descriptors"),
        (format!("service.auto_up\tx\t1\t{}", "HUP\t".repeat(12)), "unable to set auto_up triggers"),
    ] {
        assert_err(&mut s, me, &line, msg);
    }
    // The previous values stay.
    assert_eq!(
        dumped(&mut s, me, "service.")[1..],
        [
            "service.tags\tx\t",
            "service.args\tx\techo\tshort",
            "service.fds\tx\tnull\tnull\tnull",
            "service.auto_up\tx\t-"
        ]
    );
}
