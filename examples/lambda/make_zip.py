#!/usr/bin/env python3
"""Package a handler binary as a Lambda deployment zip for
provided.al2023: the binary as `bootstrap` (mode 0755) plus, under lib/
(on Lambda's LD_LIBRARY_PATH), the shared libraries named by --bundle
that the binary links and Amazon Linux 2023 does not ship (jansson).
Uses `zip` when it is installed, else Python's zipfile.

usage: make_zip.py OUT.zip BINARY [--bundle PREFIX]...
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile


def linked_libs(binary):
    try:
        out = subprocess.run(['ldd', binary], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    libs = []
    for line in out.splitlines():
        parts = line.split('=>')
        if len(parts) == 2 and parts[1].split():
            path = parts[1].split()[0]
            if os.path.isabs(path):
                libs.append((parts[0].strip(), path))
    return libs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out')
    ap.add_argument('binary')
    ap.add_argument('--bundle', action='append', default=[])
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as stage:
        names = ['bootstrap']
        shutil.copyfile(args.binary, os.path.join(stage, 'bootstrap'))
        os.chmod(os.path.join(stage, 'bootstrap'), 0o755)
        for soname, path in linked_libs(args.binary):
            if any(soname.startswith(p) for p in args.bundle):
                os.makedirs(os.path.join(stage, 'lib'), exist_ok=True)
                shutil.copyfile(path, os.path.join(stage, 'lib', soname))
                names.append('lib/' + soname)
        out = os.path.abspath(args.out)
        if os.path.exists(out):
            os.remove(out)
        if shutil.which('zip'):
            subprocess.run(['zip', '-q', '-X', out] + names, cwd=stage,
                           check=True)
        else:
            with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
                for n in names:
                    info = zipfile.ZipInfo(n, (1980, 1, 1, 0, 0, 0))
                    info.external_attr = 0o100755 << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    with open(os.path.join(stage, n), 'rb') as f:
                        z.writestr(info, f.read())
    return 0


if __name__ == '__main__':
    sys.exit(main())
