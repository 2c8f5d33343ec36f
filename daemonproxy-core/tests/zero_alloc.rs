//! With pools set, the steady-state loop (commands, spawns, exits, events)
//! makes no heap allocation: a counting global allocator watches a warmed-up
//! reactor run start → up → down cycles of a real `/bin/true` service with
//! process settings (environment, directory, umask, limits).

use daemonproxy_core::{ConnId, Options, Reactor};
use std::time::{Duration, Instant};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

/// Runs the reactor until the controller's events contain `needle` (bounded).
fn run_until(r: &mut Reactor, me: ConnId, events: &mut Vec<u8>, needle: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        r.take_events(me, events);
        if events.windows(needle.len()).any(|w| w == needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {:?} in {:?}",
            String::from_utf8_lossy(needle),
            String::from_utf8_lossy(events)
        );
        let _ = r.run_once(Some(Duration::from_millis(50)));
    }
}

fn cycle(r: &mut Reactor, me: ConnId, events: &mut Vec<u8>) {
    events.clear();
    let cmds = b"echo\tgo\nservice.start\tt\n";
    assert_eq!(r.send(me, cmds), cmds.len());
    run_until(r, me, events, b"\tt\tdown\t");
    assert!(events.windows(3).any(|w| w == b"go\n"));
}

#[test]
fn steady_state_does_not_allocate() {
    let opts = Options::new().service_pool(16, 512).fd_pool(32, 96);
    let mut r = Reactor::new(opts).expect("reactor");
    let me = r.attach();
    let mut events = Vec::with_capacity(64 * 1024);
    r.send(me, b"service.args\tt\t/bin/true\nfd.pipe\tr\tw\nservice.fds\tt\tnull\tw\tnull\n");
    // Process settings are prepared for every start, in reused buffers too.
    r.send(me, b"service.env\tt\tA=1\t-HOME\nservice.cwd\tt\t/\nservice.umask\tt\t022\n");
    r.send(me, b"service.rlimit\tt\tnofile=256:512\n");
    // Warm up: buffers, scratch lists and the pid index reach their sizes.
    for _ in 0..20 {
        cycle(&mut r, me, &mut events);
    }
    assert_eq!(allocations(|| drop(Box::new(1))), 1, "the counter counts");
    let n = allocations(|| {
        for _ in 0..100 {
            cycle(&mut r, me, &mut events);
        }
    });
    assert_eq!(n, 0, "{n} allocations in 100 steady-state cycles");
}
