//! The outer-loop example (`examples/outer_loop.rs`) run as a test: the
//! reactor, stepped from another program's mio loop, runs a service to
//! its end while that program's own periodic job keeps running.
//!
//! One reactor per process: this test binary holds exactly one test.

#[allow(dead_code)]
#[path = "../examples/outer_loop.rs"]
mod outer_loop;

#[test]
fn the_reactor_runs_inside_another_event_loop() {
    let mut out = Vec::new();
    let ticks = outer_loop::supervise_once(&mut out)
        .unwrap_or_else(|e| panic!("{e}; output so far:\n{}", String::from_utf8_lossy(&out)));
    let text = String::from_utf8_lossy(&out);
    let states: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: service.state\tnap\t"))
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(states, ["start", "up", "down"], "{text}");
    assert!(text.contains("\tdown\t") && text.contains("\texit\t0\t"), "{text}");
    // sleep 0.2 spans several 50 ms ticks of the outer program's own job.
    assert!(ticks >= 2, "the outer loop's own job ran {ticks} times");
}
