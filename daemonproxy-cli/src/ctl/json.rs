//! Just enough JSON for `ctl status --json`: values built in memory and
//! written with two-space indentation. Object members keep the order they
//! were added in. Text from the daemon is bytes; bytes that are not UTF-8
//! become U+FFFD.

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Json {
    Null,
    Int(i64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// A string from the daemon's bytes.
    pub(super) fn bytes(b: &[u8]) -> Json {
        Json::Str(String::from_utf8_lossy(b).into_owned())
    }

    /// A string.
    pub(super) fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    /// A whole number (saturating at `i64::MAX`).
    pub(super) fn uint(n: u64) -> Json {
        Json::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// `null` for `None`.
    pub(super) fn or_null<T>(v: Option<T>, f: impl FnOnce(T) -> Json) -> Json {
        v.map_or(Json::Null, f)
    }

    /// The text, with a final LF.
    pub(super) fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Int(n) => out.push_str(&n.to_string()),
            Json::Str(s) => write_str(out, s),
            Json::Array(items) if items.is_empty() => out.push_str("[]"),
            Json::Object(members) if members.is_empty() => out.push_str("{}"),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    separator(out, i, depth + 1);
                    item.write(out, depth + 1);
                }
                newline(out, depth);
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    separator(out, i, depth + 1);
                    write_str(out, key);
                    out.push_str(": ");
                    value.write(out, depth + 1);
                }
                newline(out, depth);
                out.push('}');
            }
        }
    }
}

fn separator(out: &mut String, index: usize, depth: usize) {
    if index > 0 {
        out.push(',');
    }
    newline(out, depth);
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_indented() {
        let v = Json::Object(vec![
            ("a".into(), Json::Int(-3)),
            ("b".into(), Json::Array(vec![Json::Int(1), Json::Null, Json::str("x")])),
            ("c".into(), Json::Object(vec![])),
            ("d".into(), Json::Array(vec![])),
        ]);
        assert_eq!(
            v.render(),
            "{\n  \"a\": -3,\n  \"b\": [\n    1,\n    null,\n    \"x\"\n  ],\n  \"c\": {},\n  \"d\": []\n}\n"
        );
    }

    #[test]
    fn strings_are_escaped() {
        let v = Json::bytes(b"q\"b\\s\tn\nr\r\x01\x7f\xff\xc3\xa9");
        assert_eq!(v.render(), "\"q\\\"b\\\\s\\tn\\nr\\r\\u0001\x7f\u{fffd}\u{e9}\"\n");
    }

    #[test]
    fn numbers_and_nulls() {
        assert_eq!(Json::uint(u64::MAX), Json::Int(i64::MAX));
        assert_eq!(Json::or_null(None::<u32>, |n| Json::uint(n.into())), Json::Null);
        assert_eq!(Json::or_null(Some(5u32), |n| Json::uint(n.into())).render(), "5\n");
    }
}
