#!/usr/bin/env python3
"""Repository checks that keep the docs honest:

 1. the repository stands alone: no file cites a document or a path that
    is not in it (design notes kept outside the repository, a sibling
    "shared" directory, paths of the machine it was written on);
 2. one ownership rule: no public header tells the user to release
    library memory with plain free(), and the docs mention free() only
    to say never; docs/ownership.md says orc_free().

usage: check_repo.py --src-dir DIR
"""
import argparse
import os
import re
import subprocess
import sys

# Built from parts so that this file does not match itself.
OUTSIDE = [
    (re.compile(r'\b' + 'DESIGN' + r'\.md\b'), 'a design note outside '
     'the repository'),
    (re.compile(r'\b' + 'STYLE' + r'\.md\b'), 'a style guide outside '
     'the repository'),
    (re.compile(r'\.\./' + 'shared' + r'\b'), 'a directory beside the '
     'repository'),
    (re.compile(r'(?<![\w.~-])/' + 'work' + r'/'), 'a path on the '
     'machine it was written on'),
]
BARE_FREE = re.compile(r'(?<![\w])free\(\)')


def repo_files(root):
    try:
        out = subprocess.run(
            ['git', '-C', root, 'ls-files', '-z', '--cached', '--others',
             '--exclude-standard'], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, check=True).stdout
        names = [n for n in out.decode().split('\0') if n]
        if names:
            return [n for n in names
                    if os.path.isfile(os.path.join(root, n))]
    except (OSError, subprocess.CalledProcessError):
        pass
    # Not a git checkout (a release tarball): walk it, leaving out build
    # directories and installed tools.
    names = []
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x not in ('.git', 'node_modules')
                   and not os.path.isdir(os.path.join(d, x,
                                                      'meson-private'))]
        for f in files:
            names.append(os.path.relpath(os.path.join(d, f), root))
    return names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--src-dir', required=True)
    args = ap.parse_args()
    root = os.path.abspath(args.src_dir)
    me = os.path.relpath(os.path.abspath(__file__), root)
    problems = []
    names = repo_files(root)
    for name in sorted(names):
        if name == me:
            continue
        try:
            with open(os.path.join(root, name), encoding='utf-8') as f:
                lines = f.read().split('\n')
        except (UnicodeDecodeError, OSError):
            continue  # binary data (test corpora)
        header = (name.startswith('include/orchestra/') and
                  name.endswith('.h'))
        doc = name == 'README.md' or (name.startswith('docs/') and
                                      name.endswith('.md'))
        for no, line in enumerate(lines, 1):
            for pat, what in OUTSIDE:
                m = pat.search(line)
                if m:
                    problems.append('%s:%d: cites %r, %s'
                                    % (name, no, m.group(0), what))
            if ((header or (doc and 'never' not in line)) and
                    BARE_FREE.search(line)):
                problems.append('%s:%d: says free(); memory the library '
                                'hands out is released with orc_free() '
                                '(docs/ownership.md)' % (name, no))
    for p in problems:
        print(p)
    if problems:
        print('%d problem(s) in %d files' % (len(problems), len(names)))
        return 1
    print('%d files checked: no citation outside the repository, no '
          'free() in a public header or the docs' % len(names))
    return 0


if __name__ == '__main__':
    sys.exit(main())
