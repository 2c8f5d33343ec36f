//! Connections (§3, §4, §5.1, §5.6, §5.7): framing, replies and
//! broadcasts, `echo`, `statedump`, `exit`, overflow and blocked-output
//! timeouts on virtual time, signal delivery, and the ends of the config
//! file and of the interactive session.

use crate::support::*;

#[test]
fn echo_sends_the_remainder_verbatim() {
    let (mut s, me) = world();
    assert_eq!(cmd(&mut s, me, "echo\t--sync-42--"), ["--sync-42--"]);
    assert_eq!(cmd(&mut s, me, "echo\ta\t\tb\t"), ["a\t\tb\t"]);
    assert_eq!(cmd(&mut s, me, "echo\t\t"), ["\t"]);
    assert_silent(&mut s, me, "echo");
    assert_silent(&mut s, me, "echo\t");
    // CR is data.
    assert_eq!(cmd(&mut s, me, "echo\tA\r"), ["A\r"]);
    // It can imitate any event.
    assert_eq!(cmd(&mut s, me, "echo\tservice.state\tx\tdown"), ["service.state\tx\tdown"]);
}

#[test]
fn replies_go_to_the_issuer_and_state_changes_to_everyone() {
    let (mut s, me) = world();
    let other = s.attach();
    let sock = s.connect(ConnKind::Socket);
    let config = s.connect(ConnKind::Config);
    assert_eq!(cmd(&mut s, me, "echo\tonly-for-me"), ["only-for-me"]);
    assert_eq!(cmd(&mut s, me, "log.filter"), ["log.filter\tdebug"]);
    assert_err(&mut s, me, "fd.delete\tnosuch", "No such file descriptor");
    assert_eq!(cmd(&mut s, sock, "service.args\tbc\ttrue"), ["service.args\tbc\ttrue"]);
    assert_eq!(cmd(&mut s, config, "fd.pipe\tr\tw"), Vec::<String>::new(), "a config file gets nothing");
    let broadcasts = ["service.args\tbc\ttrue", "fd.state\tr\tpipe\tfrom\tw", "fd.state\tw\tpipe\tto\tr"];
    assert_eq!(s.events(me), broadcasts);
    assert_eq!(s.events(other), broadcasts);
    assert_eq!(s.events(sock), broadcasts[1..]);
}

#[test]
fn statedump_lists_handles_then_services_then_signals() {
    let (mut s, me) = world();
    cmd(&mut s, me, "fd.pipe\tlog.r\tlog.w");
    cmd(&mut s, me, "service.args\tweb\tsleep\t600");
    cmd(&mut s, me, "service.fds\tweb\tnull\tlog.w\tlog.w");
    cmd(&mut s, me, "service.auto_up\tweb\t5\talways");
    cmd(&mut s, me, "service.tags\tapp\tfrontend\tv2");
    s.advance_secs(7);
    s.signal(Signal::USR2);
    s.events(me);
    let mut want: Vec<String> = BUILTIN_FD_STATES[..3].iter().map(|l| l.to_string()).collect();
    want.extend(
        [
            "fd.state\tlog.r\tpipe\tfrom\tlog.w",
            "fd.state\tlog.w\tpipe\tto\tlog.r",
            BUILTIN_FD_STATES[3],
            BUILTIN_FD_STATES[4],
            BUILTIN_FD_STATES[5],
            BUILTIN_FD_STATES[6],
            "service.state\tapp\tdown\t-\t-\t-\t-\t-\t-",
            "service.tags\tapp\tfrontend\tv2",
            "service.args\tapp\t",
            "service.fds\tapp\tnull\tnull\tnull",
            "service.auto_up\tapp\t-",
            "service.state\tweb\tup\t1000\t1000\t-\t-\t7\t-",
            "service.tags\tweb\t",
            "service.args\tweb\tsleep\t600",
            "service.fds\tweb\tnull\tlog.w\tlog.w",
            "service.auto_up\tweb\t5\talways",
            "signal\tSIGUSR2\t1007\t1",
        ]
        .map(str::to_owned),
    );
    assert_eq!(statedump(&mut s, me), want);
    // Extra arguments are ignored; the dump goes to the issuer only.
    let other = s.attach();
    s.send(me, "statedump\textra\targs\necho\t--end--\n");
    let got = round(&mut s, me);
    assert_eq!(got.last().map(String::as_str), Some("--end--"));
    assert_eq!(got[..got.len() - 1], want[..]);
    assert_eq!(s.events(other), ["signal\tSIGUSR2\t1007\t1"], "only its own signal delivery");
}

