#!/usr/bin/env python3
"""ABI checks for liborchestra.so, liborchestra-aws.so and
liborchestra-http.so (each given as
--lib LIB --map MAP --soname SONAME, the core first):

 1. every ORC_API function declared in the public headers is exported
    (nm -D --defined-only) by exactly one of the libraries, and nothing
    else is: no undeclared orc_ names, no non-orc symbols besides the
    version nodes, and no orc__ internals except those a node
    ORC_PRIVATE_<project version> of the library's map names one by one,
    each of them exported and imported by another of the libraries
    (checked with --all-parts, when no optional part is left out); every export
    carries a version node of its library's map, and every orc_ symbol a
    library imports is exported by another;
 2. each map exists, has `local: *;`, and its global patterns cover
    every declared function its library exports;
 3. the generated version.h matches meson.project_version(), each .so's
    SONAME is the expected one, and (when the libraries can be loaded
    into this interpreter, i.e. not a sanitizer build) every library
    loads and orc_version() returns ORC_VERSION_STRING.
 4. every options struct (orc_*_options) starts with `unsigned int
    version`, and every struct that does (options, orc_task_spec, the
    Lambda handler config) has an `<name>_init()` function, since
    bindings cannot use the _INIT macros.

With ORC_ABI_ALLOW_MISSING=1 in the environment, declared functions that
no library defines yet are listed but do not fail the test.
"""
import argparse
import ctypes
import fnmatch
import os
import re
import subprocess
import sys

errors = []


def fail(msg):
    errors.append(msg)
    print('FAIL: ' + msg)


def strip_c(text):
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'//[^\n]*', ' ', text)
    # Drop preprocessor lines, with their continuations, so the
    # definition of ORC_API itself is not read as a declaration.
    text = re.sub(r'^[ \t]*#(?:[^\n]*\\\n)*[^\n]*', ' ', text, flags=re.M)
    return text


def declared_functions(paths):
    decls = {}
    for path in paths:
        with open(path) as f:
            text = strip_c(f.read())
        for m in re.finditer(r'\bORC_API\b([^;{}()]*?)\b(orc_\w+)\s*\(',
                             text):
            decls[m.group(2)] = os.path.basename(path)
        n_api = len(re.findall(r'\bORC_API\b', text))
        n_found = len(re.findall(
                r'\bORC_API\b[^;{}()]*?\borc_\w+\s*\(', text))
        if n_api != n_found:
            fail('%s: %d ORC_API uses but %d function declarations '
                 'recognised' % (path, n_api, n_found))
    return decls


def versioned_structs(paths):
    """{struct name: (first member text, header)} for each
    `typedef struct orc_x { ... } orc_x;` of the headers."""
    found = {}
    for path in paths:
        with open(path) as f:
            text = strip_c(f.read())
        for m in re.finditer(r'typedef\s+struct\s+(orc_\w+)\s*\{([^;]*);',
                             text):
            first = ' '.join(m.group(2).split())
            found[m.group(1)] = (first, os.path.basename(path))
    return found


def exported_symbols(nm, lib, which='--defined-only'):
    out = subprocess.run([nm, '-D', which, lib],
                         stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        kind, full = parts[-2], parts[-1]
        name, sep, ver = full.partition('@')
        syms.append((name, kind, ver.lstrip('@')))
    return syms


def parse_map(path):
    """Return [(node, [global patterns], [local patterns])]."""
    with open(path) as f:
        text = f.read()
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'#[^\n]*', ' ', text)
    if 'extern' in text:
        fail('%s: extern "C++" blocks are not understood by this check'
             % path)
    nodes = []
    for m in re.finditer(r'([\w.]*)\s*\{(.*?)\}\s*([\w.]*)\s*;', text,
                         flags=re.S):
        node, body = m.group(1), m.group(2)
        glob, loc, cur = [], [], None
        for tok in re.split(r'(global\s*:|local\s*:|;)', body):
            tok = tok.strip()
            if not tok or tok == ';':
                continue
            if re.fullmatch(r'global\s*:', tok):
                cur = glob
            elif re.fullmatch(r'local\s*:', tok):
                cur = loc
            elif cur is None:
                fail('%s: pattern %r outside global:/local:'
                     % (path, tok))
            else:
                cur.append(tok)
        nodes.append((node, glob, loc))
    return nodes


