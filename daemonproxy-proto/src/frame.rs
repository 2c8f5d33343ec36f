//! Line framing (protocol.md §2): bytes in, complete lines out.
//!
//! The framer owns a fixed buffer. The daemon reads straight into its spare
//! room ([`LineFramer::spare`] + [`LineFramer::commit`]), so a read can
//! carry many lines and nothing is copied twice; [`LineFramer::push`] is
//! the same for callers holding a slice. A line of 1024 bytes or more
//! (without its LF) is never returned: its bytes are discarded as they
//! arrive and one [`Frame::TooLong`] is reported when its LF arrives, which
//! is the original's behaviour whatever the chunking.

/// Longest line accepted, in bytes, without the LF.
pub const MAX_LINE: usize = 1023;

/// Default buffer size: room for many short lines per read.
pub const DEFAULT_CAPACITY: usize = 16 * 1024;

/// Longest event line a controller should accept, without the LF. Events
/// can be a little longer than the command that caused them (`fd.state`
/// repeats a path of up to a whole command line, with the flags spelled
/// out), so readers of events use this limit rather than [`MAX_LINE`].
pub const MAX_EVENT_LINE: usize = 4095;

/// One framed line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Frame<'a> {
    /// A complete line, without its LF.
    Line(&'a [u8]),
    /// A line of 1024 bytes or more was discarded; `first_byte` tells
    /// whether it was a comment (`#`), which is discarded silently.
    TooLong {
        /// The line's first byte.
        first_byte: u8,
    },
}

/// What tells a user that a line holds spaces where the protocol wants
/// TABs, the most common mistake (log lines, `--check`): not part of any
/// protocol text, which stays as it is.
pub const TAB_HINT: &str = "hint: fields are separated by TABs, not spaces";

/// Whether a line is ignored without any reply (protocol.md §2.1): its first byte is
/// `#`, or it consists only of space, TAB, CR, LF and NUL (or nothing).
///
/// ```
/// use daemonproxy_proto::is_ignored;
/// assert!(is_ignored(b"# comment"));
/// assert!(is_ignored(b" \t\r\0"));
/// assert!(!is_ignored(b"  # not a comment"));
/// ```
pub fn is_ignored(line: &[u8]) -> bool {
    line.first() == Some(&b'#') || line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0))
}

/// Splits a byte stream into lines of at most [`MAX_LINE`] bytes.
///
/// ```
/// use daemonproxy_proto::{Frame, LineFramer};
/// let mut f = LineFramer::new();
/// f.push(b"echo\ta\nech");
/// assert_eq!(f.next_frame(), Some(Frame::Line(b"echo\ta")));
/// assert_eq!(f.next_frame(), None);
/// f.push(b"o\tb\n");
/// assert_eq!(f.next_frame(), Some(Frame::Line(b"echo\tb")));
/// ```
#[derive(Debug)]
pub struct LineFramer {
    buf: Box<[u8]>,
    /// Start of unconsumed data.
    start: usize,
    /// End of data.
    end: usize,
    /// Bytes before this index (from `start`) are known to hold no LF.
    scanned: usize,
    /// `Some(first byte)` while discarding an overlong line.
    discarding: Option<u8>,
    /// Longest line returned, without its LF.
    max_line: usize,
}

impl Default for LineFramer {
    fn default() -> Self {
        LineFramer::new()
    }
}

impl LineFramer {
    /// A framer with [`DEFAULT_CAPACITY`].
    pub fn new() -> LineFramer {
        LineFramer::with_capacity(DEFAULT_CAPACITY)
    }

    /// A framer holding `capacity` bytes (at least `MAX_LINE + 1`), for
    /// command lines.
    pub fn with_capacity(capacity: usize) -> LineFramer {
        LineFramer::with_limit(capacity, MAX_LINE)
    }

    /// A framer returning lines of at most `max_line` bytes (without LF),
    /// holding `capacity` bytes (at least `max_line + 1`). Readers of events
    /// use [`MAX_EVENT_LINE`].
    pub fn with_limit(capacity: usize, max_line: usize) -> LineFramer {
        let capacity = capacity.max(max_line + 1);
        let buf = vec![0; capacity].into_boxed_slice();
        LineFramer { buf, start: 0, end: 0, scanned: 0, discarding: None, max_line }
    }

    /// Bytes received and not yet returned as lines.
    pub fn pending(&self) -> usize {
        self.end - self.start
    }

    /// The bytes received and not yet returned as lines (to hand them to
    /// another framer, for example across a daemon's re-execution). While
    /// an overlong line is being discarded, its rest is not among them.
    ///
    /// ```
    /// let mut f = daemonproxy_proto::LineFramer::new();
    /// f.push(b"echo\ta\nech");
    /// assert_eq!(f.unconsumed(), b"echo\ta\nech");
    /// f.next_frame();
    /// assert_eq!(f.unconsumed(), b"ech");
    /// ```
    pub fn unconsumed(&self) -> &[u8] {
        if self.discarding.is_some() {
            return &[];
        }
        &self.buf[self.start..self.end]
    }

