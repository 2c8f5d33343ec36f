//! Descriptor plumbing: creating, configuring, inspecting and moving file
//! descriptors, sockets and the control socket.
//!
//! Every descriptor created here is close-on-exec from birth and returned as
//! an `OwnedFd`; a child only ever sees a descriptor through a spawn's
//! descriptor plan (`sys::spawn`). The exceptions are explicit: [`dup2_keep`]
//! makes a descriptor (normally 0, 1 or 2) inheritable on purpose, and
//! [`take_inherited`] adopts a descriptor the process was started with.
//!
//! Functions return `io::Error`s built from `errno` and never add context: a
//! caller that must say which step failed (`bind: Address already in use`)
//! calls the steps one by one and prefixes the text itself.
//!
//! Nothing here retries `EINTR` unless stated: `read`, `write` and `send` are
//! one system call each, so the log writer keeps control of every attempt
//! (protocol.md §7.3).

use std::io;
use std::mem;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::{cvt, cvt_size, os_error, retry_eintr, with_cstr};

/// Wraps a freshly created descriptor.
fn owned(fd: RawFd) -> OwnedFd {
    debug_assert!(fd >= 0);
    // SAFETY: callers pass a descriptor a system call has just created for
    // us; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Creates a pipe, close-on-exec, optionally non-blocking on both ends.
/// Returns `(read_end, write_end)`.
pub(crate) fn pipe(nonblock: bool) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    let flags = libc::O_CLOEXEC | if nonblock { libc::O_NONBLOCK } else { 0 };
    // SAFETY: `fds` is a writable array of two ints, as pipe2 requires.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), flags) })?;
    Ok((owned(fds[0]), owned(fds[1])))
}

/// Creates a connected socket pair (`socketpair(domain, ty)`), close-on-exec,
/// optionally non-blocking. `ty` is `SOCK_STREAM`, `SOCK_DGRAM` or
/// `SOCK_SEQPACKET`; AF_INET/AF_INET6 fail with `EOPNOTSUPP` on Linux.
pub(crate) fn socketpair(domain: i32, ty: i32, nonblock: bool) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    let ty = ty | libc::SOCK_CLOEXEC | if nonblock { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: `fds` is a writable array of two ints, as socketpair requires.
    cvt(unsafe { libc::socketpair(domain, ty, 0, fds.as_mut_ptr()) })?;
    Ok((owned(fds[0]), owned(fds[1])))
}

/// Opens `path` (any bytes but NUL; relative to the current directory) with
/// `flags` (`O_RDONLY`/`O_WRONLY`/`O_RDWR` plus any of `O_APPEND`, `O_CREAT`,
/// `O_TRUNC`, `O_NONBLOCK`), always adding `O_CLOEXEC | O_NOCTTY`. `mode`
/// applies with `O_CREAT` (the process umask still applies). A NUL in the
/// path gives `EINVAL`. Retries `EINTR` (opening a FIFO can block).
pub(crate) fn open(path: &[u8], flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let flags = flags | libc::O_CLOEXEC | libc::O_NOCTTY;
    with_cstr(path, |p| {
        retry_eintr(|| {
            // SAFETY: `p` is a valid NUL-terminated string for the call.
            cvt(unsafe { libc::open(p, flags, mode as libc::c_uint) })
        })
    })
    .map(owned)
}

/// Opens `/dev/null` read/write, close-on-exec.
pub(crate) fn open_dev_null() -> io::Result<OwnedFd> {
    open(b"/dev/null", libc::O_RDWR, 0)
}

/// Creates every missing parent directory of `path` (not `path` itself) with
/// mode 0700 (minus the umask), ignoring every failure: the `mkdir` flag of
/// `fd.open`/`fd.socket` is best effort and the open or bind that follows
/// reports what went wrong.
pub(crate) fn mkdir_parents(path: &[u8]) {
    for (i, &b) in path.iter().enumerate() {
        // Each '/' after the first byte ends a parent prefix ("/a/b/c" gives
        // "/a" and "/a/b"; "a//b" gives "a" and "a/", which simply exists).
        if b == b'/' && i > 0 {
            let _ = with_cstr(&path[..i], |p| {
                // SAFETY: `p` is a valid NUL-terminated string for the call.
                cvt(unsafe { libc::mkdir(p, 0o700) })
            });
        }
    }
}

