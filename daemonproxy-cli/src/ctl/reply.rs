//! Telling the daemon's answers apart: which `error` line answers the
//! command just sent (protocol.md §2.3), and what to add to an error whose message
//! alone does not say what to do.

use daemonproxy_proto::ERROR_QUOTE_LEN;

const FOR_COMMAND: &[u8] = b", for command \"";

/// Whether an error event's message answers `line` (protocol.md §2.3): its quote of
/// the line, or `Unknown command: NAME`. Errors broadcast for other
/// reasons (a failed exec) do not.
pub(super) fn answers(line: &[u8], message: &[u8]) -> bool {
    let mut quote = FOR_COMMAND.to_vec();
    quote.extend_from_slice(&line[..line.len().min(ERROR_QUOTE_LEN)]);
    if line.len() >= ERROR_QUOTE_LEN {
        quote.extend_from_slice(b"...");
    }
    quote.push(b'"');
    let name = line.split(|&b| b == b'\t').next().unwrap_or_default();
    message == [&b"Unknown command: "[..], name].concat() || message.ends_with(&quote)
}

/// What to do about an error the message alone does not explain.
pub(super) fn hint(message: &[u8]) -> Option<&'static str> {
    if message.starts_with(b"terminate guard code required") {
        Some(
            "the daemon runs with a terminate guard (as PID 1 it has guard 1 unless --exit-guard says \
             otherwise); to exit, clear it first with terminate.guard - CODE, or use \
             'daemonproxy ctl shutdown --guard CODE'",
        )
    } else if message.starts_with(b"cannot exit, and exec-on-exit is not configured") {
        Some(
            "with a terminate guard set, terminate can only exec the exec-on-exit command; to exit, clear \
             the guard first with terminate.guard - CODE",
        )
    } else {
        None
    }
}

/// Whether an error message quotes a command: it answers one.
pub(super) fn quotes_a_command(message: &[u8]) -> bool {
    message.windows(FOR_COMMAND.len()).any(|w| w == FOR_COMMAND)
}

/// The message of an error that answers a command, without the
/// `, for command "..."` quote: `No such service`.
pub(super) fn without_quote(message: &[u8]) -> String {
    let end = (0..message.len()).find(|&i| message[i..].starts_with(FOR_COMMAND)).unwrap_or(message.len());
    String::from_utf8_lossy(&message[..end]).into_owned()
}

/// The service and the text of a broadcast exec failure,
/// `service NAME: exec "PROG" failed: ERROR` → (`NAME`,
/// `exec "PROG" failed: ERROR`).
pub(super) fn exec_failure(message: &[u8]) -> Option<(&str, String)> {
    let rest = message.strip_prefix(b"service ")?;
    let colon = rest.windows(8).position(|w| w == b": exec \"")?;
    let name = std::str::from_utf8(&rest[..colon]).ok()?;
    Some((name, String::from_utf8_lossy(&rest[colon + 2..]).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_told_from_broadcast_errors() {
        assert!(answers(b"service.delete\tnosuch", b"No such service, for command \"service.delete\tnosuch\""));
        assert!(answers(
            b"service.args\tnnnnnnnnnnnnnnnn!\tx",
            b"Invalid service name, for command \"service.args\tnnnnnnnnnnnnnnnn!...\""
        ));
        assert!(answers(b"bogus\tx", b"Unknown command: bogus"));
        assert!(!answers(b"service.start\tfoo", b"service foo: exec \"/no/such\" failed: No such file or directory"));
        assert!(!answers(b"service.delete\tnosuch", b"No such service, for command \"service.delete\tother\""));
        assert!(!answers(b"bogus\tx", b"Unknown command: bogus2"));
    }

    #[test]
    fn guard_errors_get_a_hint() {
        assert!(hint(b"terminate guard code required, for command \"terminate\t0\"").unwrap().contains("--guard"));
        assert!(hint(b"No such service, for command \"x\"").is_none());
    }

    #[test]
    fn quotes_are_removed() {
        assert_eq!(without_quote(b"No such service, for command \"service.start\tx\""), "No such service");
        assert_eq!(without_quote(b"Unknown command: x"), "Unknown command: x");
    }

    #[test]
    fn exec_failures_are_recognised() {
        let (name, text) = exec_failure(b"service web: exec \"/no/such\" failed: No such file or directory").unwrap();
        assert_eq!((name, text.as_str()), ("web", "exec \"/no/such\" failed: No such file or directory"));
        assert_eq!(exec_failure(b"No such service, for command \"service.start\tweb\""), None);
        assert_eq!(exec_failure(b"service web: something else"), None);
    }
}
