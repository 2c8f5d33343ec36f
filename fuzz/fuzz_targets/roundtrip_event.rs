//! Structured valid events: encode gives one LF-terminated line that parses
//! back to the same value.
#![no_main]

use daemonproxy_fuzz::EvSpec;
use daemonproxy_proto::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|spec: EvSpec| {
    let ev = spec.event();
    let mut out = Vec::new();
    ev.encode(&mut out);
    let line = out.strip_suffix(b"\n").expect("encode ends with LF");
    assert!(!line.contains(&b'\n'), "one line: {line:?}");
    assert_eq!(Event::parse(line), Ok(ev), "line {line:?}");
});
