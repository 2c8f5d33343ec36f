#!/bin/sh
# A small daemonproxy controller in POSIX sh.
#
# Policy: keep the service "worker" running; restart it with a growing
# delay (1, 2, 4 ... 30 s) when it exits quickly, and reset the delay when
# it ran for a while. On SIGTERM to the daemon: cancel a pending restart,
# stop the worker, wait for its `down`, then terminate the daemon.
#
# Events arrive on stdin, commands go to stdout, one TAB-separated line each.

tab=$(printf '\t')
delay=1
running=0
pending=

# send CMD ARG...: one command line, arguments separated by TABs.
send() {
    printf '%s' "$1"; shift
    for a in "$@"; do printf '\t%s' "$a"; done
    printf '\n'
}

# Restart the worker after $1 seconds (a background sleep: sh has no
# CLOCK_MONOTONIC to compute an absolute `service.start` time from).
restart_later() {
    ( sleep "$1" && send service.start worker ) &
    pending=$!
}

send service.args worker sh -c 'echo "worker $$ working" >&2; sleep 3'
send service.fds worker null stderr stderr
send service.start worker

while IFS="$tab" read -r ev name state ts pid reason value uptime rest; do
    case "$ev:$state" in
    service.state:up)
        [ "$name" = worker ] && running=1
        ;;
    service.state:down)
        [ "$name" = worker ] || continue
        running=0
        if [ -n "$stopping" ]; then
            echo "controller: worker stopped, terminating" >&2
            send terminate 0
            continue
        fi
        if [ "${uptime:-0}" -ge 10 ] 2>/dev/null; then delay=1; fi
        echo "controller: worker exited ($reason $value), restart in ${delay}s" >&2
        restart_later "$delay"
        delay=$((delay * 2)); [ $delay -gt 30 ] && delay=30
        ;;
    signal:*)
        [ "$name" = SIGTERM ] || continue
        stopping=1
        send signal.clear SIGTERM 1
        [ -n "$pending" ] && kill "$pending" 2>/dev/null
        if [ "$running" = 1 ]; then
            send service.signal worker SIGTERM
        else
            echo "controller: worker not running, terminating" >&2
            send terminate 0
        fi
        ;;
    esac
done