#[test]
fn statedump_lists_pending_signals_oldest_first_and_forgets_cleared_ones() {
    let (mut s, me) = world();
    s.signal(Signal::HUP);
    s.advance_secs(1);
    s.signal(Signal::USR1);
    s.events(me);
    assert_eq!(dumped(&mut s, me, "signal\t"), ["signal\tSIGHUP\t1000\t1", "signal\tSIGUSR1\t1001\t1"]);
    s.advance_secs(1);
    s.signal(Signal::HUP);
    assert_eq!(s.events(me), ["signal\tSIGHUP\t1002\t2"]);
    assert_eq!(dumped(&mut s, me, "signal\t"), ["signal\tSIGUSR1\t1001\t1", "signal\tSIGHUP\t1002\t2"]);
    assert_silent(&mut s, me, "signal.clear\tUSR1\t1");
    assert_eq!(dumped(&mut s, me, "signal\t"), ["signal\tSIGHUP\t1002\t2"]);
}

#[test]
fn signals_reach_idle_connections_and_new_ones_get_the_accumulated_count() {
    let (mut s, me) = world();
    let sock = s.connect(ConnKind::Socket);
    s.advance_secs(5);
    s.signal(Signal::USR1);
    // Without any command.
    assert_eq!(s.events(me), ["signal\tSIGUSR1\t1005\t1"]);
    assert_eq!(s.events(sock), ["signal\tSIGUSR1\t1005\t1"]);
    s.signal(Signal::USR1);
    s.signal(Signal::INT);
    assert_eq!(s.events(me), ["signal\tSIGUSR1\t1005\t2", "signal\tSIGINT\t1005\t1"]);
    // A new connection is told at once, once per signal.
    let late = s.connect(ConnKind::Socket);
    assert_eq!(s.events(late), ["signal\tSIGUSR1\t1005\t2", "signal\tSIGINT\t1005\t1"]);
    // Cleared signals are not delivered to later connections.
    assert_silent(&mut s, me, "signal.clear\tSIGUSR1\t2");
    let later = s.attach();
    assert_eq!(s.events(later), ["signal\tSIGINT\t1005\t1"]);
    // Signals that are not recorded are not reported.
    s.signal(Signal::CHLD);
    s.signal(Signal::ALRM);
    assert_eq!(s.events(me), Vec::<String>::new());
}

#[test]
fn signal_clear_counts_down_to_zero_and_checks_its_arguments() {
    let (mut s, me) = world();
    s.signal(Signal::USR2);
    s.signal(Signal::USR2);
    s.events(me);
    assert_silent(&mut s, me, "signal.clear\tSIGUSR2\t1");
    assert_eq!(dumped(&mut s, me, "signal\t"), ["signal\tSIGUSR2\t1000\t1"]);
    // A negative count is refused (it increased the count in the original).
    assert_err(&mut s, me, "signal.clear\tUSR2\t-1", "Expected integer");
    assert_eq!(dumped(&mut s, me, "signal\t"), ["signal\tSIGUSR2\t1000\t1"]);
    // Floored at 0; by number.
    assert_silent(&mut s, me, "signal.clear\t12\t5");
    assert_eq!(dumped(&mut s, me, "signal\t"), Vec::<String>::new());
    // Unrecorded signals and extra arguments are ignored.
    assert_silent(&mut s, me, "signal.clear\tKILL\t1");
    assert_silent(&mut s, me, "signal.clear\tHUP\t1\textra");
    for (line, msg) in [
        ("signal.clear", "Expected signal argument"),
        ("signal.clear\t", "Expected signal argument"),
        ("signal.clear\tHUP", "Expected integer"),
        ("signal.clear\tHUP\tx", "Expected integer"),
        ("signal.clear\t99999\t1", "Invalid signal number"),
        ("signal.clear\t1x\t1", "Invalid signal number"),
        ("signal.clear\tSIGFOO\t1", "Invalid signal argument"),
    ] {
        assert_err(&mut s, me, line, msg);
    }
}

