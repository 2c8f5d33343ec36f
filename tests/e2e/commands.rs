//! Every command of PROTOCOL.md §5 through the real binary: replies,
//! broadcasts and the exact error lines (§3.10), plus the framing rules of
//! §3 (ignored lines, CR, line length, error truncation).

use crate::harness::*;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

/// A fresh interactive daemon that inherited nothing but 0, 1 and 2 (so
/// `statedump` lists exactly the built-in handles).
fn daemon() -> Daemon {
    Daemon::interactive_clean(&[])
}

/// The `error` event of §3.10 for a failed `line`: the first 30 bytes of the
/// line, followed by `...` when the line is 30 bytes or longer.
fn err(msg: &str, line: &str) -> String {
    let shown = if line.len() >= 30 { format!("{}...", &line[..30]) } else { line.to_owned() };
    format!("error\t{msg}, for command \"{shown}\"")
}

/// Sends `line` and asserts that it produced exactly one error event.
fn assert_err(d: &mut Daemon, line: &str, msg: &str) {
    assert_eq!(d.cmd(line), vec![err(msg, line)], "reply to {line:?}");
}

/// Sends `line` and asserts that it produced nothing.
fn assert_silent(d: &mut Daemon, line: &str) {
    assert_eq!(d.cmd(line), Vec::<String>::new(), "reply to {line:?}");
}

/// Sends a `service.signal` line that makes service `name` exit: the
/// command itself must produce nothing but (possibly already) the `down`
/// event, which is returned.
fn signal_down(d: &mut Daemon, line: &str, name: &str) -> String {
    let prefix = format!("service.state\t{name}\tdown\t");
    let r = d.cmd(line);
    assert!(r.iter().all(|l| l.starts_with(&prefix)), "reply to {line:?}: {r:?}");
    match r.into_iter().next() {
        Some(l) => l,
        None => d.wait_state(name, "down"),
    }
}

/// `statedump` (followed by a sync), issuer output only.
fn statedump(d: &mut Daemon) -> Vec<String> {
    d.cmd("statedump")
}

/// The seven built-in handles of a clean `-i` daemon, as B.2 lists them.
const BUILTIN_FD_STATES: [&str; 7] = [
    "fd.state\tcontrol.cmd\tspecial\twrite\tdaemonproxy command pipe",
    "fd.state\tcontrol.event\tspecial\tread\tdaemonproxy event stream",
    "fd.state\tcontrol.socket\tspecial\tread,write\tdaemonproxy control socket",
    "fd.state\tnull\tspecial\tread,write\t/dev/null",
    "fd.state\tstderr\tfile\twrite\tunknown",
    "fd.state\tstdin\tfile\tread\tunknown",
    "fd.state\tstdout\tfile\twrite\tunknown",
];

fn p(path: &Path) -> String {
    path.to_str().expect("utf-8 path").to_owned()
}

/// Waits until `path` holds exactly `content` (after trimming a final LF).
fn wait_content(path: &Path, content: &str) -> String {
    poll_until(&format!("{} to contain {content:?}", path.display()), || {
        let s = std::fs::read_to_string(path).ok()?;
        (s.trim_end_matches('\n') == content).then_some(s)
    })
}

// ---------------------------------------------------------------------
// §5.1 echo, statedump, exit
// ---------------------------------------------------------------------

#[test]
fn echo_forms() {
    let mut d = daemon();
    // §5.1 examples: the remainder verbatim, including empty fields.
    d.send("echo\ta\t\tb\t");
    assert_eq!(d.out.next(), "a\t\tb\t");
    d.send("echo\t\t");
    assert_eq!(d.out.next(), "\t");
    // Absent and empty remainders print nothing.
    assert_silent(&mut d, "echo");
    assert_silent(&mut d, "echo\t");
    d.send("echo\t--sync-42--");
    assert_eq!(d.out.next(), "--sync-42--");
    // Echo can imitate any event, and is issuer-only output.
    d.send("echo\tservice.state\tx\tdown");
    assert_eq!(d.out.next(), "service.state\tx\tdown");
}

#[test]
fn statedump_of_fresh_daemon_lists_builtin_handles_sorted() {
    let mut d = daemon();
    assert_eq!(statedump(&mut d), BUILTIN_FD_STATES);
    // Extra arguments are ignored.
    assert_eq!(d.cmd("statedump\textra\targs"), BUILTIN_FD_STATES);
}

#[test]
fn statedump_layout_matches_appendix_b2() {
    let mut d = daemon();
    let mut kg = KillGroups::default();
    assert_eq!(d.cmd("service.args\tfoo\tsleep\t30"), ["service.args\tfoo\tsleep\t30"]);
    let pid = d.start_up("foo");
    kg.add(pid);
    let down = signal_down(&mut d, "service.signal\tfoo\tTERM", "foo");
    let df = fields(&down);
    assert_eq!(&df[4..7], &[pid.to_string().as_str(), "signal", "SIGTERM"], "{down}");

    kill(d.pid(), libc::SIGHUP);
    let sig = d.out.wait_for("signal SIGHUP", |l| l.starts_with("signal\tSIGHUP\t"));
    let sf = fields(&sig);
    assert_eq!(sf.len(), 4, "{sig}");
    assert_eq!(sf[3], "1", "{sig}");

    let dump = statedump(&mut d);
    assert_eq!(dump.len(), 7 + 5 + 1, "{dump:#?}");
    assert_eq!(&dump[..7], BUILTIN_FD_STATES);
    // The state line: same exit information as the live event, DOWNTIME
    // recomputed at dump time.
    let st = fields(&dump[7]);
    assert_eq!(st.len(), 9, "{}", dump[7]);
    assert_eq!(&st[..8], &df[..8], "statedump state line {:?} vs live {down:?}", dump[7]);
    let downtime: u64 = st[8].parse().expect("DOWNTIME is a number");
    assert!(downtime <= 20, "{}", dump[7]);
    assert_eq!(
        &dump[8..12],
        [
            "service.tags\tfoo\t",
            "service.args\tfoo\tsleep\t30",
            "service.fds\tfoo\tnull\tnull\tnull",
            "service.auto_up\tfoo\t-",
        ]
    );
    // Signals last, exactly as delivered.
    assert_eq!(dump[12], sig);
}

#[test]
fn statedump_sorts_names_bytewise() {
    let mut d = daemon();
    for name in ["b", "aa", "a_", "Z", "a.", "a", "fd_9", "fd_10", "-"] {
        d.cmd(&format!("service.tags\t{name}\tt"));
        d.cmd(&format!("fd.open\t{name}\tread\t/dev/null"));
    }
    let dump = statedump(&mut d);
    let handles: Vec<&str> = dump.iter().filter(|l| l.starts_with("fd.state\t")).map(|l| fields(l)[1]).collect();
    assert_eq!(
        handles,
        [
            "-",
            "Z",
            "a",
            "a.",
            "a_",
            "aa",
            "b",
            "control.cmd",
            "control.event",
            "control.socket",
            "fd_10",
            "fd_9",
            "null",
            "stderr",
            "stdin",
            "stdout"
        ]
    );
    let services: Vec<&str> = dump.iter().filter(|l| l.starts_with("service.state\t")).map(|l| fields(l)[1]).collect();
    assert_eq!(services, ["-", "Z", "a", "a.", "a_", "aa", "b", "fd_10", "fd_9"]);
    // Five lines per service, in the documented order.
    let first = dump.iter().position(|l| l.starts_with("service.")).unwrap();
    for (i, chunk) in dump[first..].chunks(5).enumerate() {
        let kinds: Vec<&str> = chunk.iter().map(|l| fields(l)[0]).collect();
        assert_eq!(
            kinds,
            ["service.state", "service.tags", "service.args", "service.fds", "service.auto_up"],
            "service #{i}"
        );
        let names: Vec<&str> = chunk.iter().map(|l| fields(l)[1]).collect();
        assert!(names.iter().all(|n| *n == services[i]), "{chunk:?}");
    }
}

#[test]
fn statedump_lists_signals_oldest_first() {
    let mut d = daemon();
    kill(d.pid(), libc::SIGHUP);
    d.out.wait_for("signal SIGHUP", |l| l.starts_with("signal\tSIGHUP\t") && l.ends_with("\t1"));
    kill(d.pid(), libc::SIGUSR1);
    d.out.wait_for("signal SIGUSR1", |l| l.starts_with("signal\tSIGUSR1\t") && l.ends_with("\t1"));
    let sigs = |dump: Vec<String>| -> Vec<String> {
        dump.into_iter().filter(|l| l.starts_with("signal\t")).map(|l| fields(&l)[1].to_owned()).collect()
    };
    assert_eq!(sigs(statedump(&mut d)), ["SIGHUP", "SIGUSR1"]);
    // A new reception of HUP makes it the newest.
    kill(d.pid(), libc::SIGHUP);
    d.out.wait_for("signal SIGHUP 2", |l| l.starts_with("signal\tSIGHUP\t") && l.ends_with("\t2"));
    let dump = statedump(&mut d);
    assert_eq!(sigs(dump.clone()), ["SIGUSR1", "SIGHUP"]);
    assert!(dump.last().unwrap().ends_with("\t2"), "{dump:?}");
    // The signal lines come after everything else.
    let first_sig = dump.iter().position(|l| l.starts_with("signal\t")).unwrap();
    assert_eq!(first_sig, dump.len() - 2);
}

