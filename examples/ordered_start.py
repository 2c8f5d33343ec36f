#!/usr/bin/env python3
r"""Start services in dependency order, each only after the one before it
is ready: a daemonproxy controller in Python 3 (standard library only).

daemonproxy reports readiness (`service.ready NAME TS PID`) for services
set up with `service.notify NAME fd N` or `service.notify NAME socket`
(docs/protocol.md, section 3.3b); the order and what to do about a service
that fails to get ready are this controller's policy:

* the services named on the command line are started in that order; each
  `service.start` is sent only after the `service.ready` of the one before;
* a service that goes down before it is ready is started again one second
  later (an absolute `service.start NAME TS`, so nothing sleeps here);
* a service that is already up and ready (this controller was restarted)
  is skipped: `statedump` reports `service.ready` for the running process.

When every service is ready it says so on stderr and exits; restarting
services that exit later is a job for another controller (for example
examples/python/backoff_controller.py). Run it as a controller service,
events on stdin and commands on stdout, as examples/ordered.conf does (the
fields of a config line are separated by single TABs, written \t here):

    service.args\tstarter\tpython3\texamples/ordered_start.py\tdb\tqueue\tweb
    service.fds\tstarter\tcontrol.event\tcontrol.cmd\tstderr
    service.start\tstarter
"""

import sys

# Lines are bytes with TABs; CR is data, so only LF ends a line.
sys.stdin.reconfigure(errors="surrogateescape", newline="\n")
sys.stdout.reconfigure(errors="surrogateescape", newline="\n")


def log(text):
    print("ordered_start.py: " + text, file=sys.stderr, flush=True)


def send(*fields):
    """Send one command: its fields joined by TABs."""
    sys.stdout.write("\t".join(str(f) for f in fields) + "\n")
    sys.stdout.flush()


def events():
    """The event lines, split into fields, until the daemon goes away."""
    for line in sys.stdin:
        yield line.rstrip("\n").split("\t")


def statedump(stream):
    """The state of every service and which running ones are ready."""
    send("statedump")
    send("echo", "--ordered-start-dump--")
    states, ready = {}, set()
    for f in stream:
        if f == ["--ordered-start-dump--"]:
            return states, ready
        if f[0] == "service.state" and len(f) > 2:
            states[f[1]] = f[2]
        elif f[0] == "service.ready" and len(f) > 1:
            ready.add(f[1])
    sys.exit(1)


def wait_ready(name, stream):
    """Follow the events until `name` is ready, starting it again when it
    goes down before."""
    for f in stream:
        if f[0] == "service.ready" and f[1:2] == [name]:
            log("%s is ready (pid %s)" % (name, f[3]))
            return
        if f[0] == "service.state" and f[1:3] == [name, "down"] and f[3] != "-":
            log("%s went down before it was ready (%s %s), starting it again" % (name, f[5], f[6]))
            send("service.start", name, int(f[3]) + 1)
        elif f[0] == "error":
            log("%s: %s" % (name, " ".join(f[1:])))
            sys.exit(1)
    sys.exit(1)


def main(order):
    if not order:
        log("usage: ordered_start.py SERVICE...")
        sys.exit(2)
    stream = events()
    states, ready = statedump(stream)
    for name in order:
        if states.get(name) == "up" and name in ready:
            log("%s is already ready" % name)
            continue
        if states.get(name) in ("up", "start"):
            log("%s is %s already, waiting until it is ready" % (name, states[name]))
        else:
            send("service.start", name)
        wait_ready(name, stream)
    log("all services ready: " + " ".join(order))


if __name__ == "__main__":
    main(sys.argv[1:])
