//! Readiness, socket activation, resource usage and orphans (issue 12):
//! the settings, what a start is given, the events they produce, and that
//! a controller that uses none of it sees nothing new.

use crate::support::*;
use daemonproxy_core::proto::{ExitReason, NotifyMode};
use daemonproxy_core::supervisor::Usage;
use std::time::Duration;

#[test]
fn notify_and_listen_fds_settings_are_echoed_and_dumped() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tw\tserver");
    assert_eq!(cmd(&mut s, me, "service.notify\tw\tfd\t4"), ["service.notify\tw\tfd\t4"]);
    assert_eq!(cmd(&mut s, me, "service.notify\tw\tsocket"), ["service.notify\tw\tsocket"]);
    assert_eq!(cmd(&mut s, me, "service.listen_fds\tw\ton"), ["service.listen_fds\tw\ton"]);
    let dump = dumped(&mut s, me, "service.");
    let w: Vec<&String> = dump.iter().filter(|l| l.split('\t').nth(1) == Some("w")).collect();
    assert_eq!(w[5..], ["service.notify\tw\tsocket", "service.listen_fds\tw\ton"]);
    assert_eq!(cmd(&mut s, me, "service.notify\tw"), ["service.notify\tw\t"]);
    assert_eq!(cmd(&mut s, me, "service.listen_fds\tw\toff"), ["service.listen_fds\tw\toff"]);
    let dump = dumped(&mut s, me, "service.");
    assert_eq!(dump.iter().filter(|l| l.split('\t').nth(1) == Some("w")).count(), 5, "off again: {dump:?}");
}

#[test]
fn a_notify_fd_inside_the_descriptor_list_is_refused_or_skipped() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tw\tserver");
    cmd(&mut s, me, "service.fds\tw\tnull\tnull\tnull\tnull");
    assert_err(&mut s, me, "service.notify\tw\tfd\t3", "notify fd is inside the service's descriptor list");
    cmd(&mut s, me, "service.fds\tw\tnull\tnull\tnull");
    assert_eq!(cmd(&mut s, me, "service.notify\tw\tfd\t3"), ["service.notify\tw\tfd\t3"]);
    // The list grows past it afterwards: the start goes on without it.
    cmd(&mut s, me, "service.fds\tw\tnull\tnull\tnull\tnull");
    let ev = cmd(&mut s, me, "service.start\tw");
    assert!(
        ev.contains(&"error\tservice w: notify fd 3 is inside its descriptor list, not used".to_string()),
        "{ev:?}"
    );
    let pid = s.pid_of("w").unwrap();
    assert_eq!(s.processes()[&pid].notify, None);
}

#[test]
fn fd_mode_readiness_is_broadcast_and_dumped_until_the_next_start() {
    let (mut s, me) = world();
    let other = s.attach();
    cmd(&mut s, me, "service.args\tw\tserver");
    cmd(&mut s, me, "service.notify\tw\tfd\t3");
    let pid = start_up(&mut s, me, "w", "server");
    assert_eq!(s.processes()[&pid].notify, Some(NotifyMode::Fd(3)));
    s.advance(Duration::from_millis(300));
    let now = s.now();
    s.supervisor_mut().handle_ready(pid, now);
    s.settle();
    assert_eq!(s.events(me), [format!("service.ready\tw\t{}\t{pid}", now.secs())]);
    assert!(s.events(other).last().unwrap().starts_with("service.ready\tw\t"), "broadcast");
    assert!(dumped(&mut s, me, "service.ready").len() == 1);
    s.exit(pid, ExitReason::Exit(0));
    assert!(dumped(&mut s, me, "service.ready").is_empty(), "not ready once down");
    // A report for a process that is not the service's counts for nothing.
    s.supervisor_mut().handle_ready(pid, now);
    s.settle();
    assert!(!s.events(me).iter().any(|l| l.starts_with("service.ready")));
}