#[test]
fn exit_ends_the_interactive_session() {
    let mut d = daemon();
    // Extra arguments are ignored; later lines are never executed.
    d.send_raw(b"echo\tbefore\nexit\textra\techo\nfd.open\tx\twrite,create\t/nonexistent-dir/never\necho\tafter\n");
    assert_eq!(d.out.next(), "before");
    assert_eq!(d.out.rest_until_eof(), Vec::<String>::new());
    assert_eq!(d.wait(), Some(0));
    let log = d.log.rest_until_eof();
    assert!(log.contains(&"info: interactive session ended".to_owned()), "{log:?}");
    assert!(!log.iter().any(|l| l.contains("never")), "{log:?}");
}

// ---------------------------------------------------------------------
// §5.2 service commands
// ---------------------------------------------------------------------

#[test]
fn service_args_and_tags_are_stored_verbatim() {
    let mut d = daemon();
    assert_eq!(d.cmd("service.args\tfoo\tsleep\t30"), ["service.args\tfoo\tsleep\t30"]);
    assert_eq!(d.cmd("service.args\tfoo\ta\t\tb\t"), ["service.args\tfoo\ta\t\tb\t"]);
    // Absent or empty remainder clears; the TAB after NAME is always printed.
    assert_eq!(d.cmd("service.args\tfoo"), ["service.args\tfoo\t"]);
    assert_eq!(d.cmd("service.args\tfoo\t"), ["service.args\tfoo\t"]);
    assert_eq!(d.cmd("service.tags\tfoo\tx=1\t\ty"), ["service.tags\tfoo\tx=1\t\ty"]);
    assert_eq!(d.cmd("service.tags\tbar"), ["service.tags\tbar\t"]);
    for cmd in ["service.args", "service.tags"] {
        assert_err(&mut d, cmd, "Expected service name");
        assert_err(&mut d, &format!("{cmd}\t"), "Expected service name");
        assert_err(&mut d, &format!("{cmd}\t\tx"), "Expected service name");
        assert_err(&mut d, &format!("{cmd}\tbad!\tx"), "Invalid service name");
        assert_err(&mut d, &format!("{cmd}\t{}\tx", "n".repeat(32)), "Invalid service name");
    }
    // 31 bytes and the odd names `-`, `.`, `..` are valid.
    let n31 = "n".repeat(31);
    assert_eq!(d.cmd(&format!("service.args\t{n31}\tx")), [format!("service.args\t{n31}\tx")]);
    for n in ["-", ".", "..", "A-Z_a.z09"] {
        assert_eq!(d.cmd(&format!("service.tags\t{n}")), [format!("service.tags\t{n}\t")]);
    }
    let dump = statedump(&mut d);
    assert!(dump.contains(&"service.args\tfoo\t".to_owned()), "{dump:#?}");
    assert!(dump.contains(&"service.tags\tfoo\tx=1\t\ty".to_owned()), "{dump:#?}");
}

#[test]
fn service_fds_warnings_defaults_and_empty_list() {
    let mut d = daemon();
    // Existing names and `-` (improvement, §16 row 8) give no warning;
    // undefined names do, colon + space form, before the broadcast.
    assert_eq!(
        d.cmd("service.fds\tfoo\tnull\t-\tstderr\tnosuch\tlater"),
        [
            "warning: fd \"nosuch\" is not yet defined",
            "warning: fd \"later\" is not yet defined",
            "service.fds\tfoo\tnull\t-\tstderr\tnosuch\tlater",
        ]
    );
    // Defining the handle afterwards silences the warning.
    d.cmd("fd.open\tlater\tread\t/dev/null");
    assert_eq!(d.cmd("service.fds\tfoo\tlater\t-"), ["service.fds\tfoo\tlater\t-"]);
    // The default is null null null (and a new service reports it).
    d.cmd("service.tags\tfresh\tt");
    let dump = statedump(&mut d);
    assert!(dump.contains(&"service.fds\tfresh\tnull\tnull\tnull".to_owned()), "{dump:#?}");
    assert_eq!(d.cmd("service.fds\tfoo\tnull\tnull\tnull"), ["service.fds\tfoo\tnull\tnull\tnull"]);
    // Absent and empty remainders store an empty list (not the default).
    assert_eq!(d.cmd("service.fds\tfoo"), ["service.fds\tfoo\t"]);
    assert_eq!(d.cmd("service.fds\tfoo\t"), ["service.fds\tfoo\t"]);
    let dump = statedump(&mut d);
    assert!(dump.contains(&"service.fds\tfoo\t".to_owned()), "{dump:#?}");
    // Invalid names.
    assert_err(&mut d, "service.fds\tfoo\tnull\tbad!", "invalid fd name");
    assert_err(&mut d, &format!("service.fds\tfoo\t{}", "f".repeat(32)), "invalid fd name");
    assert_err(&mut d, "service.fds", "Expected service name");
    assert_err(&mut d, "service.fds\t\tnull", "Expected service name");
    // The failed commands stored nothing.
    let dump = statedump(&mut d);
    assert!(dump.contains(&"service.fds\tfoo\t".to_owned()), "{dump:#?}");
}

#[test]
fn service_auto_up_examples_of_5_2() {
    let mut d = daemon();
    let mut kg = KillGroups::default();
    d.cmd("service.args\tfoo\tsleep\t30");
    // `always`: the start event precedes the auto_up event.
    let lines: Vec<String> =
        d.cmd("service.auto_up\tfoo\t5\talways").into_iter().filter(|l| !l.contains("\tup\t")).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let sf = fields(&lines[0]);
    assert_eq!(sf[..3], ["service.state", "foo", "start"], "{lines:?}");
    assert_eq!(sf[4..], ["-", "-", "-", "-", "-"], "{lines:?}");
    assert_eq!(lines[1], "service.auto_up\tfoo\t5\talways");
    let up = d.out.seen.lock().unwrap().iter().find(|l| l.starts_with("service.state\tfoo\tup\t")).cloned();
    let up = up.unwrap_or_else(|| d.wait_state("foo", "up"));
    kg.add(fields(&up)[4].parse().unwrap());
    // `-` keeps the interval.
    assert_eq!(
        d.cmd("service.auto_up\tfoo\t-\tSIGUSR1\tUSR2")
            .into_iter()
            .filter(|l| !l.contains("\tup\t"))
            .collect::<Vec<_>>(),
        ["service.auto_up\tfoo\t5\tSIGUSR1\tUSR2"]
    );
    // No triggers: `-` form, interval still stored (3).
    assert_eq!(d.cmd("service.auto_up\tfoo\t3"), ["service.auto_up\tfoo\t-"]);
    assert_eq!(d.cmd("service.auto_up\tfoo\t-\tHUP"), ["service.auto_up\tfoo\t3\tHUP"]);
    assert_eq!(d.cmd("service.auto_up\tfoo\t-"), ["service.auto_up\tfoo\t-"]);
    // Never set → 0.
    assert_eq!(d.cmd("service.auto_up\tbar\t-\tSIGHUP"), ["service.auto_up\tbar\t0\tSIGHUP"]);
    // Any recognised signal name, even one never caught.
    assert_eq!(d.cmd("service.auto_up\tbar\t-\tSIGKILL\tTERM"), ["service.auto_up\tbar\t0\tSIGKILL\tTERM"]);
    assert_eq!(d.cmd("service.auto_up\tbar\t2147483647"), ["service.auto_up\tbar\t-"]);
    assert_eq!(d.cmd("service.auto_up\tbar\t-\tHUP"), ["service.auto_up\tbar\t2147483647\tHUP"]);

    // Clean up foo (auto_up was cleared, so it is not restarted).
    signal_down(&mut d, "service.signal\tfoo\tKILL", "foo");
    let after: Vec<String> = d.sync().into_iter().filter(|l| l.contains("\tfoo\t")).collect();
    assert!(after.is_empty(), "foo restarted although its triggers were cleared: {after:?}");
}

#[test]
fn service_auto_up_errors_and_interval_kept_on_bad_triggers() {
    let mut d = daemon();
    assert_err(&mut d, "service.auto_up\tbaz\t7\tBOGUS", "unable to set auto_up triggers");
    // The interval 7 was stored although the triggers were refused.
    assert_eq!(d.cmd("service.auto_up\tbaz\t-\tHUP"), ["service.auto_up\tbaz\t7\tHUP"]);
    // Previous triggers stay in effect after a refused list.
    assert_err(&mut d, "service.auto_up\tbaz\t9\tHUP\tNOPE", "unable to set auto_up triggers");
    assert_eq!(
        d.cmd("statedump").into_iter().filter(|l| l.starts_with("service.auto_up")).collect::<Vec<_>>(),
        ["service.auto_up\tbaz\t9\tHUP"]
    );
    // Numbers and lower-case names are not triggers.
    assert_err(&mut d, "service.auto_up\tbaz\t5\t1", "unable to set auto_up triggers");
    assert_err(&mut d, "service.auto_up\tbaz\t5\tsighup", "unable to set auto_up triggers");
    for (line, msg) in [
        ("service.auto_up\tbaz", "Expected integer"),
        ("service.auto_up\tbaz\t", "Expected integer"),
        ("service.auto_up\tbaz\t-x", "Expected integer"),
        ("service.auto_up\tbaz\t5s", "Expected integer"),
        ("service.auto_up\tbaz\t0", "invalid interval"),
        ("service.auto_up\tbaz\t-1", "invalid interval"),
        ("service.auto_up\tbaz\t2147483648", "invalid interval"),
        ("service.auto_up", "Expected service name"),
        ("service.auto_up\tb@z\t5", "Invalid service name"),
    ] {
        assert_err(&mut d, line, msg);
    }
    // The refused trigger lists above still stored their valid interval
    // (5); the refused intervals changed nothing; the triggers are still HUP.
    assert_eq!(
        d.cmd("statedump").into_iter().filter(|l| l.starts_with("service.auto_up")).collect::<Vec<_>>(),
        ["service.auto_up\tbaz\t5\tHUP"]
    );
}

