//! Collecting exited children.
//!
//! The reactor calls [`reap_one`] until it returns `None` on every wake-up
//! (SIGCHLD only wakes the loop). Children that belong to no service, such as
//! orphans adopted when running as PID 1 or subreaper, are reaped the same way.

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    /// It called `exit`/`_exit` with this status.
    Exited(u8),
    /// It was killed by this signal.
    Signaled(i32),
}

impl WaitStatus {
    /// Decodes a raw `waitpid` status; `None` for stopped/continued reports.
    pub(crate) fn from_raw(status: i32) -> Option<WaitStatus> {
        if libc::WIFEXITED(status) {
            Some(WaitStatus::Exited(libc::WEXITSTATUS(status) as u8))
        } else if libc::WIFSIGNALED(status) {
            Some(WaitStatus::Signaled(libc::WTERMSIG(status)))
        } else {
            None
        }
    }
}

/// What a reaped child used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Rusage {
    /// User CPU time, microseconds.
    pub user_us: u64,
    /// System CPU time, microseconds.
    pub system_us: u64,
    /// Peak resident set size, KiB.
    pub max_rss_kb: u64,
}

/// Reaps one exited child without blocking: `wait4(-1, WNOHANG)`, retried on
/// `EINTR`, with what it used. Returns `None` when no child has exited (or
/// there are no children).
pub(crate) fn reap_one() -> Option<(i32, WaitStatus, Rusage)> {
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain old data; all-zero is valid.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `status` and `ru` are valid writable values; wait4 has no
        // other memory effects.
        let pid = unsafe { libc::wait4(-1, &mut status, libc::WNOHANG, &mut ru) };
        if pid > 0 {
            let us = |t: libc::timeval| (t.tv_sec.max(0) as u64) * 1_000_000 + t.tv_usec.max(0) as u64;
            let usage =
                Rusage { user_us: us(ru.ru_utime), system_us: us(ru.ru_stime), max_rss_kb: ru.ru_maxrss.max(0) as u64 };
            match WaitStatus::from_raw(status) {
                Some(ws) => return Some((pid, ws, usage)),
                // Stopped/continued: not requested (no WUNTRACED/WCONTINUED),
                // but skip such a report should one ever arrive.
                None => continue,
            }
        }
        if pid == 0 {
            return None;
        }
        if super::errno() == libc::EINTR {
            continue;
        }
        // ECHILD (no children at all) or anything unexpected.
        return None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Forks a child that reaps its own grandchildren with `reap_one` (the
    /// test process's other children must not be stolen), and reports the
    /// outcome as its exit status.
    #[test]
    fn reap_one_reports_exit_and_signal_then_none() {
        // SAFETY: the child runs only async-signal-safe calls (fork, _exit,
        // kill, waitid, waitpid through reap_one) and always ends with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: see above; nothing here allocates or takes locks.
            unsafe {
                let code = (|| {
                    if reap_one().is_some() {
                        return 10;
                    }
                    let a = libc::fork();
                    if a == 0 {
                        libc::_exit(7);
                    }
                    let b = libc::fork();
                    if b == 0 {
                        libc::pause();
                        libc::_exit(0);
                    }
                    if a < 0 || b < 0 {
                        return 11;
                    }
                    libc::kill(b, libc::SIGKILL);
                    let mut seen_a = false;
                    let mut seen_b = false;
                    for _ in 0..2 {
                        // Block until some child is waitable, without reaping it.
                        let mut info: libc::siginfo_t = std::mem::zeroed();
                        if libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOWAIT) != 0 {
                            return 12;
                        }
                        match reap_one() {
                            Some((p, WaitStatus::Exited(7), _)) if p == a => seen_a = true,
                            Some((p, WaitStatus::Signaled(libc::SIGKILL), _)) if p == b => seen_b = true,
                            _ => return 13,
                        }
                    }
                    if !(seen_a && seen_b) {
                        return 14;
                    }
                    if reap_one().is_some() {
                        return 15;
                    }
                    0
                })();
                libc::_exit(code);
            }
        }
        let mut status = 0;
        // SAFETY: valid pointer; waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(r, pid);
        assert_eq!(WaitStatus::from_raw(status), Some(WaitStatus::Exited(0)));
    }
}
