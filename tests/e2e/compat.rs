//! Differences from daemonproxy 1.1 found side by side (issue 10), each
//! now reproducing the original: one regression test per item, through
//! the real binary.

use crate::harness::*;
use std::path::Path;

/// The `error` event of a failed command line.
fn err(msg: &str, line: &str) -> String {
    let shown = if line.len() >= 30 { format!("{}...", &line[..30]) } else { line.to_owned() };
    format!("error\t{msg}, for command \"{shown}\"")
}

/// Waits until `path` exists with a complete last line; returns its text.
fn wait_written(path: &Path) -> String {
    poll_until(&format!("{} to be written", path.display()), || {
        std::fs::read_to_string(path).ok().filter(|s| s.ends_with('\n'))
    })
}

/// Exec-on-exit runs a program that lists its descriptors into `out`.
fn fd_lister(out: &Path) -> String {
    format!(
        "sh\t-c\tfor f in /proc/$$/fd/*; do echo \"${{f##*/}} $(readlink $f)\"; done > {}; echo \"code $DAEMONPROXY_EXITCODE\" >> {}",
        out.display(),
        out.display()
    )
}

#[test]
fn exec_on_exit_inherits_the_named_handles_and_the_control_socket() {
    let dir = tempdir();
    let plain = write_file(dir.path(), "plain.txt", "x\n");
    let sock = dir.path().join("ctl.sock");
    let out = dir.path().join("fds.out");
    let mut d = Daemon::interactive_clean(&[]);
    let opened = d.cmd(&format!("fd.open\tf1\tread\t{}", plain.display()));
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(d.cmd("fd.pipe\tpr\tpw").len(), 2);
    let created = d.cmd(&format!("socket.create\t-\t{}", sock.display()));
    assert!(created.is_empty(), "{created:?}");
    assert!(d.cmd(&format!("terminate.exec_args\t{}", fd_lister(&out))).is_empty());
    d.send("terminate\t0");
    assert_eq!(d.wait(), Some(0));
    let text = wait_written(&out);
    let targets: Vec<&str> = text.lines().filter_map(|l| l.split_once(' ').map(|(_, t)| t)).collect();
    assert!(targets.contains(&plain.to_str().unwrap()), "the opened file: {text}");
    // Both ends of the handles' pipe (the shell has pipes of its own).
    let pipes: Vec<&&str> = targets.iter().filter(|t| t.starts_with("pipe:")).collect();
    assert!(pipes.iter().any(|p| pipes.iter().filter(|q| q == &p).count() == 2), "both pipe ends: {text}");
    // fds 0..2 are the test's pipes; the control socket is the one socket.
    assert_eq!(targets.iter().filter(|t| t.starts_with("socket:")).count(), 1, "the control socket: {text}");
    assert!(text.ends_with("code 0\n"), "{text}");
}

#[test]
fn exec_on_exit_gets_the_exit_code_unreduced() {
    for (code, status) in [("300", 44), ("-1", 255)] {
        let dir = tempdir();
        let out = dir.path().join("code.out");
        let mut d = Daemon::interactive_clean(&[]);
        let recorder = format!("sh\t-c\techo \"$DAEMONPROXY_EXITCODE:$DAEMONPROXY_ERROR\" > {}", out.display());
        assert!(d.cmd(&format!("terminate.exec_args\t{recorder}")).is_empty());
        d.send(&format!("terminate\t{code}"));
        // The exec'd shell exits 0; the code it saw is what matters.
        assert_eq!(d.wait(), Some(0));
        assert_eq!(wait_written(&out), format!("{code}:terminated normally\n"));
        // Without exec-on-exit the process exits with the low 8 bits.
        let mut d = Daemon::interactive_clean(&[]);
        d.send(&format!("terminate\t{code}"));
        assert_eq!(d.wait(), Some(status), "terminate {code}");
    }
}

#[test]
fn a_failed_exec_is_logged_by_the_child_to_its_own_descriptor_2() {
    let dir = tempdir();
    let errlog = dir.path().join("service.err");
    let mut d = Daemon::interactive_clean(&[]);
    d.cmd(&format!("fd.open\terrlog\twrite,create\t{}", errlog.display()));
    d.cmd("service.args\tx\t/no/such/prog\targ");
    d.cmd("service.fds\tx\tnull\tnull\terrlog");
    d.send("service.start\tx");
    let down = d.wait_state("x", "down");
    assert_eq!(&fields(&down)[5..7], ["exit", "3"], "{down}");
    assert_eq!(wait_written(&errlog), "error: exec(/no/such/prog, ...) failed: No such file or directory\n");
    // The daemon's own log does not carry it (the broadcast event does).
    d.cmd("marker-after-exec");
    let log = d.log.wait_for("marker", |l| l.ends_with("sent unknown command marker-after-exec"));
    let seen = d.log.seen.lock().unwrap().clone();
    assert!(!seen.iter().any(|l| l.contains("exec(/no/such/prog")), "{seen:?} {log}");
}

#[test]
fn integers_beyond_64_bits_wrap_as_in_the_original() {
    let mut d = Daemon::interactive_clean(&[]);
    let line = "service.auto_up\ts1\t99999999999999999999";
    assert_eq!(d.cmd(line), [err("invalid interval", line)]);
    assert!(d.cmd("conn.event_timeout\t1\t18446744073709551617").is_empty());
    assert!(d.cmd("terminate.guard\t+\t18446744073709551623").is_empty());
    // The guard is 7 (wrapped): clearing it with 7 works.
    assert!(d.cmd("terminate.guard\t-\t7").is_empty());
}

#[test]
fn unknown_command_bytes_are_logged_as_they_came() {
    let mut d = Daemon::interactive_clean(&[]);
    d.send_raw(b"\xff\xfe\tx\n");
    d.sync();
    loop {
        let line = d.log.next_bytes().expect("log line");
        if line.windows(21).any(|w| w == b"sent unknown command ") {
            assert_eq!(line, b"error: controller[0] sent unknown command \xff\xfe");
            break;
        }
    }
}

#[test]
fn service_fds_warns_for_undefined_handles_before_a_bad_name() {
    let mut d = Daemon::interactive_clean(&[]);
    let line = "service.fds\ts\tnofd\tbad!name\tlater";
    assert_eq!(d.cmd(line), ["warning: fd \"nofd\" is not yet defined".to_string(), err("invalid fd name", line)]);
}

#[test]
fn a_failed_exec_on_exit_ends_right_after_the_fatal_line() {
    let mut d = Daemon::interactive_clean(&[]);
    assert!(d.cmd("terminate.exec_args\t/no/such/exit/prog").is_empty());
    d.send("terminate\t3");
    assert_eq!(d.wait(), Some(3));
    assert_eq!(
        d.log.rest_until_eof(),
        [
            "warning: daemonproxy exec_on_exit to '/no/such/exit/prog'",
            "error: Unable to exec \"/no/such/exit/prog\": No such file or directory",
            "fatal: terminated normally",
        ]
    );
}

#[test]
fn a_control_socket_service_that_resets_its_connection_is_logged() {
    let mut d = Daemon::interactive_clean(&[]);
    // The service never reads: its own `up` event is still unread in its
    // socket when it exits, so the daemon's end is reset.
    d.cmd("service.args\tr\tsh\t-c\tsleep 0.2");
    d.cmd("service.fds\tr\tcontrol.socket\tnull\tnull");
    d.send("service.start\tr");
    d.wait_state("r", "down");
    d.log
        .wait_for("the reset", |l| l.starts_with("error: read(client[") && l.ends_with(")): Connection reset by peer"));
}