def soname(readelf, lib):
    out = subprocess.run([readelf, '-d', lib], stdout=subprocess.PIPE,
                         check=True, universal_newlines=True).stdout
    m = re.search(r'\(SONAME\).*\[([^\]]+)\]', out)
    return m.group(1) if m else None


def check_exports(lib, nodes, decls, siblings, private_node, nm,
                  all_parts):
    """Check one library's exports; return the declared names it
    exports and every orc_ or orc__ name it exports."""
    node_names = {n for n, _, _ in nodes}
    private = {p for n, g, _ in nodes if n.startswith('ORC_PRIVATE_')
               for p in g}
    for n, g, _ in nodes:
        if n.startswith('ORC_PRIVATE_') and n != private_node:
            fail('%s: private node %s should be %s (it is named after '
                 'the release)' % (os.path.basename(lib), n,
                                   private_node))
    imported = set()
    for other in siblings:
        imported |= {name for name, _, _ in
                     exported_symbols(nm, other, '--undefined-only')}
    exported = set()
    provided = set()
    seen_private = set()
    for name, kind, ver in exported_symbols(nm, lib):
        if kind == 'A' and name in node_names:
            continue  # the version node's own symbol
        if name.startswith('orc__'):
            if name not in private or not ver.startswith('ORC_PRIVATE_'):
                fail('internal symbol exported: ' + name)
            elif all_parts and name not in imported:
                fail('%s is exported privately but no other library '
                     'imports it: drop it from the map and '
                     'lib/private.h' % name)
            seen_private.add(name)
        elif not name.startswith('orc_'):
            fail('non-orc symbol exported: %s (%s)' % (name, kind))
        elif name not in decls:
            fail('exported but declared in no public header: '
                 + name)
        else:
            exported.add(name)
        if ver not in node_names:
            fail('%s has version %r, not a node of the map'
                 % (name, ver))
        provided.add(name)
    # A part left out (e.g. -Dhttp=disabled) leaves its internals out.
    for name in sorted(private - seen_private):
        msg = ('%s: the private node names %s, which is not exported'
               % (os.path.basename(lib), name))
        if all_parts:
            fail(msg)
        else:
            print('note: ' + msg)
    return exported, provided


