//! The log (§5.5, §11): `log.filter`, `log.dest`, where the log goes when
//! its handle changes, and the debug lines every command and event leave.

use crate::support::*;

/// The line an unknown command `name` from `conn` logs.
fn unknown(conn: ConnId, name: &str) -> String {
    format!("error: controller[{conn}] sent unknown command {name}")
}

#[test]
fn log_filter_examples() {
    let (mut s, me) = world();
    assert_eq!(cmd(&mut s, me, "log.filter"), ["log.filter\tdebug"]);
    assert_eq!(cmd(&mut s, me, "log.filter\t-"), ["log.filter\ttrace"]);
    assert_eq!(cmd(&mut s, me, "log.filter\t-"), ["log.filter\tnone"]);
    assert_eq!(cmd(&mut s, me, "log.filter\t-"), ["log.filter\tnone"], "clamped");
    for (line, msg) in [
        ("log.filter\twarn", "Invalid loglevel argument"),
        ("log.filter\t", "Invalid loglevel argument"),
        ("log.filter\tINFO", "Invalid loglevel argument"),
        ("log.filter\t++", "Invalid loglevel argument"),
    ] {
        assert_err(&mut s, me, line, msg);
    }
    for lvl in ["trace", "debug", "info", "warning", "error", "fatal", "fatal"] {
        assert_eq!(cmd(&mut s, me, "log.filter\t+"), [format!("log.filter\t{lvl}")]);
    }
    for lvl in ["none", "trace", "debug", "info", "warning", "error", "fatal"] {
        assert_eq!(cmd(&mut s, me, &format!("log.filter\t{lvl}")), [format!("log.filter\t{lvl}")]);
    }
    assert_eq!(cmd(&mut s, me, "log.filter\tinfo\textra"), ["log.filter\tinfo"]);
    assert_eq!(cmd(&mut s, me, "log.filter"), ["log.filter\tinfo"]);
}

#[test]
fn the_filter_suppresses_its_own_level_and_below() {
    let (mut s, me) = world();
    cmd(&mut s, me, "log.filter\terror");
    cmd(&mut s, me, "m1");
    assert_eq!(s.log(), Vec::<String>::new(), "an error is not above `error`");
    cmd(&mut s, me, "log.filter\twarning");
    cmd(&mut s, me, "m2");
    assert_eq!(s.log(), [unknown(me, "m2")]);
    // `fatal` silences everything.
    cmd(&mut s, me, "log.filter\tfatal");
    cmd(&mut s, me, "fd.delete\tnosuch");
    assert_eq!(s.log(), Vec::<String>::new());
}

#[test]
fn every_line_and_every_event_is_logged_at_debug_level() {
    let (mut s, me) = world_with(Options::new().log_filter(LogLevel::Trace));
    s.log();
    s.send_bytes(me, b"echo\tqwerty-42\n# comment\n\n");
    assert_eq!(round(&mut s, me), ["qwerty-42"]);
    // The event's LF is inside the quotes: two physical lines.
    assert_eq!(
        s.log(),
        [
            format!("debug: controller[{me}] command: \"echo\tqwerty-42\""),
            format!("debug: client[{me}] event: \"qwerty-42"),
            "\"".to_owned(),
            format!("debug: controller[{me}] command: \"# comment\""),
            format!("debug: controller[{me}] command: \"\""),
        ]
    );
    // Back to the default: no debug lines.
    cmd(&mut s, me, "log.filter\tdebug");
    s.log();
    cmd(&mut s, me, "echo\tquiet");
    assert_eq!(s.log(), Vec::<String>::new());
}

#[test]
fn log_dest_moves_the_log_to_a_handle() {
    let (mut s, me) = world();
    assert_eq!(s.log_destination(), Some(2), "stderr by default");
    cmd(&mut s, me, "fd.open\tlogf\twrite,create\t/var/log/dp");
    let logf = s.open_fds().iter().find(|(_, f)| **f == SimFd::File(b"/var/log/dp".to_vec())).map(|(n, _)| *n);
    assert_silent(&mut s, me, "log.dest\tfd\tlogf\textra");
    assert_eq!(s.log_destination(), logf);
    cmd(&mut s, me, "to-file");
    assert_eq!(s.log(), [unknown(me, "to-file")]);
    assert_silent(&mut s, me, "log.dest\tfd\tnull");
    assert_eq!(s.log_destination(), Some(NULL_FD));
    assert_silent(&mut s, me, "log.dest\tfd\tstderr");
    assert_eq!(s.log_destination(), Some(2));
    cmd(&mut s, me, "to-stderr");
    assert_eq!(s.log(), [unknown(me, "to-stderr")]);
}

#[test]
fn log_dest_to_a_missing_handle_warns_and_waits_for_it() {
    let (mut s, me) = world();
    assert_eq!(cmd(&mut s, me, "log.dest\tfd\tlater"), ["warning\tfd \"later\" does not exist"]);
    assert_eq!(s.log_destination(), None);
    cmd(&mut s, me, "early");
    cmd(&mut s, me, "late");
    assert_eq!(s.log(), Vec::<String>::new(), "suspended");
    cmd(&mut s, me, "fd.open\tlater\twrite\t/var/log/later");
    assert!(s.log_destination().is_some_and(|fd| fd > NULL_FD));
    assert_eq!(s.log(), [unknown(me, "early"), unknown(me, "late")], "buffered, then written in order");
    // A handle without a descriptor suspends it too (no warning: it exists).
    assert_silent(&mut s, me, "log.dest\tfd\tcontrol.event");
    assert_eq!(s.log_destination(), None);
    cmd(&mut s, me, "held");
    assert_silent(&mut s, me, "log.dest\tfd\tstderr");
    assert_eq!(s.log(), [unknown(me, "held")]);
}