#[test]
fn socket_mode_messages_count_only_from_the_service_that_asked() {
    let (mut s, me) = world();
    cmd(&mut s, me, "service.args\tw\tserver");
    cmd(&mut s, me, "service.args\tplain\tserver");
    cmd(&mut s, me, "service.notify\tw\tsocket");
    let pid = start_up(&mut s, me, "w", "server");
    let plain = start_up(&mut s, me, "plain", "server");
    assert_eq!(s.processes()[&pid].notify, Some(NotifyMode::Socket));
    let now = s.now();
    // A helper process in the service's session sends for it.
    s.supervisor_mut().handle_notify_message(pid + 50, [pid, pid], b"STATUS=warming up\nX=a\tb\n", now);
    s.settle();
    let msg = format!("service.notify\tw\t{}\t{}\tSTATUS=warming up\tX=a b", now.secs(), pid + 50);
    assert_eq!(s.events(me), [msg]);
    s.supervisor_mut().handle_notify_message(pid, [pid, pid], b"READY=1\nSTATUS=serving", now);
    s.settle();
    let ev = s.events(me);
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert!(ev[0].ends_with("\tREADY=1\tSTATUS=serving"), "{ev:?}");
    assert_eq!(ev[1], format!("service.ready\tw\t{}\t{pid}", now.secs()));
    // Forged (a session that is no service's) or from a service that did
    // not ask: dropped, with a debug line.
    s.supervisor_mut().handle_notify_message(4242, [4242, 4242], b"READY=1", now);
    s.supervisor_mut().handle_notify_message(plain, [plain, plain], b"READY=1", now);
    s.settle();
    assert_eq!(s.events(me), Vec::<String>::new());
}

#[test]
fn listen_fds_gives_the_count_names_and_pid_of_the_descriptors_from_3() {
    let (mut s, me) = world();
    cmd(&mut s, me, "fd.socket\tweb\tinet,listen\t127.0.0.1:0");
    cmd(&mut s, me, "service.args\tw\tserver");
    cmd(&mut s, me, "service.env\tw\tA=1");
    cmd(&mut s, me, "service.fds\tw\tnull\tnull\tnull\tweb\t-");
    cmd(&mut s, me, "service.listen_fds\tw\ton");
    let pid = start_up(&mut s, me, "w", "server");
    let p = &s.processes()[&pid];
    assert_eq!(p.env, b"A=1\tLISTEN_FDS=2\tLISTEN_FDNAMES=web:unknown");
    assert!(p.listen_pid);
    // Nothing beyond descriptor 2: nothing to pass.
    cmd(&mut s, me, "service.fds\tw\tnull\tnull\tnull");
    s.exit(pid, ExitReason::Exit(0));
    s.events(me);
    let pid = start_up(&mut s, me, "w", "server");
    assert!(!s.processes()[&pid].listen_pid && s.processes()[&pid].env == b"A=1");
}

#[test]
fn extended_connections_get_resource_usage_and_orphan_exits() {
    let (mut s, me) = world();
    let plain = s.attach();
    assert_silent(&mut s, me, "conn.extended\ton");
    let pid = start_up(&mut s, me, "w", "server");
    s.events(plain);
    s.advance_secs(2);
    let usage = Usage { user: Duration::from_millis(200), system: Duration::from_micros(1500), max_rss_kb: 51200 };
    s.exit_with_usage(pid, ExitReason::Exit(0), usage);
    let at = s.now().secs();
    let ev = s.events(me);
    assert_eq!(ev[1], format!("service.rusage\tw\t{at}\t200000\t1500\t51200"), "{ev:?}");
    let now = s.now();
    s.supervisor_mut().handle_exit(777, ExitReason::Signal(daemonproxy_core::proto::Signal::KILL), None, now);
    s.settle();
    assert_eq!(s.events(me), [format!("orphan.exit\t777\t{at}\tsignal\tSIGKILL")]);
    // A connection that never asked sees the original's stream only.
    let seen = s.events(plain);
    assert!(seen.iter().all(|l| l.starts_with("service.state")), "{seen:?}");
    assert_silent(&mut s, me, "conn.extended\toff");
    s.supervisor_mut().handle_exit(778, ExitReason::Exit(1), None, now);
    s.settle();
    assert_eq!(s.events(me), Vec::<String>::new());
}