    /// Whether the buffer has no room left: stop reading until lines are
    /// taken out.
    pub fn is_full(&self) -> bool {
        self.start == 0 && self.end == self.buf.len()
    }

    /// Room to read into; call [`LineFramer::commit`] with the count read.
    /// Empty only when [`LineFramer::is_full`].
    pub fn spare(&mut self) -> &mut [u8] {
        if self.end == self.buf.len() && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.scanned -= self.start;
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }

    /// Records that `n` bytes were written into [`LineFramer::spare`].
    pub fn commit(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// Copies as much of `data` as fits; returns how many bytes were taken.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let spare = self.spare();
        let n = spare.len().min(data.len());
        spare[..n].copy_from_slice(&data[..n]);
        self.commit(n);
        n
    }

    /// The next complete line, if any.
    pub fn next_frame(&mut self) -> Option<Frame<'_>> {
        let from = self.scanned.max(self.start);
        match self.buf[from..self.end].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let (line_start, nl) = (self.start, from + i);
                self.start = nl + 1;
                self.scanned = self.start;
                if let Some(first_byte) = self.discarding.take() {
                    return Some(Frame::TooLong { first_byte });
                }
                if nl - line_start > self.max_line {
                    return Some(Frame::TooLong { first_byte: self.buf[line_start] });
                }
                Some(Frame::Line(&self.buf[line_start..nl]))
            }
            None => {
                if self.discarding.is_some() {
                    self.start = self.end;
                } else if self.end - self.start > self.max_line {
                    self.discarding = Some(self.buf[self.start]);
                    self.start = self.end;
                }
                self.scanned = self.end;
                if self.start == self.end {
                    (self.start, self.end, self.scanned) = (0, 0, 0);
                }
                None
            }
        }
    }

    /// At end of input: the final line that had no LF (or a discarded
    /// overlong one), and the framer is emptied. The config file executes
    /// such a line; other controllers discard it (protocol.md §2.1).
    pub fn finish(&mut self) -> Option<Frame<'_>> {
        let (start, end) = (self.start, self.end);
        let discarding = self.discarding.take();
        (self.start, self.end, self.scanned) = (0, 0, 0);
        if let Some(first_byte) = discarding {
            return Some(Frame::TooLong { first_byte });
        }
        if start == end {
            return None;
        }
        if end - start > self.max_line {
            return Some(Frame::TooLong { first_byte: self.buf[start] });
        }
        Some(Frame::Line(&self.buf[start..end]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(f: &mut LineFramer) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(fr) = f.next_frame() {
            v.push(match fr {
                Frame::Line(l) => String::from_utf8_lossy(l).into_owned(),
                Frame::TooLong { first_byte } => format!("TOOLONG({})", first_byte as char),
            });
        }
        v
    }

    #[test]
    fn limit_is_1023_bytes() {
        let mut f = LineFramer::with_capacity(4096);
        let ok = vec![b'a'; MAX_LINE];
        f.push(&ok);
        f.push(b"\n");
        assert_eq!(frames(&mut f), vec!["a".repeat(MAX_LINE)]);
        let long = vec![b'b'; MAX_LINE + 1];
        f.push(&long);
        f.push(b"\nx\n");
        assert_eq!(frames(&mut f), vec!["TOOLONG(b)", "x"]);
    }

    #[test]
    fn long_line_across_many_reads_reports_once() {
        let mut f = LineFramer::with_capacity(1024);
        let mut out = Vec::new();
        f.push(b"#");
        for _ in 0..10 {
            while f.push(&[b'z'; 700]) < 700 {
                out.extend(frames(&mut f));
            }
            out.extend(frames(&mut f));
        }
        f.push(b"\necho\n");
        out.extend(frames(&mut f));
        assert_eq!(out, vec!["TOOLONG(#)", "echo"]);
    }

    #[test]
    fn finish_returns_partial_line() {
        let mut f = LineFramer::new();
        f.push(b"a\nb");
        assert_eq!(frames(&mut f), vec!["a"]);
        assert_eq!(f.finish(), Some(Frame::Line(b"b")));
        assert_eq!(f.finish(), None);
    }

    #[test]
    fn full_buffer_stops_reading() {
        let mut f = LineFramer::with_capacity(1024);
        assert_eq!(f.push(&[b'\n'; 2000]), 1024);
        assert!(f.is_full());
        assert_eq!(f.spare().len(), 0);
        assert_eq!(f.next_frame(), Some(Frame::Line(b"")));
        assert_eq!(f.spare().len(), 1);
    }

    #[test]
    fn event_limit() {
        let mut f = LineFramer::with_limit(8192, MAX_EVENT_LINE);
        let long = vec![b'e'; 2000];
        f.push(&long);
        f.push(b"\n");
        assert_eq!(f.next_frame(), Some(Frame::Line(&long[..])));
    }

    #[test]
    fn ignored_lines() {
        assert!(is_ignored(b""));
        assert!(is_ignored(b"#"));
        assert!(is_ignored(b"\t \r"));
        assert!(!is_ignored(b"\tx"));
        assert!(!is_ignored(b" #"));
    }
}