def check_map(path, nodes, exported, decls):
    if not os.path.isfile(path):
        fail('version script missing: ' + path)
        return
    if not nodes:
        fail('%s: no version node found' % path)
    if not any('*' in loc for _, _, loc in nodes):
        fail('%s: no `local: *;`, so everything not listed '
             'would be exported' % path)
    patterns = [p for _, g, _ in nodes for p in g]
    for name in sorted(exported):
        if not any(fnmatch.fnmatchcase(name, p) for p in patterns):
            fail('%s (%s) not covered by a global pattern of %s'
                 % (name, decls[name], path))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--lib', required=True, action='append')
    ap.add_argument('--map', required=True, action='append')
    ap.add_argument('--soname', required=True, action='append')
    ap.add_argument('--header-dir', required=True)
    ap.add_argument('--version-h', required=True)
    ap.add_argument('--project-version', required=True)
    ap.add_argument('--nm', default='nm')
    ap.add_argument('--readelf', default='readelf')
    ap.add_argument('--sanitize', default='none')
    ap.add_argument('--all-parts', action='store_true',
                    help='every optional part is built, so each private '
                    'export must have a user')
    args = ap.parse_args()
    if not len(args.lib) == len(args.map) == len(args.soname):
        ap.error('give --lib, --map and --soname once per library')
    allow_missing = os.environ.get('ORC_ABI_ALLOW_MISSING') == '1'
    private_node = 'ORC_PRIVATE_' + args.project_version

    headers = sorted(os.path.join(args.header_dir, n)
                     for n in os.listdir(args.header_dir)
                     if n.endswith('.h'))
    headers.append(args.version_h)
    decls = declared_functions(headers)
    print('%d ORC_API functions declared in %d headers'
          % (len(decls), len(headers)))
    if not args.all_parts:
        print('note: optional parts are left out, so private exports '
              'may have no user')

    # 1. exports, 2. the version scripts
    owner = {}
    provider = {}
    for lib, path in zip(args.lib, args.map):
        nodes = parse_map(path) if os.path.isfile(path) else []
        siblings = [other for other in args.lib if other != lib]
        exported, provided = check_exports(lib, nodes, decls, siblings,
                                           private_node, args.nm,
                                           args.all_parts)
        provider.update((name, lib) for name in provided)
        for name in sorted(exported):
            if name in owner:
                fail('%s exported by both %s and %s' % (
                    name, os.path.basename(owner[name]),
                    os.path.basename(lib)))
            owner[name] = lib
        check_map(path, nodes, exported, decls)
        print('%s: %d declared functions exported'
              % (os.path.basename(lib), len(exported)))
    for lib in args.lib:
        for name, _, _ in exported_symbols(args.nm, lib,
                                           '--undefined-only'):
            if name.startswith('orc_') and provider.get(name, lib) == lib:
                fail('%s imports %s, which no other library exports'
                     % (os.path.basename(lib), name))
    missing = sorted(set(decls) - set(owner))
    if missing:
        msg = ('%d declared functions not defined in any library:\n  %s'
               % (len(missing),
                  '\n  '.join('%s (%s)' % (n, decls[n])
                              for n in missing)))
        if allow_missing:
            print('ALLOWED (ORC_ABI_ALLOW_MISSING=1): ' + msg)
        else:
            fail(msg)
    print('%d symbols exported, %d declared, %d missing'
          % (len(owner), len(decls), len(missing)))

    # 3. versions
    with open(args.version_h) as f:
        vtext = f.read()
    m = re.search(r'#define\s+ORC_VERSION_STRING\s+"([^"]*)"', vtext)
    hdr_version = m.group(1) if m else None
    if hdr_version != args.project_version:
        fail('ORC_VERSION_STRING is %r, meson project version is %r'
             % (hdr_version, args.project_version))
    parts = args.project_version.split('.')
    for i, part in enumerate(['MAJOR', 'MINOR', 'PATCH']):
        m = re.search(r'#define\s+ORC_VERSION_%s\s+(\d+)' % part, vtext)
        want = parts[i] if i < len(parts) else None
        if not m or m.group(1) != want:
            fail('ORC_VERSION_%s is %r, expected %r'
                 % (part, m.group(1) if m else None, want))
    for lib, want in zip(args.lib, args.soname):
        so = soname(args.readelf, lib)
        if so != want:
            fail('%s: SONAME is %r, expected %r'
                 % (os.path.basename(lib), so, want))
    if args.sanitize not in ('', 'none'):
        print('libraries not loaded: a %s build cannot be loaded '
              'into python' % args.sanitize)
    else:
        # The core first, as a program linking both would load them.
        libs = [ctypes.CDLL(os.path.abspath(lib)) for lib in args.lib]
        print('%d libraries load together' % len(libs))
        fn = libs[0].orc_version
        fn.restype = ctypes.c_char_p
        got = fn()
        got = got.decode() if got is not None else None
        if got != args.project_version:
            fail('orc_version() returns %r, expected %r'
                 % (got, args.project_version))
        else:
            print('orc_version() = ' + got)

    # 4. versioned structs and their _init() functions
    structs = versioned_structs(headers)
    nversioned = 0
    for name, (first, hdr) in sorted(structs.items()):
        versioned = first == 'unsigned int version'
        if name.endswith('_options') and not versioned:
            fail('%s (%s) does not start with `unsigned int version` '
                 '(docs/api-stability.md)' % (name, hdr))
        if versioned:
            nversioned += 1
            if name + '_init' not in decls:
                fail('%s (%s) has a version field but no %s_init() '
                     'function for bindings' % (name, hdr, name))
    print('%d versioned structs, each with its _init()' % nversioned)

    if errors:
        print('%d ABI check(s) failed' % len(errors))
        return 1
    print('ABI checks passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