#[test]
fn exit_closes_a_connection_once_its_output_is_out() {
    let (mut s, me) = world();
    let c = s.connect(ConnKind::Socket);
    s.block(c);
    s.send(c, "echo\tbye\nexit\techo\nservice.args\tnever\ttrue\n");
    assert!(s.supervisor().connection_kind(c).is_some(), "closed before its output was written");
    s.unblock(c);
    assert_eq!(s.events(c), ["bye"]);
    assert_eq!(s.supervisor().connection_kind(c), None);
    assert_eq!(s.send(c, "echo\tlate\n"), 0);
    assert_eq!(dumped(&mut s, me, "service."), Vec::<String>::new(), "nothing after exit ran");
}

#[test]
fn a_connection_whose_input_ends_discards_a_partial_last_line() {
    let (mut s, me) = world();
    let c = s.connect(ConnKind::Socket);
    s.send(c, "echo\tcomplete\nservice.args\tpartial\ttrue");
    assert_eq!(round(&mut s, c), ["complete"]);
    s.end_input(c);
    assert_eq!(s.log(), ["warning: Command ends with EOF... ignored"]);
    assert_eq!(s.supervisor().connection_kind(c), None);
    assert_eq!(dumped(&mut s, me, "service."), Vec::<String>::new());
}

#[test]
fn a_config_file_executes_its_last_line_without_lf_and_gets_no_events() {
    let (mut s, me) = world();
    let c = s.connect(ConnKind::Config);
    s.send(c, "# a config\n\nservice.args\tw\ttrue\nbogus\nfd.delete\tnosuch\nservice.tags\tw\tlast");
    assert_eq!(round(&mut s, me), ["service.args\tw\ttrue"]);
    assert_eq!(s.events(c), Vec::<String>::new());
    let mut log = vec![format!("error: controller[{c}] sent unknown command bogus")];
    log.extend(failure_log(c, "fd.delete\tnosuch", "No such file descriptor"));
    assert_eq!(s.log(), log);
    s.end_input(c);
    assert_eq!(s.events(me), ["service.tags\tw\tlast"]);
    assert_eq!(s.log(), ["warning: Command ends with EOF... processing anyway"]);
    assert_eq!(s.supervisor().connection_kind(c), None);
}

#[test]
fn a_config_file_that_ends_in_an_overlong_line_reports_it() {
    let (mut s, me) = world();
    let c = s.connect(ConnKind::Config);
    send_all(&mut s, c, "z".repeat(2000).as_bytes());
    s.end_input(c);
    assert_eq!(
        s.log(),
        [
            "warning: Command ends with EOF... processing anyway",
            &format!("error: controller[{c}] command exceeds buffer size")
        ]
    );
    assert_eq!(s.events(me), Vec::<String>::new());
}

#[test]
fn exit_in_a_config_file_skips_the_rest() {
    let (mut s, me) = world();
    let c = s.connect(ConnKind::Config);
    s.send(c, "service.args\ta\ttrue\nexit\nservice.args\tb\ttrue\n");
    assert_eq!(round(&mut s, me), ["service.args\ta\ttrue"]);
    assert_eq!(s.supervisor().connection_kind(c), None);
}

#[test]
fn the_end_of_the_interactive_session_ends_the_daemon() {
    for ending in ["exit\n", ""] {
        let (mut s, _me) = world();
        let i = s.connect(ConnKind::Interactive);
        s.send(i, &format!("echo\tbefore\n{ending}"));
        if ending.is_empty() {
            s.end_input(i);
        }
        assert_eq!(s.events(i), ["before"]);
        assert_eq!(s.outcome(), Some(Outcome::Exit { code: 0 }), "{ending:?}");
        assert_eq!(s.log(), ["info: interactive session ended"]);
        assert_eq!(s.outcome(), None, "decided once");
    }
}

#[test]
fn a_guarded_daemon_survives_the_end_of_the_interactive_session() {
    let (mut s, me) = world_with(Options::new().terminate_guard(7));
    let i = s.connect(ConnKind::Interactive);
    s.end_input(i);
    assert_eq!(s.outcome(), None);
    assert_eq!(s.log(), ["warning: interactive session ended, but not exiting due to terminate-guard"]);
    assert_eq!(cmd(&mut s, me, "echo\tstill-here"), ["still-here"]);
}

