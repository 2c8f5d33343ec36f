//! Log levels (protocol.md §7.1): the `log.filter` argument and reply.

use core::fmt;

/// A log level, also used as the log filter. A message is written only if
/// its level is greater than the filter, so `None` shows everything and
/// `Fatal` suppresses everything.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum LogLevel {
    /// Filter only: show every message.
    None = -3,
    /// Trace messages.
    Trace = -2,
    /// Debug messages (the default filter: info and above are shown).
    Debug = -1,
    /// Informational messages.
    Info = 0,
    /// Warnings.
    Warning = 1,
    /// Errors.
    Error = 2,
    /// Fatal conditions.
    Fatal = 3,
}

const ALL: [LogLevel; 7] = [
    LogLevel::None,
    LogLevel::Trace,
    LogLevel::Debug,
    LogLevel::Info,
    LogLevel::Warning,
    LogLevel::Error,
    LogLevel::Fatal,
];

impl LogLevel {
    /// The lower-case name used in log lines and `log.filter`.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::None => "none",
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Fatal => "fatal",
        }
    }

    /// Looks up an exact lower-case level name.
    pub fn from_name(name: &[u8]) -> Option<LogLevel> {
        ALL.into_iter().find(|l| l.name().as_bytes() == name)
    }

    /// The level `delta` steps away, clamped to `None..=Fatal`.
    pub fn step(self, delta: i32) -> LogLevel {
        let i = (self as i32 + 3).saturating_add(delta).clamp(0, 6);
        ALL[i as usize]
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_clamp() {
        assert_eq!(LogLevel::Debug.step(-1), LogLevel::Trace);
        assert_eq!(LogLevel::Debug.step(-5), LogLevel::None);
        assert_eq!(LogLevel::Debug.step(4), LogLevel::Fatal);
        assert_eq!(LogLevel::Fatal.step(1), LogLevel::Fatal);
        assert_eq!(LogLevel::Fatal.step(i32::MAX), LogLevel::Fatal);
        assert_eq!(LogLevel::None.step(i32::MIN), LogLevel::None);
        for l in ALL {
            assert_eq!(LogLevel::from_name(l.name().as_bytes()), Some(l));
        }
        assert_eq!(LogLevel::from_name(b"warn"), None);
    }
}
