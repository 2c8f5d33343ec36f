//! Feeding the line framer in chunks, and the model it must agree with.
//!
//! Shared by the property tests (`tests/properties.rs`) and the
//! `framer_chunking` fuzz target (`fuzz/src/lib.rs` includes this file), so
//! both check the framer against one definition.

#![allow(dead_code)]

use daemonproxy_proto::{Frame, LineFramer, MAX_LINE};

/// Frames in order, and the frame of `finish`.
pub type Framed = (Vec<OwnedFrame>, Option<OwnedFrame>);

/// A frame with its line copied out.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OwnedFrame {
    /// [`Frame::Line`].
    Line(Vec<u8>),
    /// [`Frame::TooLong`].
    TooLong(u8),
}

impl From<Frame<'_>> for OwnedFrame {
    fn from(f: Frame<'_>) -> Self {
        match f {
            Frame::Line(l) => OwnedFrame::Line(l.to_vec()),
            Frame::TooLong { first_byte } => OwnedFrame::TooLong(first_byte),
        }
    }
}

fn drain(f: &mut LineFramer, out: &mut Vec<OwnedFrame>) {
    while let Some(fr) = f.next_frame() {
        out.push(fr.into());
    }
}

/// Frames `stream` fed in chunks whose sizes cycle through `sizes` (each at
/// least 1), with `push` or with `spare` + `commit`; the frame of `finish`
/// comes last, as `Some`/`None`.
pub fn frame_chunked(stream: &[u8], capacity: Option<usize>, sizes: &[usize], use_spare: bool) -> Framed {
    let mut f = capacity.map_or_else(LineFramer::new, LineFramer::with_capacity);
    let mut out = Vec::new();
    let mut rest = stream;
    let mut i = 0;
    while !rest.is_empty() {
        let size = sizes.get(i % sizes.len().max(1)).copied().unwrap_or(1).max(1);
        i += 1;
        let mut chunk = &rest[..size.min(rest.len())];
        rest = &rest[chunk.len()..];
        while !chunk.is_empty() {
            let n = if use_spare {
                let spare = f.spare();
                let n = spare.len().min(chunk.len());
                spare[..n].copy_from_slice(&chunk[..n]);
                f.commit(n);
                n
            } else {
                f.push(chunk)
            };
            chunk = &chunk[n..];
            let before = out.len();
            drain(&mut f, &mut out);
            assert!(n > 0 || out.len() > before, "framer made no progress");
        }
    }
    drain(&mut f, &mut out);
    let last = f.finish().map(OwnedFrame::from);
    assert_eq!(f.pending(), 0, "finish empties the framer");
    assert_eq!(f.finish(), None, "finish empties the framer");
    (out, last)
}

/// The model: split on LF; a line of more than [`MAX_LINE`] bytes is
/// `TooLong` with its first byte; the part after the last LF is the final
/// frame (none when empty).
pub fn frame_reference(stream: &[u8]) -> Framed {
    let one = |l: &[u8]| {
        if l.len() > MAX_LINE {
            OwnedFrame::TooLong(l[0])
        } else {
            OwnedFrame::Line(l.to_vec())
        }
    };
    let mut parts: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
    let last = parts.pop().filter(|l| !l.is_empty()).map(one);
    (parts.into_iter().map(one).collect(), last)
}