#[test]
fn unknown_commands_are_named_exactly_as_received() {
    let (mut s, me) = world();
    let long = "u".repeat(1000);
    for (line, name) in [
        ("bogus", "bogus"),
        ("bogus\twith\targs", "bogus"),
        ("Echo\tx", "Echo"),
        ("echo\r", "echo\r"),
        ("  # x", "  # x"),
        ("\tx", ""),
        (" echo\tx", " echo"),
        (&long, &long),
        ("service.opts\tx", "service.opts"),
        ("fd.give\tx", "fd.give"),
    ] {
        assert_eq!(cmd(&mut s, me, line), [format!("error\tUnknown command: {name}")], "{line:?}");
    }
    assert_eq!(s.log()[..2], vec![format!("error: controller[{me}] sent unknown command bogus"); 2]);
}

#[test]
fn ignored_lines_produce_nothing() {
    let (mut s, me) = world();
    s.send_bytes(me, b"#comment\n#\tservice.args\tx\ty\n\n   \n\t\t\n\r\n \t\r\0 \n\0\n");
    assert_eq!(round(&mut s, me), Vec::<String>::new());
    assert_eq!(s.log(), Vec::<String>::new());
    assert_eq!(statedump(&mut s, me), BUILTIN_FD_STATES, "the comment created nothing");
}

#[test]
fn a_command_with_a_nul_byte_is_refused() {
    let (mut s, me) = world();
    assert_err(&mut s, me, "echo\ta\0b", "command contains a NUL byte");
    assert_err(&mut s, me, "service.args\tw\ttrue\0", "command contains a NUL byte");
    assert_eq!(statedump(&mut s, me), BUILTIN_FD_STATES);
}

#[test]
fn a_line_of_1024_bytes_or_more_is_refused_once() {
    let (mut s, me) = world();
    let max = "x".repeat(1023);
    assert_eq!(cmd(&mut s, me, &max), [format!("error\tUnknown command: {max}")]);
    s.log();
    assert_eq!(cmd(&mut s, me, &"y".repeat(1024)), ["error\tline too long"]);
    let huge = format!("echo\t{}\n", "z".repeat(9000));
    assert_eq!(send_all(&mut s, me, huge.as_bytes()), ["error\tline too long"]);
    // Long comments are silent; several in a row each get one error.
    let mut batch = format!("#{}\n", "c".repeat(3000));
    for _ in 0..3 {
        batch.push_str(&"q".repeat(2500));
        batch.push('\n');
    }
    batch.push_str("echo\tafter\n");
    let mut want = vec!["error\tline too long"; 3];
    want.push("after");
    assert_eq!(send_all(&mut s, me, batch.as_bytes()), want);
    assert_eq!(s.log(), vec![format!("error: controller[{me}] command exceeds buffer size"); 5]);
}

#[test]
fn error_lines_quote_30_bytes_and_the_log_90() {
    let (mut s, me) = world();
    let l29 = format!("service.start\t{}", "n".repeat(15));
    assert_eq!(cmd(&mut s, me, &l29), [format!("error\tNo such service, for command \"{l29}\"")]);
    // Exactly 30 bytes: complete and followed by `...`.
    let l30 = format!("service.start\t{}", "n".repeat(16));
    assert_eq!(cmd(&mut s, me, &l30), [format!("error\tNo such service, for command \"{l30}...\"")]);
    assert_eq!(
        cmd(&mut s, me, "service.args\tnnnnnnnnnnnnnnnn!"),
        ["error\tInvalid service name, for command \"service.args\tnnnnnnnnnnnnnnnn!...\""]
    );
    s.log();
    // Variable message text is cut at 63 bytes; the log quotes 90 bytes.
    let flag = "f".repeat(80);
    let line = format!("fd.open\tx\t{flag}\t/dev/null");
    let msg = format!("unknown flag \"{flag}\"");
    assert_eq!(cmd(&mut s, me, &line), [format!("error\t{}, for command \"{}...\"", &msg[..63], &line[..30])]);
    assert_eq!(
        s.log(),
        [
            format!("error: controller[{me}] command failed: '{}'...", &line[..90]),
            format!("error:   with error: '{}'", &msg[..63])
        ]
    );
}