#[test]
fn service_start_now_and_its_errors() {
    let mut d = daemon();
    let mut kg = KillGroups::default();
    assert_err(&mut d, "service.start", "Expected service name");
    assert_err(&mut d, "service.start\t", "Expected service name");
    assert_err(&mut d, "service.start\tbad!", "Invalid service name");
    assert_err(&mut d, "service.start\tnosuch", "No such service");
    d.cmd("service.tags\tnoargs\tx");
    assert_err(&mut d, "service.start\tnoargs", "no args configured for service");
    d.cmd("service.args\temptyfirst\t\tx");
    assert_err(&mut d, "service.start\temptyfirst", "no args configured for service");
    d.cmd("service.args\tcleared\ttrue");
    d.cmd("service.args\tcleared");
    assert_err(&mut d, "service.start\tcleared", "no args configured for service");

    d.cmd("service.args\ts\tsleep\t30");
    let before = mono_secs();
    d.send("service.start\ts");
    let start = d.wait_state("s", "start");
    let after = mono_secs();
    let sf = fields(&start);
    let ts: i64 = sf[3].parse().unwrap();
    assert!(before <= ts && ts <= after, "start TS {ts} not floor(NOW) in [{before}, {after}]");
    assert_eq!(sf[4..], ["-", "-", "-", "-", "-"], "{start}");
    let up = d.wait_state("s", "up");
    let uf = fields(&up);
    let pid: i32 = uf[4].parse().unwrap();
    kg.add(pid);
    assert_eq!(uf[5..], ["-", "-", "0", "-"], "{up}");
    assert!(alive(pid));
    assert_err(&mut d, "service.start\ts", "service is not startable");
    assert_err(&mut d, "service.start\ts\t-", "no service.start pending");
    d.send("service.signal\ts\tKILL");
    d.wait_state("s", "down");
}

#[test]
fn service_start_future_timestamp_and_cancel() {
    let mut d = daemon();
    d.cmd("service.args\tt\ttrue");
    d.send("service.start\tt");
    let ts: i64 = fields(&d.wait_state("t", "start"))[3].parse().unwrap();
    d.wait_state("t", "down");

    d.cmd("service.args\ts\tsleep\t30");
    assert_err(&mut d, "service.start\ts\t-", "no service.start pending");
    let future = ts + 5;
    assert_eq!(
        d.cmd(&format!("service.start\ts\t{future}")),
        [format!("service.state\ts\tstart\t{future}\t-\t-\t-\t-\t-")]
    );
    // A pending start can be moved.
    let later = ts + 1000;
    assert_eq!(
        d.cmd(&format!("service.start\ts\t{later}")),
        [format!("service.state\ts\tstart\t{later}\t-\t-\t-\t-\t-")]
    );
    // statedump shows the pending state.
    let dump = statedump(&mut d);
    assert!(dump.contains(&format!("service.state\ts\tstart\t{later}\t-\t-\t-\t-\t-")), "{dump:#?}");
    // Cancel: back to down with no exit information.
    assert_eq!(d.cmd("service.start\ts\t-"), ["service.state\ts\tdown\t-\t-\t-\t-\t-\t-"]);
    assert_err(&mut d, "service.start\ts\t-", "no service.start pending");

    // A service that has run: the cancel hides the old exit information.
    // (Arguments after the timestamp are ignored.)
    assert_eq!(
        d.cmd(&format!("service.start\tt\t{later}\textra")),
        [format!("service.state\tt\tstart\t{later}\t-\t-\t-\t-\t-")]
    );
    assert_eq!(d.cmd("service.start\tt\t-"), ["service.state\tt\tdown\t-\t-\t-\t-\t-\t-"]);
}

#[test]
fn service_start_rejects_past_and_malformed_timestamps() {
    let mut d = daemon();
    d.cmd("service.args\tt\ttrue");
    d.send("service.start\tt");
    let ts: i64 = fields(&d.wait_state("t", "start"))[3].parse().unwrap();
    d.wait_state("t", "down");
    d.cmd("service.args\ts\tsleep\t30");
    for arg in [
        ts.to_string(),
        (ts - 1).to_string(),
        "0".into(),
        "1".into(),
        "-5".into(),
        "abc".into(),
        format!("{}x", ts + 100),
        "".into(),
        "2147483648".into(),
    ] {
        assert_err(&mut d, &format!("service.start\ts\t{arg}"), "invalid timestamp");
    }
    // Nothing was scheduled.
    let dump = statedump(&mut d);
    assert!(dump.contains(&"service.state\ts\tdown\t-\t-\t-\t-\t-\t-".to_owned()), "{dump:#?}");
}

#[test]
fn service_start_on_pending_service_starts_it_now() {
    let mut d = daemon();
    let mut kg = KillGroups::default();
    d.cmd("service.args\ts\tsleep\t30");
    let far = mono_secs() + 100_000;
    assert_eq!(d.cmd(&format!("service.start\ts\t{far}")), [format!("service.state\ts\tstart\t{far}\t-\t-\t-\t-\t-")]);
    d.send("service.start\ts");
    let start = d.wait_state("s", "start");
    let ts: i64 = fields(&start)[3].parse().unwrap();
    assert!(ts < far, "{start}");
    let pid = fields(&d.wait_state("s", "up"))[4].parse().unwrap();
    kg.add(pid);
    d.send("service.signal\ts\tKILL");
    let down = d.wait_state("s", "down");
    assert_eq!(fields(&down)[5..7], ["signal", "SIGKILL"], "{down}");
}

#[test]
fn service_signal_errors() {
    let mut d = daemon();
    let mut kg = KillGroups::default();
    assert_err(&mut d, "service.signal", "Expected service name");
    assert_err(&mut d, "service.signal\tnosuch\tTERM", "No such service");
    assert_err(&mut d, "service.signal\tbad!\tTERM", "Invalid service name");
    d.cmd("service.args\ts\tsleep\t30");
    // Never started, and pending start: not running.
    assert_err(&mut d, "service.signal\ts\tTERM", "service is not running");
    let far = mono_secs() + 100_000;
    d.cmd(&format!("service.start\ts\t{far}"));
    assert_err(&mut d, "service.signal\ts\tTERM", "service is not running");
    d.cmd("service.start\ts\t-");

    let pid = d.start_up("s");
    kg.add(pid);
    for (line, msg) in [
        ("service.signal\ts", "Expected signal argument"),
        ("service.signal\ts\t", "Expected signal argument"),
        ("service.signal\ts\t65536", "Invalid signal number"),
        ("service.signal\ts\t999999", "Invalid signal number"),
        ("service.signal\ts\t15x", "Invalid signal number"),
        // Improvement (§5.0): unknown names are rejected.
        ("service.signal\ts\tSIGFOO", "Invalid signal argument"),
        ("service.signal\ts\tsigterm", "Invalid signal argument"),
        ("service.signal\ts\tTERM\tbogus", "unknown option \"bogus\""),
        ("service.signal\ts\tTERM\tgroup,", "unknown option \"\""),
        ("service.signal\ts\tTERM\t", "unknown option \"\""),
        ("service.signal\ts\tTERM\tgroup,x,group", "unknown option \"x\""),
    ] {
        assert_err(&mut d, line, msg);
    }
    // Signal 0 is a no-op existence check; the service is still up.
    assert_silent(&mut d, "service.signal\ts\t0");
    assert!(alive(pid));
    let dump = statedump(&mut d);
    assert!(dump.iter().any(|l| l.starts_with("service.state\ts\tup\t")), "{dump:#?}");
    // After the process is gone: not running again.
    d.send("service.signal\ts\tKILL");
    d.wait_state("s", "down");
    assert_err(&mut d, "service.signal\ts\tTERM", "service is not running");
}

