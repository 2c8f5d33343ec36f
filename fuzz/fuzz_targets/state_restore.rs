//! A damaged state handed to a new image (`reexec`) is refused with an
//! error, never a panic, and never turns into a supervisor that breaks its
//! own invariants.
//!
//! Input: pairs of (offset, byte) edits (3 bytes each: offset u16 LE, then
//! a byte XORed in) applied to a valid state of a busy supervisor, then
//! the state is cut to its length minus the last input byte.
#![no_main]

use daemonproxy_core::proto::ExitReason;
use daemonproxy_core::sim::Sim;
use daemonproxy_core::supervisor::Supervisor;
use daemonproxy_core::Options;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The state of a supervisor with services in every state, handles,
/// signals and settings.
fn valid_state() -> &'static [u8] {
    static STATE: OnceLock<Vec<u8>> = OnceLock::new();
    STATE.get_or_init(|| {
        let mut sim = Sim::new();
        let me = sim.attach();
        sim.send(
            me,
            "service.args\tweb\tsleep\t1000\nservice.tags\tweb\tx\nservice.env\tweb\tA=1\n\
             service.cwd\tweb\t/srv\nservice.rlimit\tweb\tnofile=1:2\nservice.start\tweb\n\
             service.args\tc\tfalse\nservice.auto_up\tc\t5\talways\tSIGHUP\n\
             service.args\tl\ttrue\nservice.start\tl\t99999\n\
             fd.pipe\tr\tw\nterminate.guard\t+\t3\nlog.filter\tdebug\n",
        );
        sim.advance(std::time::Duration::ZERO);
        if let Some(pid) = sim.pid_of("c") {
            sim.exit(pid, ExitReason::Exit(1));
        }
        sim.signal(daemonproxy_core::proto::Signal::HUP);
        let mut state = Vec::new();
        sim.supervisor().save_state(|_, _| true, &mut state);
        state
    })
}

fuzz_target!(|data: &[u8]| {
    let mut state = valid_state().to_vec();
    for edit in data.chunks_exact(3) {
        let at = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % state.len();
        state[at] ^= edit[2];
    }
    let cut = data.last().map_or(0, |&b| usize::from(b) % 4);
    state.truncate(state.len() - cut);
    if let Ok((sup, _)) = Supervisor::restore(&Options::new(), &state) {
        if let Err(e) = sup.check_invariants() {
            panic!("a restored state breaks an invariant: {e}");
        }
    }
});
