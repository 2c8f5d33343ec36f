//! The process-wide side of the reactor: signal handlers and the guard
//! that allows one reactor per process at a time.
//!
//! Recorded signals and SIGCHLD arrive through signal-hook's self-pipe.
//! Fatal signals (SIGSEGV, SIGILL, ...) have a handler of their own in
//! `sys::signal`: one sent by another process wakes the reactor through a
//! pipe and ends the run with a fatal outcome; a genuine fault runs the
//! last resort (exec-on-exit or `_exit(4)`). Everything installed here is
//! restored when the reactor is dropped.

use crate::error::{Error, ErrorKind, Outcome};
use crate::proto::Signal;
use crate::supervisor::RECORDED_SIGNALS;
use crate::sys;
use signal_hook_mio::v1_0::Signals;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// Signals whose disposition the daemon changes; a service gets them back
/// at their defaults.
pub(crate) const HANDLED_SIGNALS: [i32; 15] = [
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGQUIT,
    libc::SIGCHLD,
    libc::SIGALRM,
    libc::SIGPIPE,
    libc::SIGABRT,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGTRAP,
];

/// Whether a reactor exists in this process.
static EXISTS: AtomicBool = AtomicBool::new(false);

/// Holds the one-reactor-per-process claim; released when dropped.
#[derive(Debug)]
pub(crate) struct Exclusive(());

impl Exclusive {
    /// Claims the process, or fails if another reactor holds it.
    pub fn claim() -> Result<Exclusive, Error> {
        if EXISTS.swap(true, Ordering::SeqCst) {
            return Err(Error::new(
                ErrorKind::ReactorExists,
                3,
                "another Reactor exists in this process (signals and child reaping are process-wide)",
            ));
        }
        Ok(Exclusive(()))
    }
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        EXISTS.store(false, Ordering::SeqCst);
    }
}

/// The signal handlers.
pub(crate) struct SignalSources {
    /// Recorded signals and SIGCHLD (signal-hook).
    pub hooks: Signals,
    fatal: sys::signal::FatalSignals,
    /// The fatal handler writes a byte here when another process sent a
    /// fatal signal.
    pub wake: (OwnedFd, OwnedFd),
    /// Bounds each write to a blocking log descriptor (1/16 s).
    pub write_timeout: Option<sys::signal::WriteTimeout>,
    /// The numbers of the signals recorded (kept blocked across `reexec`).
    pub caught: Vec<i32>,
}

impl SignalSources {
    /// Installs every handler (`extra`: a signal to catch besides the
    /// recorded ones, the reexec signal).
    pub fn install(exec_args: &[u8], extra: Option<Signal>) -> Result<SignalSources, Error> {
        let broken = |e: std::io::Error| Error::io(ErrorKind::Setup, 5, format!("signal handler setup: {e}"), e);
        let numbers = RECORDED_SIGNALS
            .map(|s| i32::from(s.number()))
            .into_iter()
            .chain([libc::SIGCHLD])
            .chain(extra.map(|s| i32::from(s.number())));
        let caught: Vec<i32> = numbers.collect();
        let hooks = Signals::new(caught.iter().copied()).map_err(broken)?;
        let wake =
            sys::fd::pipe(true).map_err(|e| Error::io(ErrorKind::Setup, 5, format!("signal pipe setup: {e}"), e))?;
        let fatal = sys::signal::FatalSignals::install(wake.1.as_raw_fd()).map_err(broken)?;
        sys::signal::arm_fatal_exec(Some(exec_args)).map_err(broken)?;
        Ok(SignalSources { hooks, fatal, wake, write_timeout: sys::signal::WriteTimeout::new().ok(), caught })
    }

    /// The descriptor woken by fatal signals.
    pub fn wake_fd(&self) -> RawFd {
        self.wake.0.as_raw_fd()
    }

    /// Empties the wake pipe.
    pub fn drain_wake(&self) {
        let mut buf = [0u8; 64];
        while matches!(sys::fd::read(self.wake.0.as_fd(), &mut buf), Ok(n) if n > 0) {}
    }

    /// The fatal outcome of a fatal signal sent to the process, if one was
    /// caught (protocol.md §6).
    pub fn fatal_outcome(&self) -> Option<Outcome> {
        let sig = self.fatal.take_pending()?;
        let name = Signal::from_number(sig as u16);
        Some(Outcome::Fatal { status: 4, message: format!("Received signal {name} ({sig})") })
    }
}

impl Drop for SignalSources {
    fn drop(&mut self) {
        let _ = sys::signal::arm_fatal_exec(None);
    }
}