#[test]
fn service_signal_term_reports_signal_down() {
    let mut d = daemon();
    let mut kg = KillGroups::default();
    d.cmd("service.args\ts\tsleep\t30");
    let up = {
        d.send("service.start\ts");
        d.wait_state("s", "up")
    };
    let uf: Vec<String> = fields(&up).iter().map(|s| s.to_string()).collect();
    let pid: i32 = uf[4].parse().unwrap();
    kg.add(pid);
    let down = signal_down(&mut d, "service.signal\ts\tSIGTERM", "s");
    let df = fields(&down);
    assert_eq!(df.len(), 9, "{down}");
    assert_eq!(df[4], uf[4], "{down}");
    assert_eq!(df[5..7], ["signal", "SIGTERM"], "{down}");
    assert_eq!(df[8], "0", "{down}");
    let up_ts: i64 = uf[3].parse().unwrap();
    let down_ts: i64 = df[3].parse().unwrap();
    let uptime: i64 = df[7].parse().unwrap();
    assert!(down_ts >= up_ts && uptime <= down_ts - up_ts + 1, "{up} / {down}");
    assert!(!alive(pid));
    // Numeric signal and exit status.
    d.cmd("service.args\ts\tsh\t-c\tkill -USR1 $$; sleep 30");
    d.send("service.start\ts");
    let down = d.wait_state("s", "down");
    assert_eq!(fields(&down)[5..7], ["signal", "SIGUSR1"], "{down}");
    d.cmd("service.args\ts\tsh\t-c\tsleep 30");
    kg.add(d.start_up("s"));
    let down = signal_down(&mut d, "service.signal\ts\t9", "s");
    assert_eq!(fields(&down)[5..7], ["signal", "SIGKILL"], "{down}");
}

#[test]
fn service_signal_group_reaches_the_whole_process_group() {
    let dir = tempdir();
    let pidfile = dir.path().join("child.pid");
    let mut d = daemon();
    let mut kg = KillGroups::default();
    d.cmd(&format!("service.args\tg\tsh\t-c\tsleep 300 & echo $! > {}; wait", p(&pidfile)));
    let pid = d.start_up("g");
    kg.add(pid);
    // §0 item 2: the service leads its own session and process group.
    let st = proc_stat(pid).expect("service process");
    assert_eq!((st.session, st.pgrp), (pid, pid), "service not a session leader: {st:?}");
    let child: i32 =
        poll_until("child pid file", || std::fs::read_to_string(&pidfile).ok().and_then(|s| s.trim().parse().ok()));
    let _guard = KillGuard(child);
    assert!(alive(child));
    let down = signal_down(&mut d, "service.signal\tg\tTERM\tgroup", "g");
    assert_eq!(fields(&down)[5..7], ["signal", "SIGTERM"], "{down}");
    poll_until("background child of the group to die", || (!alive(child)).then_some(()));
}

#[test]
fn service_signal_without_group_spares_the_other_group_members() {
    let dir = tempdir();
    let pidfile = dir.path().join("child.pid");
    let mut d = daemon();
    let mut kg = KillGroups::default();
    d.cmd(&format!("service.args\tg\tsh\t-c\tsleep 300 & echo $! > {}; wait", p(&pidfile)));
    let pid = d.start_up("g");
    kg.add(pid);
    let child: i32 =
        poll_until("child pid file", || std::fs::read_to_string(&pidfile).ok().and_then(|s| s.trim().parse().ok()));
    let _guard = KillGuard(child);
    // `group,group` is fine too; here signal only the leader.
    signal_down(&mut d, "service.signal\tg\tTERM", "g");
    assert!(alive(child), "a plain service.signal must reach only the service process");
    // The rest of the group is still reachable by the group id.
    // SAFETY: kill takes no pointers.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    poll_until("group member to die", || (!alive(child)).then_some(()));
}

#[test]
fn service_delete_rules() {
    let mut d = daemon();
    let mut kg = KillGroups::default();
    assert_err(&mut d, "service.delete", "Expected service name");
    assert_err(&mut d, "service.delete\t", "Expected service name");
    assert_err(&mut d, "service.delete\tbad!", "Invalid service name");
    assert_err(&mut d, "service.delete\tnosuch", "No such service");
    // A never-started service.
    d.cmd("service.tags\tplain\tx");
    assert_eq!(d.cmd("service.delete\tplain\textra"), ["service.state\tplain\tdeleted\t-\t-\t-\t-\t-\t-"]);
    assert_err(&mut d, "service.delete\tplain", "No such service");
    // Running → refused.
    d.cmd("service.args\ts\tsleep\t30");
    d.cmd("service.tags\ts\told");
    kg.add(d.start_up("s"));
    assert_err(&mut d, "service.delete\ts", "service is running");
    d.send("service.signal\ts\tKILL");
    d.wait_state("s", "down");
    // Improvement (§5.2, §16 row 13): a down service that has run can be
    // deleted.
    assert_eq!(d.cmd("service.delete\ts"), ["service.state\ts\tdeleted\t-\t-\t-\t-\t-\t-"]);
    assert!(!statedump(&mut d).iter().any(|l| fields(l).get(1) == Some(&"s")));
    // The name can be reused and starts with defaults.
    assert_eq!(d.cmd("service.tags\ts\tnew"), ["service.tags\ts\tnew"]);
    let dump: Vec<String> = statedump(&mut d).into_iter().filter(|l| fields(l).get(1) == Some(&"s")).collect();
    assert_eq!(
        dump,
        [
            "service.state\ts\tdown\t-\t-\t-\t-\t-\t-",
            "service.tags\ts\tnew",
            "service.args\ts\t",
            "service.fds\ts\tnull\tnull\tnull",
            "service.auto_up\ts\t-",
        ]
    );
    // A pending start can be deleted too.
    d.cmd("service.args\tp\tsleep\t30");
    let far = mono_secs() + 100_000;
    d.cmd(&format!("service.start\tp\t{far}"));
    assert_eq!(d.cmd("service.delete\tp"), ["service.state\tp\tdeleted\t-\t-\t-\t-\t-\t-"]);
}

#[test]
fn failing_auto_creating_commands_leave_the_service_behind() {
    let mut d = daemon();
    // §5.0: created before the remaining arguments are validated; no event
    // announces the creation.
    assert_err(&mut d, "service.auto_up\tleft\t5\tBOGUS", "unable to set auto_up triggers");
    assert_err(&mut d, "service.fds\tleft2\tbad!", "invalid fd name");
    assert_err(&mut d, "service.auto_up\tleft3\t0", "invalid interval");
    // An invalid name creates nothing.
    assert_err(&mut d, "service.args\tbad!\tx", "Invalid service name");
    let services: Vec<String> = statedump(&mut d).into_iter().filter(|l| l.starts_with("service.")).collect();
    let mut expected = Vec::new();
    for name in ["left", "left2", "left3"] {
        expected.extend([
            format!("service.state\t{name}\tdown\t-\t-\t-\t-\t-\t-"),
            format!("service.tags\t{name}\t"),
            format!("service.args\t{name}\t"),
            format!("service.fds\t{name}\tnull\tnull\tnull"),
            format!("service.auto_up\t{name}\t-"),
        ]);
    }
    assert_eq!(services, expected);
    // `left` kept the valid interval of the failing command.
    assert_eq!(d.cmd("service.auto_up\tleft\t-\tHUP"), ["service.auto_up\tleft\t5\tHUP"]);
}

// ---------------------------------------------------------------------
// §5.3 handle commands
// ---------------------------------------------------------------------

#[test]
fn fd_open_reports_flags_in_fixed_order() {
    let dir = tempdir();
    let a = p(&dir.path().join("a.txt"));
    std::fs::write(&a, "content").unwrap();
    let z = p(&dir.path().join("z"));
    let mut d = daemon();
    assert_eq!(
        d.cmd(&format!("fd.open\tf3\twrite,read,,append\t{a}")),
        [format!("fd.state\tf3\tfile\tread,write,append\t{a}")]
    );
    assert_eq!(d.cmd(&format!("fd.open\tx\tcreate\t{z}")), [format!("fd.state\tx\tfile\tread,create\t{z}")]);
    assert_eq!(d.cmd(&format!("fd.open\te\t\t{a}")), [format!("fd.state\te\tfile\tread\t{a}")]);
    assert_eq!(d.cmd(&format!("fd.open\tw\twrite\t{a}")), [format!("fd.state\tw\tfile\twrite\t{a}")]);
    assert_eq!(d.cmd(&format!("fd.open\tr\t,read,\t{a}")), [format!("fd.state\tr\tfile\tread\t{a}")]);
    let deep = p(&dir.path().join("d/e/f"));
    assert_eq!(
        d.cmd(&format!("fd.open\ty\tmkdir,nonblock,trunc,create,append,write\t{deep}")),
        [format!("fd.state\ty\tfile\twrite,append,create,trunc,nonblock,mkdir\t{deep}")]
    );
    // Real effects: created files 0600, created directories 0700, trunc.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(Path::new(&z)), 0o600);
    assert_eq!(mode(Path::new(&deep)), 0o600);
    assert_eq!(mode(&dir.path().join("d")), 0o700);
    assert_eq!(mode(&dir.path().join("d/e")), 0o700);
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "content");
    assert_eq!(d.cmd(&format!("fd.open\tt\twrite,trunc\t{a}")), [format!("fd.state\tt\tfile\twrite,trunc\t{a}")]);
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "");
    // Replacing an existing name just reports the new handle.
    assert_eq!(d.cmd(&format!("fd.open\tx\twrite\t{z}")), [format!("fd.state\tx\tfile\twrite\t{z}")]);
    let dump = statedump(&mut d);
    assert_eq!(dump.iter().filter(|l| l.starts_with("fd.state\tx\t")).count(), 1, "{dump:#?}");
}

