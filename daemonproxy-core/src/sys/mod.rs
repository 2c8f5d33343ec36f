//! The OS layer: every `unsafe` line of daemonproxy lives below this module.
//!
//! Each submodule wraps one kind of system interaction in small, safe
//! functions: [`spawn`] starts services with `posix_spawnp` (and exec-on-exit),
//! [`fd`] creates, inspects and moves descriptors, [`signal`] owns the two
//! signal handlers that cannot go through signal-hook (fatal signals and the
//! log-write timer), [`clock`] reads the monotonic clock and [`reap`] collects
//! exited children. Every `unsafe` block carries a `// SAFETY:` comment.
//!
//! Invariants shared by all submodules:
//!
//! * every descriptor created here is close-on-exec from birth
//!   (`pipe2(O_CLOEXEC)`, `SOCK_CLOEXEC`, `O_CLOEXEC`, `accept4`,
//!   `MSG_CMSG_CLOEXEC`, `F_DUPFD_CLOEXEC`); only a spawn's descriptor plan
//!   makes a descriptor visible to a child;
//! * this is library code: nothing here exits the process (except inside a
//!   child that is about to be replaced, and the last-resort path of a genuine
//!   fault), nothing assumes a single thread, and every process-wide handler
//!   installed is owned by a guard that restores the previous disposition;
//! * errors are `io::Error`s built from `errno`, so callers can render them with
//!   [`error_text`] in glibc's words (`No such file or directory`).

// Until the reactor uses every function: the lead removes this.
#![allow(dead_code)]

pub(crate) mod clock;
pub(crate) mod fd;
pub(crate) mod raw;
pub(crate) mod reap;
pub(crate) mod signal;
pub(crate) mod spawn;

use std::ffi::{c_char, CString};
use std::io;

/// Appends glibc's text for `errno` (what `strerror` says, e.g.
/// `No such file or directory`) to `out`.
///
/// Uses the XSI `strerror_r` into a stack buffer, so it allocates only if `out`
/// has to grow. Unknown numbers give glibc's `Unknown error N`.
pub(crate) fn errno_text(errno: i32, out: &mut Vec<u8>) {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is a writable buffer of `buf.len()` bytes; the XSI
    // strerror_r (libc links `__xpg_strerror_r` on glibc) writes at most that
    // many bytes, NUL terminator included, and touches nothing else.
    unsafe { libc::strerror_r(errno, buf.as_mut_ptr().cast::<c_char>(), buf.len()) };
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    out.extend_from_slice(&buf[..len]);
}

/// Appends the text of an `io::Error` to `out`: glibc's `strerror` text for OS
/// errors (the common case: every error returned by `sys` is one), otherwise
/// the error's `Display` text.
pub(crate) fn error_text(err: &io::Error, out: &mut Vec<u8>) {
    match err.raw_os_error() {
        Some(errno) => errno_text(errno, out),
        None => {
            use std::io::Write;
            let _ = write!(out, "{err}");
        }
    }
}

/// The current thread's `errno`.
fn errno() -> i32 {
    // SAFETY: __errno_location always returns a valid pointer to the calling
    // thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Sets the current thread's `errno` (signal handlers restore it on return).
fn set_errno(value: i32) {
    // SAFETY: as in `errno`; the location is thread-local and writable.
    unsafe { *libc::__errno_location() = value };
}

/// `io::Error` for `errno` (`EINVAL` renders as `Invalid argument`).
fn os_error(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

/// Turns a `-1` return into the `errno` error.
fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Like [`cvt`] for `ssize_t` returns.
fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// Repeats `f` while it fails with `EINTR`.
fn retry_eintr<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Paths shorter than this are NUL-terminated on the stack.
const STACK_CSTR: usize = 512;

/// Calls `f` with a NUL-terminated copy of `bytes` (on the stack when short).
/// Bytes containing NUL are refused with `EINVAL` (`Invalid argument`), since a
/// C string cannot carry them.
fn with_cstr<T>(bytes: &[u8], f: impl FnOnce(*const c_char) -> io::Result<T>) -> io::Result<T> {
    if bytes.contains(&0) {
        return Err(os_error(libc::EINVAL));
    }
    if bytes.len() < STACK_CSTR {
        let mut buf = [0u8; STACK_CSTR];
        buf[..bytes.len()].copy_from_slice(bytes);
        f(buf.as_ptr().cast::<c_char>())
    } else {
        let owned = CString::new(bytes).map_err(|_| os_error(libc::EINVAL))?;
        f(owned.as_ptr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_texts_are_glibc_texts() {
        let mut out = Vec::new();
        errno_text(libc::ENOENT, &mut out);
        assert_eq!(out, b"No such file or directory");
        out.clear();
        errno_text(libc::EACCES, &mut out);
        assert_eq!(out, b"Permission denied");
        out.clear();
        errno_text(99999, &mut out);
        assert_eq!(out, b"Unknown error 99999");
        out.clear();
        error_text(&os_error(libc::EPIPE), &mut out);
        assert_eq!(out, b"Broken pipe");
    }

    #[test]
    fn cstr_refuses_nul_and_handles_long_paths() {
        let err = with_cstr(b"a\0b", |_| Ok(())).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
        let long = vec![b'x'; 2 * STACK_CSTR];
        let len = with_cstr(&long, |p| {
            // SAFETY: with_cstr hands out a valid NUL-terminated string.
            Ok(unsafe { libc::strlen(p) })
        })
        .unwrap();
        assert_eq!(len, long.len());
    }
}
