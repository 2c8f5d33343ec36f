//! Raw descriptor numbers the daemon manages itself.
//!
//! Handles own their descriptors (`OwnedFd`), but some descriptors are
//! referred to by number: stdin and stdout under `-i`, the log destination
//! (a handle's descriptor, followed by name), the fatal-signal wake pipe.
//! These helpers turn such numbers into the borrowed form the rest of `sys`
//! takes, and close 0..2 when their handles go.

use std::io;
use std::os::fd::{BorrowedFd, RawFd};

/// Borrows a descriptor that the daemon keeps open while it is used.
///
/// The caller passes only numbers it holds open (a handle's descriptor
/// looked up just before, fds 0..2, its own pipes); an already-closed
/// number makes the system call fail with EBADF, which every caller
/// handles, so no memory safety depends on it.
pub(crate) fn borrow(fd: RawFd) -> BorrowedFd<'static> {
    assert!(fd >= 0, "descriptor numbers are never negative here");
    // SAFETY: BorrowedFd only requires that the number is not -1 and is
    // open for the borrow's duration; callers pass descriptors they keep
    // open (see above), and a closed one only yields EBADF from the kernel.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// Closes one of descriptors 0..2 (its handle was deleted or replaced).
pub(crate) fn close_std(fd: RawFd) {
    assert!((0..=2).contains(&fd));
    // SAFETY: 0..2 are held by number only (no OwnedFd owns them), so no
    // other owner closes them again; close takes no pointers.
    unsafe { libc::close(fd) };
}

/// Removes a file (the control socket's path).
pub(crate) fn unlink(path: &[u8]) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    std::fs::remove_file(std::ffi::OsStr::from_bytes(path))
}

/// Returns freed heap memory to the system (`malloc_trim(0)`): the daemon
/// calls it once after start-up, whose temporary allocations (option
/// parsing, set-up) would otherwise stay resident for its whole life.
pub(crate) fn trim_heap() {
    // SAFETY: malloc_trim takes no pointers and only releases free memory.
    unsafe { libc::malloc_trim(0) };
}
