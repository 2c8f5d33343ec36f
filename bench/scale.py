#!/usr/bin/env python3
"""scale.py - scale and footprint scenarios (issues 15 and 17).

How cost grows with the work, measured like dpbench.py measures everything
else: through the protocol only (`BINARY -i`, plus `-S SOCKET` in a private
temporary directory where control-socket clients are needed), every binary
given side by side, rounds interleaved, median/min/max over rounds. The
scenarios are registered in dpbench.py's catalogue and run by its runner
(`dpbench.run_suite`), so failures, skips, the summary and the JSON layout
are exactly dpbench's; dpbench.py itself is not changed.

    scale.py --bin ours=PATH [--bin old=PATH] [--rounds 3] [--quick]
             [--only defined,restart_storm] [--json out.json] [--list]

Scenarios (sizes are options; see --help and bench/README.md):

  defined_<N>      define N services (1k, 10k, 100k): define time, RSS per
                   service, statedump time and bytes, then service.delete
                   of every one: the per-service figures give the growth
                   from the smallest to the largest N
  running_<N>      N `sleep 1000` services started in one batch (1k, 10k):
                   time until all are up, daemon RSS and fds, statedump
                   time, time until all are down after one service.signal
  restart_storm    services under `service.auto_up NAME 1 always` that exit
                   at once, for a while: daemon CPU per reaped exit, exits
                   reported vs processes started, signal->event and echo
                   round-trip latency sampled during the storm
  many_connections control-socket clients connected at once, each must get
                   every event of a small storm or an `overflow` line;
                   memory per connection
  idle_clients_dump  (issue 17) clients that each read one statedump and
                   stay idle: daemon RSS before, with them, after they left
  registry_<ORDER> (issue 17) services defined in reverse / random order,
                   then deleted in ascending order: daemon CPU and the
                   worst `echo` stall seen by another controller meanwhile
  spawn_vs_baseline  dpbench's spawn cycle next to a posix_spawn+waitpid
                   loop of the same program, measured just before it
"""

import argparse
import collections
import datetime
import fcntl
import json
import os
import platform
import random
import resource
import select
import shutil
import signal
import statistics
import sys
import tempfile

import dpbench
import spawn_baseline
from control_clients import Pinger, Pool, connect, read_chunk
from dpbench import (Daemon, ScenarioFail, now, pct, proc_cpu_ns, proc_nfds,
                     proc_nofile_limit, proc_stat, proc_status)

# Per-scenario defaults: (normal, quick). Every one can be overridden on
# the command line; an override applies to both modes.
DEFAULTS = dict(
    define_sizes=('1000,10000,100000', '1000,10000'),
    running_sizes=('1000,10000', '100,1000'),
    dump_reps=(3, 2),
    stop_signal=('KILL', 'KILL'),
    storm_services=(1000, 1000),
    storm_duration=(20.0, 3.0),
    storm_signal=('SIGUSR1', 'SIGUSR1'),
    probe_gap_ms=(10.0, 10.0),
    clients=(1000, 200),
    client_storm_services=(50, 50),
    client_storm_reps=(4, 2),
    idle_clients=(2000, 200),
    idle_dump_services=(1000, 1000),
    registry_n=(200000, 20000),
    registry_orders=('reverse,random', 'reverse,random'),
    seed=(15, 15),
    spawn_n=(2000, 300),
)

GROUPS = ('defined', 'running', 'registry')
CLK_TCK = os.sysconf('SC_CLK_TCK')


