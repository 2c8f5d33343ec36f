"""report_scale.py - the scale and size views of report.py (issues 15, 17).

Reads the `scale` part of a results file (written by scale.py, laid out
like dpbench's: raw runs and a median/min/max summary per scenario, metric
and binary) and the `size` part (size.py), and prints them as text or
Markdown next to the targets of issue 15:

* per-service define, statedump and shutdown times grow by at most 1.5x
  from the smallest to the largest size measured;
* spawn cycles at >= 90 % of the machine's posix_spawn+waitpid loop;
* restart storm: every exit reported, echo round trip p99 < 5 ms;
* many connections: no client loses an event without an `overflow` line;
* the stripped release binary at most 1 MiB.
"""

import sys

GROWTH_LIMIT = 1.5
STRIPPED_LIMIT = 1 << 20

# (scenario, or prefix ending in '_' for a family of sizes; metric; figure;
#  unit; op; target). op: '<=' / '>=' on the median, 'zero': 0 in every
#  round, None: information.
ROWS = [
    ('defined_', 'define_us_per_svc', 'define, per service', 'us', None,
     None),
    ('defined_', 'per_service_bytes', 'VmRSS per defined service', 'B',
     None, None),
    ('defined_', 'statedump_ms', 'statedump', 'ms', None, None),
    ('defined_', 'statedump_bytes', 'statedump size', 'B', None, None),
    ('defined_', 'delete_us_per_svc', 'service.delete, per service', 'us',
     None, None),
    ('running_', 'start_all_ms', 'start in one batch, until all up', 'ms',
     None, None),
    ('running_', 'rss_kb', 'daemon VmRSS, all up', 'kB', None, None),
    ('running_', 'daemon_fds', 'daemon fds, all up (settled)', '', None,
     None),
    ('running_', 'statedump_ms', 'statedump, all up', 'ms', None, None),
    ('running_', 'stop_all_ms', 'one signal each, until all down', 'ms',
     None, None),
    ('restart_storm', 'cpu_us_per_exit', 'daemon CPU per reaped exit '
     '(utime+stime)', 'us', None, None),
    ('restart_storm', 'exits_per_s', 'exits reported per second', '/s',
     None, None),
    ('restart_storm', 'lost_exits', 'processes started - exits reported',
     '', 'zero', 0),
    ('restart_storm', 'signal_p50_us', 'signal -> event p50 during the '
     'storm', 'us', None, None),
    ('restart_storm', 'signal_p99_us', 'signal -> event p99 during the '
     'storm', 'us', None, None),
    ('restart_storm', 'echo_p99_us', 'echo round trip p99 during the '
     'storm', 'us', '<=', 5000),
    ('many_connections', 'per_connection_bytes', 'VmRSS per connection '
     '(connected, synced)', 'B', None, None),
    ('many_connections', 'per_connection_after_storm_bytes', 'VmRSS per '
     'connection after the storm', 'B', None, None),
    ('many_connections', 'violations', 'clients that lost events without '
     '`overflow`', '', 'zero', 0),
    ('many_connections', 'clients_overflowed', 'clients that got '
     '`overflow`', '', None, None),
    ('idle_clients_dump', 'idle_rss_kb', 'daemon VmRSS before the clients',
     'kB', None, None),
    ('idle_clients_dump', 'dumped_rss_kb', 'daemon VmRSS, clients idle after '
     'one statedump each', 'kB', None, None),
    ('idle_clients_dump', 'closed_rss_kb', 'daemon VmRSS after they all '
     'left', 'kB', None, None),
    ('idle_clients_dump', 'per_client_dumped_bytes', 'VmRSS per idle '
     'client after its statedump', 'B', None, None),
    ('registry_', 'define_cpu_s', 'daemon CPU, define', 's', None, None),
    ('registry_', 'define_max_stall_ms', 'worst echo stall, define', 'ms',
     None, None),
    ('registry_', 'delete_cpu_s', 'daemon CPU, delete ascending', 's', None,
     None),
    ('registry_', 'delete_max_stall_ms', 'worst echo stall, delete', 'ms',
     None, None),
    ('spawn_vs_baseline', 'ratio_to_baseline', 'spawn cycles / own '
     'posix_spawn+waitpid loop', '', '>=', 0.90),
    ('spawn_vs_baseline', 'cycles_per_s', 'spawn cycles/s', '/s', None,
     None),
    ('spawn_vs_baseline', 'baseline_cycles_per_s', 'posix_spawn+waitpid '
     'loop/s (just before)', '/s', None, None),
]

# (family, per-service metric, what) for the growth check
GROWTH = [
    ('defined', 'define_us_per_svc', 'define'),
    ('defined', 'statedump_ns_per_svc', 'statedump'),
    ('defined', 'delete_us_per_svc', 'service.delete'),
    ('running', 'start_us_per_svc', 'start (all up)'),
    ('running', 'statedump_ns_per_svc', 'statedump (running)'),
    ('running', 'stop_us_per_svc', 'shutdown (one signal each)'),
]