#[test]
fn fd_open_errors() {
    let dir = tempdir();
    let f = p(&dir.path().join("f"));
    std::fs::write(&f, "").unwrap();
    let mut d = daemon();
    for (line, msg) in [
        ("fd.open".to_owned(), "Expected file descriptor name"),
        ("fd.open\t\tread\t/dev/null".into(), "Expected file descriptor name"),
        ("fd.open\tbad!\tread\t/dev/null".into(), "Invalid file descriptor name"),
        (format!("fd.open\t{}\tread\t/dev/null", "h".repeat(32)), "Invalid file descriptor name"),
        ("fd.open\tnull\tread\t/dev/null".into(), "File descriptor cannot be altered"),
        ("fd.open\tcontrol.cmd\tread\t/dev/null".into(), "File descriptor cannot be altered"),
        ("fd.open\tcontrol.event\tread\t/dev/null".into(), "File descriptor cannot be altered"),
        ("fd.open\tcontrol.socket\tread\t/dev/null".into(), "File descriptor cannot be altered"),
        ("fd.open\tx".into(), "missing flags argument"),
        ("fd.open\tx\tread".into(), "missing path argument"),
        (format!("fd.open\tx\tread\t{f}\t"), "unexpected argument after path"),
        (format!("fd.open\tx\tread\t{f}\textra"), "unexpected argument after path"),
        (format!("fd.open\tx\ttruncate\t{f}"), "unknown flag \"truncate\""),
        (format!("fd.open\tx\tread,bogus\t{f}"), "unknown flag \"bogus\""),
        (format!("fd.open\tx\tread=1\t{f}"), "unknown flag \"read=1\""),
        ("fd.open\tx\tread\t/nonexistent-dp-dir/file".into(), "open failed: No such file or directory"),
        (format!("fd.open\tx\tread\t{}", p(&dir.path().join("missing"))), "open failed: No such file or directory"),
        (format!("fd.open\tx\twrite\t{}", p(dir.path())), "open failed: Is a directory"),
    ] {
        assert_err(&mut d, &line, msg);
    }
    // None of these created anything.
    assert_eq!(statedump(&mut d), BUILTIN_FD_STATES);
}

#[test]
fn fd_pipe_examples_and_errors() {
    let mut d = daemon();
    assert_eq!(
        d.cmd("fd.pipe\tlog.r\tlog.w"),
        ["fd.state\tlog.r\tpipe\tfrom\tlog.w", "fd.state\tlog.w\tpipe\tto\tlog.r"]
    );
    assert_eq!(
        d.cmd("fd.pipe\tr\tw\tnonblock"),
        ["fd.state\tr\tpipe\tnonblock,from\tw", "fd.state\tw\tpipe\tnonblock,to\tr"]
    );
    assert_eq!(
        d.cmd("fd.pipe\ts1\ts2\tunix,dgram"),
        ["fd.state\ts1\tpipe\tunix,dgram,to\ts2", "fd.state\ts2\tpipe\tunix,dgram,to\ts1"]
    );
    assert_eq!(
        d.cmd("fd.pipe\ts3\ts4\tseqpacket"),
        ["fd.state\ts3\tpipe\tunix,seqpacket,to\ts4", "fd.state\ts4\tpipe\tunix,seqpacket,to\ts3"]
    );
    assert_eq!(
        d.cmd("fd.pipe\ts5\ts6\tstream"),
        ["fd.state\ts5\tpipe\tunix,stream,to\ts6", "fd.state\ts6\tpipe\tunix,stream,to\ts5"]
    );
    // Empty items and `-` are ignored; arguments after FLAGS too.
    assert_eq!(
        d.cmd("fd.pipe\tp1\tp2\t-,,nonblock,\textra"),
        ["fd.state\tp1\tpipe\tnonblock,from\tp2", "fd.state\tp2\tpipe\tnonblock,to\tp1"]
    );
    assert_eq!(d.cmd("fd.pipe\tp3\tp4\t-"), ["fd.state\tp3\tpipe\tfrom\tp4", "fd.state\tp4\tpipe\tto\tp3"]);
    // Improvement (§16 row 22): same name for both ends is refused.
    assert_err(&mut d, "fd.pipe\tsame\tsame", "read and write names must differ");
    for (line, msg) in [
        ("fd.pipe", "Expected file descriptor name"),
        ("fd.pipe\ta", "Expected file descriptor name"),
        ("fd.pipe\ta\t", "Expected file descriptor name"),
        ("fd.pipe\tbad!\tb", "Invalid file descriptor name"),
        ("fd.pipe\ta\tbad!", "Invalid file descriptor name"),
        ("fd.pipe\tnull\tb", "File descriptor cannot be altered"),
        ("fd.pipe\ta\tcontrol.cmd", "File descriptor cannot be altered"),
        // Improvement (§16 row 6): one line.
        ("fd.pipe\ta\tb\tbogus", "unknown flag \"bogus\""),
        ("fd.pipe\ta\tb\tnonblock,x", "unknown flag \"x\""),
        ("fd.pipe\ta\tb\tinet", "socketpair() failed: Operation not supported"),
        ("fd.pipe\ta\tb\ttcp", "socketpair() failed: Operation not supported"),
        ("fd.pipe\ta\tb\tudp", "socketpair() failed: Operation not supported"),
    ] {
        assert_err(&mut d, line, msg);
    }
    let dump = statedump(&mut d);
    for n in ["same", "a", "b"] {
        assert!(!dump.iter().any(|l| fields(l)[1] == n), "{n} created by a failing fd.pipe: {dump:#?}");
    }
}

#[test]
fn fd_socket_examples_of_5_3() {
    let dir = tempdir();
    let abc = p(&dir.path().join("a/b/c"));
    let mut d = daemon();
    assert_eq!(d.cmd("fd.socket\tfd1\tunix"), ["fd.state\tfd1\tsocket\tunix,stream\t"]);
    assert_eq!(
        d.cmd(&format!("fd.socket\tk\tunix,nonblock,mkdir\t{abc}")),
        [format!("fd.state\tk\tsocket\tunix,stream,bind,mkdir,nonblock\t{abc}")]
    );
    let meta = std::fs::metadata(&abc).expect("socket file created");
    assert!(meta.file_type().is_socket());
    assert_eq!(std::fs::metadata(dir.path().join("a")).unwrap().permissions().mode() & 0o777, 0o700);
    // Port 0 instead of the example's fixed port (no fixed ports in tests).
    assert_eq!(d.cmd("fd.socket\tfd2\ttcp,listen=11\t*:0"), ["fd.state\tfd2\tsocket\tinet,stream,bind,listen=11\t*:0"]);
    assert_eq!(d.cmd("fd.socket\tfd3\tudp\t127.0.0.1"), ["fd.state\tfd3\tsocket\tinet,dgram,bind\t127.0.0.1"]);
    assert_eq!(d.cmd("fd.socket\tfd4\tudp\t127.0.0.1:0"), ["fd.state\tfd4\tsocket\tinet,dgram,bind\t127.0.0.1:0"]);
    assert_eq!(
        d.cmd("fd.socket\tk\ttcp,listen\t127.0.0.1"),
        ["fd.state\tk\tsocket\tinet,stream,bind,listen=32\t127.0.0.1"]
    );
    // Later flags override earlier ones; inet6 without address.
    let s3 = p(&dir.path().join("s3"));
    assert_eq!(
        d.cmd(&format!("fd.socket\tk3\ttcp,unix\t{s3}")),
        [format!("fd.state\tk3\tsocket\tunix,stream,bind\t{s3}")]
    );
    assert_eq!(d.cmd("fd.socket\tk6\tinet6"), ["fd.state\tk6\tsocket\tinet6,stream\t"]);
    assert_eq!(d.cmd("fd.socket\tk7\tinet6,tcp"), ["fd.state\tk7\tsocket\tinet,stream\t"]);
    assert_eq!(d.cmd("fd.socket\tk8\tinet,dgram"), ["fd.state\tk8\tsocket\tinet,dgram\t"]);
    let s9 = p(&dir.path().join("s9"));
    assert_eq!(
        d.cmd(&format!("fd.socket\tk9\tseqpacket,,\t{s9}")),
        [format!("fd.state\tk9\tsocket\tunix,seqpacket,bind\t{s9}")]
    );
    let s10 = p(&dir.path().join("s10"));
    assert_eq!(
        d.cmd(&format!("fd.socket\tk10\tdgram,bind\t{s10}")),
        [format!("fd.state\tk10\tsocket\tunix,dgram,bind\t{s10}")]
    );
    // Empty flags are allowed.
    assert_eq!(d.cmd("fd.socket\tk11\t"), ["fd.state\tk11\tsocket\tunix,stream\t"]);
}

#[test]
fn fd_socket_unix_listen_accepts_connections() {
    let dir = tempdir();
    let path = dir.path().join("l.sock");
    let mut d = daemon();
    assert_eq!(
        d.cmd(&format!("fd.socket\tl\tunix,listen=5\t{}", p(&path))),
        [format!("fd.state\tl\tsocket\tunix,stream,bind,listen=5\t{}", p(&path))]
    );
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700);
    std::os::unix::net::UnixStream::connect(&path).expect("the socket listens");
    // Deleting the handle does not unlink the socket file.
    assert_eq!(d.cmd("fd.delete\tl"), ["fd.state\tl\tdeleted"]);
    assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_socket());
    // ... so binding again fails: existing files are never removed.
    assert_err(&mut d, &format!("fd.socket\tl\tunix,listen\t{}", p(&path)), "bind: Address already in use");
}