/// Creates a socket (`socket(domain, ty)`), close-on-exec, optionally
/// non-blocking.
pub(crate) fn socket(domain: i32, ty: i32, nonblock: bool) -> io::Result<OwnedFd> {
    let ty = ty | libc::SOCK_CLOEXEC | if nonblock { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: socket takes no pointers.
    cvt(unsafe { libc::socket(domain, ty, 0) }).map(owned)
}

/// Sets `SO_REUSEADDR` on a socket.
pub(crate) fn set_reuseaddr(fd: BorrowedFd<'_>) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: the option value points to a live c_int of the size passed.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Binds a unix socket to the filesystem path `path`. The path must be
/// non-empty, without NUL (`EINVAL`) and shorter than 108 bytes
/// (`ENAMETOOLONG`). An existing file at the path is not removed (bind fails
/// with `EADDRINUSE`).
pub(crate) fn bind_unix(fd: BorrowedFd<'_>, path: &[u8]) -> io::Result<()> {
    if path.is_empty() {
        return Err(os_error(libc::EINVAL));
    }
    let (addr, len) = unix_addr(path, false)?;
    // SAFETY: `addr` is a valid sockaddr_un and `len` does not exceed its size.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), (&addr as *const libc::sockaddr_un).cast(), len) })?;
    Ok(())
}

/// The address of the unix socket `path` (in the abstract namespace with
/// `abstract_name`: a leading NUL, nothing in the file system) and its
/// length. A NUL in `path` is `EINVAL`, a name too long `ENAMETOOLONG`.
fn unix_addr(path: &[u8], abstract_name: bool) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { mem::zeroed() };
    if path.contains(&0) {
        return Err(os_error(libc::EINVAL));
    }
    // A path ends with a NUL; an abstract name starts with one.
    if path.len() + 1 > addr.sun_path.len() {
        return Err(os_error(libc::ENAMETOOLONG));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let name = if abstract_name { &mut addr.sun_path[1..] } else { &mut addr.sun_path[..] };
    for (dst, &src) in name.iter_mut().zip(path) {
        *dst = src as libc::c_char;
    }
    let len = mem::size_of::<libc::sa_family_t>() + path.len() + 1;
    Ok((addr, len as libc::socklen_t))
}

/// Binds an AF_INET socket to `addr:port` (`[0, 0, 0, 0]` is any address,
/// port 0 an ephemeral port).
pub(crate) fn bind_inet(fd: BorrowedFd<'_>, addr: [u8; 4], port: u16) -> io::Result<()> {
    // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
    let mut sin: libc::sockaddr_in = unsafe { mem::zeroed() };
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_port = port.to_be();
    sin.sin_addr = libc::in_addr { s_addr: u32::from_ne_bytes(addr) };
    // SAFETY: `sin` is a valid sockaddr_in of the size passed.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sin as *const libc::sockaddr_in).cast(),
            mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Marks a bound socket as listening with the given backlog.
pub(crate) fn listen(fd: BorrowedFd<'_>, backlog: i32) -> io::Result<()> {
    // SAFETY: listen takes no pointers.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), backlog) })?;
    Ok(())
}

/// Shuts down one or both directions of a socket (used for the
/// `control.event` / `control.cmd` socket pairs).
pub(crate) fn shutdown(fd: BorrowedFd<'_>, how: Shutdown) -> io::Result<()> {
    let how = match how {
        Shutdown::Read => libc::SHUT_RD,
        Shutdown::Write => libc::SHUT_WR,
        Shutdown::Both => libc::SHUT_RDWR,
    };
    // SAFETY: shutdown takes no pointers.
    cvt(unsafe { libc::shutdown(fd.as_raw_fd(), how) })?;
    Ok(())
}

/// Sets or clears `O_NONBLOCK` (a file status flag: it is shared with every
/// process holding a duplicate of the same open file description).
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, nonblock: bool) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: F_GETFL takes no pointer argument.
    let flags = cvt(unsafe { libc::fcntl(raw, libc::F_GETFL) })?;
    let new = if nonblock { flags | libc::O_NONBLOCK } else { flags & !libc::O_NONBLOCK };
    if new != flags {
        // SAFETY: F_SETFL takes an int argument.
        cvt(unsafe { libc::fcntl(raw, libc::F_SETFL, new) })?;
    }
    Ok(())
}

/// Sets `FD_CLOEXEC` (a descriptor flag; file status flags are untouched).
pub(crate) fn set_cloexec(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_cloexec_raw(fd.as_raw_fd())
}

fn set_cloexec_raw(raw: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFD takes no pointer argument.
    let flags = cvt(unsafe { libc::fcntl(raw, libc::F_GETFD) })?;
    if flags & libc::FD_CLOEXEC == 0 {
        // SAFETY: F_SETFD takes an int argument.
        cvt(unsafe { libc::fcntl(raw, libc::F_SETFD, flags | libc::FD_CLOEXEC) })?;
    }
    Ok(())
}

/// Sets or clears `FD_CLOEXEC` on a descriptor number (exec-on-exit hands
/// the named handles to the program it runs).
pub(crate) fn set_cloexec_flag(raw: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFD takes no pointer argument.
    let flags = cvt(unsafe { libc::fcntl(raw, libc::F_GETFD) })?;
    let new = if on { flags | libc::FD_CLOEXEC } else { flags & !libc::FD_CLOEXEC };
    // SAFETY: F_SETFD takes an int argument.
    cvt(unsafe { libc::fcntl(raw, libc::F_SETFD, new) })?;
    Ok(())
}

/// Duplicates a descriptor, close-on-exec, onto the lowest free number ≥ 3
/// (so a private copy never lands on a closed 0, 1 or 2).
pub(crate) fn dup_cloexec(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC takes an int argument and creates a new
    // descriptor that we then own.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) }).map(owned)
}

/// `dup2(src, target)`: makes descriptor number `target` refer to `src`'s open
/// file, closing what `target` referred to. The result is deliberately *not*
/// close-on-exec: this is for re-pointing 0, 1 and 2 (e.g. to `/dev/null`
/// under `-i` and `-D`), which stay inheritable like any process's standard
/// descriptors. `target` is not owned by the caller afterwards any more than
/// before. If `src` already is `target`, nothing changes. Retries `EINTR` and
/// `EBUSY` (a transient race with a concurrent open of that number).
pub(crate) fn dup2_keep(src: BorrowedFd<'_>, target: RawFd) -> io::Result<()> {
    retry_eintr(|| {
        loop {
            // SAFETY: dup2 takes no pointers; replacing `target` is the point
            // of this function (documented above).
            match cvt(unsafe { libc::dup2(src.as_raw_fd(), target) }) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => continue,
                other => return other,
            }
        }
    })?;
    Ok(())
}

/// Address family of a socket, as reported in `fd.state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SockDomain {
    /// AF_UNIX, and any family other than the two below.
    Unix,
    /// AF_INET.
    Inet,
    /// AF_INET6.
    Inet6,
}

/// Socket type, as reported in `fd.state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SockType {
    /// SOCK_STREAM, and any type other than the two below (raw sockets…).
    Stream,
    /// SOCK_DGRAM.
    Dgram,
    /// SOCK_SEQPACKET.
    Seqpacket,
}

