//! The framer gives the same frames for any chunking, capacity and API
//! (`push` or `spare` + `commit`) as for the whole stream at once and as a
//! trivial model.
//!
//! Input: byte 0 picks capacity (bits 0-1: 1024, 1500, default, 1025) and
//! API (bit 2); byte 1 gives the number N (1..=8) of chunk sizes that follow;
//! the rest is the stream. With bit 3 of byte 0 set, LF bytes of the stream
//! become `#` except every 7th, so that long lines are frequent.
#![no_main]

use daemonproxy_fuzz::{frame_chunked, frame_reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [mode, n, rest @ ..] = data else { return };
    let n = usize::from(n % 8) + 1;
    if rest.len() < n {
        return;
    }
    let (sizes, stream) = rest.split_at(n);
    let sizes: Vec<usize> = sizes.iter().map(|&b| 1 + usize::from(b) * usize::from(b) / 16).collect();
    let capacity = [Some(1024), Some(1500), None, Some(1025)][usize::from(mode & 3)];
    let mut stream = stream.to_vec();
    if mode & 8 != 0 {
        let mut k = 0;
        for b in stream.iter_mut().filter(|b| **b == b'\n') {
            k += 1;
            if k % 7 != 0 {
                *b = b'#';
            }
        }
    }
    let chunked = frame_chunked(&stream, capacity, &sizes, mode & 4 != 0);
    let whole = frame_chunked(&stream, Some(stream.len() + 1), &[stream.len().max(1)], false);
    assert_eq!(chunked, whole);
    assert_eq!(chunked, frame_reference(&stream));
});
