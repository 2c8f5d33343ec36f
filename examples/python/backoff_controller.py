#!/usr/bin/env python3
r"""A daemonproxy controller in Python 3 (standard library only).

Policy (the same as examples/controller.sh): keep the managed services
running; when one exits, restart it after a delay that doubles (1, 2, 4 ...
30 s) while it keeps exiting quickly, and goes back to 1 s after a run of
10 s or more. On SIGTERM to the daemon: clear the signal, stop every managed
service (service.signal NAME SIGTERM, or cancel a pending start), wait for
their `down` events, then `terminate 0`.

Run it as a controller service (events on stdin, commands on stdout), as
examples/python-controller.conf does; in a config file the fields of a line
are separated by single TABs (written \t here, so that no one copies
spaces):

    service.args\tcontroller\tpython3\texamples/python/backoff_controller.py[\tSERVICE...]
    service.fds\tcontroller\tcontrol.event\tcontrol.cmd\tstderr
    service.auto_up\tcontroller\t1\talways

With SERVICE names it manages those services (defined elsewhere, e.g. in the
config file); without, it defines a demo service "worker".
"""

import sys

FIRST_DELAY, MAX_DELAY, LONG_RUN = 1, 30, 10

# Lines are bytes with TABs; CR is data, so only LF ends a line.
sys.stdin.reconfigure(errors="surrogateescape", newline="\n")
sys.stdout.reconfigure(errors="surrogateescape", newline="\n")

delays = {}      # managed service -> delay before its next restart
states = {}      # service -> "down" / "start" / "up", from service.state events
backlog = []     # events read while waiting for a sync token, handled next
stopping = False
tokens = 0


def log(text):
    print("backoff_controller.py: " + text, file=sys.stderr, flush=True)


def send(*fields):
    """Send one command: its fields joined by TABs."""
    sys.stdout.write("\t".join(str(f) for f in fields) + "\n")
    sys.stdout.flush()


def read_line():
    """The next event line without its LF; exits when the daemon is gone."""
    line = sys.stdin.readline()
    if not line:
        sys.exit(0)
    return line[:-1] if line.endswith("\n") else line


def sync():
    """Send an echo token; return the lines that arrive before it comes back."""
    global tokens
    tokens += 1
    token = "--py-sync-%d--" % tokens
    send("echo", token)
    lines = []
    while True:
        line = read_line()
        if line == token:
            return lines
        if line == "overflow":  # our token may have been dropped: ask again
            send("echo", token)
        lines.append(line)


def statedump():
    """Learn the state of every service (and a pending SIGTERM)."""
    while True:
        send("statedump")
        lines = sync()
        if "overflow" not in lines:
            break
    states.clear()
    term = 0
    for line in lines:  # in order: events interleaved with the dump count too
        f = line.split("\t")
        if f[0] == "service.state" and len(f) == 9:
            states[f[1]] = f[2]
        elif f[0] == "signal" and f[1] == "SIGTERM":
            term = int(f[3])
    return term


def resync():
    term = statedump()
    if stopping or term:
        stop(term)
        return
    for name in delays:
        if states.get(name) not in ("up", "start"):
            send("service.start", name)


def restart_later(name, ts, uptime, reason):
    if uptime >= LONG_RUN:
        delays[name] = FIRST_DELAY
    delay = delays[name]
    log("%s exited (%s), restart in %ds" % (name, reason, delay))
    delays[name] = min(delay * 2, MAX_DELAY)
    # service.start refuses a second that has already begun, which happens
    # when this controller sees the `down` late: start now then.
    send("service.start", name, ts + delay)
    for line in sync():
        if line.startswith("error\tinvalid timestamp"):
            send("service.start", name)
        else:
            backlog.append(line)


def stop(count):
    global stopping
    if not stopping:
        log("SIGTERM, stopping")
    stopping = True
    if count:
        send("signal.clear", "SIGTERM", count)
    for name in delays:
        if states.get(name) == "up":
            send("service.signal", name, "SIGTERM")
        elif states.get(name) == "start":
            send("service.start", name, "-")
    terminate_when_stopped()


def terminate_when_stopped():
    if stopping and all(states.get(n) not in ("up", "start") for n in delays):
        log("all stopped, terminating")
        send("terminate", 0)


def main():
    names = sys.argv[1:]
    if not names:
        names = ["worker"]
        send("service.args", "worker", "sh", "-c", 'echo "worker $$ working" >&2; sleep 3')
        send("service.fds", "worker", "null", "stderr", "stderr")
    for name in names:
        delays[name] = FIRST_DELAY
    resync()
    while True:
        f = (backlog.pop(0) if backlog else read_line()).split("\t")
        if f[0] == "overflow":
            resync()
        elif f[0] == "signal" and f[1] == "SIGTERM" and not stopping:
            stop(int(f[3]))
        elif f[0] == "service.state" and len(f) == 9:
            name, state = f[1], f[2]
            states[name] = state
            if name not in delays:
                continue
            if state == "up" and stopping:
                send("service.signal", name, "SIGTERM")
            elif state == "down" and f[3] != "-" and not stopping:
                restart_later(name, int(f[3]), int(f[7]), f[5] + " " + f[6])
            terminate_when_stopped()


if __name__ == "__main__":
    main()
