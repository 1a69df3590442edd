#!/usr/bin/env python3
"""Fail when tests/headers/meson.build's header list, the directory
include/orchestra and the root meson.build's install list (public_h)
disagree, so a new header cannot escape the per-header compile tests or
be left out of the installed set.

usage: check_list.py --src-dir DIR --listed A.h B.h ... --installed P ...
"""
import argparse
import os
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--src-dir', required=True)
    ap.add_argument('--listed', nargs='*', default=[])
    ap.add_argument('--installed', nargs='*', default=[])
    args = ap.parse_args()

    present = {n for n in os.listdir(args.src_dir) if n.endswith('.h')}
    # version.h is generated from version.h.in into the build tree.
    if os.path.isfile(os.path.join(args.src_dir, 'version.h.in')):
        present.add('version.h')
    listed = set(args.listed)
    installed = {os.path.basename(p) for p in args.installed}
    installed.add('version.h')  # installed separately as version_h

    ok = True
    for name in sorted(present - listed):
        print('not in tests/headers/meson.build: ' + name)
        ok = False
    for name in sorted(listed - present):
        print('listed in tests/headers/meson.build but missing: ' + name)
        ok = False
    for name in sorted(present - installed):
        print('not in public_h (root meson.build), so not installed: '
              + name)
        ok = False
    if ok:
        print('%d headers, all listed and installed' % len(present))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
