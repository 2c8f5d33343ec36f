#!/usr/bin/env python3
"""size.py - what a release binary weighs, and what each part costs.

For every binary given: the file as built and stripped (`strip -o`, the
file itself is not touched), its loadable sections (`size -A`), and the
symbols grouped by crate (`nm --size-sort -S -C`: the first path segment
of each demangled Rust symbol; symbols without one, i.e. the static C
library and start-up code, form one group). With --bloat-src DIR, also
`cargo bloat --crates` and its largest functions for the checkout in DIR
(built into DIR/target/bloat, so target/release is left alone: cargo
bloat builds with debug info).

    size.py --bin ours=PATH [--bin old=PATH] [--bloat-src DIR]
            [--top 15] [--json out.json]

Standard library plus binutils (`strip`, `size`, `nm`); whatever is
missing is recorded as null, never fatal.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

C_GROUP = '[C library, start-up]'
UNNAMED = '[no symbol]'
# section name -> group reported (loadable parts only)
SECTION_GROUPS = (
    ('text', ('.text', '.init', '.fini', '.iplt', '__libc_freeres_fn')),
    ('rodata', ('.rodata',)),
    ('unwind', ('.eh_frame', '.eh_frame_hdr', '.gcc_except_table')),
    ('data', ('.data', '.data.rel.ro', '.got', '.got.plt', '.tdata',
              '.init_array', '.fini_array', '__libc_IO_vtables',
              '__libc_subfreeres', '__libc_atexit', '.rela.dyn')),
    ('bss', ('.bss', '.tbss', '__libc_freeres_ptrs')),
)
KINDS = {'t': 'text', 'r': 'rodata', 'd': 'data', 'b': 'bss'}


def run(cmd, cwd=None, timeout=60):
    """stdout of cmd, or None if it cannot run or fails."""
    if not shutil.which(cmd[0]):
        return None
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd,
                           timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return p.stdout if p.returncode == 0 else None


def stripped_size(path):
    with tempfile.TemporaryDirectory(prefix='dp-size.') as tmp:
        out = os.path.join(tmp, 'stripped')
        if run(['strip', '-o', out, path]) is None:
            return None
        return os.path.getsize(out)


def sections(path):
    """{group: bytes} of the loadable sections, plus every section."""
    out = run(['size', '-A', path])
    if out is None:
        return None, None
    each = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1].isdigit() and f[2].isdigit() and \
                int(f[2]) != 0:
            each[f[0]] = int(f[1])
    groups = {g: sum(each.get(s, 0) for s in names)
              for g, names in SECTION_GROUPS}
    groups['other'] = sum(v for k, v in each.items()
                          if not any(k in names for _, names in
                                     SECTION_GROUPS))
    return groups, each


PREFIX = re.compile(r'^(?:<|&|\*const |\*mut |mut |dyn |\[|\()+')
CRATE = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)::')


def crate_of(name):
    """The crate a demangled symbol belongs to: the first path segment
    (of the type in `<Type as Trait>::f`, or of the trait when the type
    has no path, like `<&T as core::fmt::Debug>::fmt`)."""
    m = CRATE.match(PREFIX.sub('', name))
    if m:
        return m.group(1)
    if ' as ' in name:
        m = CRATE.match(PREFIX.sub('', name.split(' as ', 1)[1]))
        if m:
            return m.group(1)
    if name.startswith(('anon.', '.L')):
        return '[anonymous constants]'
    if name.startswith('GCC_except_table'):
        return '[unwind tables]'
    return C_GROUP


def by_crate(path):
    """{crate: {text, rodata, data, bss, total}} from the symbol table,
    or None when the binary has no symbols (stripped)."""
    out = run(['nm', '--size-sort', '-S', '-C', '--defined-only', path])
    if not out:
        return None
    crates = {}
    seen = set()
    for line in out.splitlines():
        f = line.split(None, 3)
        if len(f) != 4:
            continue
        kind = KINDS.get(f[2].lower())
        # aliases (the C library has many: malloc, __libc_malloc) count once
        if kind is None or f[0] in seen:
            continue
        seen.add(f[0])
        c = crates.setdefault(crate_of(f[3]), dict(text=0, rodata=0, data=0,
                                                   bss=0))
        c[kind] += int(f[1], 16)
    for c in crates.values():
        c['total'] = c['text'] + c['rodata'] + c['data'] + c['bss']
    return crates


def measure(label, path):
    groups, each = sections(path)
    crates = by_crate(path)
    if crates and groups:
        # what no symbol covers: unnamed constants (string literals),
        # padding, tables the linker made
        crates[UNNAMED] = {
            k: max(0, groups[k] - sum(c[k] for c in crates.values()))
            for k in ('text', 'rodata', 'data', 'bss')}
        crates[UNNAMED]['total'] = sum(crates[UNNAMED].values())
        crates = dict(sorted(crates.items(), key=lambda kv: -kv[1]['total']))
    return dict(label=label, path=path, file_bytes=os.path.getsize(path),
                stripped_bytes=stripped_size(path), sections=groups,
                section_bytes=each, crates=crates)


def bloat(src, top):
    """cargo bloat --crates and the largest functions, or a reason why
    not."""
    if run(['cargo', 'bloat', '--version']) is None:
        return dict(error='cargo-bloat is not installed (cargo install '
                    'cargo-bloat --locked)')
    base = ['cargo', 'bloat', '--release', '-p', 'daemonproxy-cli', '--bin',
            'daemonproxy', '--target-dir',
            os.path.join(src, 'target', 'bloat'), '--message-format', 'json']
    res = dict(src=src)
    for key, extra in (('crates', ['--crates', '--split-std', '-n', '0']),
                       ('functions', ['-n', str(top)])):
        out = run(base + extra, cwd=src, timeout=1800)
        if out is None:
            return dict(error='`%s` failed' % ' '.join(base + extra))
        try:
            res[key] = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return dict(error='cargo bloat printed no JSON')
    return res


def kb(v):
    return '-' if v is None else '%.1f kB' % (v / 1024.0)


def print_report(res, top, out=sys.stdout):
    for m in res['bins']:
        print('%s: %s file, %s stripped; .text %s, .rodata %s, unwind %s, '
              'data %s, bss %s' % (
                  m['label'], kb(m['file_bytes']), kb(m['stripped_bytes']),
                  *(kb((m['sections'] or {}).get(g)) for g in
                    ('text', 'rodata', 'unwind', 'data', 'bss'))), file=out)
        if m['crates']:
            print('  by crate (symbol sizes; text+rodata+data+bss):',
                  file=out)
            for name, c in list(m['crates'].items())[:top]:
                print('    %-28s %10s  (text %s)'
                      % (name, kb(c['total']), kb(c['text'])), file=out)
    b = res.get('bloat')
    if b and 'error' in b:
        print('cargo bloat: %s' % b['error'], file=out)
    elif b:
        cr = b['crates']
        print('cargo bloat --crates (%s; .text %s):' % (
            b['src'], kb(cr.get('text-section-size'))), file=out)
        for c in cr.get('crates', [])[:top]:
            print('    %-28s %10s' % (c['name'], kb(c['size'])), file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--bin', action='append', default=[],
                    metavar='LABEL=PATH')
    ap.add_argument('--bloat-src', default='', metavar='DIR',
                    help='run cargo bloat in this checkout')
    ap.add_argument('--top', type=int, default=15,
                    help='crates and functions listed (default 15)')
    ap.add_argument('--json', default='', metavar='FILE')
    a = ap.parse_args()
    if not a.bin:
        sys.exit('give at least one --bin LABEL=PATH')
    res = dict(bins=[])
    for spec in a.bin:
        label, sep, path = spec.partition('=')
        if not sep or not os.path.isfile(path):
            sys.exit('--bin expects LABEL=PATH of a file, got %r' % spec)
        res['bins'].append(measure(label, path))
    if a.bloat_src:
        res['bloat'] = bloat(os.path.abspath(a.bloat_src), a.top)
    print_report(res, a.top)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
