#!/usr/bin/env python3
"""report.py - merge and present bench/run results (standard library only).

    report.py combine --out OUT.json [--dpbench DP.json]
                      [--baseline B.json] [--scale SCALE.json]
                      [--size SIZE.json]
                      [--table TABLE.txt] [--commit C] ...   (used by bench/run)
    report.py show [FILE]       figures vs targets of a results file
                                (default bench/results/latest.json)
    report.py markdown [FILE]   the same as Markdown tables (BENCHMARKS.md)
    report.py table [FILE]      the full dpbench / scale.py tables

The scale scenarios (scale.py) and the binary size (size.py) of issues 15
and 17 are presented by report_scale.py.

The targets below are the issue's ("Performance: a benchmark harness in the
project"): ratios to the original C daemonproxy on this machine kind, given
as absolute figures because the C binary is not available here. `c` is what
the original C measured, for reference.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys

import report_scale

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, 'results', 'latest.json')

# (scenario, metric, figure, unit, op, target, C original)
# op: '<=' / '>=' against target, 'pipes' (special check), None (info only)
TARGETS = [
    ('idle_rss_kb', 'rss_kb', 'idle VmRSS', 'kB', '<=', 1720, 1720),
    ('idle_rss_kb', 'rss_anon_kb', 'idle RssAnon (private/anon)', 'kB',
     '<=', 108, 108),
    ('idle_rss_kb', 'pss_kb', 'idle PSS', 'kB', None, None, None),
    ('rss_1000_services_kb', 'per_service_bytes',
     'bytes per defined service (1000)', 'B', '<=', 414, 414),
    ('echo_throughput', 'cmds_per_s', 'echo commands/s (100k)', '/s', '>=',
     1.9e6, 640e3),
    ('spawn_cycle_rate', 'cycles_per_s', 'spawn cycles/s (start->down of '
     '`true`, 2000)', '/s', '>=', 1060, 706),
    ('spawn_cycle_rate', 'p50_us', 'spawn cycle p50', 'us', None, None,
     1340),
    ('spawn_cycle_rate', 'p99_us', 'spawn cycle p99', 'us', None, None,
     None),
    ('parallel_spawn', 'spawns_per_s', 'parallel spawns/s (100 at once)',
     '/s', '>=', 2000, 1568),
    ('signal_event_latency', 'p50_us', 'signal -> event p50', 'us', '<=', 22,
     22),
    ('signal_event_latency', 'p99_us', 'signal -> event p99', 'us', None,
     None, None),
    ('statedump_10k', 'ms', 'statedump, 10,000 services', 'ms', '<=', 6,
     12.6),
    ('many_pipes', 'pipes_ok', 'pipes held before the first error', '',
     'pipes', 'RLIMIT_NOFILE', None),
    ('instructions_echo_10k', 'ir_per_echo',
     'instructions per echo (callgrind)', 'Ir', '<=', 1000, 1973),
]


def fmt(v):
    if v is None:
        return '-'
    if isinstance(v, str):
        return v
    if isinstance(v, float) and v != v:
        return 'nan'
    a = abs(v)
    if a >= 1e6:
        return '%.3gM' % (v / 1e6) if a < 1e9 else '%.3g' % v
    if a >= 1e5:
        return '%.0fk' % (v / 1e3)
    if a >= 100:
        return '%.0f' % v
    if a >= 10:
        return '%.1f' % v
    return '%.3g' % v


def pipes_ok(runs):
    """'Limited only by RLIMIT_NOFILE': every run either held all the pipes
    asked for without an error, or stopped within 5% of the descriptor
    limit. Returns (verdict, detail)."""
    if not runs:
        return None, 'no run'
    bad = []
    for m in runs:
        held = m.get('pipes_ok') or 0
        if m.get('first_error') is None and held >= (m.get('target') or 0):
            continue
        lim = m.get('nofile_limit') or 0
        used = 2 * held + (m.get('daemon_fds_before') or 0)
        if m.get('first_error') is not None and lim and used >= 0.95 * lim:
            continue
        bad.append('%d held, error %r, limit %s' % (held, m.get('first_error'),
                                                     lim))
    m = runs[0]
    detail = ('%s of %s asked, RLIMIT_NOFILE %s' %
              (m.get('pipes_ok'), m.get('target'), m.get('nofile_limit')))
    return (not bad), (detail if not bad else '; '.join(bad[:2]))


def verdict(op, target, median, runs):
    if op is None or median is None:
        return None, ''
    if op == 'pipes':
        return pipes_ok(runs)
    if op == '<=':
        return median <= target, ''
    return median >= target, ''


def rows_for(res, label):
    dp = res.get('dpbench')
    if not dp:
        return []
    out = []
    for sc, metric, fig, unit, op, target, c in TARGETS:
        st = dp['summary'].get(sc, {}).get(metric, {}).get('by_bin', {}) \
            .get(label)
        runs = [r['metrics'] for r in dp['raw'].get(sc, {}).get(label, [])
                if r.get('status') == 'ok']
        nall = len(dp['raw'].get(sc, {}).get(label, []))
        if st is None:
            out.append(dict(figure=fig, unit=unit, median=None, min=None,
                            max=None, rounds='0/%d' % nall if nall else
                            'not run', op=op, target=target, c=c, ok=None,
                            detail=''))
            continue
        ok, detail = verdict(op, target, st['median'], runs)
        out.append(dict(figure=fig, unit=unit, median=st['median'],
                        min=st['min'], max=st['max'],
                        rounds='%d/%d' % (st['n'], nall), op=op,
                        target=target, c=c, ok=ok, detail=detail))
    return out


def target_text(r):
    if r['op'] is None:
        return '-'
    if r['op'] == 'pipes':
        return 'RLIMIT_NOFILE only'
    return '%s %s' % (r['op'].replace('<=', '≤').replace('>=', '≥'),
                      fmt(r['target']))


def verdict_text(r):
    return {True: 'pass', False: 'FAIL', None: '-'}[r['ok']]


def load(la):
    return '/'.join('%.2f' % x for x in la) if la else '?'


def labels_of(res):
    suite = res.get('dpbench') or res['scale']
    return [b['label'] for b in suite['meta']['binaries']]


def spawn_ratio(res, label):
    """dpbench's spawn_cycle_rate over the posix_spawn baseline of the same
    run (medians): issue 15 wants >= 0.90."""
    b = res.get('baseline')
    st = (res.get('dpbench') or {}).get('summary', {}).get(
        'spawn_cycle_rate', {}).get('cycles_per_s', {}).get('by_bin', {}) \
        .get(label)
    if not b or not st:
        return None
    return st['median'] / b['summary']['cycles_per_s']['median']


def print_show(res, out=sys.stdout):
    m = res['meta']
    print('measured: %s commit %s%s, binary sha256 %s…, %s UTC' % (
        'release build of' if m.get('built_from_tree', True) else
        'given binary %s; tree at' % m.get('binary'), m['commit'], (' + %s local change(s) (sha256 of diff + new files %s…)'
                      % (m['dirty_files'], m['diff_sha256']))
        if m.get('dirty_files') else '', m.get('binary_sha256'),
        m['date_utc']), file=out)
    print('machine: %s CPU(s), %s, kernel %s; load %s -> %s' % (
        m['nproc'], m['cpu_model'], m['kernel'],
        load(m.get('loadavg_start')), load(m.get('loadavg_end'))), file=out)
    for key, what in (('during_run', 'the run'),
                      ('during_scale', 'the scale scenarios')):
        d = m.get(key)
        if d:
            print('during %s: %s%% of the CPUs busy with other processes '
                  '(the harness used %s s CPU in %s s)%s' % (
                      what, d['others_pct'], d['own_cpu_s'], d['wall_s'],
                      '  <- wall-clock figures disturbed'
                      if d['others_pct'] > 15 else ''), file=out)
    for lab in labels_of(res) if res.get('dpbench') else ():
        print('\nfigures vs targets [%s] (median over rounds; pass/fail on '
              'the median):' % lab, file=out)
        hdr = '  %-50s %10s %10s %10s %6s  %-18s %9s  %s' % (
            'figure', 'median', 'min', 'max', 'rounds', 'target', 'C orig',
            'verdict')
        print(hdr, file=out)
        print('  ' + '-' * (len(hdr) - 2), file=out)
        for r in rows_for(res, lab):
            print('  %-50s %10s %10s %10s %6s  %-18s %9s  %s%s' % (
                '%s [%s]' % (r['figure'], r['unit']) if r['unit']
                else r['figure'], fmt(r['median']), fmt(r['min']),
                fmt(r['max']), r['rounds'], target_text(r), fmt(r['c']),
                verdict_text(r), ('  (%s)' % r['detail']) if r['detail']
                else ''), file=out)
    b = res.get('baseline')
    if b:
        s = b['summary']
        print('\nposix_spawn baseline (no supervisor, %s, %d rounds): serial '
              'spawn+waitpid %s/s (min %s, max %s; p50 %s us, p99 %s us); '
              '%d at once %s/s from one process, %s/s from one spawner per '
              'CPU' % (
                  b['prog'], b['rounds'], fmt(s['cycles_per_s']['median']),
                  fmt(s['cycles_per_s']['min']),
                  fmt(s['cycles_per_s']['max']), fmt(s['p50_us']['median']),
                  fmt(s['p99_us']['median']), b['par'],
                  fmt(s['spawns_per_s']['median']),
                  fmt(s.get('spawns_per_s_cpus', {}).get('median'))),
              file=out)
        for lab in labels_of(res):
            r = spawn_ratio(res, lab)
            if r is not None:
                print('  [%s] spawn_cycle_rate / serial baseline: %.3f '
                      '(target ≥ 0.90: %s)' % (lab, r, 'pass' if r >= 0.90
                                               else 'FAIL'), file=out)
    if (res.get('dpbench') or {}).get('notes'):
        print('\nharness notes:', file=out)
        for n in res['dpbench']['notes']:
            print('  - ' + n, file=out)
    report_scale.print_scale(res, fmt, out)
    report_scale.print_size(res, out)


def print_markdown(res, out=sys.stdout):
    for lab in labels_of(res) if res.get('dpbench') else ():
        if len(labels_of(res)) > 1:
            print('\n**%s**\n' % lab, file=out)
        print('| figure | median | min | max | rounds | target | C original '
              '| verdict |', file=out)
        print('|---|---:|---:|---:|:-:|---|---:|:-:|', file=out)
        for r in rows_for(res, lab):
            fig = '%s [%s]' % (r['figure'], r['unit']) if r['unit'] \
                else r['figure']
            v = verdict_text(r)
            v = '**FAIL**' if v == 'FAIL' else v
            print('| %s | %s | %s | %s | %s | %s | %s | %s%s |' % (
                fig.replace('->', '→'), fmt(r['median']), fmt(r['min']),
                fmt(r['max']), r['rounds'], target_text(r), fmt(r['c']), v,
                (' (%s)' % r['detail']) if r['detail'] else ''), file=out)
    b = res.get('baseline')
    if b:
        s = b['summary']
        print('\n| posix_spawn baseline (%s) | median | min | max |'
              % b['prog'], file=out)
        print('|---|---:|---:|---:|', file=out)
        for k, lab in (('cycles_per_s', 'serial spawn+waitpid [/s]'),
                       ('p50_us', 'serial cycle p50 [us]'),
                       ('p99_us', 'serial cycle p99 [us]'),
                       ('spawns_per_s', '%d at once, one spawner [/s]'
                        % b['par']),
                       ('spawns_per_s_cpus', '%d at once, one spawner per '
                        'CPU [/s]' % b['par'])):
            if k not in s:
                continue
            print('| %s | %s | %s | %s |' % (lab, fmt(s[k]['median']),
                                             fmt(s[k]['min']),
                                             fmt(s[k]['max'])), file=out)
        for lab in labels_of(res):
            r = spawn_ratio(res, lab)
            if r is not None:
                print('| spawn_cycle_rate / serial baseline, %s (target ≥ '
                      '0.90) | %.3f | | |' % (lab, r), file=out)
    report_scale.print_scale_markdown(res, fmt, out)
    report_scale.print_size_markdown(res, out)


def machine():
    cpu = ''
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ''
    try:
        with open('/proc/meminfo') as f:
            mem = f.readline().split(':', 1)[1].strip()
    except (OSError, IndexError):
        pass

    def ver(cmd):
        if not shutil.which(cmd[0]):
            return None
        try:
            return subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=10).stdout.strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return None
    return dict(nproc=os.cpu_count(), cpu_model=cpu, mem_total=mem,
                kernel=platform.release(), machine=platform.machine(),
                rustc=ver(['rustc', '--version']),
                valgrind=ver(['valgrind', '--version']),
                python=platform.python_version())


def load_json(path):
    if not path:
        return None
    with open(path) as f:
        return json.load(f)


def combine(a):
    dp = load_json(a.dpbench)
    scale = load_json(a.scale)
    first = dp or scale
    if first is None:
        sys.exit('combine: nothing to combine (no --dpbench, no --scale)')
    res = dict(meta=dict(
        date_utc=datetime.datetime.now(datetime.timezone.utc)
        .strftime('%Y-%m-%d %H:%M:%S'),
        commit=a.commit, dirty_files=int(a.dirty_files or 0),
        diff_sha256=a.diff_sha256 or None, label=a.label,
        changes=[l for l in a.changes.splitlines() if l.strip()],
        binary=a.binary, binary_sha256=a.binary_sha256, command=a.command,
        built_from_tree=a.built == '1',
        loadavg_start=first['meta'].get('loadavg_start'),
        loadavg_end=(scale or dp)['meta'].get('loadavg_end'), **machine()))
    for key, value in (('dpbench', dp), ('scale', scale),
                       ('baseline', load_json(a.baseline)),
                       ('size', load_json(a.size))):
        if value is not None:
            res[key] = value
    for key, path in (('during_run', a.load), ('during_scale', a.scale_load)):
        if path:
            res['meta'][key] = load_json(path)
    for key, path in (('table', a.table), ('scale_table', a.scale_table)):
        if path:
            with open(path) as f:
                res[key] = f.read()
    with open(a.out, 'w') as f:
        json.dump(res, f, indent=1)
    for key in ('table', 'scale_table'):
        if res.get(key):
            print(res[key])
    print_show(res)
    print('\nwritten: %s' % a.out)


def cpu_jiffies():
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def run_measured(a):
    """Run a command; record how busy the machine was meanwhile, apart
    from the command itself and its (waited-for) descendants."""
    import resource
    import time
    tck = os.sysconf('SC_CLK_TCK')
    b0, t0 = cpu_jiffies()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.monotonic()
    rc = subprocess.call(a.argv[1:] if a.argv[:1] == ['--'] else a.argv)
    wall = time.monotonic() - w0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    b1, t1 = cpu_jiffies()
    own = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    busy = (b1 - b0) / tck
    cpus = os.cpu_count() or 1
    res = dict(wall_s=round(wall, 2), own_cpu_s=round(own, 2),
               machine_busy_pct=round(100.0 * busy / (wall * cpus), 1),
               others_pct=round(max(0.0, 100.0 * (busy - own) /
                                    (wall * cpus)), 1), cpus=cpus)
    with open(a.out, 'w') as f:
        json.dump(res, f)
    return rc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    x = sub.add_parser('exec', help='run a command, record the CPU others '
                       'used meanwhile (JSON to --out)')
    x.add_argument('--out', required=True)
    x.add_argument('argv', nargs=argparse.REMAINDER)
    c = sub.add_parser('combine')
    c.add_argument('--dpbench')
    c.add_argument('--out', required=True)
    c.add_argument('--baseline')
    c.add_argument('--scale', help='JSON written by scale.py')
    c.add_argument('--size', help='JSON written by size.py')
    c.add_argument('--table')
    c.add_argument('--scale-table', help='the table scale.py printed')
    c.add_argument('--load', help='JSON written by `report.py exec`')
    c.add_argument('--scale-load', help='the same, for scale.py')
    c.add_argument('--label', default='ours')
    c.add_argument('--binary', default='')
    c.add_argument('--binary-sha256', default='')
    c.add_argument('--commit', default='unknown')
    c.add_argument('--dirty-files', default='0')
    c.add_argument('--diff-sha256', default='')
    c.add_argument('--changes', default='',
                   help='`git status --porcelain` of the measured tree')
    c.add_argument('--command', default='')
    c.add_argument('--built', default='1',
                   help='1: the binary was built from this tree just now')
    for name in ('show', 'markdown', 'table'):
        s = sub.add_parser(name)
        s.add_argument('file', nargs='?', default=DEFAULT)
    a = ap.parse_args()
    if a.cmd == 'exec':
        return run_measured(a)
    if a.cmd == 'combine':
        combine(a)
        return 0
    with open(a.file) as f:
        res = json.load(f)
    if a.cmd == 'show':
        print_show(res)
    elif a.cmd == 'table':
        for key in ('table', 'scale_table'):
            if res.get(key):
                print(res[key])
    else:
        print_markdown(res)
    return 0


if __name__ == '__main__':
    sys.exit(main())
