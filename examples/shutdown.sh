#!/bin/sh
# Clean shutdown for daemonproxy, in POSIX sh: stop every service, then
# make the daemon exit. daemonproxy never stops its services by itself
# (signals only become events), so this policy is a service of its own,
# started by SIGTERM or SIGINT. See examples/shutdown.conf:
#
#   service.args	shutdown	sh	examples/shutdown.sh	TIMEOUT	EXITCODE	[GUARD]
#   service.fds	shutdown	control.socket	control.socket	stderr
#   service.auto_up	shutdown	1	SIGTERM	SIGINT
#
# Its stdin and stdout are one connection to the daemon (control.socket):
# commands out, events and replies in. What it does:
#
# 1. clears the auto_up triggers of every other service and cancels the
#    starts already scheduled, until a state dump shows nothing pending;
# 2. sends SIGTERM to the process group of every running service;
# 3. after TIMEOUT seconds, sends SIGKILL to the groups of those whose
#    `down` has not come yet, and waits for them (at most TIMEOUT seconds
#    more);
# 4. kills what is left of each stopped group (processes that ignored the
#    TERM after their leader exited);
# 5. drops its own triggers, clears the terminate guard if GUARD is given
#    (daemonproxy as PID 1 has the guard 1 by default, see
#    examples/container.conf), sends `terminate EXITCODE`, waits for the
#    daemon to close the connection, and ends itself and its timer.
#
# If the handler fails before step 5, the signal is still pending, so the
# daemon restarts it after INTERVAL and it starts over.

if [ $# -lt 2 ]; then
    echo "usage: shutdown.sh TIMEOUT EXITCODE [GUARD]" >&2
    exit 2
fi
timeout=$1
code=$2
guard=${3:-}
tab=$(printf '\t')

say() {
    echo "shutdown: $*" >&2
}

# The connection to the daemon, also inside command substitutions.
exec 3>&1

# send WORD...: one command line, its words separated by TABs.
send() {
    {
        printf '%s' "$1"
        shift
        for word in "$@"; do
            printf '\t%s' "$word"
        done
        printf '\n'
    } >&3
}

# dump: asks for the daemon's state and prints one line per service, the
# last thing heard about it: "state NAME STATE PID", and "auto NAME" for a
# service with auto_up triggers. (The dump comes step by step, so live
# events can come in between: the last line about a name wins.)
dump() {
    send statedump
    send echo "dump-$$"
    while IFS=$tab read -r event name state ts pid rest; do
        case $event in
        "dump-$$") break ;;
        service.state) echo "state $name $state $pid" ;;
        service.auto_up) [ "$state" = - ] || echo "auto $name" ;;
        esac
    done | awk '{ key = $1 " " $2; if (!(key in last)) order[++n] = key; last[key] = $0 }
                END { for (i = 1; i <= n; i++) print last[order[i]] }'
}

# start_timer: in TIMEOUT seconds, has the daemon echo "timeout-PID" back
# into the event stream (sh has no read with a time limit).
start_timer() {
    (sleep "$timeout" && send echo "timeout-$$") &
}

# without NAME LIST...: the list without NAME.
without() {
    name=$1
    shift
    for n in "$@"; do
        [ "$n" = "$name" ] || printf '%s ' "$n"
    done
}

# 1. Nothing may start any more.
states=$(dump)
me=$(echo "$states" | awk -v pid=$$ '$1 == "state" && $4 == pid { print $2 }')
if [ -z "$me" ]; then
    say "not running as a daemonproxy service (no service has pid $$)"
    exit 2
fi
first=1
while :; do
    pending_starts=
    while read -r kind name state pid; do
        [ "$name" = "$me" ] && continue
        case $kind in
        state)
            if [ "$state" = start ]; then
                send service.start "$name" -
                pending_starts=1
            fi
            ;;
        auto)
            [ -n "$first" ] && send service.auto_up "$name" -
            ;;
        esac
    done <<EOF
$states
EOF
    # Done when a dump taken after the triggers were cleared shows no
    # start pending.
    [ -z "$first" ] && [ -z "$pending_starts" ] && break
    first=
    states=$(dump)
done

# 2. TERM to every running group.
running=
groups=
while read -r kind name state pid; do
    [ "$kind" = state ] && [ "$state" = up ] && [ "$name" != "$me" ] || continue
    send service.signal "$name" SIGTERM group
    running="$running$name "
    groups="$groups$pid "
done <<EOF
$states
EOF

# 3. Wait for their `down`; KILL the stubborn ones after TIMEOUT.
if [ -n "$running" ]; then
    say "sent SIGTERM to" $running
    start_timer
    phase=term
    while [ -n "$running" ] && IFS=$tab read -r event name state rest; do
        case $event in
        service.state)
            [ "$state" = down ] && running=$(without "$name" $running)
            ;;
        "timeout-$$")
            if [ "$phase" = term ]; then
                say "still running after ${timeout}s, sending SIGKILL to" $running
                for name in $running; do
                    send service.signal "$name" SIGKILL group
                done
                phase=kill
                start_timer
            else
                say "giving up on" $running
                break
            fi
            ;;
        esac
    done
fi

# 4. What is left of the stopped groups.
for pgid in $groups; do
    kill -s KILL -- "-$pgid" 2>/dev/null
done

# 5. Exit the daemon. This handler must not run again meanwhile (its signal
# is still pending), so it drops its own triggers first. Then it reads until
# the daemon closes the connection, or reports why `terminate` was refused,
# and ends itself and its timer (their process group).
send service.auto_up "$me" -
[ -n "$guard" ] && send terminate.guard - "$guard"
say "terminating with status $code"
send terminate "$code"
while IFS= read -r line; do
    case $line in
    error"$tab"*'for command "terminate'*)
        say "refused: ${line#error"$tab"}"
        break
        ;;
    esac
done
trap 'exit 0' TERM
kill -s TERM 0