#[test]
fn fd_socket_errors() {
    let dir = tempdir();
    let reg = dir.path().join("reg");
    std::fs::write(&reg, "keep me").unwrap();
    let mut d = daemon();
    for (line, msg) in [
        ("fd.socket".to_owned(), "Expected file descriptor name"),
        ("fd.socket\tbad!\tunix".into(), "Invalid file descriptor name"),
        ("fd.socket\tnull\tunix".into(), "File descriptor cannot be altered"),
        ("fd.socket\tk".into(), "missing flags argument"),
        ("fd.socket\tk\ttcp,listen=0\t127.0.0.1".into(), "invalid listen queue length"),
        ("fd.socket\tk\ttcp,listen=65536\t127.0.0.1".into(), "invalid listen queue length"),
        ("fd.socket\tk\ttcp,listen=x\t127.0.0.1".into(), "invalid listen queue length"),
        ("fd.socket\tk\tbogus".into(), "unknown flag \"bogus\""),
        // First offending flag in FLAGS order.
        ("fd.socket\tk\tbogus,listen=0\t/x".into(), "unknown flag \"bogus\""),
        ("fd.socket\tk\tlisten=0,bogus\t/x".into(), "invalid listen queue length"),
        ("fd.socket\tk\ttcp\tlocalhost".into(), "invalid address"),
        ("fd.socket\tk\ttcp\t:80".into(), "invalid address"),
        ("fd.socket\tk\ttcp\t127.0.0.1:80x".into(), "invalid address"),
        ("fd.socket\tk\ttcp\t127.0.0.1x".into(), "invalid address"),
        // Improvement (§16 row 24): ports outside 0..65535 are refused.
        ("fd.socket\tk\ttcp\t*:99999".into(), "invalid address"),
        ("fd.socket\tk\ttcp\t*:-1".into(), "invalid address"),
        ("fd.socket\tk\tinet6\t::1".into(), "invalid address"),
        ("fd.socket\tk\tbind".into(), "expected address argument"),
        ("fd.socket\tk\ttcp,listen".into(), "expected address argument"),
        (format!("fd.socket\tk\tunix\t{}\t", p(&dir.path().join("s"))), "unexpected argument after address"),
        (format!("fd.socket\tk\tunix\t{}", p(&reg)), "bind: Address already in use"),
        (format!("fd.socket\tk\tunix\t{}", p(&dir.path().join("nodir/s"))), "bind: No such file or directory"),
    ] {
        assert_err(&mut d, &line, msg);
    }
    // The regular file in the way is untouched.
    assert_eq!(std::fs::read_to_string(&reg).unwrap(), "keep me");
    assert_eq!(statedump(&mut d), BUILTIN_FD_STATES);
}

#[test]
fn fd_delete_and_question_mark_peer() {
    let mut d = daemon();
    d.cmd("fd.pipe\ta\tb");
    assert_eq!(d.cmd("fd.delete\tb\textra"), ["fd.state\tb\tdeleted"]);
    d.cmd("fd.pipe\tc\td");
    // Replacing a pipe end: no deleted event, the peer reports `?`.
    assert_eq!(d.cmd("fd.open\tc\tread\t/dev/null"), ["fd.state\tc\tfile\tread\t/dev/null"]);
    let dump: Vec<String> =
        statedump(&mut d).into_iter().filter(|l| ["a", "b", "c", "d"].contains(&fields(l)[1])).collect();
    assert_eq!(dump, ["fd.state\ta\tpipe\tfrom\t?", "fd.state\tc\tfile\tread\t/dev/null", "fd.state\td\tpipe\tto\t?"]);
    for (line, msg) in [
        ("fd.delete", "Expected file descriptor name"),
        ("fd.delete\t", "Expected file descriptor name"),
        ("fd.delete\tbad!", "Invalid file descriptor name"),
        ("fd.delete\tb", "No such file descriptor"),
        ("fd.delete\tnull", "File descriptor cannot be altered"),
        ("fd.delete\tcontrol.cmd", "File descriptor cannot be altered"),
        ("fd.delete\tcontrol.event", "File descriptor cannot be altered"),
        ("fd.delete\tcontrol.socket", "File descriptor cannot be altered"),
    ] {
        assert_err(&mut d, line, msg);
    }
    // The standard handles are ordinary handles.
    assert_eq!(d.cmd("fd.delete\tstdin"), ["fd.state\tstdin\tdeleted"]);
}

// ---------------------------------------------------------------------
// §5.4 control socket
// ---------------------------------------------------------------------

#[test]
fn socket_create_and_delete() {
    let dir = tempdir();
    let cs = dir.path().join("cs");
    let cs2 = dir.path().join("cs2");
    let mut d = daemon();
    assert_silent(&mut d, &format!("socket.create\t-\t{}", p(&cs)));
    let meta = std::fs::symlink_metadata(&cs).expect("control socket file");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    let mut c = Client::connect(&cs);
    assert_eq!(c.cmd("echo\tvia-socket"), ["via-socket"]);
    // Empty options also work; the previous socket is unlinked first.
    assert_silent(&mut d, &format!("socket.create\t\t{}", p(&cs2)));
    d.log.wait_for("unlink log", |l| l == format!("info: Unlinked control socket {}", p(&cs)));
    assert!(!cs.exists());
    assert!(std::fs::symlink_metadata(&cs2).unwrap().file_type().is_socket());
    // Failures that do not touch the current socket.
    assert_err(&mut d, "socket.create\t-\t", "Failed to create control socket");
    let long = format!("{}/{}", p(dir.path()), "l".repeat(110));
    assert_err(&mut d, &format!("socket.create\t-\t{long}"), "Failed to create control socket");
    assert!(cs2.exists());
    Client::connect(&cs2);
    // socket.delete unlinks; existing clients are unaffected.
    assert_silent(&mut d, "socket.delete\tignored\targs");
    d.log.wait_for("unlink log", |l| l == format!("info: Unlinked control socket {}", p(&cs2)));
    assert!(std::fs::symlink_metadata(&cs2).is_err(), "socket.delete did not unlink");
    assert_eq!(c.cmd("echo\tstill-here"), ["still-here"]);
    // No socket: a no-op.
    assert_silent(&mut d, "socket.delete");
}

#[test]
fn socket_create_never_deletes_a_regular_file() {
    let dir = tempdir();
    let reg = dir.path().join("reg");
    std::fs::write(&reg, "precious").unwrap();
    let mut d = daemon();
    // Improvement (§16 row 26): only sockets are unlinked.
    assert_err(&mut d, &format!("socket.create\t-\t{}", p(&reg)), "Failed to create control socket");
    assert_eq!(std::fs::read_to_string(&reg).unwrap(), "precious");
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    assert_err(&mut d, &format!("socket.create\t-\t{}", p(&sub)), "Failed to create control socket");
    assert!(sub.is_dir());
    // A stale socket is replaced.
    let stale = dir.path().join("stale");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert_silent(&mut d, &format!("socket.create\t-\t{}", p(&stale)));
    d.log.wait_for("unlink log", |l| l == format!("info: Unlinked control socket {}", p(&stale)));
    let mut c = Client::connect(&stale);
    assert_eq!(c.cmd("echo\tok"), ["ok"]);
}

/// A second daemon started on a running one's socket path fails with
/// "already running (pid N)" and leaves it alone: the first stays
/// reachable. Once the first is gone, its socket is stale and replaced.
#[test]
fn a_second_daemon_does_not_take_over_a_running_ones_socket() {
    let dir = tempdir();
    let sock = dir.path().join("dp.sock");
    let mut first = daemon();
    assert_silent(&mut first, &format!("socket.create\t-\t{}", p(&sock)));
    let second = crate::cli::run(&["-S", &p(&sock), "-c", "/dev/null"], b"");
    assert_eq!(second.status, Some(3), "{}", second.stderr);
    let log = second.stderr;
    let want = format!("error: control socket {}: already running (pid {})\n", p(&sock), first.pid());
    assert!(log.starts_with(&want), "{log}");
    assert!(log.contains("fatal: Can't create controller socket"), "{log}");
    let mut c = Client::connect(&sock);
    assert_eq!(c.cmd("echo\tstill-mine"), ["still-mine"]);
    // The same from a command of another daemon.
    let mut other = daemon();
    assert_err(&mut other, &format!("socket.create\t-\t{}", p(&sock)), "Failed to create control socket");
    drop(c);
    // Once the first has ended, the socket is stale.
    first.close_stdin();
    assert_eq!(first.wait(), Some(0));
    assert!(sock.exists(), "left behind by an exit without socket.delete");
    assert_silent(&mut other, &format!("socket.create\t-\t{}", p(&sock)));
    other.log.wait_for("unlink log", |l| l == format!("info: Unlinked control socket {}", p(&sock)));
    assert_eq!(Client::connect(&sock).cmd("echo\tnow-theirs"), ["now-theirs"]);
}