/// What introspection says about an inherited or received descriptor
/// (protocol.md §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FdDescription {
    /// Anything that is not a socket (file, pipe, tty, device…).
    File {
        /// Opened for reading (`O_RDONLY` or `O_RDWR`; also the odd access
        /// mode 3).
        read: bool,
        /// Opened for writing (`O_WRONLY` or `O_RDWR`).
        write: bool,
        /// `O_APPEND` is set.
        append: bool,
        /// `O_NONBLOCK` is set.
        nonblock: bool,
    },
    /// A socket.
    Socket {
        /// From `getsockname`: inet/inet6, otherwise unix.
        domain: SockDomain,
        /// From `SO_TYPE`.
        ty: SockType,
        /// `O_NONBLOCK` is set.
        nonblock: bool,
    },
}

/// Inspects a descriptor for `fd.state` (protocol.md §4.3): sockets by
/// `fstat`, their domain from `getsockname` and type from `SO_TYPE`; anything
/// else by its access mode and status flags.
pub(crate) fn describe(fd: BorrowedFd<'_>) -> io::Result<FdDescription> {
    let raw = fd.as_raw_fd();
    // SAFETY: F_GETFL takes no pointer argument.
    let fl = cvt(unsafe { libc::fcntl(raw, libc::F_GETFL) })?;
    let nonblock = fl & libc::O_NONBLOCK != 0;
    if !is_socket(fd) {
        let (read, write) = match fl & libc::O_ACCMODE {
            libc::O_WRONLY => (false, true),
            libc::O_RDWR => (true, true),
            _ => (true, false),
        };
        return Ok(FdDescription::File { read, write, append: fl & libc::O_APPEND != 0, nonblock });
    }
    // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
    let mut ss: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `ss`/`len` describe a writable buffer of the stated size.
    let r = unsafe { libc::getsockname(raw, (&mut ss as *mut libc::sockaddr_storage).cast(), &mut len) };
    let domain = match (r, libc::c_int::from(ss.ss_family)) {
        (0, libc::AF_INET) => SockDomain::Inet,
        (0, libc::AF_INET6) => SockDomain::Inet6,
        _ => SockDomain::Unix,
    };
    let mut ty: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `ty`/`len` describe a writable c_int.
    cvt(unsafe {
        libc::getsockopt(raw, libc::SOL_SOCKET, libc::SO_TYPE, (&mut ty as *mut libc::c_int).cast(), &mut len)
    })?;
    let ty = match ty {
        libc::SOCK_DGRAM => SockType::Dgram,
        libc::SOCK_SEQPACKET => SockType::Seqpacket,
        _ => SockType::Stream,
    };
    Ok(FdDescription::Socket { domain, ty, nonblock })
}

/// The file type (`st_mode & S_IFMT`) of what `fd` refers to, if `fstat`
/// works.
fn file_type(fd: BorrowedFd<'_>) -> Option<libc::mode_t> {
    // SAFETY: libc::stat is plain old data; all-zero is valid.
    let mut st: libc::stat = unsafe { mem::zeroed() };
    // SAFETY: `st` is a writable stat buffer.
    let r = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
    (r == 0).then_some(st.st_mode & libc::S_IFMT)
}

/// Whether `fd` is a socket (`fstat` + `S_ISSOCK`; false if `fstat` fails).
pub(crate) fn is_socket(fd: BorrowedFd<'_>) -> bool {
    file_type(fd) == Some(libc::S_IFSOCK)
}

/// Whether `fd` is a FIFO (or a pipe; false if `fstat` fails).
pub(crate) fn is_fifo(fd: BorrowedFd<'_>) -> bool {
    file_type(fd) == Some(libc::S_IFIFO)
}

/// Whether the writers of a FIFO's read end have come and gone. A read of
/// 0 bytes cannot tell "no writer yet" from "the last writer closed it";
/// `poll` can: Linux reports `POLLHUP` on a read end only once a writer
/// has opened the FIFO since the read end was opened, and all writers have
/// closed it again.
pub(crate) fn hung_up(fd: BorrowedFd<'_>) -> bool {
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, and a zero timeout: no waiting.
    let r = retry_eintr(|| cvt(unsafe { libc::poll(&mut p, 1, 0) }));
    matches!(r, Ok(n) if n > 0) && p.revents & libc::POLLHUP != 0
}

/// Lists the descriptors open in `lowest..=highest` (`fcntl(F_GETFD)` on each
/// number). Call it before creating any descriptor of your own, so only
/// inherited ones are found (protocol.md §3.4).
pub(crate) fn scan_inherited(lowest: i32, highest: i32) -> Vec<RawFd> {
    (lowest.max(0)..=highest)
        // SAFETY: F_GETFD takes no pointer argument and only reads the flags.
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1)
        .collect()
}

/// Adopts an inherited descriptor: sets `FD_CLOEXEC` on it (only that
/// descriptor flag; `O_NONBLOCK` and the other status flags are left exactly as
/// inherited) and returns it as owned. Fails with `EBADF` if it is not open.
///
/// Contract: `fd` comes from [`scan_inherited`] (or is 0, 1 or 2) and is adopted
/// once; nothing else in the process may own or close it.
pub(crate) fn take_inherited(fd: RawFd) -> io::Result<OwnedFd> {
    set_cloexec_raw(fd)?;
    Ok(owned(fd))
}

/// Creates the control socket: a unix stream socket (close-on-exec,
/// non-blocking) bound to `path` and listening with `backlog`. Use
/// [`unlink_stale_socket`] first. A caller that must report which step failed
/// composes [`socket`], [`bind_unix`] and [`listen`] itself.
pub(crate) fn unix_listener(path: &[u8], backlog: i32) -> io::Result<OwnedFd> {
    let fd = socket(libc::AF_UNIX, libc::SOCK_STREAM, true)?;
    bind_unix(fd.as_fd(), path)?;
    listen(fd.as_fd(), backlog)?;
    Ok(fd)
}

