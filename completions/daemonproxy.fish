# fish completion for daemonproxy. Generated from the option tables of daemonproxy-cli
# by daemonproxy-cli/src/generated.rs; do not edit. Regenerate:
# DAEMONPROXY_UPDATE_GENERATED=1 cargo test -p daemonproxy-cli generated

complete -c daemonproxy -f
complete -c daemonproxy -n __fish_use_subcommand -a ctl -d 'Talk to a running daemon through its control socket (see ctl --help)'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -s c -l config -r -F -d 'Read command stream from FILENAME at startup'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -l check -d 'Check the -c file for mistakes, run nothing, exit'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -s i -l interactive -d 'Use STDIN+STDOUT as a controller communication pipe'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -s S -l socket -r -F -d 'Listen on PATH for controller connections'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -s D -l daemonize -d 'Fork into the background'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -l exit-guard -x -d 'Guard against accidental termination'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -s E -l exit-exec -x -d 'exec() args in any trappable exit scenario'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -l fd-pool -x -d 'Pre-allocate N named handles [of M bytes each, default 96]'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -l service-pool -x -d 'Pre-allocate N services [of M bytes each, default 512]'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -l max-connections -x -d 'Serve at most N control socket clients [default 1000]'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -s M -l mlockall -d 'Call mlockall() after allocating structures'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -l subreaper -d 'Adopt orphans of services (child subreaper)'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -l notify-socket -r -F -d 'Readiness socket path [default: abstract]'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -l reexec-signal -x -d 'Re-execute daemonproxy on SIG (live upgrade)'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -l log-timestamps -d 'Start log lines with the UTC time'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -s v -l verbose -d 'Enable another level of logging output'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -s q -l quiet -d 'Suppress another level of logging output'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -s h -l help -d 'Quick usage synopsis'
complete -c daemonproxy -n 'not __fish_seen_subcommand_from ctl' -l version -d 'Print complete version information'
complete -c daemonproxy -n '__fish_seen_subcommand_from ctl' -s S -l socket -r -F -d 'Control socket of the daemon (its -S PATH) [default: $DAEMONPROXY_SOCKET]'
complete -c daemonproxy -n '__fish_seen_subcommand_from ctl' -s t -l timeout -x -d 'Seconds to wait for each answer of the daemon'
complete -c daemonproxy -n '__fish_seen_subcommand_from ctl' -s h -l help -d 'Print this help and exit [default: off]'
complete -c daemonproxy -n '__fish_seen_subcommand_from ctl' -a 'status start stop restart follow shutdown echo statedump exit service.args service.tags service.fds service.auto_up service.start service.signal service.delete fd.open fd.pipe fd.socket fd.take fd.delete socket.create socket.delete chdir log.filter log.dest conn.event_timeout signal.clear terminate terminate.guard terminate.exec_args service.env service.cwd service.user service.rlimit service.umask service.notify service.listen_fds conn.extended reexec'