def stat(suite, sc, metric, label):
    """(summary entry or None, 'measured/all' rounds text): a round that
    failed, or could not measure this figure, does not count."""
    st = suite['summary'].get(sc, {}).get(metric, {}).get('by_bin', {}) \
        .get(label)
    recs = suite['raw'].get(sc, {}).get(label, [])
    if not recs:
        return st, 'not run'
    return st, '%d/%d' % (st['n'] if st else 0, len(recs))


def scenario_title(suite, sc):
    p = suite.get('params', {}).get(sc, {})
    if sc.startswith('registry_'):
        return '%s (%s services)' % (sc, fmt_n(p.get('n')))
    if sc == 'restart_storm':
        return '%s (%s services, %s s)' % (
            sc, fmt_n(p.get('services')), p.get('duration_s'))
    if sc in ('many_connections', 'idle_clients_dump'):
        return '%s (%s clients)' % (sc, fmt_n(p.get('clients')))
    return sc


def fmt_n(n):
    return '?' if n is None else '{:,}'.format(n)


def verdict(op, target, st):
    if op is None or st is None:
        return None
    if op == 'zero':
        return st['min'] == 0 and st['max'] == 0
    if op == '<=':
        return st['median'] <= target
    return st['median'] >= target


def rows(suite, label):
    """Every figure of ROWS present in the suite, in scenario order."""
    out = []
    for sc in suite['summary']:
        for prefix, metric, fig, unit, op, target in ROWS:
            if not (sc == prefix or (prefix.endswith('_') and
                                     sc.startswith(prefix))):
                continue
            st, rounds = stat(suite, sc, metric, label)
            out.append(dict(scenario=scenario_title(suite, sc), figure=fig,
                            unit=unit, st=st, rounds=rounds, op=op,
                            target=target, ok=verdict(op, target, st)))
    return out


def growth(suite, label):
    """Per-service cost at the smallest and largest size of each family,
    from the medians; ok when it grew by at most GROWTH_LIMIT."""
    out = []
    for fam, metric, what in GROWTH:
        sizes = sorted((suite['params'][sc]['n'], sc)
                       for sc in suite['summary']
                       if sc.startswith(fam + '_') and 'n' in
                       suite['params'].get(sc, {}))
        pts = [(n, stat(suite, sc, metric, label)[0]) for n, sc in sizes]
        pts = [(n, st['median']) for n, st in pts if st]
        if len(pts) < 2:
            continue
        (n0, v0), (n1, v1) = pts[0], pts[-1]
        ratio = v1 / v0 if v0 else None
        unit = 'ns' if metric.endswith('_ns_per_svc') else 'us'
        out.append(dict(what=what, n0=n0, n1=n1, v0=v0, v1=v1, unit=unit,
                        all=pts, ratio=ratio,
                        ok=None if ratio is None else ratio <= GROWTH_LIMIT))
    return out


def labels(suite):
    return [b['label'] for b in suite['meta']['binaries']]


VERDICT = {True: 'pass', False: 'FAIL', None: '-'}


def target_text(op, target):
    if op is None:
        return '-'
    if op == 'zero':
        return '0 in every round'
    return '%s %s' % (op.replace('<=', '≤').replace('>=', '≥'), target)


def print_scale(res, fmt, out=sys.stdout):
    suite = res.get('scale')
    if not suite:
        return
    m = suite['meta']
    print('\nscale scenarios (bench/scale.py%s, %d round(s), median/min/max '
          'over rounds):' % (' --quick' if m.get('quick') else '',
                             m['rounds']), file=out)
    for lab in labels(suite):
        print('\n[%s]' % lab, file=out)
        hdr = '  %-58s %10s %10s %10s %6s  %-16s %s' % (
            'figure', 'median', 'min', 'max', 'rounds', 'target', 'verdict')
        print(hdr, file=out)
        print('  ' + '-' * (len(hdr) - 2), file=out)
        last = None
        for r in rows(suite, lab):
            if r['scenario'] != last:
                print('  %s' % r['scenario'], file=out)
                last = r['scenario']
            st = r['st'] or {}
            print('    %-56s %10s %10s %10s %6s  %-16s %s' % (
                '%s [%s]' % (r['figure'], r['unit']) if r['unit']
                else r['figure'], fmt(st.get('median')), fmt(st.get('min')),
                fmt(st.get('max')), r['rounds'],
                target_text(r['op'], r['target']), VERDICT[r['ok']]),
                file=out)
        g = growth(suite, lab)
        if g:
            print('  per-service cost growth, smallest -> largest size '
                  '(medians; target ≤ %.1fx):' % GROWTH_LIMIT, file=out)
            for x in g:
                print('    %-28s %s  x%s  %s' % (
                    x['what'], ' -> '.join('%s: %s %s' % (
                        fmt_n(n), fmt(v), x['unit']) for n, v in x['all']),
                    fmt(x['ratio']), VERDICT[x['ok']]), file=out)
    if suite.get('notes'):
        print('\nscale notes:', file=out)
        for n in suite['notes']:
            print('  - ' + n, file=out)


