//! Process-level operations for the program that embeds the reactor.
//!
//! These change the whole process (its umask, its memory locking, its
//! identity, its image), so the library never calls them itself; the
//! `daemonproxy` binary does, in the order of the original's start-up and
//! exit paths (protocol.md §8.3, protocol.md §8.5).

use crate::sys;
use std::io;
use std::os::fd::AsFd;

/// Sets the file-creation mask; returns the previous one.
pub fn set_umask(mask: u32) -> u32 {
    sys::fd::umask(mask)
}

/// Locks all current and future memory (`--mlockall`).
pub fn mlockall() -> io::Result<()> {
    sys::fd::mlockall()
}

/// Which side of `--daemonize` this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemonized {
    /// The parent, with the daemon's pid: print it and exit.
    Parent(i32),
    /// The daemon: now a session leader with 0..2 on /dev/null.
    Child,
}

/// Forks into the background (protocol.md §8.2). In the child, descriptors 0..2 are
/// pointed at /dev/null (except `keep_stdin`, when a config file is read
/// from it) and a new session is started. The parent returns only once the
/// child has done so, so that the pid it prints is already a session leader.
pub fn daemonize(keep_stdin: bool) -> io::Result<Daemonized> {
    let (ready_r, ready_w) = sys::fd::pipe(false)?;
    match sys::fd::fork_single_threaded()? {
        Some(pid) => {
            drop(ready_w);
            // One byte: 0 when the child is set up, else its errno.
            let mut status = [0u8; 1];
            match sys::fd::read(ready_r.as_fd(), &mut status) {
                Ok(1) if status[0] != 0 => Err(io::Error::from_raw_os_error(i32::from(status[0]))),
                _ => Ok(Daemonized::Parent(pid)),
            }
        }
        None => {
            drop(ready_r);
            let result = detach(keep_stdin);
            let code = match &result {
                Ok(()) => 0,
                Err(e) => e.raw_os_error().unwrap_or(libc::EIO).clamp(1, 255) as u8,
            };
            let _ = sys::fd::write(ready_w.as_fd(), &[code]);
            result.map(|()| Daemonized::Child)
        }
    }
}

/// The child's side of [`daemonize`].
fn detach(keep_stdin: bool) -> io::Result<()> {
    let null = sys::fd::open_dev_null()?;
    for fd in 0..=2 {
        if fd == 0 && keep_stdin {
            continue;
        }
        sys::fd::dup2_keep(null.as_fd(), fd)?;
    }
    sys::fd::setsid()?;
    Ok(())
}

/// Gives memory freed during start-up back to the system; call once before
/// the main loop (it keeps the resident size of an idle daemon small).
pub fn release_startup_memory() {
    sys::raw::trim_heap();
}

/// Replaces the process with the exec-on-exit program (protocol.md §8.6), with
/// `DAEMONPROXY_EXITCODE` and `DAEMONPROXY_ERROR` set. Returns only on
/// failure, with the error.
pub fn exec_on_exit(args: &[u8], code: i64, message: &str) -> io::Error {
    let code = code.to_string();
    let env: [(&[u8], &[u8]); 2] =
        [(b"DAEMONPROXY_EXITCODE", code.as_bytes()), (b"DAEMONPROXY_ERROR", message.as_bytes())];
    io::Error::from_raw_os_error(sys::spawn::exec_replace(args, &env, &[]))
}

/// Unix time `secs` in the local time zone as (year, month, day, hour,
/// minute, second), or `None` if the C library cannot convert it.
pub fn local_time(secs: i64) -> Option<[i64; 6]> {
    sys::clock::local_time(secs)
}

/// The strerror text of an error, as the protocol prints it.
pub fn error_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(errno) => crate::supervisor::Errno(errno).to_string(),
        None => e.to_string(),
    }
}
