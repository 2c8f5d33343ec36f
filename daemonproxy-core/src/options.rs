//! How to build a supervisor or a reactor.

use daemonproxy_proto::LogLevel;

/// Settings of a [`crate::Reactor`] (or a [`crate::Supervisor`]), built
/// with chained setters:
///
/// ```
/// use daemonproxy_core::Options;
/// use daemonproxy_core::proto::LogLevel;
///
/// let opts = Options::new().log_filter(LogLevel::Info).service_pool(64, 256);
/// assert_eq!(opts.service_limit(), Some(64));
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    pub(crate) log_filter: LogLevel,
    pub(crate) fd_pool: Option<(usize, usize)>,
    pub(crate) service_pool: Option<(usize, usize)>,
    pub(crate) guard: Option<i64>,
    pub(crate) exec_args: Vec<u8>,
    pub(crate) register_inherited: bool,
    pub(crate) subreaper: bool,
    pub(crate) notify_path: Option<Vec<u8>>,
    pub(crate) max_connections: usize,
    pub(crate) reexec_signal: Option<daemonproxy_proto::Signal>,
    pub(crate) reexec_args: Vec<std::ffi::OsString>,
    pub(crate) log_timestamps: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            log_filter: LogLevel::Debug,
            fd_pool: None,
            service_pool: None,
            guard: None,
            exec_args: Vec::new(),
            register_inherited: false,
            subreaper: false,
            notify_path: None,
            max_connections: Options::DEFAULT_MAX_CONNECTIONS,
            reexec_signal: None,
            reexec_args: Vec::new(),
            log_timestamps: false,
        }
    }
}

impl Options {
    /// Control-socket clients admitted at once unless
    /// [`Options::max_connections`] says otherwise. Each costs up to
    /// ~68 KiB at worst (a full 64 KiB output buffer and a 4 KiB input
    /// buffer), so the default bounds them to ~68 MB; it is also about as
    /// many as the usual descriptor limit (1024) lets the daemon hold. The
    /// original admitted two controllers in all.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;

    /// The defaults: log filter `debug` (so `info` and above are written),
    /// no pools, no terminate guard, no exec-on-exit, inherited descriptors
    /// not registered, at most [`Options::DEFAULT_MAX_CONNECTIONS`]
    /// control-socket clients.
    pub fn new() -> Options {
        Options::default()
    }

    /// Messages of levels above `level` are logged (`log.filter`).
    pub fn log_filter(mut self, level: LogLevel) -> Options {
        self.log_filter = level;
        self
    }

    /// At most `count` named handles; descriptions are cut to fit objects
    /// of `size` bytes (`--fd-pool COUNTxSIZE`). Memory for them is
    /// reserved up front.
    pub fn fd_pool(mut self, count: usize, size: usize) -> Options {
        self.fd_pool = Some((count, size));
        self
    }

    /// At most `count` services, each with `size` bytes for its settings
    /// (`--service-pool COUNTxSIZE`). Memory is reserved up front, and the
    /// steady state (commands, starts, exits, events) does not allocate,
    /// as long as no controller is sent more than 2 KiB at a time (a
    /// larger burst, a statedump say, grows its output buffer while it
    /// lasts).
    pub fn service_pool(mut self, count: usize, size: usize) -> Options {
        self.service_pool = Some((count, size));
        self
    }

    /// The terminate guard: `terminate` needs this code, and fatal
    /// conditions are survived. 0 means none.
    pub fn terminate_guard(mut self, code: i64) -> Options {
        self.guard = Some(code).filter(|&c| c != 0);
        self
    }

    /// The program run when the daemon ends (exec-on-exit): TAB-separated
    /// arguments, the first searched in `PATH`; empty for none.
    pub fn exec_on_exit(mut self, args: impl Into<Vec<u8>>) -> Options {
        self.exec_args = args.into();
        self
    }

    /// Register the descriptors 3..=1023 open when the reactor is created
    /// as handles `fd_N` (what the `daemonproxy` binary does).
    pub fn register_inherited(mut self, yes: bool) -> Options {
        self.register_inherited = yes;
        self
    }

    /// Become the child subreaper (`PR_SET_CHILD_SUBREAPER`): processes
    /// that services leave behind (double-forked daemons) are re-parented
    /// to the daemon instead of init, so they are reaped and reported
    /// (`orphan.exit`). Undone when the reactor is dropped.
    pub fn subreaper(mut self, yes: bool) -> Options {
        self.subreaper = yes;
        self
    }

    /// Bind the readiness notification socket (`service.notify NAME
    /// socket`) at this path instead of an abstract name
    /// (`@daemonproxy/notify/PID`); it is removed when the reactor is
    /// dropped.
    pub fn notify_socket(mut self, path: impl Into<Vec<u8>>) -> Options {
        self.notify_path = Some(path.into());
        self
    }

    /// At most `count` control-socket clients at once (`--max-connections`):
    /// a client beyond them is accepted and closed at once, and the refusals
    /// are logged once per spell. 0 refuses every client. Service
    /// connections and in-process controllers do not count.
    pub fn max_connections(mut self, count: usize) -> Options {
        self.max_connections = count;
        self
    }

    /// Re-execute the daemon (as `reexec` with no arguments) when this
    /// signal arrives (it is then not recorded as a `signal` event).
    pub fn reexec_signal(mut self, sig: daemonproxy_proto::Signal) -> Options {
        self.reexec_signal = Some(sig);
        self
    }

    /// The arguments a plain `reexec` runs the running binary
    /// (`/proc/self/exe`) with: the program's own, so the new image parses
    /// the same options. The reactor appends `--restore-state FD`, which the
    /// new image takes out with [`crate::take_restore_state`] and hands to
    /// [`crate::Reactor::restore`].
    pub fn reexec_args(mut self, args: Vec<std::ffi::OsString>) -> Options {
        self.reexec_args = args;
        self
    }

    /// Start each log line with the wall-clock time in UTC
    /// (`2026-12-04T17:50:12.345Z info: ...`), as the driver gives it
    /// ([`crate::Supervisor::set_wall_clock`]; the reactor does).
    pub fn log_timestamps(mut self, yes: bool) -> Options {
        self.log_timestamps = yes;
        self
    }

    /// The service limit, if a service pool is set.
    pub fn service_limit(&self) -> Option<usize> {
        self.service_pool.map(|(n, _)| n)
    }

    /// The handle limit, if a handle pool is set.
    pub fn handle_limit(&self) -> Option<usize> {
        self.fd_pool.map(|(n, _)| n)
    }

    /// Whether any pool is set (the steady state must not allocate).
    pub(crate) fn pooled(&self) -> bool {
        self.fd_pool.is_some() || self.service_pool.is_some()
    }
}