/// What was at a control socket's path before binding there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SocketPath {
    /// Nothing.
    Free,
    /// A stale socket (nothing answered on it), now removed.
    Removed,
    /// A socket something listens on (left alone), with the listener's
    /// pid when the system tells it.
    Live(Option<i32>),
}

/// Removes a stale control socket before binding a new one at `path`
/// (protocol.md §3.5): nothing there → `Free`; a socket owned by the
/// effective uid that nothing answers on → unlinked, `Removed`; one that a
/// process listens on → left alone, `Live` (a second daemon must not take
/// over a running one's socket); a socket of another owner → `EPERM`; a
/// directory → `EISDIR`; any other file type → `EEXIST` (never unlinked).
/// Symbolic links are judged themselves (`lstat`), not followed.
pub(crate) fn unlink_stale_socket(path: &[u8]) -> io::Result<SocketPath> {
    let owned_socket = with_cstr(path, |p| {
        // SAFETY: libc::stat is plain old data; all-zero is valid.
        let mut st: libc::stat = unsafe { mem::zeroed() };
        // SAFETY: `p` is a valid C string and `st` a writable stat buffer.
        if let Err(e) = cvt(unsafe { libc::lstat(p, &mut st) }) {
            return if e.raw_os_error() == Some(libc::ENOENT) { Ok(false) } else { Err(e) };
        }
        match st.st_mode & libc::S_IFMT {
            libc::S_IFSOCK => {}
            libc::S_IFDIR => return Err(os_error(libc::EISDIR)),
            _ => return Err(os_error(libc::EEXIST)),
        }
        // SAFETY: geteuid has no preconditions.
        if st.st_uid != unsafe { libc::geteuid() } {
            return Err(os_error(libc::EPERM));
        }
        Ok(true)
    })?;
    if !owned_socket {
        return Ok(SocketPath::Free);
    }
    if let Some(pid) = listener_at(path) {
        return Ok(SocketPath::Live(pid));
    }
    with_cstr(path, |p| {
        // SAFETY: `p` is a valid C string.
        cvt(unsafe { libc::unlink(p) })?;
        Ok(SocketPath::Removed)
    })
}

/// Whether a process listens on the unix socket at `path` (a connection
/// is accepted or queued: `Some`, with the listener's pid if known), or
/// nothing answers (`None`: refused, or not a stream socket).
fn listener_at(path: &[u8]) -> Option<Option<i32>> {
    let (addr, len) = unix_addr(path, false).ok()?;
    let fd = socket(libc::AF_UNIX, libc::SOCK_STREAM, true).ok()?;
    // SAFETY: `addr` is a valid sockaddr_un and `len` does not exceed its size.
    let r =
        retry_eintr(|| cvt(unsafe { libc::connect(fd.as_raw_fd(), (&addr as *const libc::sockaddr_un).cast(), len) }));
    match r {
        // A full backlog still means a listener.
        Ok(_) => {}
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EINPROGRESS)) => {}
        Err(_) => return None,
    }
    // SAFETY: ucred is plain old data; all-zero is valid.
    let mut cred: libc::ucred = unsafe { mem::zeroed() };
    let mut size = mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is writable for `size` bytes.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut size,
        )
    };
    Some((r == 0 && cred.pid > 0).then_some(cred.pid))
}

/// Accepts a connection: close-on-exec and non-blocking. Retries `EINTR`;
/// `WouldBlock` when no connection is pending.
pub(crate) fn accept(listener: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    retry_eintr(|| {
        // SAFETY: null address pointers are allowed (the peer address is not
        // wanted).
        cvt(unsafe {
            libc::accept4(
                listener.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            )
        })
    })
    .map(owned)
}

/// Most descriptors one `recv_with_fds` call can accept; more in a single
/// message are closed by the kernel (`MSG_CTRUNC`).
pub(crate) const MAX_RECV_FDS: usize = 32;

/// Control buffer: 8-byte aligned, large enough for `MAX_RECV_FDS` descriptors.
#[repr(C, align(8))]
struct CmsgBuf([u8; 256]);

// SAFETY: CMSG_SPACE is a pure computation.
const CMSG_ROOM: usize = unsafe { libc::CMSG_SPACE((MAX_RECV_FDS * 4) as u32) } as usize;
const _: () = assert!(CMSG_ROOM <= 256);

/// Reads from `fd` like `read`, also collecting descriptors passed with
/// `SCM_RIGHTS` (close-on-exec via `MSG_CMSG_CLOEXEC`) into `fds_out`.
/// On a descriptor that is not a socket (a pipe, a file, a tty) it is a plain
/// `read`. One system call (two for a non-socket); `EINTR` is returned, not
/// retried. `Ok(0)` is end of input (so `buf` must not be empty).
pub(crate) fn recv_with_fds(fd: BorrowedFd<'_>, buf: &mut [u8], fds_out: &mut Vec<OwnedFd>) -> io::Result<usize> {
    let mut cmsg = CmsgBuf([0; 256]);
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: msghdr is plain old data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.0.as_mut_ptr().cast();
    msg.msg_controllen = CMSG_ROOM as _;
    // SAFETY: `msg` points to one iovec covering `buf` and to the control
    // buffer `cmsg`, all valid and writable for the sizes given.
    let r = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    let n = match cvt_size(r) {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => return read(fd, buf),
        Err(e) => return Err(e),
    };
    // SAFETY: the kernel filled `msg` (and the control buffer it points to);
    // the CMSG_* macros walk headers within msg_controllen only.
    let mut hdr = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !hdr.is_null() {
        // SAFETY: `hdr` is non-null and points into `cmsg` (see above); it may
        // be unaligned in principle, so read it unaligned.
        let h: libc::cmsghdr = unsafe { hdr.read_unaligned() };
        if h.cmsg_level == libc::SOL_SOCKET && h.cmsg_type == libc::SCM_RIGHTS {
            // SAFETY: CMSG_LEN is a pure computation.
            let header = unsafe { libc::CMSG_LEN(0) } as usize;
            let count = (h.cmsg_len as usize).saturating_sub(header) / mem::size_of::<libc::c_int>();
            // SAFETY: CMSG_DATA of a valid header points at its payload,
            // which holds `count` ints inside the control buffer.
            let data = unsafe { libc::CMSG_DATA(hdr) }.cast::<libc::c_int>();
            for i in 0..count {
                // SAFETY: `i < count`, within the payload; unaligned read.
                let raw = unsafe { data.add(i).read_unaligned() };
                // The kernel installed `raw` for us (close-on-exec).
                fds_out.push(owned(raw));
            }
        }
        // SAFETY: `msg` and `hdr` are valid as above.
        hdr = unsafe { libc::CMSG_NXTHDR(&msg, hdr) };
    }
    Ok(n)
}

