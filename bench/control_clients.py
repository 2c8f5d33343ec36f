"""control_clients.py - control-socket clients for the scale scenarios.

Non-blocking clients of a daemon's control socket (`-S PATH`), read through
one selector (epoll: no FD_SETSIZE limit, thousands of clients), that
find their `echo` tokens and `overflow` lines in the raw stream without
per-line work; a Pinger thread that measures echo round trips on its own
connection; and read_chunk, one timestamped read of the interactive
controller's event stream. Standard library only.
"""

import itertools
import os
import select
import selectors
import socket
import threading

from dpbench import ScenarioFail, now


def connect(path, deadline):
    """A non-blocking client socket connected to path. Retried while the
    socket does not exist yet and while the listen backlog is full (EAGAIN
    for a Unix socket), until deadline."""
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(path)
            return s
        except (FileNotFoundError, ConnectionRefusedError,
                BlockingIOError) as e:
            s.close()
            if now() > deadline:
                raise ScenarioFail('cannot connect to the control socket: '
                                   '%s' % e)
            select.select([], [], [], 0.001)
        except OSError as e:
            s.close()
            raise ScenarioFail('cannot connect to the control socket: %s'
                               % e)


class Conn:
    """One control-socket client. Scans its raw stream for the echo token
    it waits for and for `overflow` lines (no per-line work: a client may
    receive megabytes), and keeps the bytes when asked to."""

    PAD = 64    # longer than any token or `overflow` line, with LFs

    def __init__(self, sock, ident):
        self.sock = sock
        self.ident = ident
        self.tail = b'\n'
        self.want = None
        self.got = True
        self.token = None
        self.tokens = set()
        self.overflows = 0
        self.nbytes = 0
        self.keep = None
        self.closed = False

    def send(self, data):
        try:
            if self.sock.send(data) != len(data):
                raise ScenarioFail('client %d: short write of a command'
                                   % self.ident)
        except BlockingIOError:
            raise ScenarioFail('client %d: the daemon does not read its '
                               'commands' % self.ident)
        except OSError:
            self.closed = True      # reset by the daemon: counted by caller
            self.got = True

    def ask(self, token, before=b''):
        """Send `before` (commands) and then `echo TOKEN`."""
        self.token = token
        self.tokens.add(token)
        self.want = b'\n' + token + b'\n'
        self.got = False
        self.send(before + b'echo\t' + token + b'\n')

    def read(self):
        """Read what is there. False once the daemon closed the
        connection."""
        while True:
            try:
                data = self.sock.recv(262144)
            except BlockingIOError:
                return True
            except OSError:
                data = b''
            if not data:
                self.closed = True
                self.got = True
                return False
            self.feed(data)

    def feed(self, data):
        self.nbytes += len(data)
        if self.keep is not None:
            self.keep.append(data)
        probe = self.tail + data
        old = len(self.tail)
        i = probe.find(b'\noverflow\n')
        overflowed = False
        while i >= 0:
            if i + 10 > old:        # ends in the new data: not seen before
                self.overflows += 1
                overflowed = True
            i = probe.find(b'\noverflow\n', i + 1)
        if not self.got and probe.find(self.want) >= 0:
            self.got = True
        elif overflowed and not self.got:
            # the echo may have run while output was dropped: ask again
            self.send(b'echo\t' + self.token + b'\n')
        self.tail = probe[-self.PAD:]

    def lines(self):
        """Kept lines, without our tokens and `overflow` lines."""
        data = b''.join(self.keep or ())
        return [line for line in data.split(b'\n')
                if line and line != b'overflow' and line not in self.tokens]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Pool:
    """Many clients read through one selector (epoll: no FD_SETSIZE limit),
    optionally together with the daemon's own event stream."""

    def __init__(self, daemon=None, on_daemon_lines=None):
        self.sel = selectors.DefaultSelector()
        self.conns = []
        self.d = daemon
        self.on_daemon_lines = on_daemon_lines
        if daemon is not None:
            self.sel.register(daemon.rfd, selectors.EVENT_READ, None)

    def connect(self, path, n, deadline):
        for i in range(n):
            c = Conn(connect(path, deadline), i)
            self.sel.register(c.sock, selectors.EVENT_READ, c)
            self.conns.append(c)

    def live(self):
        return [c for c in self.conns if not c.closed]

    def sync(self, deadline, tag, before=b''):
        """Every live client sends `before` + an echo token; wait until
        every one has its token back (or was closed by the daemon)."""
        for c in self.live():
            c.ask(b'dpscale-%s-%d' % (tag, c.ident), before)
        self.pump(lambda: all(c.got for c in self.conns), deadline,
                  'clients waiting for their echo token')

    def pump(self, done, deadline, what):
        while not done():
            t = deadline - now()
            if t <= 0:
                raise ScenarioFail('timed out: %s' % what)
            for key, _ in self.sel.select(min(t, 0.5)):
                c = key.data
                if c is None:
                    self.on_daemon_lines(*read_chunk(self.d, 0))
                elif not c.read():
                    self.sel.unregister(c.sock)

    def close(self):
        for c in self.conns:
            if not c.closed:
                self.sel.unregister(c.sock)
            c.close()
        self.conns = []
        self.sel.close()


