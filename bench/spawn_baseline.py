#!/usr/bin/env python3
"""spawn_baseline.py - the machine's physical limit for the spawn scenarios.

Measures, without any supervisor in the loop, how fast this machine can
start and reap a trivial program, so that dpbench's `spawn_cycle_rate` and
`parallel_spawn` figures can be read against it:

  serial    N x (os.posix_spawn(/bin/true) + waitpid): cycles/s, p50/p99.
            This is the ceiling for spawn_cycle_rate (which adds two pipe
            round trips through the daemon per cycle).
  parallel  reps x (posix_spawn 100 children back to back, then reap all):
            spawns/s from one process. glibc's posix_spawn is vfork-style
            (the parent waits for each exec), so this is what one spawning
            process can reach with children exec'ing one after the other.
  parallel_cpus  the same 100 x reps split over one spawning process per
            CPU, started together: the machine's limit when every core
            spawns and execs (the ceiling for parallel_spawn with a
            fork-style spawner whose children exec in parallel).

Standard library only. Prints a short table, or JSON with --json FILE.

    python3 bench/spawn_baseline.py [--n 2000] [--rounds 5] [--json out.json]
"""

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import time


def pct(values, p):
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100.0 * len(s)) - 1))
    return s[k]


def serial(prog, n):
    argv = [prog]
    env = {}
    lat = []
    pc = time.perf_counter_ns
    t0 = pc()
    for _ in range(n):
        t = pc()
        pid = os.posix_spawn(prog, argv, env)
        os.waitpid(pid, 0)
        lat.append(pc() - t)
    total = (pc() - t0) / 1e9
    return dict(cycles_per_s=round(n / total, 1),
                p50_us=round(pct(lat, 50) / 1000, 1),
                p99_us=round(pct(lat, 99) / 1000, 1))


def parallel(prog, n, reps):
    argv = [prog]
    env = {}
    t0 = time.perf_counter()
    for _ in range(reps):
        pids = [os.posix_spawn(prog, argv, env) for _ in range(n)]
        for pid in pids:
            os.waitpid(pid, 0)
    total = time.perf_counter() - t0
    return dict(spawns_per_s=round(n * reps / total, 1))


def parallel_cpus(prog, n, reps, workers):
    """n x reps spawns split over `workers` forked spawners released at
    once; wall time from release to the last reap."""
    share = [n * reps // workers + (1 if i < n * reps % workers else 0)
             for i in range(workers)]
    go_r, go_w = os.pipe()
    kids = []
    for k in share:
        pid = os.fork()
        if pid == 0:
            try:
                os.close(go_w)
                os.read(go_r, 1)
                argv, env = [prog], {}
                done = 0
                while done < k:
                    batch = min(n, k - done)
                    pids = [os.posix_spawn(prog, argv, env)
                            for _ in range(batch)]
                    for p in pids:
                        os.waitpid(p, 0)
                    done += batch
            finally:
                os._exit(0)
        kids.append(pid)
    os.close(go_r)
    time.sleep(0.05)
    t0 = time.perf_counter()
    os.write(go_w, b'x' * len(kids))
    for pid in kids:
        os.waitpid(pid, 0)
    total = time.perf_counter() - t0
    os.close(go_w)
    return dict(spawns_per_s_cpus=round(n * reps / total, 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--prog', default=shutil.which('true') or '/bin/true')
    ap.add_argument('--n', type=int, default=2000,
                    help='serial cycles per round (default 2000)')
    ap.add_argument('--par', type=int, default=100,
                    help='children per parallel batch (default 100)')
    ap.add_argument('--reps', type=int, default=10,
                    help='parallel batches per round (default 10)')
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--json', default='')
    args = ap.parse_args()

    runs = []
    for _ in range(args.rounds):
        r = serial(args.prog, args.n)
        r.update(parallel(args.prog, args.par, args.reps))
        r.update(parallel_cpus(args.prog, args.par, args.reps,
                               os.cpu_count() or 1))
        runs.append(r)
    summary = {}
    for k in runs[0]:
        vals = [r[k] for r in runs]
        summary[k] = dict(median=statistics.median(vals), min=min(vals),
                          max=max(vals), n=len(vals))
    res = dict(prog=args.prog, n=args.n, par=args.par, reps=args.reps,
               rounds=args.rounds, runs=runs, summary=summary,
               loadavg=os.getloadavg())
    print('posix_spawn baseline (%s, no supervisor; %d rounds):'
          % (args.prog, args.rounds))
    print('  %-34s %10s %10s %10s' % ('', 'median', 'min', 'max'))
    labels = (('cycles_per_s', 'serial spawn+waitpid [/s]'),
              ('p50_us', 'serial cycle p50 [us]'),
              ('p99_us', 'serial cycle p99 [us]'),
              ('spawns_per_s', 'parallel %d at once [/s]' % args.par),
              ('spawns_per_s_cpus', '%d at once, %d spawners [/s]'
               % (args.par, os.cpu_count() or 1)))
    for k, lab in labels:
        s = summary[k]
        print('  %-34s %10.1f %10.1f %10.1f' % (lab, s['median'], s['min'],
                                                 s['max']))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
