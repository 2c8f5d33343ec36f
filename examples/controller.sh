#!/bin/sh
# A small daemonproxy controller in POSIX sh.
#
# Policy: keep the service "worker" running; restart it with a growing
# delay (1, 2, 4 ... 30 s) when it exits quickly, and reset the delay when
# it ran for a while. On SIGTERM to the daemon: stop the worker, wait for
# its `down`, then terminate the daemon.
#
# Events arrive on stdin, commands go to stdout, one TAB-separated line each.

tab=$(printf '\t')
delay=1

# send CMD ARG...: one command line, arguments separated by TABs.
send() {
    printf '%s' "$1"; shift
    for a in "$@"; do printf '\t%s' "$a"; done
    printf '\n'
}

send service.args worker sh -c 'echo "worker $$ working" >&2; sleep 3'
send service.fds worker null stderr stderr
send service.start worker

while IFS="$tab" read -r ev name state ts pid reason value uptime rest; do
    case "$ev:$state" in
    service.state:down)
        [ "$name" = worker ] || continue
        if [ -n "$stopping" ]; then
            echo "controller: worker stopped, terminating" >&2
            send terminate 0
            continue
        fi
        if [ "${uptime:-0}" -ge 10 ] 2>/dev/null; then delay=1; fi
        echo "controller: worker exited ($reason $value), restart in ${delay}s" >&2
        # service.start takes a CLOCK_MONOTONIC second; ts is the reap second.
        send service.start worker $((ts + delay))
        delay=$((delay * 2)); [ $delay -gt 30 ] && delay=30
        ;;
    signal:*)
        if [ "$name" = SIGTERM ]; then
            stopping=1
            send signal.clear SIGTERM 1
            send service.signal worker SIGTERM
        fi
        ;;
    esac
done