#[test]
fn socket_create_argument_errors() {
    let dir = tempdir();
    let never = dir.path().join("never");
    let mut d = daemon();
    assert_err(&mut d, "socket.create", "missing argument");
    assert_err(&mut d, "socket.create\t-", "missing argument");
    assert_err(&mut d, &format!("socket.create\tx\t{}", p(&never)), "Invalid options");
    assert_err(&mut d, &format!("socket.create\t--\t{}", p(&never)), "Invalid options");
    assert!(!never.exists());
}

// ---------------------------------------------------------------------
// §5.5 logging commands, §5.6, §5.7, §5.8
// ---------------------------------------------------------------------

#[test]
fn chdir_changes_relative_paths() {
    let dir = tempdir();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let mut d = daemon();
    assert_silent(&mut d, &format!("chdir\t{}", p(&sub)));
    assert_eq!(d.cmd("fd.open\trel\twrite,create\trel.txt"), ["fd.state\trel\tfile\twrite,create\trel.txt"]);
    assert!(sub.join("rel.txt").exists());
    assert_silent(&mut d, "chdir\t..");
    d.cmd("fd.open\trel2\twrite,create\trel2.txt");
    assert!(dir.path().join("rel2.txt").exists());
    for (line, msg) in [
        ("chdir".to_owned(), "missing path argument"),
        ("chdir\t".into(), "chdir failed: No such file or directory"),
        ("chdir\t/nonexistent-dp-dir".into(), "chdir failed: No such file or directory"),
        (format!("chdir\t{}", p(&file)), "chdir failed: Not a directory"),
        (format!("chdir\t{}\t", p(&sub)), "unexpected argument after path"),
    ] {
        assert_err(&mut d, &line, msg);
    }
    // The failures did not move the daemon.
    d.cmd("fd.open\trel3\twrite,create\trel3.txt");
    assert!(dir.path().join("rel3.txt").exists());
}

#[test]
fn log_filter_examples() {
    let mut d = daemon();
    assert_eq!(d.cmd("log.filter"), ["log.filter\tdebug"]);
    assert_eq!(d.cmd("log.filter\t-"), ["log.filter\ttrace"]);
    assert_eq!(d.cmd("log.filter\t-"), ["log.filter\tnone"]);
    assert_eq!(d.cmd("log.filter\t-"), ["log.filter\tnone"]);
    assert_err(&mut d, "log.filter\twarn", "Invalid loglevel argument");
    assert_err(&mut d, "log.filter\t", "Invalid loglevel argument");
    assert_err(&mut d, "log.filter\tINFO", "Invalid loglevel argument");
    assert_err(&mut d, "log.filter\t++", "Invalid loglevel argument");
    for lvl in ["trace", "debug", "info", "warning", "error", "fatal", "fatal"] {
        assert_eq!(d.cmd("log.filter\t+"), [format!("log.filter\t{lvl}")]);
    }
    for lvl in ["none", "trace", "debug", "info", "warning", "error", "fatal"] {
        assert_eq!(d.cmd(&format!("log.filter\t{lvl}")), [format!("log.filter\t{lvl}")]);
    }
    assert_eq!(d.cmd("log.filter\tinfo\textra"), ["log.filter\tinfo"]);
    assert_eq!(d.cmd("log.filter"), ["log.filter\tinfo"]);
}

#[test]
fn log_dest_warning_and_errors() {
    let mut d = daemon();
    // TAB form, unlike the service.fds warning.
    assert_eq!(d.cmd("log.dest\tfd\tnosuch"), ["warning\tfd \"nosuch\" does not exist"]);
    assert_silent(&mut d, "log.dest\tfd\tstderr\textra");
    assert_silent(&mut d, "log.dest\tfd\tnull");
    assert_silent(&mut d, "log.dest\tfd\tstderr");
    for (line, msg) in [
        ("log.dest", "missing argument"),
        ("log.dest\tfile\tx", "Unknown logging type"),
        ("log.dest\tFD\tstderr", "Unknown logging type"),
        ("log.dest\tfd", "Expected file descriptor name"),
        ("log.dest\tfd\t", "Expected file descriptor name"),
        ("log.dest\tfd\tbad!", "Invalid file descriptor name"),
    ] {
        assert_err(&mut d, line, msg);
    }
}

#[test]
fn conn_event_timeout_errors() {
    let mut d = daemon();
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
        assert_err(&mut d, line, msg);
    }
    assert_silent(&mut d, "conn.event_timeout\t15\t30\textra");
    assert_silent(&mut d, "conn.event_timeout\t3\t3");
    assert_silent(&mut d, "conn.event_timeout\t2147483647\t2147483647");
    assert_eq!(d.cmd("echo\tstill-open"), ["still-open"]);
}

#[test]
fn signal_clear_counts_and_errors() {
    let mut d = daemon();
    let usr2 = |n: u32| move |l: &str| l.starts_with("signal\tSIGUSR2\t") && l.ends_with(&format!("\t{n}"));
    kill(d.pid(), libc::SIGUSR2);
    d.out.wait_for("USR2 1", usr2(1));
    kill(d.pid(), libc::SIGUSR2);
    let ev = d.out.wait_for("USR2 2", usr2(2));
    let ts = fields(&ev)[2].to_owned();
    let sigs =
        |d: &mut Daemon| -> Vec<String> { statedump(d).into_iter().filter(|l| l.starts_with("signal\t")).collect() };
    assert_eq!(sigs(&mut d), [format!("signal\tSIGUSR2\t{ts}\t2")]);
    assert_silent(&mut d, "signal.clear\tSIGUSR2\t1");
    assert_eq!(sigs(&mut d), [format!("signal\tSIGUSR2\t{ts}\t1")]);
    // Negative counts never increase the count (improvement, §5.7; either
    // refused with `Expected integer` or treated as 0).
    let r = d.cmd("signal.clear\tUSR2\t-1");
    assert!(r.is_empty() || r == [err("Expected integer", "signal.clear\tUSR2\t-1")], "{r:?}");
    assert_eq!(sigs(&mut d), [format!("signal\tSIGUSR2\t{ts}\t1")]);
    // Floored at 0; by number.
    assert_silent(&mut d, "signal.clear\t12\t5");
    assert_eq!(sigs(&mut d), Vec::<String>::new());
    // Unrecorded signals are ignored silently.
    assert_silent(&mut d, "signal.clear\tKILL\t1");
    assert_silent(&mut d, "signal.clear\tHUP\t1\textra");
    for (line, msg) in [
        ("signal.clear", "Expected signal argument"),
        ("signal.clear\t", "Expected signal argument"),
        ("signal.clear\tHUP", "Expected integer"),
        ("signal.clear\tHUP\tx", "Expected integer"),
        ("signal.clear\t99999\t1", "Invalid signal number"),
        ("signal.clear\t1x\t1", "Invalid signal number"),
        ("signal.clear\tSIGFOO\t1", "Invalid signal argument"),
    ] {
        assert_err(&mut d, line, msg);
    }
}

#[test]
fn terminate_exit_status_is_taken_mod_256() {
    for (code, status) in [("300", 44), ("-1", 255), ("7\textra", 7), ("0", 0), ("256", 0)] {
        let mut d = daemon();
        d.send("echo\tbefore");
        d.send(&format!("terminate\t{code}"));
        assert_eq!(d.out.next(), "before");
        assert_eq!(d.out.rest_until_eof(), Vec::<String>::new());
        assert_eq!(d.wait(), Some(status), "terminate {code:?}");
        let log = d.log.rest_until_eof();
        assert_eq!(log, ["info: daemonproxy exiting"], "terminate {code:?}");
    }
}

#[test]
fn terminate_errors_and_guard_rules() {
    let mut d = daemon();
    assert_err(&mut d, "terminate", "Expected integer");
    assert_err(&mut d, "terminate\t", "Expected integer");
    assert_err(&mut d, "terminate\tx", "Expected integer");
    assert_err(&mut d, "terminate\t1.5", "Expected integer");
    assert_silent(&mut d, "terminate.guard\t+\t5\textra");
    assert_err(&mut d, "terminate\t0", "terminate guard code required");
    assert_err(&mut d, "terminate\t0\tx", "terminate guard code required");
    assert_err(&mut d, "terminate\t0\t4", "incorrect terminate guard code");
    assert_err(&mut d, "terminate\t0\t5", "cannot exit, and exec-on-exit is not configured");
    assert_err(&mut d, "terminate.guard\t+\t6", "terminate guard code is already set");
    assert_err(&mut d, "terminate.guard\t-\t4", "incorrect guard code");
    assert_silent(&mut d, "terminate.guard\t-\t5");
    assert_err(&mut d, "terminate.guard\t-\t5", "terminate guard was not set");
    // Negative codes are fine.
    assert_silent(&mut d, "terminate.guard\t+\t-3");
    assert_err(&mut d, "terminate\t1\t3", "incorrect terminate guard code");
    assert_err(&mut d, "terminate\t1\t-3", "cannot exit, and exec-on-exit is not configured");
    assert_silent(&mut d, "terminate.guard\t-\t-3");
    d.send("terminate\t9");
    assert_eq!(d.wait(), Some(9));
}