def size_name(n):
    """1000 -> '1k', 100000 -> '100k', 1500 -> '1500' (scenario names)."""
    return '%dk' % (n // 1000) if n >= 1000 and n % 1000 == 0 else str(n)


def ms(seconds):
    return round(seconds * 1000, 3)


def stat_cpu_ns(pid):
    """utime+stime of pid from /proc/PID/stat (clock ticks) in ns."""
    st = proc_stat(pid)
    return None if st is None else st[4] * 10 ** 9 // CLK_TCK


def cpu_delta_ms(a, b):
    return round((b - a) / 1e6, 3) if a is not None and b is not None \
        else None


def reap_orphans():
    """Reap whatever re-parented to us (we are a subreaper) once a daemon
    is gone: services it left behind, or ones of a daemon that crashed."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def raise_nofile():
    """Soft RLIMIT_NOFILE up to the hard limit: this process holds one
    descriptor per client, and the daemons inherit the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def lines_starting(data, prefix):
    """How many lines of a raw event stream start with prefix."""
    return data.count(b'\n' + prefix) + (1 if data.startswith(prefix) else 0)


def first_error(data):
    i = data.find(b'\nerror\t')
    if i < 0 and not data.startswith(b'error\t'):
        return None
    i = 0 if i < 0 else i + 1
    return data[i:data.find(b'\n', i)].decode('utf-8', 'replace')


def bulk_raw(d, payload, deadline):
    """Send payload plus an echo token from a writer thread and return the
    raw output up to the token: no per-line work in this process, so the
    time measured is the daemon's (back-pressure included)."""
    tok = d.token()
    d.send_async(payload + b'echo\t' + tok + b'\n')
    return d.read_raw_until(tok, deadline)


def define_payload(names, argv):
    """The commands of dpbench.define_services (args + fds per service)."""
    a = b'\t'.join(x.encode() for x in argv)
    return b''.join(b'service.args\t%s\t%s\nservice.fds\t%s\tnull\tnull\t'
                    b'null\n' % (x, a, x) for x in names)


def statedump(d, reps, deadline):
    """Time `statedump` + `echo` until the token, reps times."""
    times, cpus, sizes = [], [], []
    data = b''
    for _ in range(reps):
        tok = d.token()
        c0 = proc_cpu_ns(d.pid)
        t0 = now()
        d.send(b'statedump\necho\t' + tok + b'\n')
        data = d.read_raw_until(tok, deadline)
        times.append(now() - t0)
        c1 = proc_cpu_ns(d.pid)
        if c0 is not None and c1 is not None:
            cpus.append(c1 - c0)
        sizes.append(len(data) - len(tok) - 1)     # without the token
    return dict(statedump_ms=ms(statistics.median(times)),
                statedump_ms_min=ms(min(times)),
                statedump_cpu_ms=(round(statistics.median(cpus) / 1e6, 3)
                                  if cpus else None),
                statedump_bytes=sizes[-1],
                services_in_dump=lines_starting(data, b'service.args\t'))


def start(ctx, b, sock=None):
    """dpbench's Daemon (`BINARY -i`, plus `-S sock` when given), with
    room for 1 MiB of events in the pipe it writes them to: a burst (1000
    restarts, 10,000 starts) must not overflow the daemon's buffer for
    *our* controller while this process waits for a CPU, since that would
    lose events we count (the daemon is measured, not this reader).
    Applies to every binary alike."""
    if sock:
        b = dict(b, args=list(b['args']) + ['-S', sock])
    d = Daemon(ctx, b)
    try:
        d.pipe_size = fcntl.fcntl(d.rfd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except OSError:     # above /proc/sys/fs/pipe-max-size
        d.pipe_size = fcntl.fcntl(d.rfd, fcntl.F_GETPIPE_SZ)
    return d


def socket_path(ctx):
    return tempfile.mkdtemp(prefix='sock.', dir=ctx.tmpdir) + '/control'


# --------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------

def sc_defined(ctx, b, p, deadline):
    n = p['n']
    d = start(ctx, b)
    try:
        d.sync(deadline)
        idle = proc_status(d.pid)
        names = [b'd%07d' % i for i in range(n)]
        c0 = proc_cpu_ns(d.pid)
        t0 = now()
        data = bulk_raw(d, define_payload(names, [ctx.true_path]), deadline)
        dt = now() - t0
        c1 = proc_cpu_ns(d.pid)
        st = proc_status(d.pid)
        m = dict(n=n, define_ms=ms(dt),
                 define_us_per_svc=round(dt * 1e6 / n, 3),
                 define_cpu_ms=cpu_delta_ms(c0, c1),
                 idle_rss_kb=idle.get('VmRSS'), rss_kb=st.get('VmRSS'),
                 rss_anon_kb=st.get('RssAnon'),
                 per_service_bytes=round(
                     (st['VmRSS'] - idle['VmRSS']) * 1024.0 / n, 1),
                 per_service_anon_bytes=round(
                     (st['RssAnon'] - idle['RssAnon']) * 1024.0 / n, 1))
        defined = lines_starting(data, b'service.args\t')
        if defined != n or first_error(data):
            raise ScenarioFail('defined %d of %d services; first error: %s'
                               % (defined, n, first_error(data)), m)
        dump = statedump(d, p['reps'], deadline)
        m.update(dump)
        m['statedump_ns_per_svc'] = round(m['statedump_ms'] * 1e6 / n, 1)
        if dump['services_in_dump'] != n:
            raise ScenarioFail('statedump listed %d of %d services'
                               % (dump['services_in_dump'], n), m)
        c0 = proc_cpu_ns(d.pid)
        t0 = now()
        data = bulk_raw(d, b''.join(b'service.delete\t%s\n' % x
                                    for x in names), deadline)
        dt = now() - t0
        m.update(delete_ms=ms(dt), delete_us_per_svc=round(dt * 1e6 / n, 3),
                 delete_cpu_ms=cpu_delta_ms(c0, proc_cpu_ns(d.pid)))
        deleted = data.count(b'\tdeleted\t')
        if deleted != n or first_error(data):
            raise ScenarioFail('deleted %d of %d services; first error: %s'
                               % (deleted, n, first_error(data)), m)
        return m
    finally:
        ctx.note_close(d.close())


def settled_fds(pid, limit_s=2.0):
    """The daemon's descriptor count once it stops changing: an `up` event
    may come before the exec status pipe of that start is closed. Read
    every 20 ms until three reads agree (at most limit_s)."""
    last, same = proc_nfds(pid), 0
    t_end = now() + limit_s
    while same < 2 and now() < t_end:
        select.select([], [], [], 0.02)
        n = proc_nfds(pid)
        same = same + 1 if n == last else 0
        last = n
    return last


def wait_states(d, want, n, deadline, pids=None):
    """Read events until n services reported `want` (up/down) or an error
    line; returns (services, error lines). Pids of `up` go to pids."""
    seen, errs = set(), []
    while len(seen) + len(errs) < n:
        line = d.readline(deadline)
        if line.startswith(b'service.state\t'):
            f = line.split(b'\t')
            if len(f) > 4 and f[2] == want:
                seen.add(f[1])
                if pids is not None:
                    pids.append(f[4])
        elif line.startswith(b'error'):
            errs.append(line)
        elif line == b'overflow':
            raise ScenarioFail('events for the interactive controller were '
                               'dropped (`overflow`) after %d %s events'
                               % (len(seen), want.decode()))
    return seen, errs


def sc_running(ctx, b, p, deadline):
    n = p['n']
    d = start(ctx, b)
    pids = []
    try:
        d.sync(deadline)
        idle = proc_status(d.pid)
        fds0 = proc_nfds(d.pid)
        names = [b'r%06d' % i for i in range(n)]
        data = bulk_raw(d, define_payload(names, [ctx.sleep_path, '1000']),
                        deadline)
        if lines_starting(data, b'service.args\t') != n or first_error(data):
            raise ScenarioFail('could not define %d services: %s'
                               % (n, first_error(data)))
        t0 = now()
        d.send_async(b''.join(b'service.start\t%s\n' % x for x in names))
        try:
            up, errs = wait_states(d, b'up', n, deadline, pids)
        finally:
            # only now (not per event, inside the timing): remember the
            # processes so that close() can kill leftovers by PID
            for pid in pids:
                st = proc_stat(int(pid))
                if st:
                    d.children[int(pid)] = st[3]
        dt = now() - t0
        st = proc_status(d.pid)
        fds_up = proc_nfds(d.pid)
        m = dict(n=n, start_all_ms=ms(dt),
                 start_us_per_svc=round(dt * 1e6 / n, 3),
                 idle_rss_kb=idle.get('VmRSS'), rss_kb=st.get('VmRSS'),
                 rss_anon_kb=st.get('RssAnon'),
                 per_running_service_bytes=round(
                     (st['VmRSS'] - idle['VmRSS']) * 1024.0 / n, 1),
                 idle_fds=fds0, daemon_fds_at_up=fds_up,
                 daemon_fds=settled_fds(d.pid), up=len(up),
                 nofile_limit=proc_nofile_limit(d.pid))
        if errs:
            raise ScenarioFail('%d of %d services up; first error: %s'
                               % (len(up), n, dpbench.first_err(errs)), m)
        dump = statedump(d, p['reps'], deadline)
        m.update(dump)
        m['statedump_ns_per_svc'] = round(m['statedump_ms'] * 1e6 / n, 1)
        t0 = now()
        d.send_async(b''.join(b'service.signal\t%s\t%s\n'
                              % (x, p['signal'].encode()) for x in names))
        down, errs = wait_states(d, b'down', n, deadline)
        dt = now() - t0
        m.update(stop_all_ms=ms(dt), stop_us_per_svc=round(dt * 1e6 / n, 3))
        if errs:
            raise ScenarioFail('%d of %d services down after %s; first '
                               'error: %s' % (len(down), n, p['signal'],
                                              dpbench.first_err(errs)), m)
        return m
    finally:
        ctx.note_close(d.close())


class StormTally:
    """What the event stream of a restart storm says: every `up` is a
    process started (and later reaped), every `down` with a pid an exit
    reported. `busy` holds the services not yet back to down."""

    def __init__(self):
        self.ups = self.downs = self.starts = self.overflows = 0
        self.open = collections.Counter()     # pid -> ups - downs
        self.busy = set()
        self.errors = []

    def see(self, line):
        if line.startswith(b'service.state\t'):
            f = line.split(b'\t')
            if len(f) < 5:
                return
            if f[2] == b'up':
                self.ups += 1
                self.open[f[4]] += 1
                self.busy.add(f[1])
            elif f[2] == b'start':
                self.starts += 1
                self.busy.add(f[1])
            elif f[2] == b'down':
                if f[4] != b'-':
                    self.downs += 1
                    self.open[f[4]] -= 1
                self.busy.discard(f[1])
        elif line == b'overflow':
            self.overflows += 1
        elif line.startswith(b'error') and \
                b'no service.start pending' not in line:
            self.errors.append(line)

    def unmatched(self):
        return sum(1 for v in self.open.values() if v)


def not_down(d, deadline):
    """The services a statedump shows in another state than down."""
    tok = d.token()
    d.send(b'statedump\necho\t' + tok + b'\n')
    out = set()
    for line in d.read_raw_until(tok, deadline).split(b'\n'):
        f = line.split(b'\t', 3)
        if f[0] == b'service.state' and len(f) > 2 and f[2] != b'down':
            out.add(f[1])
    return out


class Probes:
    """Latency probes during a storm. `echo` runs open-loop: one every gap
    seconds whether or not the earlier ones were answered, so a stall
    delays every probe sent during it (a closed loop would count it once).
    The signal probe is closed-loop, the next one gap after the previous
    event, because the daemon reports receptions of one signal that come
    before it has told us about the last as one event."""

    def __init__(self, d, signame, gap, t0):
        self.d = d
        self.signum = signal.Signals[signame]
        self.sig_line = b'signal\t%s\t' % signame.encode()
        self.gap = gap
        self.echo_due = self.sig_due = t0
        self.echo_out = {}      # token -> time sent
        self.sig_sent = None
        self.lat = dict(signal=[], echo=[])
        self.lost = 0

    def send_due(self, t):
        if t >= self.echo_due:
            tok = self.d.token()
            self.echo_out[tok] = now()
            self.d.send(b'echo\t' + tok + b'\n')
            self.echo_due = self.echo_out[tok] + self.gap
        if self.sig_sent is None and t >= self.sig_due:
            self.sig_sent = now()
            os.kill(self.d.pid, self.signum)

    def next_due(self):
        return self.echo_due if self.sig_sent is not None else \
            min(self.echo_due, self.sig_due)

    def pending(self):
        return bool(self.echo_out) or self.sig_sent is not None

    def match(self, line, t_read):
        """Whether line answers a probe (its latency is then recorded).
        After `overflow` the replies of the outstanding probes may be lost:
        they are forgotten and counted."""
        if line == b'overflow':
            self.lost += len(self.echo_out) + (self.sig_sent is not None)
            self.echo_out.clear()
            self.sig_sent = None
            self.sig_due = t_read + self.gap
            return False
        t = self.echo_out.pop(line, None)
        if t is not None:
            self.lat['echo'].append(t_read - t)
            return True
        if self.sig_sent is not None and line.startswith(self.sig_line):
            self.lat['signal'].append(t_read - self.sig_sent)
            self.sig_sent = None
            self.sig_due = t_read + self.gap
            return True
        return False


def sc_restart_storm(ctx, b, p, deadline):
    n, gap = p['services'], p['probe_gap_ms'] / 1000.0
    signame = p['signal']
    d = start(ctx, b)
    try:
        d.sync(deadline)
        names = [b'st%05d' % i for i in range(n)]
        data = bulk_raw(d, define_payload(names, [ctx.true_path]), deadline)
        if lines_starting(data, b'service.args\t') != n or first_error(data):
            raise ScenarioFail('could not define %d services: %s'
                               % (n, first_error(data)))
        tally = StormTally()
        c0, k0 = proc_cpu_ns(d.pid), stat_cpu_ns(d.pid)
        t0 = now()
        t_end = t0 + p['duration_s']
        writer = d.send_async(b''.join(b'service.auto_up\t%s\t1\talways\n'
                                       % x for x in names))
        probes = None
        while True:
            t = now()
            if t > deadline:
                raise ScenarioFail('restart storm did not end in time')
            if t >= t_end and (probes is None or not probes.pending()):
                break
            # probes only once the batch is written: two writers on one
            # pipe could split a line
            if probes is None and not writer.is_alive():
                probes = Probes(d, signame, gap, now())
            wait = 0.01
            if probes is not None and t < t_end:
                probes.send_due(t)
                wait = min(0.05, max(0.0, min(probes.next_due(), t_end) -
                                     now()))
            tr, lines = read_chunk(d, wait)
            for line in lines:
                if probes is None or not probes.match(line, tr):
                    tally.see(line)
        storm_s = now() - t0
        exits_in_storm = tally.downs
        # stop: no more triggers, cancel pending starts, then wait until
        # every service is down again
        tok = d.token()
        d.send_async(b''.join(b'service.auto_up\t%s\t1\nservice.start\t%s\t-\n'
                              % (x, x) for x in names) +
                     b'echo\t' + tok + b'\n')
        synced = False
        # after an `overflow` the events cannot tell when all are down
        while not synced or (tally.busy and not tally.overflows):
            if now() > deadline:
                raise ScenarioFail('%d services still not down after the '
                                   'storm was stopped' % len(tally.busy))
            _, lines = read_chunk(d, 0.5)
            for line in lines:
                if line == tok:
                    synced = True
                else:
                    tally.see(line)
        while tally.overflows and not_down(d, deadline):
            select.select([], [], [], 0.05)
        c1, k1 = proc_cpu_ns(d.pid), stat_cpu_ns(d.pid)
        cpu_stat = cpu_delta_ms(k0, k1)
        cpu_sched = cpu_delta_ms(c0, c1)
        m = dict(services=n, storm_s=round(storm_s, 3),
                 exits_reported=tally.downs, processes_started=tally.ups,
                 start_events=tally.starts, daemon_cpu_ms=cpu_stat,
                 daemon_cpu_sched_ms=cpu_sched, overflows=tally.overflows,
                 errors=len(tally.errors))
        # counts from events are only complete without an `overflow`
        if not tally.overflows and tally.downs:
            m.update(lost_exits=tally.ups - tally.downs,
                     unmatched_pids=tally.unmatched(),
                     exits_per_s=round(exits_in_storm / storm_s, 1),
                     cpu_us_per_exit=(round(cpu_stat * 1000 / tally.downs, 2)
                                      if cpu_stat is not None else None),
                     cpu_sched_us_per_exit=(
                         round(cpu_sched * 1000 / tally.downs, 2)
                         if cpu_sched is not None else None))
        m['probes_lost'] = probes.lost if probes else 0
        for kind in ('signal', 'echo'):
            v = probes.lat[kind] if probes else []
            m['%s_probes' % kind] = len(v)
            if v:
                m.update({'%s_p50_us' % kind: round(pct(v, 50) * 1e6, 1),
                          '%s_p99_us' % kind: round(pct(v, 99) * 1e6, 1),
                          '%s_max_us' % kind: round(max(v) * 1e6, 1)})
        if tally.errors:
            ctx.note('%s: %d error line(s) during the storm, first: %s'
                     % (ctx.current, len(tally.errors),
                        dpbench.first_err(tally.errors)))
        if tally.overflows:
            ctx.note('%s: events for the interactive controller were '
                     'dropped (`overflow`): exits reported vs started not '
                     'known' % ctx.current)
        elif m.get('lost_exits') or m.get('unmatched_pids'):
            ctx.note('%s: %d processes started, %d exits reported, %d pids '
                     'without both' % (ctx.current, tally.ups, tally.downs,
                                       m['unmatched_pids']))
        return m
    finally:
        ctx.note_close(d.close())


def sc_many_connections(ctx, b, p, deadline):
    nc, ns, reps = p['clients'], p['storm_services'], p['storm_reps']
    path = socket_path(ctx)
    d = start(ctx, b, path)
    state = dict(on=False, expected=[], downs=0, rep=0, synced=False,
                 tok=None)
    starts = b''.join(b'service.start\tmc%04d\n' % i for i in range(ns))

    def on_daemon(_t, lines):
        """The storm, driven by the interactive controller's events: a
        wave of starts each time the previous one is down, then a token."""
        if not state['on']:
            state['expected'] += lines      # nothing is expected here
            return
        for line in lines:
            if line == state['tok']:
                state['synced'] = True
                continue
            state['expected'].append(line)
            if line.startswith(b'service.state\t') and \
                    line.split(b'\t', 3)[2] == b'down':
                state['downs'] += 1
        if state['downs'] == ns * state['rep']:
            if state['rep'] < reps:     # next wave of the storm
                state['rep'] += 1
                d.send(starts)
            elif state['tok'] is None:
                state['tok'] = d.token()
                d.send(b'echo\t' + state['tok'] + b'\n')

    pool = Pool(d, on_daemon)
    try:
        d.sync(deadline)
        names = [b'mc%04d' % i for i in range(ns)]
        data = bulk_raw(d, define_payload(names, [ctx.true_path]), deadline)
        if lines_starting(data, b'service.args\t') != ns or first_error(data):
            raise ScenarioFail('could not define %d services: %s'
                               % (ns, first_error(data)))
        d.sync(deadline)
        rss0, fds0 = proc_status(d.pid), proc_nfds(d.pid)
        pool.connect(path, nc, deadline)
        pool.sync(deadline, b'c')
        live = pool.live()
        rss1, fds1 = proc_status(d.pid), proc_nfds(d.pid)
        if not live:
            raise ScenarioFail('no client connection was kept open')
        for c in live:
            c.keep = []
        if state['expected']:
            raise ScenarioFail('unexpected output before the storm: %r'
                               % state['expected'][0])
        t0 = now()
        state['on'] = True
        on_daemon(None, [])           # first wave
        pool.pump(lambda: state['synced'], deadline, 'storm of %d x %d '
                  'starts' % (reps, ns))
        pool.sync(deadline, b'e')
        storm_ms = ms(now() - t0)
        if b'overflow' in state['expected']:
            raise ScenarioFail('events for the interactive controller were '
                               'dropped (`overflow`): the reference stream '
                               'is incomplete')
        rss2 = proc_status(d.pid)
        want = collections.Counter(state['expected'])
        ok = overflowed = violations = 0
        first_bad = None
        for c in live:          # refused ones are counted apart
            if c.closed:
                violations += 1
                first_bad = first_bad or 'client %d closed' % c.ident
                continue
            got = collections.Counter(c.lines())
            if got == want:
                ok += 1
            elif c.overflows and not got - want:
                overflowed += 1
            else:
                violations += 1
                first_bad = first_bad or (
                    'client %d: %d event(s) missing, %d unexpected, %d '
                    'overflow line(s)' % (c.ident, sum((want - got).values()),
                                          sum((got - want).values()),
                                          c.overflows))
        acc = len(live)
        m = dict(clients=nc, clients_accepted=acc,
                 clients_refused=nc - acc,
                 idle_rss_kb=rss0.get('VmRSS'), rss_kb=rss1.get('VmRSS'),
                 rss_after_storm_kb=rss2.get('VmRSS'),
                 per_connection_bytes=round(
                     (rss1['VmRSS'] - rss0['VmRSS']) * 1024.0 / acc, 1),
                 per_connection_after_storm_bytes=round(
                     (rss2['VmRSS'] - rss0['VmRSS']) * 1024.0 / acc, 1),
                 per_connection_anon_bytes=round(
                     (rss1['RssAnon'] - rss0['RssAnon']) * 1024.0 / acc, 1),
                 fds_per_connection=round((fds1 - fds0) / acc, 3),
                 events_per_client=sum(want.values()), storm_ms=storm_ms,
                 clients_complete=ok, clients_overflowed=overflowed,
                 violations=violations)
        if violations:
            ctx.note('%s: %d client(s) lost events without `overflow`; '
                     'first: %s' % (ctx.current, violations, first_bad))
        return m
    finally:
        pool.close()
        ctx.note_close(d.close())


def sc_idle_clients_dump(ctx, b, p, deadline):
    nc, ns = p['clients'], p['services']
    path = socket_path(ctx)
    d = start(ctx, b, path)
    pool = Pool()
    try:
        d.sync(deadline)
        names = [b'id%05d' % i for i in range(ns)]
        data = bulk_raw(d, define_payload(names, [ctx.true_path]), deadline)
        if lines_starting(data, b'service.args\t') != ns or first_error(data):
            raise ScenarioFail('could not define %d services: %s'
                               % (ns, first_error(data)))
        rss0, fds0 = proc_status(d.pid), proc_nfds(d.pid)
        pool.connect(path, nc, deadline)
        pool.sync(deadline, b'c')
        live = pool.live()
        if not live:
            raise ScenarioFail('no client connection was kept open')
        acc = len(live)
        rss1 = proc_status(d.pid)
        before = {c.ident: c.nbytes for c in live}
        t0 = now()
        pool.sync(deadline, b'd', b'statedump\n')
        dumps_ms = ms(now() - t0)
        rss2 = proc_status(d.pid)
        sizes = [c.nbytes - before[c.ident] - len(c.token) - 1
                 for c in live if not c.closed]
        pool.close()
        t_end = min(deadline, now() + 10)
        while proc_nfds(d.pid) > fds0 and now() < t_end:
            select.select([], [], [], 0.02)
        fds3 = proc_nfds(d.pid)
        d.sync(deadline)
        rss3 = proc_status(d.pid)
        m = dict(clients=nc, clients_accepted=acc, services=ns,
                 dump_bytes=statistics.median(sizes) if sizes else None,
                 dumps_ms=dumps_ms, idle_rss_kb=rss0.get('VmRSS'),
                 connected_rss_kb=rss1.get('VmRSS'),
                 dumped_rss_kb=rss2.get('VmRSS'),
                 closed_rss_kb=rss3.get('VmRSS'),
                 dumped_anon_kb=rss2.get('RssAnon'),
                 closed_anon_kb=rss3.get('RssAnon'),
                 hwm_kb=rss2.get('VmHWM'),
                 per_client_connected_bytes=round(
                     (rss1['VmRSS'] - rss0['VmRSS']) * 1024.0 / acc, 1),
                 per_client_dumped_bytes=round(
                     (rss2['VmRSS'] - rss0['VmRSS']) * 1024.0 / acc, 1),
                 retained_after_close_kb=rss3['VmRSS'] - rss0['VmRSS'],
                 fds_left_after_close=fds3 - fds0)
        if acc < nc:
            ctx.note('%s: %d of %d clients were not kept open by the daemon'
                     % (ctx.current, nc - acc, nc))
        return m
    finally:
        pool.close()
        ctx.note_close(d.close())


def sc_registry(ctx, b, p, deadline):
    n, order = p['n'], p['order']
    names = [b's%07d' % i for i in range(n)]
    if order == 'reverse':
        seq = names[::-1]
    elif order == 'random':
        seq = list(names)
        random.Random(p['seed']).shuffle(seq)
    else:
        seq = names
    path = socket_path(ctx)
    d = start(ctx, b, path)
    pinger = None
    try:
        d.sync(deadline)
        pinger = Pinger(connect(path, deadline))
        pinger.start()
        pinger.first(deadline)
        true = ctx.true_path.encode()
        m = dict(n=n, order=order)
        for phase, payload, count in (
                ('define', b''.join(b'service.args\t%s\t%s\n' % (x, true)
                                    for x in seq),
                 lambda data: lines_starting(data, b'service.args\t')),
                ('delete', b''.join(b'service.delete\t%s\n' % x
                                    for x in names),
                 lambda data: data.count(b'\tdeleted\t'))):
            c0 = proc_cpu_ns(d.pid)
            t0 = now()
            data = bulk_raw(d, payload, deadline)
            t1 = now()
            c1 = proc_cpu_ns(d.pid)
            rtt = pinger.window(t0, t1)
            m.update({'%s_ms' % phase: ms(t1 - t0),
                      '%s_cpu_s' % phase: (round((c1 - c0) / 1e9, 3)
                                           if c0 is not None and
                                           c1 is not None else None),
                      '%s_max_stall_ms' % phase:
                      ms(max(rtt)) if rtt else None,
                      '%s_p99_stall_ms' % phase:
                      ms(pct(rtt, 99)) if rtt else None,
                      '%s_pings' % phase: len(rtt)})
            done = count(data)
            if done != n or first_error(data):
                raise ScenarioFail('%s: %d of %d; first error: %s'
                                   % (phase, done, n, first_error(data)), m)
        pinger.stop()
        m['pinger_overflows'] = pinger.conn.overflows
        if pinger.error:
            raise ScenarioFail('echo pinger: %s' % pinger.error, m)
        return m
    finally:
        if pinger is not None:
            pinger.stop(abort=True)
        ctx.note_close(d.close())


def sc_spawn_vs_baseline(ctx, b, p, deadline):
    base = spawn_baseline.serial(ctx.true_path, p['n'])
    m = dpbench.SCENARIOS['spawn_cycle_rate']['fn'](ctx, b, {'n': p['n']},
                                                    deadline)
    m.update(('baseline_' + k, v) for k, v in base.items())
    m['ratio_to_baseline'] = round(m['cycles_per_s'] /
                                   base['cycles_per_s'], 3)
    return m


# --------------------------------------------------------------------------
# Catalogue (registered into dpbench's, sizes from the options) and main
# --------------------------------------------------------------------------

def reaping(fn):
    """Every scenario ends with no child of ours left unreaped."""
    def run(*a):
        try:
            return fn(*a)
        finally:
            reap_orphans()
    return run


def catalogue(opt):
    """[(name, description, fn, params, quick params, metrics, budget_s)]
    with the sizes of the options (normal, quick)."""
    def both(key, conv=lambda v: v):
        full, quick = DEFAULTS[key]
        given = getattr(opt, key)
        if given is not None:
            full = quick = given
        return conv(full), conv(quick)

    def ints(v):
        return [int(x) for x in str(v).split(',') if x.strip()]

    def per_size(prefix, key, desc, fn, extra, metrics, budget):
        full, quick = both(key, ints)
        sizes = quick if opt.quick else full
        for n in sizes:
            p = dict(extra, n=n)
            yield ('%s_%s' % (prefix, size_name(n)), desc % n, fn, p, p,
                   metrics, budget(n))

    reps = both('dump_reps')[opt.quick]
    out = list(per_size(
        'defined', 'define_sizes', 'define %d services (args + fds), '
        'statedump, delete them all', sc_defined, dict(reps=reps),
        [('define_us_per_svc', 'us', 'lower'),
         ('per_service_bytes', 'B', 'lower'),
         ('statedump_ms', 'ms', 'lower'),
         ('statedump_ns_per_svc', 'ns', 'lower'),
         ('statedump_bytes', 'B', None),
         ('delete_us_per_svc', 'us', 'lower'), ('define_ms', 'ms', 'lower'),
         ('delete_ms', 'ms', 'lower'), ('rss_kb', 'kB', 'lower')],
        lambda n: 60 + n * 0.005))
    sig = both('stop_signal')[opt.quick].upper()
    sig = sig if sig.startswith('SIG') else 'SIG' + sig
    out += per_size(
        'running', 'running_sizes', 'start %d `sleep 1000` services in one '
        'batch, statedump, one service.signal each', sc_running,
        dict(reps=reps, signal=sig),
        [('start_all_ms', 'ms', 'lower'), ('start_us_per_svc', 'us', 'lower'),
         ('rss_kb', 'kB', 'lower'), ('per_running_service_bytes', 'B',
                                     'lower'),
         ('daemon_fds', '', 'lower'), ('statedump_ms', 'ms', 'lower'),
         ('statedump_ns_per_svc', 'ns', 'lower'),
         ('statedump_bytes', 'B', None), ('stop_all_ms', 'ms', 'lower'),
         ('stop_us_per_svc', 'us', 'lower')],
        lambda n: 60 + n * 0.03)
    storm = dict(services=both('storm_services'),
                 duration_s=both('storm_duration', float),
                 signal=both('storm_signal'),
                 probe_gap_ms=both('probe_gap_ms', float))
    sp = [{k: v[i] for k, v in storm.items()} for i in (0, 1)]
    for x in sp:
        x['signal'] = x['signal'] if x['signal'].startswith('SIG') \
            else 'SIG' + x['signal']
        if x['signal'] not in signal.Signals.__members__:
            sys.exit('--storm-signal: unknown signal %s' % x['signal'])
    out.append(('restart_storm', 'services under `service.auto_up NAME 1 '
                'always` exiting at once, for duration_s; signal and echo '
                'probes during the storm', sc_restart_storm, sp[0], sp[1],
                [('cpu_us_per_exit', 'us', 'lower'),
                 ('exits_per_s', '/s', 'higher'),
                 ('exits_reported', '', None),
                 ('processes_started', '', None),
                 ('lost_exits', '', 'lower'),
                 ('signal_p50_us', 'us', 'lower'),
                 ('signal_p99_us', 'us', 'lower'),
                 ('echo_p50_us', 'us', 'lower'),
                 ('echo_p99_us', 'us', 'lower'),
                 ('cpu_sched_us_per_exit', 'us', 'lower')],
                max(sp[0]['duration_s'], sp[1]['duration_s']) + 120))
    mc = [dict(clients=c, storm_services=s, storm_reps=r) for c, s, r in zip(
        both('clients'), both('client_storm_services'),
        both('client_storm_reps'))]
    out.append(('many_connections', 'clients connected at once, each gets '
                'every event of storm_reps x storm_services starts or an '
                '`overflow`', sc_many_connections, mc[0], mc[1],
                [('per_connection_bytes', 'B', 'lower'),
                 ('per_connection_after_storm_bytes', 'B', 'lower'),
                 ('violations', '', 'lower'),
                 ('clients_overflowed', '', 'lower'),
                 ('clients_accepted', '', None),
                 ('storm_ms', 'ms', 'lower')], 180))
    ic = [dict(clients=c, services=s) for c, s in zip(
        both('idle_clients'), both('idle_dump_services'))]
    out.append(('idle_clients_dump', 'clients each read one statedump and '
                'stay idle; daemon RSS before, with them, after they left',
                sc_idle_clients_dump, ic[0], ic[1],
                [('idle_rss_kb', 'kB', 'lower'),
                 ('dumped_rss_kb', 'kB', 'lower'),
                 ('closed_rss_kb', 'kB', 'lower'),
                 ('per_client_dumped_bytes', 'B', 'lower'),
                 ('retained_after_close_kb', 'kB', 'lower'),
                 ('dump_bytes', 'B', None), ('dumps_ms', 'ms', 'lower')],
                180))
    rn = both('registry_n', int)
    seed = both('seed', int)
    for order in str(both('registry_orders')[opt.quick]).split(','):
        order = order.strip()
        if order not in ('reverse', 'random', 'ascending'):
            sys.exit('--registry-orders: reverse, random or ascending, not %r'
                     % order)
        out.append(('registry_' + order, 'service.args for n services in '
                    '%s order, then service.delete in ascending order; '
                    'echo round trips on a second connection' % order,
                    sc_registry, dict(n=rn[0], order=order, seed=seed[0]),
                    dict(n=rn[1], order=order, seed=seed[1]),
                    [('define_cpu_s', 's', 'lower'),
                     ('define_max_stall_ms', 'ms', 'lower'),
                     ('delete_cpu_s', 's', 'lower'),
                     ('delete_max_stall_ms', 'ms', 'lower'),
                     ('define_ms', 'ms', 'lower'),
                     ('delete_ms', 'ms', 'lower'),
                     ('define_p99_stall_ms', 'ms', 'lower'),
                     ('delete_p99_stall_ms', 'ms', 'lower')],
                    120 + 900 * (max(rn) / 200000.0) ** 2))
    sn = both('spawn_n', int)
    out.append(('spawn_vs_baseline', 'posix_spawn+waitpid loop of the same '
                'program, then dpbench spawn_cycle_rate; ratio',
                sc_spawn_vs_baseline, dict(n=sn[0]), dict(n=sn[1]),
                [('ratio_to_baseline', '', 'higher'),
                 ('cycles_per_s', '/s', 'higher'),
                 ('baseline_cycles_per_s', '/s', 'higher'),
                 ('p50_us', 'us', 'lower'), ('p99_us', 'us', 'lower'),
                 ('baseline_p50_us', 'us', 'lower'),
                 ('baseline_p99_us', 'us', 'lower')], 180))
    return out


def select_names(cat, only):
    names = [c[0] for c in cat]
    if not only:
        return names
    want = []
    for w in (x.strip() for x in only.split(',') if x.strip()):
        hits = [n for n in names if n == w or
                (w in GROUPS and n.startswith(w + '_'))]
        if not hits:
            sys.exit('unknown scale scenario %r (have: %s; groups: %s)'
                     % (w, ', '.join(names), ', '.join(GROUPS)))
        want += [h for h in hits if h not in want]
    return [n for n in names if n in want]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--bin', action='append', default=[],
                    metavar='LABEL=PATH', help='binary to measure '
                    '(repeatable; the first is the ratio baseline)')
    ap.add_argument('--bin-arg', action='append', default=[],
                    metavar='LABEL=ARG', help='extra argument after -i for '
                    'one binary (repeatable)')
    ap.add_argument('--rounds', type=int, default=3, metavar='N',
                    help='rounds; every binary runs every scenario once per '
                    'round (default 3)')
    ap.add_argument('--quick', action='store_true',
                    help='small sizes and a 3 s storm (smoke runs)')
    ap.add_argument('--only', default='', metavar='LIST',
                    help='comma-separated scenario names or groups (%s)'
                    % ', '.join(GROUPS))
    ap.add_argument('--json', default='', metavar='FILE',
                    help='write every raw figure and the summary here')
    ap.add_argument('--list', action='store_true',
                    help='list the scenarios with these options')
    ap.add_argument('--true', default=shutil.which('true') or '',
                    metavar='PATH', help='program that exits at once')
    ap.add_argument('--sleep', default=shutil.which('sleep') or '',
                    metavar='PATH', help='run as `SLEEP 1000`')
    ap.add_argument('--timeout-scale', type=float, default=1.0, metavar='X',
                    help='multiply every scenario time budget')
    ap.add_argument('--settle', type=float, default=0.0, metavar='S',
                    help='seconds to sleep between runs')
    ap.add_argument('--tmpdir', default='', metavar='DIR',
                    help='parent of the temporary directory (sockets)')
    ap.add_argument('-v', '--verbose', action='store_true',
                    help='print every run as it finishes (stderr)')
    g = ap.add_argument_group('sizes (default: normal / --quick)')

    def opt(name, typ, hlp):
        full, quick = DEFAULTS[name.replace('-', '_')]
        g.add_argument('--' + name, type=typ, default=None,
                       help='%s (default %s / %s)' % (hlp, full, quick))
    opt('define-sizes', str, 'defined_<N>: comma-separated N')
    opt('running-sizes', str, 'running_<N>: comma-separated N')
    opt('dump-reps', int, 'statedumps timed per daemon (median)')
    opt('stop-signal', str, 'running_<N>: the one signal each (KILL, TERM)')
    opt('storm-services', int, 'restart_storm: services')
    opt('storm-duration', float, 'restart_storm: seconds')
    opt('storm-signal', str, 'restart_storm: signal sent to the daemon')
    opt('probe-gap-ms', float, 'restart_storm: pause between probes')
    opt('clients', int, 'many_connections: clients')
    opt('client-storm-services', int, 'many_connections: services per wave')
    opt('client-storm-reps', int, 'many_connections: waves')
    opt('idle-clients', int, 'idle_clients_dump: clients')
    opt('idle-dump-services', int, 'idle_clients_dump: services defined')
    opt('registry-n', int, 'registry_<ORDER>: services')
    opt('registry-orders', str, 'registry_<ORDER>: reverse,random,ascending')
    opt('seed', int, 'registry_random: shuffle seed')
    opt('spawn-n', int, 'spawn_vs_baseline: cycles')
    args = ap.parse_args()

    cat = catalogue(args)
    names = select_names(cat, args.only)
    if args.list:
        for name, desc, _fn, p, q, _m, _b in cat:
            print('%-22s %s\n%-22s %s' % (name, desc, '',
                                          q if args.quick else p))
        return 0
    if args.rounds < 1:
        sys.exit('--rounds must be >= 1')
    bins = dpbench.parse_bins(args)
    if not bins:
        sys.exit('give at least one --bin LABEL=PATH')
    if not args.true or not args.sleep:
        sys.exit('need `true` and `sleep` programs (use --true / --sleep)')
    for name, desc, fn, p, q, metrics, budget in cat:
        if name in names:
            dpbench.scenario(name, desc, p, q, metrics, budget)(reaping(fn))
    nofile = raise_nofile()
    dpbench.become_subreaper()
    meta = dict(
        started=datetime.datetime.now().isoformat(timespec='seconds'),
        argv=sys.argv, python=platform.python_version(),
        kernel=platform.release(), machine=platform.machine(),
        cpus=os.cpu_count(), loadavg_start=os.getloadavg(),
        binaries=bins, rounds=args.rounds, quick=args.quick,
        true=args.true, sleep=args.sleep, nofile_limit=nofile)
    # dpbench's runner, restricted to these scenarios
    args.only = ','.join(names)
    args.callgrind = False
    args.valgrind = ''
    res = dpbench.run_suite(args, bins)
    meta['loadavg_end'] = os.getloadavg()
    print('scale: %d round(s)%s, %s; wall %.0fs; load %.2f -> %.2f' % (
        args.rounds, ' (quick)' if args.quick else '',
        ', '.join('%s=%s' % (b['label'], b['path']) for b in bins),
        res['wall_s'], meta['loadavg_start'][0], meta['loadavg_end'][0]))
    dpbench.print_table(res, bins)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(meta=meta, mode='scale', **res), f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