#[test]
fn a_blocked_connection_stops_running_commands_until_its_output_drains() {
    let (mut s, _me) = world();
    let c = s.connect(ConnKind::Socket);
    s.block(c);
    let echo = format!("echo\t{}\n", "e".repeat(1000));
    let all = echo.repeat(100);
    let mut off = 0;
    loop {
        let n = s.send(c, &all[off..]);
        if n == 0 {
            break;
        }
        off += n;
    }
    assert!(off < all.len(), "back-pressure did not stop the commands");
    s.advance_secs(10);
    assert_eq!(s.events(c), Vec::<String>::new());
    s.unblock(c);
    let mut got = s.events(c);
    got.extend(send_all(&mut s, c, &all.as_bytes()[off..]));
    assert_eq!(got.len(), 100, "every echo answered once, no overflow");
    assert!(got.iter().all(|l| format!("echo\t{l}\n") == echo), "{:?}", got.last());
}

/// Broadcasts `count` lines of about `size` bytes from `from`, taking its
/// own events as they come so that only the other connections fill up.
fn flood(s: &mut Sim, from: ConnId, count: usize, size: usize) -> String {
    let line = format!("service.tags\tt\t{}", "x".repeat(size));
    for _ in 0..count {
        assert_eq!(cmd(s, from, &line), [line.as_str()]);
    }
    line
}

#[test]
fn a_slow_connection_gets_overflow_once_its_buffer_drains() {
    let (mut s, me) = world();
    let slow = s.connect(ConnKind::Socket);
    s.block(slow);
    let line = flood(&mut s, me, 200, 500);
    // In the overflow state its commands run, their output is dropped.
    s.send(slow, "echo\tlost\n");
    round(&mut s, slow);
    s.unblock(slow);
    let got = s.events(slow);
    assert_eq!(got.last().map(String::as_str), Some("overflow"), "{:?}", got.last());
    let before = &got[..got.len() - 1];
    assert!(!before.is_empty() && before.len() < 200, "{} lines before overflow", before.len());
    assert!(before.iter().all(|l| *l == line));
    // Then it works again, and `overflow` came once.
    assert_eq!(cmd(&mut s, slow, "echo\tafter"), ["after"]);
    assert_eq!(s.log(), Vec::<String>::new());
}

#[test]
fn a_blocked_connection_is_warned_at_15_s_and_closed_at_30_s() {
    let (mut s, me) = world();
    let c = s.connect(ConnKind::Socket);
    s.block(c);
    cmd(&mut s, me, "service.args\tw\ttrue");
    s.advance_secs(14);
    assert_eq!(s.log(), Vec::<String>::new());
    s.advance_secs(1);
    assert_eq!(s.log(), [format!("warning: controller {c} blocked pipe for 15 seconds")]);
    s.advance_secs(14);
    assert_eq!(s.log(), Vec::<String>::new(), "warned once per episode");
    s.advance_secs(1);
    assert_eq!(s.log(), [format!("error: controller {c} blocked pipe for 30 seconds, closing connection")]);
    assert_eq!(s.supervisor().connection_kind(c), None);
    assert_eq!(cmd(&mut s, me, "echo\tothers-fine"), ["others-fine"]);
}

#[test]
fn conn_event_timeout_sets_both_timeouts_of_the_issuer_only() {
    let (mut s, me) = world();
    let c = s.connect(ConnKind::Socket);
    let other = s.connect(ConnKind::Socket);
    assert_silent(&mut s, c, "conn.event_timeout\t2\t8\textra");
    s.block(c);
    s.block(other);
    cmd(&mut s, me, "service.args\tw\ttrue");
    s.advance_secs(2);
    assert_eq!(s.log(), [format!("warning: controller {c} blocked pipe for 2 seconds")]);
    s.advance_secs(6);
    assert_eq!(s.log(), [format!("error: controller {c} blocked pipe for 8 seconds, closing connection")]);
    assert_eq!(s.supervisor().connection_kind(c), None);
    assert!(s.supervisor().connection_kind(other).is_some(), "the defaults still apply to the other");
}

