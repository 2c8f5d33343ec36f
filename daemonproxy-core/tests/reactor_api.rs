//! The reactor's library API: outcomes of in-process commands, and one
//! reactor per process.
//!
//! Reactors are process-wide (signals, reaping), so the checks run in one
//! test, in order.

use daemonproxy_core::{ErrorKind, Options, Outcome, Reactor};
use std::time::Duration;

#[test]
fn terminate_through_send_and_one_reactor_at_a_time() {
    let mut first = Reactor::new(Options::new()).expect("first reactor");
    // A second reactor while the first lives is refused with a clear error.
    let err = Reactor::new(Options::new()).expect_err("second reactor");
    assert_eq!(err.kind(), ErrorKind::ReactorExists);
    assert!(err.to_string().contains("another Reactor exists"), "{err}");

    // A terminate sent by an in-process controller ends the run (it was
    // dropped by run_once before).
    let me = first.attach();
    let lines = b"echo\thi\nterminate\t300\necho\tnot run\n";
    assert_eq!(first.send(me, lines), lines.len());
    let outcome = first.run_once(Some(Duration::ZERO));
    assert_eq!(outcome, Some(Outcome::Exit { code: 300 }));
    assert_eq!(outcome.as_ref().map(Outcome::exit_status), Some(44));
    let mut events = Vec::new();
    first.take_events(me, &mut events);
    assert_eq!(events, b"hi\n", "nothing after terminate runs");
    // The outcome is returned once.
    assert_eq!(first.run_once(Some(Duration::ZERO)), None);

    // Once dropped, a new reactor can be made.
    drop(first);
    let mut again = Reactor::new(Options::new()).expect("a reactor after the first was dropped");
    let me = again.attach();
    again.send(me, b"echo\tagain\n");
    let mut events = Vec::new();
    again.take_events(me, &mut events);
    assert_eq!(events, b"again\n");
}