#[test]
fn a_deleted_or_replaced_log_handle_suspends_the_log_until_the_name_exists_again() {
    let (mut s, me) = world();
    cmd(&mut s, me, "fd.open\tlf\twrite\t/var/log/one");
    cmd(&mut s, me, "log.dest\tfd\tlf");
    let one = s.log_destination();
    cmd(&mut s, me, "fd.delete\tlf");
    assert_eq!(s.log_destination(), None);
    cmd(&mut s, me, "meanwhile");
    assert_eq!(s.log(), Vec::<String>::new());
    cmd(&mut s, me, "fd.open\tlf\twrite\t/var/log/two");
    let two = s.log_destination();
    assert!(two.is_some() && two != one);
    assert_eq!(s.log(), [unknown(me, "meanwhile")]);
    // Replacing it follows the new descriptor.
    cmd(&mut s, me, "fd.open\tlf\twrite\t/var/log/three");
    assert!(s.log_destination().is_some() && s.log_destination() != two);
}

#[test]
fn the_log_reattaches_to_a_new_stderr_handle() {
    // Improvement (§16 row 34): without log.dest the log follows `stderr`.
    let (mut s, me) = world();
    assert_eq!(cmd(&mut s, me, "fd.delete\tstderr"), ["fd.state\tstderr\tdeleted"]);
    assert_eq!(s.log_destination(), None);
    cmd(&mut s, me, "lost-for-now");
    assert_eq!(s.log(), Vec::<String>::new());
    cmd(&mut s, me, "fd.open\tstderr\twrite\t/var/log/err");
    assert!(s.log_destination().is_some_and(|fd| fd > NULL_FD));
    assert_eq!(s.log(), [unknown(me, "lost-for-now")]);
}

#[test]
fn log_dest_argument_errors() {
    let (mut s, me) = world();
    for (line, msg) in [
        ("log.dest", "missing argument"),
        ("log.dest\tfile\tx", "Unknown logging type"),
        ("log.dest\tFD\tstderr", "Unknown logging type"),
        ("log.dest\tfd", "Expected file descriptor name"),
        ("log.dest\tfd\t", "Expected file descriptor name"),
        ("log.dest\tfd\tbad!", "Invalid file descriptor name"),
    ] {
        assert_err(&mut s, me, line, msg);
    }
    assert_eq!(s.log_destination(), Some(2));
}

#[test]
fn config_failures_name_the_file_and_line_with_hints() {
    let (mut s, _me) = world();
    let c = s.connect(ConnKind::Config);
    s.supervisor_mut().set_connection_source(c, b"/etc/dp.conf");
    s.log();
    s.send(
        c,
        "# a comment\n\nservce.args\tx\nservice.args ticker sleep 100\nservice.auto_up\tx\tz\nservice.args\tx\tsleep 100\nservice.start\tx\n",
    );
    s.fail_exec("sleep 100", libc::ENOENT);
    s.advance_secs(0);
    let hint = "(hint: fields are separated by TABs, not spaces)";
    assert_eq!(
        s.log(),
        [
            "error: /etc/dp.conf:3: Unknown command: servce.args (did you mean service.args?)".to_owned(),
            format!("error: /etc/dp.conf:4: Unknown command: service.args ticker sleep 100 {hint}"),
            "error: /etc/dp.conf:5: service.auto_up: Expected integer".to_owned(),
            format!("error: service x: exec \"sleep 100\" failed: No such file or directory {hint}"),
        ]
    );
}

#[test]
fn other_connections_keep_the_original_lines_with_a_hint_where_it_helps() {
    let (mut s, me) = world();
    s.log();
    cmd(&mut s, me, "servce.args\tx");
    cmd(&mut s, me, "service.signal ticker TERM");
    cmd(&mut s, me, "service.auto_up\tticker 1 always");
    let hint = "(hint: fields are separated by TABs, not spaces)";
    assert_eq!(
        s.log(),
        [
            format!("error: controller[{me}] sent unknown command servce.args (did you mean service.args?)"),
            format!("error: controller[{me}] sent unknown command service.signal ticker TERM {hint}"),
            format!("error: controller[{me}] command failed: 'service.auto_up\tticker 1 always'"),
            format!("error:   with error: 'Invalid service name' {hint}"),
        ]
    );
    // The error events keep the protocol's text.
    s.fail_exec("sleep 100", libc::ENOENT);
    cmd(&mut s, me, "service.args\tw\tsleep 100");
    let events = cmd(&mut s, me, "service.start\tw");
    assert!(events.contains(&"error\tservice w: exec \"sleep 100\" failed: No such file or directory".to_owned()));
    assert!(s
        .log()
        .contains(&format!("error: service w: exec \"sleep 100\" failed: No such file or directory {hint}")));
}
