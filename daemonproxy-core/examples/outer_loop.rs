//! Running the reactor inside your own event loop.
//!
//! A program that already has an event loop (here a plain mio `Poll` with
//! a periodic job of its own) does not hand control to [`Reactor::run`]:
//! it watches the reactor's descriptor ([`Reactor::as_raw_fd`]) among its
//! own, sleeps no longer than [`Reactor::timeout`], and calls
//! [`Reactor::run_once`] with a zero wait whenever it wakes. This one
//! starts `sleep 0.2` as a service through an in-process controller and
//! stops when the service's `down` event arrives.
//!
//! ```text
//! cargo run -p daemonproxy-core --example outer_loop
//! ```

use daemonproxy_core::proto::{Event, ServiceState};
use daemonproxy_core::{Options, Reactor};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const REACTOR: Token = Token(0);
/// The period of this program's own job.
const TICK: Duration = Duration::from_millis(50);

fn main() {
    match supervise_once(&mut io::stdout()) {
        Ok(ticks) => println!("done; our own job ran {ticks} times meanwhile"),
        Err(e) => {
            eprintln!("outer_loop: {e}");
            std::process::exit(1);
        }
    }
}

/// Runs one service to its end from an outer loop; returns how often this
/// program's own periodic job ran meanwhile. Writes the events to `out`.
pub fn supervise_once(out: &mut impl Write) -> Result<u32, String> {
    let mut reactor = Reactor::new(Options::new()).map_err(|e| e.to_string())?;
    let me = reactor.attach();
    reactor.send(me, b"service.args\tnap\tsleep\t0.2\nservice.start\tnap\n");

    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let fd = reactor.as_raw_fd();
    poll.registry().register(&mut SourceFd(&fd), REACTOR, Interest::READABLE).map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(16);
    let mut ticks = 0;
    let mut next_tick = Instant::now() + TICK;
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        // Sleep until our job is due, the reactor has a timer due, or one
        // of the watched descriptors (the reactor's among them) is ready.
        let ours = next_tick.saturating_duration_since(Instant::now());
        let wait = reactor.timeout().map_or(ours, |t| t.min(ours));
        match poll.poll(&mut events, Some(wait)) {
            // The reactor catches SIGCHLD and the reported signals, so a
            // wait of ours may be interrupted: that is a wake-up too.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => r.map_err(|e| e.to_string())?,
        }
        // Whatever woke us, let the reactor do what is ready, without
        // waiting (mio reports readiness edge-triggered, so call it every
        // time rather than only for the reactor's token).
        if let Some(outcome) = reactor.run_once(Some(Duration::ZERO)) {
            return Err(format!("the reactor stopped: {outcome}"));
        }
        if Instant::now() >= next_tick {
            ticks += 1;
            next_tick += TICK;
        }
        lines.clear();
        reactor.take_events(me, &mut lines);
        for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            writeln!(out, "event: {}", String::from_utf8_lossy(line)).map_err(|e| e.to_string())?;
            if let Ok(Event::ServiceState { state: ServiceState::Exited { .. }, .. }) = Event::parse(line) {
                return Ok(ticks);
            }
        }
    }
    Err("no down event within 10 s".into())
}