#[test]
fn terminate_guard_argument_errors() {
    let mut d = daemon();
    for (line, msg) in [
        ("terminate.guard", "expected + or -"),
        ("terminate.guard\t", "expected + or -"),
        ("terminate.guard\tx\t1", "expected + or -"),
        ("terminate.guard\t++\t1", "expected + or -"),
        ("terminate.guard\t+", "Expected integer"),
        ("terminate.guard\t+\tx", "Expected integer"),
        ("terminate.guard\t-", "Expected integer"),
        ("terminate.guard\t+\t0", "code cannot be 0"),
        ("terminate.guard\t-\t5", "terminate guard was not set"),
    ] {
        assert_err(&mut d, line, msg);
    }
    // No guard was set by any of them.
    d.send("terminate\t4");
    assert_eq!(d.wait(), Some(4));
}

/// A `terminate.exec_args` / `-E` value that runs `sh` to record the two
/// exec-on-exit variables in `file`.
pub(crate) fn recorder_args(file: &Path) -> String {
    format!("sh\t-c\techo \"$DAEMONPROXY_EXITCODE:$DAEMONPROXY_ERROR\" > {}", file.display())
}

#[test]
fn terminate_with_guard_execs_exec_on_exit() {
    let dir = tempdir();
    let file = dir.path().join("exec.out");
    let mut d = daemon();
    assert_silent(&mut d, &format!("terminate.exec_args\t{}", recorder_args(&file)));
    assert_silent(&mut d, "terminate.guard\t+\t5");
    d.send("terminate\t3\t5");
    // The exec'd program replaces daemonproxy (same pid) and exits 0.
    assert_eq!(d.wait(), Some(0));
    assert_eq!(wait_content(&file, "3:terminated normally"), "3:terminated normally\n");
    let log = d.log.rest_until_eof();
    assert!(log.contains(&"warning: daemonproxy exec_on_exit to 'sh'".to_owned()), "{log:?}");
}

#[test]
fn terminate_exec_args_length_limit() {
    let dir = tempdir();
    let file = dir.path().join("exec.out");
    let mut d = daemon();
    // A 255-byte remainder is accepted ...
    let base = recorder_args(&file) + " #";
    assert!(base.len() < 255);
    let ok = format!("{base}{}", "x".repeat(255 - base.len()));
    assert_eq!(ok.len(), 255);
    assert_silent(&mut d, &format!("terminate.exec_args\t{ok}"));
    // ... 256 bytes are not, and leave the setting unchanged.
    let long = format!("sh\t-c\techo wrong > {} #{}", file.display(), "y".repeat(300));
    let long = &long[..256];
    assert_err(&mut d, &format!("terminate.exec_args\t{long}"), "exec arguments exceed buffer size (255)");
    d.send("terminate\t0");
    assert_eq!(d.wait(), Some(0));
    wait_content(&file, "0:terminated normally");
}

#[test]
fn terminate_exec_args_empty_disables() {
    let dir = tempdir();
    let file = dir.path().join("exec.out");
    let mut d = daemon();
    assert_silent(&mut d, &format!("terminate.exec_args\t{}", recorder_args(&file)));
    assert_silent(&mut d, "terminate.exec_args");
    d.send("terminate\t3");
    assert_eq!(d.wait(), Some(3));
    assert_eq!(d.log.rest_until_eof(), ["info: daemonproxy exiting"]);
    assert!(!file.exists());
}

// ---------------------------------------------------------------------
// §3 framing
// ---------------------------------------------------------------------

#[test]
fn unknown_commands() {
    let mut d = daemon();
    assert_eq!(d.cmd("bogus"), ["error\tUnknown command: bogus"]);
    assert_eq!(d.cmd("bogus\twith\targs"), ["error\tUnknown command: bogus"]);
    assert_eq!(d.cmd("Echo\tx"), ["error\tUnknown command: Echo"]);
    assert_eq!(d.cmd("service.start2\tx"), ["error\tUnknown command: service.start2"]);
    // Leading whitespace is not a comment; a leading TAB is an empty name.
    assert_eq!(d.cmd("  # x"), ["error\tUnknown command:   # x"]);
    assert_eq!(d.cmd("\tx"), ["error\tUnknown command: "]);
    assert_eq!(d.cmd(" echo\tx"), ["error\tUnknown command:  echo"]);
    // Any length.
    let long = "u".repeat(1000);
    assert_eq!(d.cmd(&long), [format!("error\tUnknown command: {long}")]);
    // Old-documentation commands do not exist (Appendix C).
    for c in ["service.opts", "shutdown", "failsafe", "exec_on_exit", "file", "pipe", "fd.give"] {
        assert_eq!(d.cmd(&format!("{c}\tx")), [format!("error\tUnknown command: {c}")]);
    }
    d.log.wait_for("unknown command log", |l| l == "error: controller[0] sent unknown command bogus");
}

#[test]
fn ignored_lines_produce_nothing() {
    let mut d = daemon();
    d.send_raw(b"#comment\n#\tservice.args\tx\ty\n\n   \n\t\t\n\r\n \t\r\0 \n\0\n");
    assert_eq!(d.sync(), Vec::<String>::new());
    // Not even a log line at the default filter.
    d.send("bogus-marker");
    assert_eq!(d.out.next(), "error\tUnknown command: bogus-marker");
    assert_eq!(d.log.next(), "error: controller[0] sent unknown command bogus-marker");
    // The comment did not create a service.
    assert!(!statedump(&mut d).iter().any(|l| l.starts_with("service.")));
}

#[test]
fn cr_is_data() {
    let mut d = daemon();
    d.send("echo\tA\r");
    assert_eq!(d.out.next(), "A\r");
    assert_eq!(d.cmd("echo\r"), ["error\tUnknown command: echo\r"]);
    assert_err(&mut d, "service.args\tfoo\r\tx", "Invalid service name");
    assert_eq!(d.cmd("service.args\tfoo\ta\r"), ["service.args\tfoo\ta\r"]);
    // CRLF input: the CR belongs to the last field.
    d.cmd("service.args\tbar\tsleep\t30");
    assert_err(&mut d, "service.start\tbar\r", "Invalid service name");
}

#[test]
fn line_too_long_is_reported_exactly_once() {
    let mut d = daemon();
    // 1023 bytes: still a command.
    let max = "x".repeat(1023);
    assert_eq!(d.cmd(&max), [format!("error\tUnknown command: {max}")]);
    // 1024 bytes and far more: one error each, nothing executed.
    assert_eq!(d.cmd(&"y".repeat(1024)), ["error\tline too long"]);
    assert_eq!(d.cmd(&format!("echo\t{}", "z".repeat(5000))), ["error\tline too long"]);
    assert_eq!(d.cmd(&format!("service.args\tfoo\t{}", "a".repeat(3000))), ["error\tline too long"]);
    // Long comments are silent.
    assert_eq!(d.cmd(&format!("#{}", "c".repeat(3000))), Vec::<String>::new());
    // Several in a row, sent in one write.
    let mut batch = Vec::new();
    for _ in 0..3 {
        batch.extend_from_slice(&vec![b'q'; 2500]);
        batch.push(b'\n');
    }
    batch.extend_from_slice(b"echo\tafter\n");
    d.send_raw(&batch);
    assert_eq!(d.out.until("after"), ["error\tline too long"; 3]);
    assert!(!statedump(&mut d).iter().any(|l| l.starts_with("service.")));
    d.log.wait_for("buffer size log", |l| l == "error: controller[0] command exceeds buffer size");
}

#[test]
fn error_line_truncation() {
    let mut d = daemon();
    // 29 bytes: complete, no dots.
    let l29 = format!("service.start\t{}", "n".repeat(15));
    assert_eq!(l29.len(), 29);
    assert_eq!(d.cmd(&l29), [format!("error\tNo such service, for command \"{l29}\"")]);
    // Exactly 30 bytes: complete *and* followed by `...`.
    let l30 = format!("service.start\t{}", "n".repeat(16));
    assert_eq!(d.cmd(&l30), [format!("error\tNo such service, for command \"{l30}...\"")]);
    // Longer: cut at 30 bytes, TABs included.
    let l31 = format!("service.start\t{}", "n".repeat(17));
    assert_eq!(d.cmd(&l31), [format!("error\tNo such service, for command \"{}...\"", &l31[..30])]);
    // The §3.10 example, verbatim.
    assert_eq!(
        d.cmd("service.args\tnnnnnnnnnnnnnnnn!"),
        ["error\tInvalid service name, for command \"service.args\tnnnnnnnnnnnnnnnn!...\""]
    );
    // Variable message text is cut at 63 bytes.
    let flag = "f".repeat(80);
    let line = format!("fd.open\tx\t{flag}\t/dev/null");
    let msg = format!("unknown flag \"{flag}\"");
    assert_eq!(d.cmd(&line), [format!("error\t{}, for command \"{}...\"", &msg[..63], &line[..30])]);
    // The log: 90 bytes of the line, then the message.
    let l90 = &line[..90];
    d.log.wait_for("failure log", |l| l == format!("error: controller[0] command failed: '{l90}'..."));
    assert_eq!(d.log.next(), format!("error:   with error: '{}'", &msg[..63]));
    // A short line is logged complete, without dots.
    d.send("fd.delete\tnosuch");
    d.log.wait_for("short failure log", |l| l == "error: controller[0] command failed: 'fd.delete\tnosuch'");
    assert_eq!(d.log.next(), "error:   with error: 'No such file descriptor'");
}
