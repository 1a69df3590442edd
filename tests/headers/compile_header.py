#!/usr/bin/env python3
"""Compile a one-line translation unit that includes a single public header.

The headers are laid out as they are installed (<prefix>/orchestra/*.h,
with the generated version.h beside them), so the test sees exactly what
a user's `#include <orchestra/dag.h>` sees.

usage: compile_header.py --header NAME --src-dir DIR --version-h FILE
                         --lang c|c++ -- COMPILER... FLAGS...
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--header', required=True)
    ap.add_argument('--src-dir', required=True)
    ap.add_argument('--version-h', required=True)
    ap.add_argument('--lang', choices=['c', 'c++'], required=True)
    ap.add_argument('cmd', nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ['--'] else args.cmd
    if not cmd:
        ap.error('no compiler command after --')

    with tempfile.TemporaryDirectory(prefix='orc-hdr-') as tmp:
        inc = os.path.join(tmp, 'orchestra')
        os.mkdir(inc)
        for name in os.listdir(args.src_dir):
            if name.endswith('.h'):
                shutil.copy(os.path.join(args.src_dir, name), inc)
        shutil.copy(args.version_h, inc)
        if not os.path.isfile(os.path.join(inc, args.header)):
            print('header %s not found in %s' % (args.header,
                                                 args.src_dir))
            return 1

        ext = '.c' if args.lang == 'c' else '.cpp'
        tu = os.path.join(tmp, 'tu' + ext)
        line = '#include <orchestra/%s>\n' % args.header
        with open(tu, 'w') as f:
            f.write(line)
        full = cmd + ['-I' + tmp, '-c', tu, '-o',
                      os.path.join(tmp, 'tu.o')]
        print('TU: ' + line.strip())
        print('$ ' + ' '.join(full))
        res = subprocess.run(full, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT,
                             universal_newlines=True)
        sys.stdout.write(res.stdout)
        if res.returncode != 0:
            print('FAIL: <orchestra/%s> does not compile alone as %s'
                  % (args.header, args.lang))
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