def print_scale_markdown(res, fmt, out=sys.stdout):
    suite = res.get('scale')
    if not suite:
        return
    for lab in labels(suite):
        print('\n\n**scale scenarios, %s**%s\n' % (
            lab, ' (quick sizes)' if suite['meta'].get('quick') else ''),
            file=out)
        print('| scenario | figure | median | min | max | rounds | target '
              '| verdict |', file=out)
        print('|---|---|---:|---:|---:|:-:|---|:-:|', file=out)
        for r in rows(suite, lab):
            st = r['st'] or {}
            v = VERDICT[r['ok']]
            print('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
                r['scenario'], ('%s [%s]' % (r['figure'], r['unit'])
                                if r['unit'] else r['figure'])
                .replace('->', '→'), fmt(st.get('median')),
                fmt(st.get('min')), fmt(st.get('max')), r['rounds'],
                target_text(r['op'], r['target']),
                '**FAIL**' if v == 'FAIL' else v), file=out)
        g = growth(suite, lab)
        if g:
            print('\n| per-service cost (%s) | %s | growth | target | '
                  'verdict |' % (lab, ' | '.join(
                      fmt_n(n) for n, _ in g[0]['all'])), file=out)
            print('|---|%s---:|---|:-:|' % ('---:|' * len(g[0]['all'])),
                  file=out)
            for x in g:
                print('| %s [%s] | %s | x%s | ≤ %.1fx | %s |' % (
                    x['what'], x['unit'], ' | '.join(
                        fmt(v) for _, v in x['all']), fmt(x['ratio']),
                    GROWTH_LIMIT, VERDICT[x['ok']]), file=out)


def kb(v):
    return '-' if v is None else '%.1f kB' % (v / 1024.0)


def print_size(res, out=sys.stdout, top=10):
    s = res.get('size')
    if not s:
        return
    print('\nrelease binary size (target: stripped ≤ %s):' % kb(
        STRIPPED_LIMIT), file=out)
    for b in s['bins']:
        sec = b.get('sections') or {}
        ok = None if b.get('stripped_bytes') is None else \
            b['stripped_bytes'] <= STRIPPED_LIMIT
        print('  %-8s file %s, stripped %s (%s); .text %s, .rodata %s, '
              'unwind %s, data %s, bss %s' % (
                  b['label'], kb(b['file_bytes']), kb(b['stripped_bytes']),
                  VERDICT[ok], kb(sec.get('text')), kb(sec.get('rodata')),
                  kb(sec.get('unwind')), kb(sec.get('data')),
                  kb(sec.get('bss'))), file=out)
        if b.get('crates'):
            print('           by crate (nm): ' + ', '.join(
                '%s %s' % (n, kb(c['total'])) for n, c in
                list(b['crates'].items())[:top]), file=out)
    bl = s.get('bloat')
    if bl and 'error' in bl:
        print('  cargo bloat: %s' % bl['error'], file=out)
    elif bl:
        cr = bl['crates']
        print('  cargo bloat --crates (.text %s of a %s file built with '
              'debug info): %s' % (
                  kb(cr.get('text-section-size')), kb(cr.get('file-size')),
                  ', '.join('%s %s' % (c['name'], kb(c['size']))
                            for c in cr.get('crates', [])[:top])), file=out)


def print_size_markdown(res, out=sys.stdout, top=12):
    s = res.get('size')
    if not s:
        return
    print('\n| binary | file | stripped | target | .text | .rodata | '
          'unwind | data | bss |', file=out)
    print('|---|---:|---:|:-:|---:|---:|---:|---:|---:|', file=out)
    for b in s['bins']:
        sec = b.get('sections') or {}
        ok = None if b.get('stripped_bytes') is None else \
            b['stripped_bytes'] <= STRIPPED_LIMIT
        print('| %s | %s | %s | ≤ %s: %s | %s | %s | %s | %s | %s |' % (
            b['label'], kb(b['file_bytes']), kb(b['stripped_bytes']),
            kb(STRIPPED_LIMIT), VERDICT[ok], kb(sec.get('text')),
            kb(sec.get('rodata')), kb(sec.get('unwind')),
            kb(sec.get('data')), kb(sec.get('bss'))), file=out)
    for b in s['bins']:
        if not b.get('crates'):
            continue
        print('\n| %s: by crate (nm, aliases once) | text | rodata | data+bss '
              '| total |' % b['label'], file=out)
        print('|---|---:|---:|---:|---:|', file=out)
        for n, c in list(b['crates'].items())[:top]:
            print('| %s | %s | %s | %s | %s |' % (
                n, kb(c['text']), kb(c['rodata']), kb(c['data'] + c['bss']),
                kb(c['total'])), file=out)
    bl = s.get('bloat')
    if bl and 'crates' in bl:
        print('\n| cargo bloat --crates --split-std | .text |', file=out)
        print('|---|---:|', file=out)
        for c in bl['crates'].get('crates', [])[:top]:
            print('| %s | %s |' % (c['name'], kb(c['size'])), file=out)
        print('\n| cargo bloat: largest functions | crate | .text |',
              file=out)
        print('|---|---|---:|', file=out)
        for f in bl['functions'].get('functions', [])[:top]:
            print('| `%s` | %s | %s |' % (
                f['name'], f.get('crate', '?'), kb(f['size'])), file=out)