/// One `read` system call.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is writable for `buf.len()` bytes.
    cvt_size(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// One plain `write` system call (the log must use exactly this,
/// protocol.md §7.3). May write part of `bytes`.
pub(crate) fn write(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: `bytes` is readable for `bytes.len()` bytes.
    cvt_size(unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) })
}

/// One `send(MSG_NOSIGNAL)` on a socket: a closed peer gives `EPIPE` without
/// raising SIGPIPE. Fails with `ENOTSOCK` on anything but a socket.
pub(crate) fn send_nosignal(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: `bytes` is readable for `bytes.len()` bytes.
    cvt_size(unsafe { libc::send(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL) })
}

/// Creates the readiness notification socket: a non-blocking unix
/// datagram socket bound to `path` (in the abstract namespace when
/// `abstract_name`, so nothing appears in the file system), receiving its
/// senders' credentials (`SO_PASSCRED`).
pub(crate) fn notify_socket(path: &[u8], abstract_name: bool) -> io::Result<OwnedFd> {
    let fd = socket(libc::AF_UNIX, libc::SOCK_DGRAM, true)?;
    let one: libc::c_int = 1;
    // SAFETY: the option value points to a live c_int of the size passed.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PASSCRED,
            (&one as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    if abstract_name {
        let (addr, len) = unix_addr(path, true)?;
        // SAFETY: `addr` is a valid sockaddr_un and `len` does not exceed it.
        cvt(unsafe { libc::bind(fd.as_raw_fd(), (&addr as *const libc::sockaddr_un).cast(), len) })?;
    } else {
        bind_unix(fd.as_fd(), path)?;
    }
    Ok(fd)
}

/// Receives one datagram with its sender's pid (from `SCM_CREDENTIALS`;
/// `None` when the kernel attached none). `WouldBlock` when none waits.
pub(crate) fn recv_with_pid(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, Option<i32>)> {
    let mut cmsg = CmsgBuf([0; 256]);
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: msghdr is plain old data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.0.as_mut_ptr().cast();
    msg.msg_controllen = cmsg.0.len() as _;
    // SAFETY: `msg` points to one iovec covering `buf` and to the control
    // buffer, all valid and writable for the sizes given.
    let n = cvt_size(unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) })?;
    let mut pid = None;
    // SAFETY: the kernel filled `msg`; the CMSG_* macros walk headers
    // within msg_controllen only.
    let mut hdr = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !hdr.is_null() {
        // SAFETY: non-null header inside `cmsg`, read unaligned.
        let h: libc::cmsghdr = unsafe { hdr.read_unaligned() };
        if h.cmsg_level == libc::SOL_SOCKET && h.cmsg_type == libc::SCM_CREDENTIALS {
            // SAFETY: CMSG_DATA of an SCM_CREDENTIALS header holds a ucred.
            let cred: libc::ucred = unsafe { libc::CMSG_DATA(hdr).cast::<libc::ucred>().read_unaligned() };
            pid = Some(cred.pid);
        } else if h.cmsg_level == libc::SOL_SOCKET && h.cmsg_type == libc::SCM_RIGHTS {
            // Descriptors are not expected here: close them.
            // SAFETY: CMSG_LEN is a pure computation.
            let header = unsafe { libc::CMSG_LEN(0) } as usize;
            let count = (h.cmsg_len as usize).saturating_sub(header) / mem::size_of::<libc::c_int>();
            // SAFETY: the payload holds `count` ints inside the buffer.
            let data = unsafe { libc::CMSG_DATA(hdr) }.cast::<libc::c_int>();
            for i in 0..count {
                // SAFETY: `i < count`; the kernel installed the descriptor.
                drop(owned(unsafe { data.add(i).read_unaligned() }));
            }
        }
        // SAFETY: `msg` and `hdr` are valid as above.
        hdr = unsafe { libc::CMSG_NXTHDR(&msg, hdr) };
    }
    Ok((n, pid))
}

/// The session and process group of process `pid`.
pub(crate) fn session_and_group(pid: i32) -> io::Result<[i32; 2]> {
    // SAFETY: getsid and getpgid take no pointers.
    let sid = cvt(unsafe { libc::getsid(pid) })?;
    // SAFETY: as above.
    let pgid = cvt(unsafe { libc::getpgid(pid) })?;
    Ok([sid, pgid])
}

/// Makes this process the child subreaper of its descendants (or stops
/// being one): orphans below it are re-parented to it, not to init.
pub(crate) fn set_child_subreaper(on: bool) -> io::Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer argument.
    cvt(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, libc::c_ulong::from(on), 0, 0, 0) })?;
    Ok(())
}

