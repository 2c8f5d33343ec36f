//! Admitting control-socket clients on virtual time: the connection limit
//! and descriptor exhaustion, each spell of refusals logged once.

use daemonproxy_core::sim::Sim;
use daemonproxy_core::supervisor::Errno;
use daemonproxy_core::{ConnKind, Options};

const LIMIT_LINE: &str =
    "warning: control socket: connection limit reached (2, --max-connections): refusing new clients";

#[test]
fn clients_beyond_the_limit_are_refused_and_logged_once_per_spell() {
    let mut s = Sim::with_options(Options::new().max_connections(2));
    s.log();
    let a = s.accept().expect("first client");
    let b = s.accept().expect("second client");
    for _ in 0..3 {
        assert_eq!(s.accept(), None);
    }
    assert_eq!(s.log(), [LIMIT_LINE]);
    // The admitted ones are served as ever.
    s.send(a, "echo\tstill\n");
    assert_eq!(s.events(a), ["still"]);
    // One leaves: the next client is admitted, and the spell's end logged.
    s.end_input(b);
    assert_eq!(s.supervisor().connection_kind(b), None);
    let c = s.accept().expect("a client once one left");
    assert_eq!(s.log(), ["info: control socket: accepting connections again (3 refused)"]);
    s.send(c, "echo\tnew\n");
    assert_eq!(s.events(c), ["new"]);
    // Full again: a new spell, logged again.
    assert_eq!(s.accept(), None);
    assert_eq!(s.log(), [LIMIT_LINE]);
}

#[test]
fn only_control_socket_clients_count() {
    let mut s = Sim::with_options(Options::new().max_connections(1));
    for _ in 0..3 {
        s.attach();
        s.connect(ConnKind::Service);
    }
    assert!(s.accept().is_some());
    assert_eq!(s.accept(), None);
    assert_eq!(Sim::with_options(Options::new().max_connections(0)).accept(), None);
    let mut s = Sim::new();
    for _ in 0..Options::DEFAULT_MAX_CONNECTIONS {
        assert!(s.accept().is_some());
    }
    assert_eq!(s.accept(), None, "the default limit");
}

#[test]
fn running_out_of_descriptors_is_logged_once_per_spell() {
    let mut s = Sim::with_options(Options::new().max_connections(1));
    s.log();
    for refused in [true, true, false, true] {
        s.supervisor_mut().handle_accept_failed(Errno(libc::EMFILE), refused);
        s.settle();
    }
    assert_eq!(
        s.log(),
        ["error: control socket: accept: Too many open files: refusing new clients until descriptors are freed"]
    );
    // Another reason within the spell is logged; the count goes on.
    s.supervisor_mut().handle_accept_failed(Errno(libc::ENFILE), true);
    s.settle();
    assert_eq!(
        s.log(),
        ["error: control socket: accept: Too many open files in system: refusing new clients until descriptors \
          are freed"]
    );
    assert!(s.accept().is_some());
    assert_eq!(s.log(), ["info: control socket: accepting connections again (4 refused)"]);
    assert_eq!(s.accept(), None);
    assert_eq!(
        s.log(),
        ["warning: control socket: connection limit reached (1, --max-connections): refusing new clients"]
    );
}
