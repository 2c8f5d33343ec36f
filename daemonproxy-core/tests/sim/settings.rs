//! Per-service process settings (issue 11): the commands, their events,
//! statedump lines, pool budgets, what a start is given, and how a failing
//! step of a start is reported.

use crate::support::*;
use daemonproxy_core::proto::Resource;
use daemonproxy_core::supervisor::ChildStep;
use daemonproxy_core::Options;

#[test]
fn each_setting_is_echoed_as_stored_and_cleared_without_fields() {
    let (mut s, me) = world();
    for (line, echo) in [
        ("service.env\tw\tA=1\t-B\tC=", "service.env\tw\tA=1\t-B\tC="),
        ("service.cwd\tw\t/srv/w", "service.cwd\tw\t/srv/w"),
        ("service.user\tw\t1000\t100\t10\t20", "service.user\tw\t1000\t100\t10\t20"),
        ("service.rlimit\tw\tnofile=64:128\tcore=0:unlimited", "service.rlimit\tw\tnofile=64:128\tcore=0:unlimited"),
        ("service.umask\tw\t27", "service.umask\tw\t027"),
    ] {
        assert_eq!(cmd(&mut s, me, line), [echo], "{line}");
    }
    for clear in ["service.env\tw", "service.cwd\tw", "service.user\tw", "service.rlimit\tw", "service.umask\tw"] {
        assert_eq!(cmd(&mut s, me, clear), [format!("{clear}\t")], "{clear}");
    }
}

#[test]
fn settings_are_broadcast_like_service_args() {
    let (mut s, me) = world();
    let other = s.attach();
    cmd(&mut s, me, "service.cwd\tw\t/tmp");
    assert_eq!(s.events(other), ["service.cwd\tw\t/tmp"]);
}

#[test]
fn the_commands_create_their_service() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.umask\tfresh\t022");
    assert_eq!(
        cmd(&mut s, me, "service.start\tfresh"),
        [err("no args configured for service", "service.start\tfresh")]
    );
}

#[test]
fn statedump_lists_the_settings_that_are_set_after_the_original_lines() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tplain\ttrue");
    cmd(&mut s, me, "service.args\tw\ttrue");
    cmd(&mut s, me, "service.umask\tw\t077");
    cmd(&mut s, me, "service.env\tw\tX=1");
    let dump = cmd(&mut s, me, "statedump");
    let plain: Vec<&String> = dump.iter().filter(|l| l.split('\t').nth(1) == Some("plain")).collect();
    assert_eq!(plain.len(), 5, "a service without settings dumps the original's five lines: {plain:?}");
    let w: Vec<&str> = dump.iter().filter(|l| l.split('\t').nth(1) == Some("w")).map(String::as_str).collect();
    assert_eq!(
        w,
        [
            "service.state\tw\tdown\t-\t-\t-\t-\t-\t-",
            "service.tags\tw\t",
            "service.args\tw\ttrue",
            "service.fds\tw\tnull\tnull\tnull",
            "service.auto_up\tw\t-",
            "service.env\tw\tX=1",
            "service.umask\tw\t077",
        ]
    );
}

#[test]
fn bad_arguments_change_nothing() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.env\tw\tKEEP=1");
    cmd(&mut s, me, "service.rlimit\tw\tnofile=1:2");
    for (line, msg) in [
        ("service.env\tw\tFOO", "invalid env entry \"FOO\""),
        ("service.env\tw\tA=1\t=2", "invalid env entry \"=2\""),
        ("service.user\tw\tx\t1", "invalid uid \"x\""),
        ("service.user\tw\t1\ty", "invalid gid \"y\""),
        ("service.user\tw\t1", "missing gid argument"),
        ("service.rlimit\tw\tfoo=1:2", "unknown rlimit resource \"foo\""),
        ("service.rlimit\tw\tnofile=3:2", "rlimit soft above hard for nofile"),
        ("service.umask\tw\t8", "invalid umask \"8\""),
    ] {
        assert_eq!(cmd(&mut s, me, line), [err(msg, line)], "{line}");
    }
    let dump = cmd(&mut s, me, "statedump");
    assert!(dump.contains(&"service.env\tw\tKEEP=1".to_string()), "{dump:?}");
    assert!(dump.contains(&"service.rlimit\tw\tnofile=1:2".to_string()), "{dump:?}");
    assert!(!dump.iter().any(|l| l.starts_with("service.user") || l.starts_with("service.umask")), "{dump:?}");
}