#[test]
fn conn_event_timeout_zero_closes_as_soon_as_a_write_would_block() {
    let (mut s, me) = world();
    let c = s.connect(ConnKind::Socket);
    assert_silent(&mut s, c, "conn.event_timeout\t0\t0");
    s.block(c);
    cmd(&mut s, me, "service.args\tw\ttrue");
    assert_eq!(s.log(), [format!("error: controller {c} blocked pipe for 0 seconds, closing connection")]);
    assert_eq!(s.supervisor().connection_kind(c), None);
}

#[test]
fn conn_event_timeout_argument_errors() {
    let (mut s, me) = world();
    for (line, msg) in [
        ("conn.event_timeout", "Expected integer"),
        ("conn.event_timeout\t1", "Expected integer"),
        ("conn.event_timeout\t1\t", "Expected integer"),
        ("conn.event_timeout\ta\tb", "Expected integer"),
        ("conn.event_timeout\t1\t2s", "Expected integer"),
        ("conn.event_timeout\t5\t2", "reset timeout is greater than close timeout"),
        ("conn.event_timeout\t-1\t2", "invalid timeout (must be 0..7FFFFFFF)"),
        ("conn.event_timeout\t1\t2147483648", "invalid timeout (must be 0..7FFFFFFF)"),
    ] {
        assert_err(&mut s, me, line, msg);
    }
    assert_silent(&mut s, me, "conn.event_timeout\t2147483647\t2147483647");
}

#[test]
fn a_write_that_succeeds_ends_the_blocked_episode() {
    let (mut s, me) = world();
    let c = s.connect(ConnKind::Socket);
    s.block(c);
    cmd(&mut s, me, "service.args\tw\ttrue");
    s.advance_secs(20);
    assert_eq!(s.log(), [format!("warning: controller {c} blocked pipe for 15 seconds")]);
    s.unblock(c);
    assert_eq!(s.events(c), ["service.args\tw\ttrue"]);
    s.advance_secs(60);
    assert_eq!(s.log(), Vec::<String>::new(), "not closed");
    // A new episode is timed, and warned about, afresh.
    s.block(c);
    cmd(&mut s, me, "service.args\tw\tfalse");
    s.advance_secs(15);
    assert_eq!(s.log(), [format!("warning: controller {c} blocked pipe for 15 seconds")]);
    assert!(s.supervisor().connection_kind(c).is_some());
}

#[test]
fn the_reset_timeout_unsticks_a_writer_that_does_not_read() {
    // The worked example of §3.9.
    let mut s = Sim::new();
    let c = s.connect(ConnKind::Socket);
    assert_silent(&mut s, c, "conn.event_timeout\t2\t8");
    s.block(c);
    let line = format!("service.tags\tw\t{}", "w".repeat(300));
    let all = format!("{line}\n").repeat(999) + "service.tags\tw\tlast\n";
    let mut off = 0;
    loop {
        let n = s.send(c, &all[off..]);
        if n == 0 {
            break;
        }
        off += n;
    }
    assert!(off < all.len(), "the input should back up");
    s.advance_secs(2);
    assert_eq!(s.log(), [format!("warning: controller {c} blocked pipe for 2 seconds")]);
    // Its queued commands run again (output dropped): the rest goes in.
    assert_eq!(send_all(&mut s, c, &all.as_bytes()[off..]), Vec::<String>::new());
    s.unblock(c);
    let got = s.events(c);
    assert_eq!(got.last().map(String::as_str), Some("overflow"));
    assert!(got.len() < 1000 && got[..got.len() - 1].iter().all(|l| *l == line), "{:?}", got.last());
    assert_eq!(cmd(&mut s, c, "echo\tw-after"), ["w-after"]);
    s.advance_secs(30);
    assert_eq!(s.log(), Vec::<String>::new(), "not closed");
    assert_eq!(dumped(&mut s, c, "service.tags\t"), ["service.tags\tw\tlast"], "every command ran");
}

#[test]
fn the_interactive_session_closed_by_its_timeout_ends_the_daemon() {
    let (mut s, me) = world();
    let i = s.connect(ConnKind::Interactive);
    s.block(i);
    cmd(&mut s, me, "service.args\tw\ttrue");
    s.advance_secs(30);
    assert_eq!(
        s.log(),
        [
            format!("warning: controller {i} blocked pipe for 15 seconds"),
            format!("error: controller {i} blocked pipe for 30 seconds, closing connection"),
            "info: interactive session ended".to_owned(),
        ]
    );
    assert_eq!(s.outcome(), Some(Outcome::Exit { code: 0 }));
}

