//! Ending the daemon (protocol.md §3.9, protocol.md §8.5): `terminate`, the terminate guard,
//! exec-on-exit, the end of the interactive session, and `chdir`.

use super::action::ActionResult;
use super::log::log;
use super::queue::{Issuer, Pending};
use super::{Res, Supervisor};
use crate::error::Outcome;
use crate::time::Time;

impl Supervisor {
    /// `terminate CODE [GUARD]`.
    pub(super) fn terminate(&mut self, code: i64, guard: Option<i64>) -> Res {
        if let Some(g) = self.guard {
            match guard {
                None => return self.fail("terminate guard code required"),
                Some(x) if x != g => return self.fail("incorrect terminate guard code"),
                _ if self.exec_args.is_empty() => return self.fail("cannot exit, and exec-on-exit is not configured"),
                _ => {}
            }
        }
        self.outcome = Some(Outcome::Exit { code });
        Ok(())
    }

    /// `terminate.guard + CODE` / `terminate.guard - CODE`.
    pub(super) fn terminate_guard_cmd(&mut self, set: bool, code: i64) -> Res {
        match (set, self.guard) {
            (true, Some(_)) => self.fail("terminate guard code is already set"),
            (true, None) => {
                self.guard = Some(code);
                Ok(())
            }
            (false, None) => self.fail("terminate guard was not set"),
            (false, Some(g)) if g != code => self.fail("incorrect guard code"),
            (false, Some(_)) => {
                self.guard = None;
                Ok(())
            }
        }
    }

    /// `terminate.exec_args [ARG...]`.
    pub(super) fn terminate_exec_args(&mut self, args: &[u8]) -> Res {
        if args.contains(&0) {
            return self.fail("terminate.exec_args: Invalid argument");
        }
        self.exec_args.clear();
        self.exec_args.extend_from_slice(args);
        self.queue.exec_on_exit(args);
        Ok(())
    }

    /// The interactive session ended: so does the daemon, unless guarded.
    pub(super) fn session_ended(&mut self, _now: Time) {
        if self.guard.is_some() {
            log!(self.log, Warning, "interactive session ended, but not exiting due to terminate-guard");
        } else {
            log!(self.log, Info, "interactive session ended");
            self.outcome.get_or_insert(Outcome::Exit { code: 0 });
        }
    }

    /// `reexec [PATH [ARG...]]` (or the reexec signal, without an issuer):
    /// waits for the result, which comes only if the exec failed.
    pub(super) fn reexec(&mut self, issuer: Option<Issuer>, args: &[u8]) -> Res {
        if args.contains(&0) {
            return self.fail("reexec: Invalid argument");
        }
        log!(self.log, Info, "re-executing the daemon");
        self.queue.reexec(args, Pending::Reexec { issuer });
        if let Some(i) = &issuer {
            self.wait_for_result(i);
        }
        Ok(())
    }

    /// `reexec` failed: the daemon carries on.
    pub(super) fn reexec_failed(&mut self, issuer: Option<Issuer>, r: ActionResult, now: Time) {
        if let ActionResult::Failed { errno, .. } = r {
            log!(self.log, Error, "reexec failed: {}", errno);
            if let Some(i) = issuer {
                self.report_errno(i, "reexec failed: ", errno, now);
            }
        }
        if let Some(i) = issuer {
            self.done_waiting(&i, now);
        }
    }

    /// `chdir PATH`: waits for the result.
    pub(super) fn chdir(&mut self, issuer: Issuer, path: &[u8]) -> Res {
        self.queue.chdir(path, Pending::Chdir { issuer });
        self.wait_for_result(&issuer);
        Ok(())
    }

    /// The result of `chdir`.
    pub(super) fn chdir_done(&mut self, issuer: Issuer, r: ActionResult, now: Time) {
        if let ActionResult::Failed { errno, .. } = r {
            self.report_errno(issuer, "chdir failed: ", errno, now);
        }
        self.done_waiting(&issuer, now);
    }
}
