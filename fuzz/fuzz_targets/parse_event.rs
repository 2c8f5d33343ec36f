//! Arbitrary bytes as an event line: never panics; an accepted line encodes
//! to a line that parses back to the same value and re-encodes to the same
//! bytes.
#![no_main]

use daemonproxy_proto::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    if let Ok(ev) = Event::parse(line) {
        let mut out = Vec::new();
        ev.encode(&mut out);
        let encoded = out.strip_suffix(b"\n").expect("encode ends with LF");
        if let Event::Echo { line: echoed } = ev {
            // Echo lines are carried verbatim.
            assert_eq!(encoded, echoed);
        }
        let again = Event::parse(encoded).expect("encoded line parses");
        assert_eq!(again, ev, "line {line:?} encoded {encoded:?}");
        let mut out2 = Vec::new();
        again.encode(&mut out2);
        assert_eq!(out2, out, "encoding is a fixed point");
    }
});