#[test]
fn a_signal_waits_for_room_and_comes_before_the_next_command() {
    let (mut s, me) = world();
    let c = s.connect(ConnKind::Socket);
    s.block(c);
    let echo = format!("echo\t{}\n", "e".repeat(1000));
    let all = echo.repeat(100);
    let mut off = 0;
    loop {
        let n = s.send(c, &all[off..]);
        if n == 0 {
            break;
        }
        off += n;
    }
    s.signal(Signal::HUP);
    assert_eq!(s.events(me), ["signal\tSIGHUP\t1000\t1"], "a connection with room gets it at once");
    s.unblock(c);
    let mut got = s.events(c);
    got.extend(send_all(&mut s, c, &all.as_bytes()[off..]));
    let at = got.iter().position(|l| l == "signal\tSIGHUP\t1000\t1").expect("the signal was delivered");
    assert!(0 < at && at < 100, "delivered at {at}, between the commands");
    assert_eq!(got.len(), 101, "each echo once, the signal once");
}

#[test]
fn a_read_error_is_logged_and_ends_the_connection() {
    let (mut s, me) = world();
    let c = s.connect(ConnKind::Socket);
    s.send(c, "echo\tdone\nservice.args\thalf");
    let now = s.now();
    s.supervisor_mut().handle_input_error(c, daemonproxy_core::supervisor::Errno(libc::ECONNRESET), now);
    s.settle();
    assert_eq!(s.events(c), ["done"]);
    assert_eq!(
        s.log(),
        [
            format!("error: read(client[{c}])): Connection reset by peer"),
            "warning: Command ends with EOF... ignored".to_owned()
        ]
    );
    assert_eq!(s.supervisor().connection_kind(c), None);
    assert_eq!(dumped(&mut s, me, "service."), Vec::<String>::new());
}

#[test]
fn exit_ends_an_in_process_controller_once_its_output_is_taken() {
    let (mut s, me) = world();
    let other = s.attach();
    s.send(me, "echo\tlast\nexit\necho\tnever\n");
    assert!(s.supervisor().connection_kind(me).is_some(), "its output is still to be taken");
    assert_eq!(s.events(me), ["last"]);
    assert_eq!(s.supervisor().connection_kind(me), None);
    assert_eq!(s.send(me, "echo\tlate\n"), 0);
    assert_eq!(s.outcome(), None, "only the interactive session ends the daemon");
    assert_eq!(cmd(&mut s, other, "echo\tfine"), ["fine"]);
}

#[test]
fn a_long_statedump_resumes_by_name_as_its_output_is_taken() {
    let (mut s, me) = world();
    let other = s.attach();
    let args = format!("prog\t{}", "a".repeat(200));
    for i in 0..600 {
        s.send(other, &format!("service.args\ts{i:04}\t{args}\n"));
        s.events(other);
    }
    s.events(me);
    s.send(me, "statedump\necho\t--end--\n");
    let mut got = s.events(me);
    assert!(got.len() < 7 + 600 * 5, "the dump should pause when the buffer is full");
    // Meanwhile: one service not dumped yet goes, one comes.
    assert!(!got.iter().any(|l| l.starts_with("service.args\ts0500\t")));
    s.send(other, &format!("service.delete\ts0500\nservice.args\ts0501a\t{args}\n"));
    while got.last().map(String::as_str) != Some("--end--") {
        let more = s.events(me);
        assert!(!more.is_empty(), "the dump stalled");
        got.extend(more);
    }
    // `service.tags` lines come from the dump alone (the live events
    // interleaved are the deletion and the new service's args).
    let dumped: Vec<&str> =
        got.iter().filter_map(|l| l.strip_prefix("service.tags\t")).map(|l| l.trim_end_matches('\t')).collect();
    assert!(dumped.windows(2).all(|w| w[0] < w[1]), "in name order, none twice");
    assert!(!dumped.contains(&"s0500"));
    assert!(dumped.contains(&"s0501a"));
    assert_eq!(dumped.len(), 600, "every service once");
    assert!(got.contains(&deleted("s0500")) && got.contains(&format!("service.args\ts0501a\t{args}")));
    assert!(!got.iter().any(|l| l == "overflow"));
}
