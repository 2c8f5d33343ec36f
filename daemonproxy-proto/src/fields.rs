//! A cursor over the TAB-separated fields of a line.
//!
//! The protocol distinguishes an *absent* remainder (no TAB left) from an
//! *empty* one (a trailing TAB), so the cursor keeps `Option<&[u8]>`.

/// Splits a line into fields one at a time, borrowing from it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Fields<'a> {
    /// A cursor over `remainder` (`None` when the line had no TAB).
    pub(crate) fn new(remainder: Option<&'a [u8]>) -> Self {
        Fields { rest: remainder }
    }

    /// The next field, or `None` when no field is left.
    pub(crate) fn next_field(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match rest.iter().position(|&b| b == b'\t') {
            Some(i) => {
                self.rest = Some(&rest[i + 1..]);
                Some(&rest[..i])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }

    /// Everything not yet taken, verbatim (`None` when absent).
    pub(crate) fn rest(&self) -> Option<&'a [u8]> {
        self.rest
    }

    /// Whether any field (even an empty one) is left.
    pub(crate) fn has_more(&self) -> bool {
        self.rest.is_some()
    }
}

/// Splits a whole line into the command or event name and its remainder.
pub(crate) fn split_name(line: &[u8]) -> (&[u8], Fields<'_>) {
    let mut f = Fields::new(Some(line));
    let name = f.next_field().unwrap_or(b"");
    (name, f)
}

/// Parses the protocol's integer (protocol.md §3.1): optional `-`, then one or more
/// decimal digits, nothing else. Like the original, the value wraps modulo
/// 2⁶⁴ instead of failing on overflow, so that every argument accepts and
/// rejects exactly what the original did (`18446744073709551617` is 1).
pub(crate) fn parse_int(field: &[u8]) -> Option<i64> {
    let (neg, digits) = match field.strip_prefix(b"-") {
        Some(d) => (true, d),
        None => (false, field),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits.iter().fold(0i64, |v, &b| v.wrapping_mul(10).wrapping_add(i64::from(b - b'0')));
    Some(if neg { v.wrapping_neg() } else { v })
}

/// The items of a stored TAB-separated list: none when it is empty, else
/// every field (empty ones included).
pub(crate) fn list_items(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    raw.split(|&b| b == b'\t').take(if raw.is_empty() { 0 } else { usize::MAX })
}

/// Parses an unsigned decimal field (digits only) for event fields.
pub(crate) fn parse_u64(field: &[u8]) -> Option<u64> {
    if field.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in field {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// Appends the decimal form of `v`.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends the decimal form of `v`, with `-` when negative.
pub(crate) fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_versus_empty() {
        let (name, mut f) = split_name(b"cmd");
        assert_eq!(name, b"cmd");
        assert_eq!(f.next_field(), None);
        let (_, mut f) = split_name(b"cmd\t");
        assert_eq!(f.rest(), Some(&b""[..]));
        assert_eq!(f.next_field(), Some(&b""[..]));
        assert_eq!(f.next_field(), None);
        let (_, mut f) = split_name(b"cmd\ta\t\tb");
        assert_eq!(f.next_field(), Some(&b"a"[..]));
        assert_eq!(f.rest(), Some(&b"\tb"[..]));
        assert_eq!(f.next_field(), Some(&b""[..]));
        assert_eq!(f.next_field(), Some(&b"b"[..]));
        assert!(!f.has_more());
    }

    #[test]
    fn integers() {
        assert_eq!(parse_int(b"0"), Some(0));
        assert_eq!(parse_int(b"-12"), Some(-12));
        assert_eq!(parse_int(b"007"), Some(7));
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [&b""[..], b"-", b"+1", b" 1", b"1 ", b"1x", b"--1", b"-x"] {
            assert_eq!(parse_int(bad), None, "{:?}", bad);
        }
        let mut v = Vec::new();
        push_i64(&mut v, i64::MIN);
        assert_eq!(v, b"-9223372036854775808");
    }

    #[test]
    fn integers_wrap_like_the_original() {
        assert_eq!(parse_int(b"9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int(b"18446744073709551615"), Some(-1));
        assert_eq!(parse_int(b"18446744073709551617"), Some(1));
        assert_eq!(parse_int(b"-18446744073709551617"), Some(-1));
        assert_eq!(parse_int(b"99999999999999999999"), Some(7766279631452241919));
        assert_eq!(parse_int(b"000000000000000000000000000042"), Some(42));
    }

    #[test]
    fn list_items_of_empty_and_trailing_tab() {
        assert_eq!(list_items(b"").count(), 0);
        assert_eq!(list_items(b"a\t").collect::<Vec<_>>(), [&b"a"[..], b""]);
        assert_eq!(list_items(b"\t").collect::<Vec<_>>(), [&b""[..], b""]);
    }
}