/// A memory file holding `bytes`, inheritable (not close-on-exec): the
/// state a daemon hands to its next image across `execve`.
pub(crate) fn memfd_with(name: &std::ffi::CStr, bytes: &[u8]) -> io::Result<OwnedFd> {
    // SAFETY: `name` is a valid NUL-terminated string; no flags.
    let fd = owned(cvt(unsafe { libc::memfd_create(name.as_ptr(), 0) })?);
    let mut done = 0;
    while done < bytes.len() {
        match write(fd.as_fd(), &bytes[done..]) {
            Ok(0) => return Err(os_error(libc::EIO)),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(fd)
}

/// Everything in a file from its start (`pread`), whatever its offset.
pub(crate) fn read_all_at_start(fd: BorrowedFd<'_>) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        // SAFETY: `buf` is writable for its length.
        let r = unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), out.len() as libc::off_t) };
        match cvt_size(r) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Adopts a descriptor handed over by the previous image (after
/// `reexec`): makes it close-on-exec and owned. Fails with `EBADF` if it is
/// not open.
///
/// Contract: `fd` is named by the handed-over state and adopted once.
pub(crate) fn adopt(fd: RawFd) -> io::Result<OwnedFd> {
    take_inherited(fd)
}

/// Sends `sig` to process `pid` (`sig` 0 only checks existence).
pub(crate) fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill takes no pointers.
    cvt(unsafe { libc::kill(pid, sig) })?;
    Ok(())
}

/// Sends `sig` to every process of process group `pgid`.
pub(crate) fn killpg(pgid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: killpg takes no pointers.
    cvt(unsafe { libc::killpg(pgid, sig) })?;
    Ok(())
}

/// Changes the process's current directory (any bytes but NUL).
pub(crate) fn chdir(path: &[u8]) -> io::Result<()> {
    // SAFETY: `p` is a valid NUL-terminated string for the call.
    with_cstr(path, |p| cvt(unsafe { libc::chdir(p) })).map(drop)
}

/// Sets the process umask, returning the previous one (startup sets 077).
pub(crate) fn umask(mask: u32) -> u32 {
    // SAFETY: umask takes no pointers and cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// `setsid()`: makes the process a session and process-group leader
/// (`--daemonize`). Returns the new session id.
pub(crate) fn setsid() -> io::Result<i32> {
    // SAFETY: setsid takes no pointers.
    cvt(unsafe { libc::setsid() })
}

/// `mlockall(MCL_CURRENT | MCL_FUTURE)` (`-M`).
pub(crate) fn mlockall() -> io::Result<()> {
    // SAFETY: mlockall takes no pointers.
    cvt(unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) })?;
    Ok(())
}

/// Number of threads of this process (from `/proc/self/status`).
fn thread_count() -> io::Result<usize> {
    let status = std::fs::read("/proc/self/status")?;
    status
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(b"Threads:"))
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok())
        .ok_or_else(|| os_error(libc::EINVAL))
}

