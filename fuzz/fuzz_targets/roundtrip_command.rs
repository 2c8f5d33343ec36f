//! Structured valid commands: encode gives one LF-terminated line that
//! parses back to the same value.
#![no_main]

use daemonproxy_fuzz::CmdSpec;
use daemonproxy_proto::Command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|spec: CmdSpec| {
    let cmd = spec.command();
    let mut out = Vec::new();
    cmd.encode(&mut out);
    let line = out.strip_suffix(b"\n").expect("encode ends with LF");
    assert!(!line.contains(&b'\n'), "one line: {line:?}");
    assert_eq!(Command::parse(line), Ok(cmd), "line {line:?}");
});