#[test]
fn a_start_is_given_the_settings_of_its_time() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tw\tserver");
    cmd(&mut s, me, "service.env\tw\tPORT=8080");
    cmd(&mut s, me, "service.cwd\tw\t/srv");
    cmd(&mut s, me, "service.user\tw\t65534\t65534");
    cmd(&mut s, me, "service.rlimit\tw\tnofile=64:64");
    cmd(&mut s, me, "service.umask\tw\t027");
    cmd(&mut s, me, "service.start\tw");
    let pid = s.pid_of("w").unwrap();
    let p = &s.processes()[&pid];
    assert_eq!(
        (&p.env[..], p.cwd.as_deref(), p.user, &p.rlimits[..], p.umask),
        (&b"PORT=8080"[..], Some(&b"/srv"[..]), Some((65534, 65534)), &b"nofile=64:64"[..], Some(0o27))
    );
    // Changing a setting while it runs does not touch the running process;
    // the next start gets the new value.
    cmd(&mut s, me, "service.cwd\tw");
    s.exit(pid, ExitReason::Exit(0));
    cmd(&mut s, me, "service.start\tw");
    let pid = s.pid_of("w").unwrap();
    assert_eq!(s.processes()[&pid].cwd, None);
}

#[test]
fn a_failing_step_is_reported_as_the_start_did_it() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tw\tserver");
    cmd(&mut s, me, "service.cwd\tw\t/srv/one");
    cmd(&mut s, me, "service.user\tw\t1000\t1001");
    for (step, errno, text) in [
        (ChildStep::Chdir, libc::ENOENT, "chdir \"/srv/one\" failed: No such file or directory"),
        (ChildStep::Rlimit(Resource::Nofile), libc::EPERM, "setrlimit nofile failed: Operation not permitted"),
        (ChildStep::Setgroups, libc::EPERM, "setgroups failed: Operation not permitted"),
        (ChildStep::Setgid, libc::EPERM, "setgid 1001 failed: Operation not permitted"),
        (ChildStep::Setuid, libc::EAGAIN, "setuid 1000 failed: Resource temporarily unavailable"),
        (ChildStep::Exec, libc::EACCES, "exec \"server\" failed: Permission denied"),
    ] {
        s.fail_child("server", step, errno);
        let ev = cmd(&mut s, me, "service.start\tw");
        let pid = s.pid_of("w").unwrap();
        assert_eq!(ev.last().unwrap(), &format!("error\tservice w: {text}"), "{step:?}: {ev:?}");
        // Settings changed after the start do not change the report.
        cmd(&mut s, me, "service.cwd\tw\t/srv/two");
        cmd(&mut s, me, "service.cwd\tw\t/srv/one");
        s.exit(pid, ExitReason::Exit(3));
        assert!(s.events(me).last().unwrap().contains("\tdown\t"));
    }
}

#[test]
fn pools_count_the_settings_against_the_service_object() {
    let (mut s, me) = world_with(Options::new().service_pool(4, 64));
    let line = format!("service.env\tw\tVAR={}", "x".repeat(60));
    assert_eq!(cmd(&mut s, me, &line), [err("unable to set environment", &line)]);
    let line = format!("service.cwd\tw\t/{}", "d".repeat(60));
    assert_eq!(cmd(&mut s, me, &line), [err("unable to set working directory", &line)]);
    assert_eq!(cmd(&mut s, me, "service.cwd\tw\t/srv"), ["service.cwd\tw\t/srv"]);
    // The umask is a fixed field: it costs nothing.
    assert_eq!(cmd(&mut s, me, "service.umask\tw\t077"), ["service.umask\tw\t077"]);
}
