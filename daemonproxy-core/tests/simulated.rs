//! The supervisor on virtual time with pretend processes: the state
//! machine of §9 without a single real child.

use daemonproxy_core::processes::{Simulated, WaitStatus};
use daemonproxy_core::proto::Signal;
use daemonproxy_core::{Options, Supervisor, SEC};

struct Sim {
    sup: Supervisor,
    procs: Simulated,
    me: usize,
    now: u64,
}

impl Sim {
    fn new() -> Sim {
        let procs = Simulated::new();
        let mut sup = Supervisor::simulated(&Options::default(), Box::new(procs.clone())).unwrap();
        let me = sup.attach();
        Sim { sup, procs, me, now: 1000 * SEC }
    }

    /// Sends lines, runs due starts, returns the events.
    fn run(&mut self, lines: &str) -> Vec<String> {
        self.sup.send(self.me, lines.as_bytes(), self.now);
        self.sup.start_due(self.now);
        self.events()
    }

    fn events(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        self.sup.take_events(self.me, &mut out);
        self.sup.check_invariants().unwrap();
        String::from_utf8(out).unwrap().lines().map(str::to_owned).collect()
    }

    fn advance(&mut self, secs: u64) -> Vec<String> {
        self.now += secs * SEC;
        self.sup.start_due(self.now);
        self.events()
    }

    fn exit(&mut self, pid: i32, status: WaitStatus) -> Vec<String> {
        assert!(self.procs.exit(pid));
        self.sup.handle_exit(pid, status, self.now);
        self.events()
    }
}

#[test]
fn start_up_down_on_virtual_time() {
    let mut s = Sim::new();
    let ev = s.run("service.args\tw\ttrue\nservice.start\tw\n");
    assert_eq!(
        ev,
        [
            "service.args\tw\ttrue",
            "service.state\tw\tstart\t1000\t-\t-\t-\t-\t-",
            "service.state\tw\tup\t1000\t1000\t-\t-\t0\t-"
        ]
    );
    s.now += 4 * SEC;
    let ev = s.exit(1000, WaitStatus::Signaled(15));
    assert_eq!(ev, ["service.state\tw\tdown\t1004\t1000\tsignal\tSIGTERM\t4\t0"]);
}

#[test]
fn auto_up_restart_is_throttled_by_the_interval() {
    let mut s = Sim::new();
    s.run("service.args\tw\ttrue\nservice.auto_up\tw\t5\talways\n");
    s.now += SEC;
    let ev = s.exit(1000, WaitStatus::Exited(1));
    assert_eq!(
        ev,
        ["service.state\tw\tdown\t1001\t1000\texit\t1\t1\t0", "service.state\tw\tstart\t1006\t-\t-\t-\t-\t-"]
    );
    assert!(s.advance(4).is_empty(), "not before the interval");
    assert_eq!(s.advance(1), ["service.state\tw\tup\t1006\t1001\t-\t-\t0\t-"]);
}

#[test]
fn signal_trigger_is_level_triggered_until_cleared() {
    let mut s = Sim::new();
    s.run("service.args\th\ttrue\nservice.auto_up\th\t1\tSIGHUP\n");
    s.sup.handle_signal(Signal::HUP, s.now);
    s.sup.start_due(s.now);
    let ev = s.events();
    assert!(ev.iter().any(|l| l.starts_with("service.state\th\tup\t")), "{ev:?}");
    s.now += 2 * SEC;
    let ev = s.exit(1000, WaitStatus::Exited(0));
    assert!(ev.iter().any(|l| l.starts_with("service.state\th\tstart\t")), "count still pending: {ev:?}");
    s.run("signal.clear\tSIGHUP\t1\n");
    s.advance(1);
    s.now += 2 * SEC;
    let ev = s.exit(1001, WaitStatus::Exited(0));
    assert_eq!(ev.len(), 1, "no restart once cleared: {ev:?}");
}

#[test]
fn fork_failure_retries_in_three_seconds() {
    let mut s = Sim::new();
    s.procs.with(|st| st.fail_fork = Some(libc::EAGAIN));
    let ev = s.run("service.args\tw\ttrue\nservice.start\tw\n");
    assert_eq!(ev.last().unwrap(), "service.state\tw\tstart\t1003\t-\t-\t-\t-\t-");
    s.procs.with(|st| st.fail_fork = None);
    assert!(s.advance(2).is_empty());
    assert_eq!(s.advance(1), ["service.state\tw\tup\t1003\t1000\t-\t-\t0\t-"]);
}

#[test]
fn deleted_service_never_spawns_and_signal_reaches_the_pid() {
    let mut s = Sim::new();
    s.run("service.args\tw\ttrue\nservice.start\tw\t1005\nservice.delete\tw\n");
    s.advance(10);
    assert_eq!(s.procs.with(|st| st.spawns), 0);
    s.run("service.args\tx\tsleep\t9\nservice.start\tx\n");
    let ev = s.run("service.signal\tx\tTERM\tgroup\n");
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(s.procs.with(|st| st.kills.clone()), [(1000, 15, true)]);
}
