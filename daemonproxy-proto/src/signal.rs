//! Signal numbers and their names (the appendix of docs/protocol.md).

use crate::ParseError;
use core::fmt;

/// A signal number, as the protocol carries it: 0 to 65535, named or not.
///
/// Names are accepted with or without the `SIG` prefix, upper case only;
/// events print `SIG` + the preferred name, or `SIG-?` for a number without a
/// name.
///
/// ```
/// use daemonproxy_proto::Signal;
/// assert_eq!(Signal::from_name(b"TERM"), Some(Signal::TERM));
/// assert_eq!(Signal::from_name(b"SIGIOT"), Some(Signal::ABRT));
/// assert_eq!(Signal::ABRT.name(), Some("ABRT"));
/// assert_eq!(Signal::from_number(40).to_string(), "SIG-?");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Signal(u16);

/// Accepted names, in signal-number order; the first name of a number is
/// the one printed (the alphabetically first where there are several).
const NAMES: &[(&str, u16)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

impl Signal {
    /// SIGHUP
    pub const HUP: Signal = Signal(1);
    /// SIGINT
    pub const INT: Signal = Signal(2);
    /// SIGQUIT
    pub const QUIT: Signal = Signal(3);
    /// SIGILL
    pub const ILL: Signal = Signal(4);
    /// SIGTRAP
    pub const TRAP: Signal = Signal(5);
    /// SIGABRT
    pub const ABRT: Signal = Signal(6);
    /// SIGBUS
    pub const BUS: Signal = Signal(7);
    /// SIGFPE
    pub const FPE: Signal = Signal(8);
    /// SIGKILL
    pub const KILL: Signal = Signal(9);
    /// SIGUSR1
    pub const USR1: Signal = Signal(10);
    /// SIGSEGV
    pub const SEGV: Signal = Signal(11);
    /// SIGUSR2
    pub const USR2: Signal = Signal(12);
    /// SIGPIPE
    pub const PIPE: Signal = Signal(13);
    /// SIGALRM
    pub const ALRM: Signal = Signal(14);
    /// SIGTERM
    pub const TERM: Signal = Signal(15);
    /// SIGCHLD
    pub const CHLD: Signal = Signal(17);

    /// The signal with this number (not checked against the table).
    pub const fn from_number(n: u16) -> Signal {
        Signal(n)
    }

    /// The signal number.
    pub const fn number(self) -> u16 {
        self.0
    }

    /// The preferred name without `SIG`, if the number has one.
    pub fn name(self) -> Option<&'static str> {
        NAMES.iter().find(|(_, n)| *n == self.0).map(|(s, _)| *s)
    }

    /// Looks a name up, with or without the `SIG` prefix (case-sensitive).
    pub fn from_name(name: &[u8]) -> Option<Signal> {
        let bare = name.strip_prefix(b"SIG").unwrap_or(name);
        NAMES.iter().find(|(s, _)| s.as_bytes() == bare).map(|(_, n)| Signal(*n))
    }

    /// Parses a command's signal argument (protocol.md §3.1): a decimal
    /// number below 65536, or a known name. The number is the protocol's
    /// integer, which wraps modulo 2⁶⁴ as in the original
    /// (`18446744073709551631` is SIGTERM). Unknown names are rejected (the
    /// original silently used signal 0; protocol.md §10).
    pub fn parse_arg(arg: Option<&[u8]>) -> Result<Signal, ParseError> {
        let arg = match arg {
            None | Some(b"") => return Err(ParseError::ExpectedSignal),
            Some(a) => a,
        };
        if arg[0].is_ascii_digit() {
            return crate::fields::parse_int(arg)
                .and_then(|n| u16::try_from(n).ok())
                .map(Signal)
                .ok_or(ParseError::InvalidSignalNumber);
        }
        Signal::from_name(arg).ok_or(ParseError::InvalidSignal)
    }

    /// Appends `SIG` + name, or `SIG-?`, to `out`.
    pub fn write_to(self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"SIG");
        out.extend_from_slice(self.name().unwrap_or("-?").as_bytes());
    }

    /// Parses an event's signal field: `SIG` + a name, or `SIG-?` (which has
    /// no number and parses as signal 0).
    pub fn parse_event_name(field: &[u8]) -> Option<Signal> {
        match field.strip_prefix(b"SIG")? {
            b"-?" => Some(Signal(0)),
            bare if !bare.starts_with(b"SIG") => {
                Signal::from_name(bare).filter(|s| s.name().map(str::as_bytes) == Some(bare))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIG{}", self.name().unwrap_or("-?"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(Signal::from_name(b"SIGTERM"), Some(Signal::TERM));
        assert_eq!(Signal::from_name(b"CLD"), Some(Signal::CHLD));
        assert_eq!(Signal::from_name(b"POLL"), Some(Signal::from_number(29)));
        assert_eq!(Signal::from_number(29).to_string(), "SIGIO");
        assert_eq!(Signal::from_name(b"sigterm"), None);
        assert_eq!(Signal::from_name(b"SIGSIGTERM"), None);
        assert_eq!(Signal::from_name(b"EMT"), None);
        for n in 1..=31u16 {
            let s = Signal::from_number(n);
            assert_eq!(Signal::from_name(s.name().unwrap().as_bytes()), Some(s));
        }
    }

    #[test]
    fn argument_rules() {
        assert_eq!(Signal::parse_arg(None), Err(ParseError::ExpectedSignal));
        assert_eq!(Signal::parse_arg(Some(b"")), Err(ParseError::ExpectedSignal));
        assert_eq!(Signal::parse_arg(Some(b"15")), Ok(Signal::TERM));
        assert_eq!(Signal::parse_arg(Some(b"65535")), Ok(Signal(65535)));
        assert_eq!(Signal::parse_arg(Some(b"65536")), Err(ParseError::InvalidSignalNumber));
        assert_eq!(Signal::parse_arg(Some(b"9x")), Err(ParseError::InvalidSignalNumber));
        assert_eq!(Signal::parse_arg(Some(b"-1")), Err(ParseError::InvalidSignal));
        assert_eq!(Signal::parse_arg(Some(b"SIGFOO")), Err(ParseError::InvalidSignal));
        assert_eq!(Signal::parse_arg(Some(b"USR1")), Ok(Signal::USR1));
        // Beyond 64 bits the number wraps, as in the original.
        assert_eq!(Signal::parse_arg(Some(b"18446744073709551631")), Ok(Signal::TERM));
        assert_eq!(Signal::parse_arg(Some(b"18446744073709551615")), Err(ParseError::InvalidSignalNumber));
        assert_eq!(Signal::parse_arg(Some(b"99999999999999999999999")), Err(ParseError::InvalidSignalNumber));
    }

    #[test]
    fn event_names() {
        assert_eq!(Signal::parse_event_name(b"SIGABRT"), Some(Signal::ABRT));
        assert_eq!(Signal::parse_event_name(b"SIGIOT"), None, "only the preferred name is printed");
        assert_eq!(Signal::parse_event_name(b"SIG-?"), Some(Signal(0)));
        assert_eq!(Signal::parse_event_name(b"TERM"), None);
        let mut v = Vec::new();
        Signal::from_number(64).write_to(&mut v);
        assert_eq!(v, b"SIG-?");
    }
}
