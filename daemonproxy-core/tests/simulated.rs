//! The supervisor on virtual time with pretend processes: the state
//! machine of protocol.md §5 without a single real child.

use daemonproxy_core::proto::{ExitReason, Signal};
use daemonproxy_core::sim::Sim;

/// A sim with one in-process controller.
fn sim() -> (Sim, daemonproxy_core::ConnId) {
    let mut s = Sim::new();
    let me = s.attach();
    (s, me)
}

fn run(s: &mut Sim, me: daemonproxy_core::ConnId, lines: &str) -> Vec<String> {
    s.send(me, lines);
    s.advance_secs(0);
    s.supervisor().check_invariants().unwrap();
    s.events(me)
}

#[test]
fn start_up_down_on_virtual_time() {
    let (mut s, me) = sim();
    let ev = run(&mut s, me, "service.args\tw\ttrue\nservice.start\tw\n");
    assert_eq!(
        ev,
        [
            "service.args\tw\ttrue",
            "service.state\tw\tstart\t1000\t-\t-\t-\t-\t-",
            "service.state\tw\tup\t1000\t1000\t-\t-\t0\t-"
        ]
    );
    s.advance_secs(4);
    s.exit(1000, ExitReason::Signal(Signal::TERM));
    assert_eq!(s.events(me), ["service.state\tw\tdown\t1004\t1000\tsignal\tSIGTERM\t4\t0"]);
}

#[test]
fn auto_up_restart_is_throttled_by_the_interval() {
    let (mut s, me) = sim();
    run(&mut s, me, "service.args\tw\ttrue\nservice.auto_up\tw\t5\talways\n");
    s.advance_secs(1);
    s.exit(1000, ExitReason::Exit(1));
    assert_eq!(
        s.events(me),
        ["service.state\tw\tdown\t1001\t1000\texit\t1\t1\t0", "service.state\tw\tstart\t1006\t-\t-\t-\t-\t-"]
    );
    s.advance_secs(4);
    assert!(s.events(me).is_empty(), "not before the interval");
    s.advance_secs(1);
    assert_eq!(s.events(me), ["service.state\tw\tup\t1006\t1001\t-\t-\t0\t-"]);
}

#[test]
fn signal_trigger_is_level_triggered_until_cleared() {
    let (mut s, me) = sim();
    run(&mut s, me, "service.args\th\ttrue\nservice.auto_up\th\t1\tSIGHUP\n");
    s.signal(Signal::HUP);
    let ev = s.events(me);
    assert!(ev.iter().any(|l| l.starts_with("service.state\th\tup\t")), "{ev:?}");
    s.advance_secs(2);
    s.exit(1000, ExitReason::Exit(0));
    let ev = s.events(me);
    assert!(ev.iter().any(|l| l.starts_with("service.state\th\tstart\t")), "count still pending: {ev:?}");
    run(&mut s, me, "signal.clear\tSIGHUP\t1\n");
    s.advance_secs(1);
    s.advance_secs(2);
    s.events(me);
    s.exit(1001, ExitReason::Exit(0));
    let ev = s.events(me);
    assert_eq!(ev.len(), 1, "no restart once cleared: {ev:?}");
}

#[test]
fn fork_failure_retries_in_three_seconds() {
    let (mut s, me) = sim();
    s.fail_fork(Some(libc::EAGAIN));
    let ev = run(&mut s, me, "service.args\tw\ttrue\nservice.start\tw\n");
    assert_eq!(ev.last().unwrap(), "service.state\tw\tstart\t1003\t-\t-\t-\t-\t-");
    s.fail_fork(None);
    s.advance_secs(2);
    assert!(s.events(me).is_empty());
    s.advance_secs(1);
    assert_eq!(s.events(me), ["service.state\tw\tup\t1003\t1000\t-\t-\t0\t-"]);
}

#[test]
fn deleted_service_never_spawns_and_signal_reaches_the_pid() {
    let (mut s, me) = sim();
    run(&mut s, me, "service.args\tw\ttrue\nservice.start\tw\t1005\nservice.delete\tw\n");
    s.advance_secs(10);
    assert!(s.processes().is_empty());
    run(&mut s, me, "service.args\tx\tsleep\t9\nservice.start\tx\n");
    let ev = run(&mut s, me, "service.signal\tx\tTERM\tgroup\n");
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(s.kills(), [(1000, Signal::TERM, true)]);
}
