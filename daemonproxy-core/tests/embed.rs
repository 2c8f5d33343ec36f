//! The embedding example (`examples/embed.rs`) run as a test: a reactor in
//! this process with an in-process controller starts `sh -c 'exit 7'`,
//! sees it exit with 7, restarts it once and sees the second exit.
//!
//! A reactor installs signal handlers and reaps every child of the
//! process, so this test binary holds exactly one test.

#[allow(dead_code)]
#[path = "../examples/embed.rs"]
mod embed;

use daemonproxy_core::proto::ExitReason;

#[test]
fn in_process_controller_sees_exit_7_twice() {
    let mut out = Vec::new();
    let exits = embed::supervise(&mut out).unwrap_or_else(|e| panic!("{e}; output so far:\n{}", show(&out)));
    assert_eq!(exits, [ExitReason::Exit(7), ExitReason::Exit(7)]);

    let text = show(&out);
    let events: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    let states: Vec<Vec<&str>> =
        events.iter().filter(|e| e.starts_with("service.state\tseven\t")).map(|e| e.split('\t').collect()).collect();
    assert_eq!(events.first(), Some(&"service.args\tseven\tsh\t-c\texit 7"), "{text}");
    let kinds: Vec<&str> = states.iter().map(|f| f[2]).collect();
    assert_eq!(kinds, ["start", "up", "down", "start", "up", "down"], "{text}");
    for (up, down) in [(1, 2), (4, 5)] {
        assert_eq!(states[down][4], states[up][4], "the pid that went down is the one that came up");
        assert_eq!(&states[down][5..7], ["exit", "7"], "{text}");
    }
    assert_ne!(states[1][4], states[4][4], "the restart is a new process");
    assert!(text.contains("seven (pid "), "{text}");
    assert!(text.contains(") ended with exit status 7\nrestarting seven once\n"), "{text}");
}

fn show(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}
