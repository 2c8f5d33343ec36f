//! Arbitrary bytes as a command line: never panics; an accepted line encodes
//! to a canonical line that parses back to the same value and re-encodes to
//! the same bytes; a rejected line formats its error event.
#![no_main]

use daemonproxy_proto::{encode_command_error, is_ignored, Command};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    let _ = is_ignored(line);
    match Command::parse(line) {
        Ok(cmd) => {
            let mut out = Vec::new();
            cmd.encode(&mut out);
            let canonical = out.strip_suffix(b"\n").expect("encode ends with LF");
            let again = Command::parse(canonical).expect("canonical line parses");
            assert_eq!(again, cmd, "line {line:?} canonical {canonical:?}");
            let mut out2 = Vec::new();
            again.encode(&mut out2);
            assert_eq!(out2, out, "canonical form is a fixed point");
        }
        Err(e) => {
            let mut msg = Vec::new();
            e.write_message(&mut msg);
            assert!(!msg.is_empty());
            let mut ev = Vec::new();
            encode_command_error(&mut ev, &msg, line);
            assert!(ev.starts_with(b"error\t") && ev.ends_with(b"\n"));
        }
    }
});