/// `fork()` for `--daemonize`, allowed only while the process has a single
/// thread (otherwise the child could inherit locks held by threads that do not
/// exist in it): fails with `EBUSY` if other threads exist. Returns
/// `Some(child_pid)` in the parent and `None` in the child.
pub(crate) fn fork_single_threaded() -> io::Result<Option<i32>> {
    if thread_count()? != 1 {
        return Err(os_error(libc::EBUSY));
    }
    // SAFETY: the process has exactly one thread (checked above, and only
    // this thread could create another), so the child is a complete copy with
    // no lock held by a vanished thread and may run arbitrary code.
    let pid = cvt(unsafe { libc::fork() })?;
    Ok(if pid == 0 { None } else { Some(pid) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd_flags(fd: RawFd) -> i32 {
        // SAFETY: F_GETFD takes no pointer.
        unsafe { libc::fcntl(fd, libc::F_GETFD) }
    }

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "dp-sys-{}-{}-{}",
            tag,
            std::process::id(),
            super::super::clock::monotonic_ns()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn created_descriptors_are_cloexec() {
        let (r, w) = pipe(false).unwrap();
        let (a, b) = socketpair(libc::AF_UNIX, libc::SOCK_STREAM, true).unwrap();
        let s = socket(libc::AF_INET, libc::SOCK_STREAM, false).unwrap();
        let n = open_dev_null().unwrap();
        let d = dup_cloexec(n.as_fd()).unwrap();
        assert!(d.as_raw_fd() >= 3);
        for fd in [&r, &w, &a, &b, &s, &n, &d] {
            assert_ne!(fd_flags(fd.as_raw_fd()) & libc::FD_CLOEXEC, 0);
        }
    }

    #[test]
    fn describe_pipes_sockets_and_files() {
        let (r, w) = pipe(true).unwrap();
        assert_eq!(
            describe(r.as_fd()).unwrap(),
            FdDescription::File { read: true, write: false, append: false, nonblock: true }
        );
        set_nonblocking(w.as_fd(), false).unwrap();
        assert_eq!(
            describe(w.as_fd()).unwrap(),
            FdDescription::File { read: false, write: true, append: false, nonblock: false }
        );
        let (a, _b) = socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, false).unwrap();
        assert_eq!(
            describe(a.as_fd()).unwrap(),
            FdDescription::Socket { domain: SockDomain::Unix, ty: SockType::Dgram, nonblock: false }
        );
        let (q, _q2) = socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET, true).unwrap();
        assert_eq!(
            describe(q.as_fd()).unwrap(),
            FdDescription::Socket { domain: SockDomain::Unix, ty: SockType::Seqpacket, nonblock: true }
        );
        let t = socket(libc::AF_INET, libc::SOCK_STREAM, false).unwrap();
        set_reuseaddr(t.as_fd()).unwrap();
        bind_inet(t.as_fd(), [127, 0, 0, 1], 0).unwrap();
        listen(t.as_fd(), 4).unwrap();
        assert_eq!(
            describe(t.as_fd()).unwrap(),
            FdDescription::Socket { domain: SockDomain::Inet, ty: SockType::Stream, nonblock: false }
        );
        let u = socket(libc::AF_INET6, libc::SOCK_DGRAM, true).unwrap();
        assert_eq!(
            describe(u.as_fd()).unwrap(),
            FdDescription::Socket { domain: SockDomain::Inet6, ty: SockType::Dgram, nonblock: true }
        );
        let dir = temp_dir("describe");
        let path = dir.join("f");
        let path_bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
        let f = open(path_bytes, libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND, 0o600).unwrap();
        assert_eq!(
            describe(f.as_fd()).unwrap(),
            FdDescription::File { read: false, write: true, append: true, nonblock: false }
        );
        let g = open(path_bytes, libc::O_RDWR | libc::O_NONBLOCK, 0).unwrap();
        assert_eq!(
            describe(g.as_fd()).unwrap(),
            FdDescription::File { read: true, write: true, append: false, nonblock: true }
        );
        assert_eq!(open(b"a\0b", libc::O_RDONLY, 0).unwrap_err().raw_os_error(), Some(libc::EINVAL));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn mkdir_parents_and_open() {
        let dir = temp_dir("mkdir");
        let mut path = std::os::unix::ffi::OsStrExt::as_bytes(dir.as_os_str()).to_vec();
        path.extend_from_slice(b"/x//y/z/file");
        mkdir_parents(&path);
        let f = open(&path, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o600).unwrap();
        assert_eq!(write(f.as_fd(), b"abc").unwrap(), 3);
        let meta = std::fs::metadata(dir.join("x/y/z")).unwrap();
        assert!(meta.is_dir());
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o077, 0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unlink_stale_socket_semantics() {
        let dir = temp_dir("sock");
        let base = std::os::unix::ffi::OsStrExt::as_bytes(dir.as_os_str()).to_vec();
        let sock = [&base[..], b"/ctl"].concat();
        assert_eq!(unlink_stale_socket(&sock).unwrap(), SocketPath::Free);
        let l = unix_listener(&sock, 2).unwrap();
        assert_eq!(
            describe(l.as_fd()).unwrap(),
            FdDescription::Socket { domain: SockDomain::Unix, ty: SockType::Stream, nonblock: true }
        );
        // A second bind on the existing file fails; a live listener is
        // left alone, with its pid (this process).
        assert_eq!(unix_listener(&sock, 2).unwrap_err().raw_os_error(), Some(libc::EADDRINUSE));
        assert_eq!(unlink_stale_socket(&sock).unwrap(), SocketPath::Live(Some(std::process::id() as i32)));
        assert!(dir.join("ctl").exists());
        // Once nothing listens, the socket is stale: unlinking makes room.
        drop(l);
        assert_eq!(unlink_stale_socket(&sock).unwrap(), SocketPath::Removed);
        assert!(!dir.join("ctl").exists());
        let _l2 = unix_listener(&sock, 2).unwrap();
        let file = [&base[..], b"/regular"].concat();
        std::fs::write(dir.join("regular"), b"x").unwrap();
        assert_eq!(unlink_stale_socket(&file).unwrap_err().raw_os_error(), Some(libc::EEXIST));
        assert!(dir.join("regular").exists());
        let sub = [&base[..], b"/sub"].concat();
        std::fs::create_dir(dir.join("sub")).unwrap();
        assert_eq!(unlink_stale_socket(&sub).unwrap_err().raw_os_error(), Some(libc::EISDIR));
        let long = [&base[..], b"/", &[b'n'; 120][..]].concat();
        assert_eq!(unix_listener(&long, 2).unwrap_err().raw_os_error(), Some(libc::ENAMETOOLONG));
        assert_eq!(unix_listener(b"", 2).unwrap_err().raw_os_error(), Some(libc::EINVAL));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn accept_connection_is_cloexec_nonblocking() {
        let dir = temp_dir("accept");
        let path = dir.join("s");
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
        let l = unix_listener(bytes, 2).unwrap();
        assert_eq!(accept(l.as_fd()).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        let _client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let c = accept(l.as_fd()).unwrap();
        assert_ne!(fd_flags(c.as_raw_fd()) & libc::FD_CLOEXEC, 0);
        assert!(matches!(describe(c.as_fd()).unwrap(), FdDescription::Socket { nonblock: true, .. }));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn fifo_hangs_up_only_after_a_writer_came_and_went() {
        let dir = temp_dir("fifo");
        let path = std::os::unix::ffi::OsStrExt::as_bytes(dir.join("f").as_os_str()).to_vec();
        // SAFETY: a NUL-terminated path and a mode.
        with_cstr(&path, |p| cvt(unsafe { libc::mkfifo(p, 0o600) })).unwrap();
        let r = open(&path, libc::O_RDONLY | libc::O_NONBLOCK, 0).unwrap();
        assert!(is_fifo(r.as_fd()) && !is_socket(r.as_fd()));
        let mut buf = [0u8; 8];
        // No writer yet: a read says 0, but there was no hang-up.
        assert_eq!(read(r.as_fd(), &mut buf).unwrap(), 0);
        assert!(!hung_up(r.as_fd()));
        let w = open(&path, libc::O_WRONLY | libc::O_NONBLOCK, 0).unwrap();
        assert_eq!(write(w.as_fd(), b"x\n").unwrap(), 2);
        assert!(!hung_up(r.as_fd()));
        drop(w);
        assert!(hung_up(r.as_fd()));
        assert_eq!(read(r.as_fd(), &mut buf).unwrap(), 2);
        assert_eq!(read(r.as_fd(), &mut buf).unwrap(), 0);
        assert!(hung_up(r.as_fd()));
        let null = open_dev_null().unwrap();
        assert!(!is_fifo(null.as_fd()));
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn send_fds(sock: BorrowedFd<'_>, bytes: &[u8], fds: &[RawFd]) {
        let mut cmsg = CmsgBuf([0; 256]);
        let mut iov = libc::iovec { iov_base: bytes.as_ptr() as *mut _, iov_len: bytes.len() };
        // SAFETY: plain old data.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cmsg.0.as_mut_ptr().cast();
        // SAFETY: pure computations and writes within `cmsg`, which is large
        // enough for MAX_RECV_FDS descriptors.
        unsafe {
            msg.msg_controllen = libc::CMSG_SPACE((fds.len() * 4) as u32) as _;
            let h = libc::CMSG_FIRSTHDR(&msg);
            (*h).cmsg_level = libc::SOL_SOCKET;
            (*h).cmsg_type = libc::SCM_RIGHTS;
            (*h).cmsg_len = libc::CMSG_LEN((fds.len() * 4) as u32) as _;
            let data = libc::CMSG_DATA(h).cast::<libc::c_int>();
            for (i, fd) in fds.iter().enumerate() {
                data.add(i).write_unaligned(*fd);
            }
            assert_eq!(libc::sendmsg(sock.as_raw_fd(), &msg, 0), bytes.len() as isize);
        }
    }

    #[test]
    fn recv_with_fds_receives_descriptors() {
        let (a, b) = socketpair(libc::AF_UNIX, libc::SOCK_STREAM, false).unwrap();
        let (pr, pw) = pipe(false).unwrap();
        let n = open_dev_null().unwrap();
        send_fds(a.as_fd(), b"fd.take\tx\n", &[pw.as_raw_fd(), n.as_raw_fd()]);
        let mut buf = [0u8; 64];
        let mut fds = Vec::new();
        let got = recv_with_fds(b.as_fd(), &mut buf, &mut fds).unwrap();
        assert_eq!(&buf[..got], b"fd.take\tx\n");
        assert_eq!(fds.len(), 2);
        for fd in &fds {
            assert_ne!(fd_flags(fd.as_raw_fd()) & libc::FD_CLOEXEC, 0);
        }
        // The received write end is the same pipe.
        drop(pw);
        assert_eq!(write(fds[0].as_fd(), b"ok").unwrap(), 2);
        let mut two = [0u8; 2];
        assert_eq!(read(pr.as_fd(), &mut two).unwrap(), 2);
        assert_eq!(&two, b"ok");
        // Plain data without descriptors.
        assert_eq!(send_nosignal(a.as_fd(), b"echo\n").unwrap(), 5);
        let got = recv_with_fds(b.as_fd(), &mut buf, &mut fds).unwrap();
        assert_eq!((&buf[..got], fds.len()), (&b"echo\n"[..], 2));
        // Not a socket: falls back to read.
        let (r2, w2) = pipe(false).unwrap();
        write(w2.as_fd(), b"line\n").unwrap();
        let got = recv_with_fds(r2.as_fd(), &mut buf, &mut fds).unwrap();
        assert_eq!(&buf[..got], b"line\n");
        assert!(is_socket(a.as_fd()) && !is_socket(r2.as_fd()));
        // EOF, and EPIPE (not SIGPIPE) after the peer is gone.
        drop(a);
        assert_eq!(recv_with_fds(b.as_fd(), &mut buf, &mut fds).unwrap(), 0);
        assert_eq!(send_nosignal(b.as_fd(), b"x").unwrap_err().raw_os_error(), Some(libc::EPIPE));
    }

    #[test]
    fn scan_and_take_inherited() {
        let n = open_dev_null().unwrap();
        // An inheritable duplicate, as if received from the parent process.
        // SAFETY: F_DUPFD creates a new descriptor that this test then owns.
        let raw = unsafe { libc::fcntl(n.as_raw_fd(), libc::F_DUPFD, 900) };
        assert!(raw >= 900);
        set_nonblocking(n.as_fd(), true).unwrap();
        assert_eq!(fd_flags(raw) & libc::FD_CLOEXEC, 0);
        let found = scan_inherited(raw, raw + 1);
        assert_eq!(found, vec![raw]);
        let owned = take_inherited(raw).unwrap();
        assert_ne!(fd_flags(raw) & libc::FD_CLOEXEC, 0);
        // The status flags (shared O_NONBLOCK) are untouched.
        assert!(matches!(
            describe(owned.as_fd()).unwrap(),
            FdDescription::File { nonblock: true, read: true, write: true, .. }
        ));
        drop(owned);
        assert!(scan_inherited(raw, raw).is_empty());
        assert_eq!(take_inherited(raw).unwrap_err().raw_os_error(), Some(libc::EBADF));
    }

    #[test]
    fn dup2_keep_is_inheritable() {
        let n = open_dev_null().unwrap();
        let spare = dup_cloexec(n.as_fd()).unwrap();
        let target = spare.as_raw_fd();
        dup2_keep(n.as_fd(), target).unwrap();
        assert_eq!(fd_flags(target) & libc::FD_CLOEXEC, 0);
        drop(spare);
    }

    #[test]
    fn process_helpers() {
        kill(std::process::id() as i32, 0).unwrap();
        assert_eq!(kill(-99999999, 0).unwrap_err().raw_os_error(), Some(libc::ESRCH));
        assert!(killpg(0x3fff_fff0, 0).is_err());
        assert_eq!(chdir(b"/no/such/dir").unwrap_err().raw_os_error(), Some(libc::ENOENT));
        assert!(thread_count().unwrap() >= 1);
    }
}