def read_chunk(d, timeout):
    """(time of the read, complete lines) of one read of the daemon's event
    stream; no lines if nothing arrives within timeout. Lines already
    parsed by dpbench's reader come first."""
    if d.lines:
        out = list(d.lines)
        d.lines.clear()
        return now(), out
    r, _, _ = select.select([d.rfd], [], [], max(0.0, timeout))
    if not r:
        return now(), []
    data = os.read(d.rfd, 262144)
    t = now()
    if not data:
        raise ScenarioFail('daemon closed its event stream (%s)'
                           % d.exit_desc(wait=0.5))
    d.nbytes += len(data)
    parts = (d.buf + data).split(b'\n')
    d.buf = parts.pop()
    return t, parts


class Pinger(threading.Thread):
    """echo round trips on a control-socket connection of its own, back to
    back for as long as it runs: the longest one while the interactive
    controller floods the daemon is the stall every other controller
    sees. It reads every broadcast too (raw, no per-line work)."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.conn = Conn(sock, 0)
        self.sel = selectors.DefaultSelector()
        self.sel.register(sock, selectors.EVENT_READ)
        self.samples = []          # (time sent, time the reply was read)
        self.stopping = threading.Event()
        self.aborting = threading.Event()
        self.error = None

    def run(self):
        try:
            for seq in itertools.count(1):
                if self.stopping.is_set():
                    return
                t0 = now()
                self.conn.ask(b'dpping-%d' % seq)
                while not self.conn.got:
                    if self.aborting.is_set():
                        return
                    if self.sel.select(0.2) and not self.conn.read():
                        self.error = 'the daemon closed the connection'
                        return
                    if now() - t0 > 600:
                        self.error = 'no echo reply for 600 s'
                        return
                self.samples.append((t0, now()))
        except Exception as e:  # reported by stop(), never lost
            self.error = '%s: %s' % (type(e).__name__, e)

    def first(self, deadline):
        while not self.samples:
            if self.error or now() > deadline:
                raise ScenarioFail('echo over the control socket failed: %s'
                                   % (self.error or 'timed out'))
            select.select([], [], [], 0.005)

    def stop(self, abort=False):
        """End after the current round trip (abort: at once). Safe to
        call again."""
        self.stopping.set()
        if abort:
            self.aborting.set()
        if self.ident is not None:
            self.join(timeout=30)
            if self.is_alive():
                self.aborting.set()
                self.join()
        self.sel.close()
        self.conn.close()

    def window(self, t0, t1):
        """Round trips (s) of the pings that overlapped [t0, t1]."""
        return [b - a for a, b in self.samples if a <= t1 and b >= t0]
