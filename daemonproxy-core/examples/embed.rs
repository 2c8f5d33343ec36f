//! Embedding daemonproxy: the supervisor inside your own program.
//!
//! A [`Reactor`] is the whole daemon as a library value. This program
//! attaches an in-process controller to it (no pipe, no socket: lines go in
//! with [`Reactor::send`] and events come out with [`Reactor::take_events`]),
//! defines and starts a service that exits with status 7, steps the
//! reactor with [`Reactor::run_once`] until the `down` event arrives,
//! prints the exit status, restarts the service once, and stops after the
//! second exit.
//!
//! ```text
//! cargo run -p daemonproxy-core --example embed
//! ```
//!
//! The reactor changes process-wide state: it installs signal handlers and
//! reaps every child (`waitpid(-1)`), so have one reactor per process at a
//! time and let it reap all your children.

use daemonproxy_core::proto::{Event, ExitReason, ServiceState};
use daemonproxy_core::{Options, Reactor};
use std::io::{self, Write};
use std::time::{Duration, Instant};

fn main() {
    match supervise(&mut io::stdout()) {
        Ok(exits) => println!("done after {} runs", exits.len()),
        Err(e) => {
            eprintln!("embed: {e}");
            std::process::exit(1);
        }
    }
}

/// Runs the service twice; returns how each run ended. Writes a line per
/// event to `out`.
pub fn supervise(out: &mut impl Write) -> Result<Vec<ExitReason>, String> {
    let mut reactor = Reactor::new(Options::new()).map_err(|e| format!("setup failed: {e}"))?;
    let me = reactor.attach();
    // Commands are protocol lines, run at once; events are queued for `me`.
    reactor.send(me, b"service.args\tseven\tsh\t-c\texit 7\nservice.start\tseven\n");

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut events = Vec::new();
    let mut exits = Vec::new();
    while exits.len() < 2 {
        if Instant::now() > deadline {
            return Err("no exit within 10 s".into());
        }
        // One loop iteration: fork due starts, reap children, run commands.
        if let Some(outcome) = reactor.run_once(Some(Duration::from_millis(100))) {
            return Err(format!("the reactor stopped: {outcome}"));
        }
        events.clear();
        reactor.take_events(me, &mut events);
        for line in events.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            writeln!(out, "event: {}", String::from_utf8_lossy(line)).map_err(|e| e.to_string())?;
            if let Ok(Event::ServiceState { name, state: ServiceState::Exited { reason, pid, .. } }) =
                Event::parse(line)
            {
                let how = match reason {
                    ExitReason::Exit(status) => format!("exit status {status}"),
                    ExitReason::Signal(sig) => format!("signal {sig}"),
                };
                writeln!(out, "{name} (pid {pid}) ended with {how}").map_err(|e| e.to_string())?;
                exits.push(reason);
                if exits.len() == 1 {
                    writeln!(out, "restarting {name} once").map_err(|e| e.to_string())?;
                    reactor.send(me, b"service.start\tseven\n");
                }
            }
        }
    }
    Ok(exits)
}
