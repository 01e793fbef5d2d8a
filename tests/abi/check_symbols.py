#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Check that the public headers, the linker version script and the built
shared library agree on the exported interface.

  1. every NVMFT_API function declared in the public headers is listed in
     the version script, and the script lists nothing the headers lack;
  2. each name is listed once, in a global: section of a version node;
  3. the library exports exactly those names (no internal symbol leaks),
     each with the default version of the node the script puts it in;
  4. the library's SONAME is the expected one;
  5. every header in the headers' directory is among those given (the
     installed list).

Exit status 0 when all hold, 1 with one line per problem otherwise.
"""

import argparse
import os
import re
import subprocess
import sys


def strip_comments(text):
    # Comments may mention NVMFT_API or function names; blank them while
    # keeping newlines so line numbers in messages stay right.
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))

    return re.sub(r"/\*.*?\*/|//[^\n]*", blank, text, flags=re.S)


def strip_preprocessor(text):
    out = []
    cont = False
    for line in text.split("\n"):
        directive = cont or line.lstrip().startswith("#")
        cont = directive and line.rstrip().endswith("\\")
        out.append("" if directive else line)
    return "\n".join(out)


API_DECL = re.compile(r"\bNVMFT_API\b([^;{]*?)\b([A-Za-z_]\w*)\s*\(", re.S)


def header_symbols(paths):
    """Map of function name -> "file:line" for every NVMFT_API declaration."""
    syms = {}
    problems = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = strip_preprocessor(strip_comments(f.read()))
        for m in API_DECL.finditer(text):
            name = m.group(2)
            where = "%s:%d" % (os.path.basename(path), text.count("\n", 0, m.start()) + 1)
            if name in syms:
                problems.append("%s: %s is declared again (first at %s)"
                                % (where, name, syms[name]))
            syms[name] = where
    return syms, problems


def map_symbols(path):
    """Map of name -> version node from a GNU ld version script."""
    with open(path, encoding="utf-8") as f:
        text = strip_comments(f.read())
    syms = {}
    problems = []
    nodes = []
    for node in re.finditer(r"([A-Za-z_][\w.]*)\s*\{(.*?)\}\s*([\w.]*)\s*;", text, re.S):
        name, body, parent = node.group(1), node.group(2), node.group(3)
        if parent and parent not in nodes:
            problems.append("map: node %s inherits from unknown node %s" % (name, parent))
        nodes.append(name)
        scope = None
        for tok in re.findall(r"global\s*:|local\s*:|[^\s;]+", body):
            if tok.startswith("global"):
                scope = "global"
            elif tok.startswith("local"):
                scope = "local"
            elif scope == "global":
                if any(c in tok for c in "*?[]"):
                    problems.append("map: node %s exports a wildcard %r" % (name, tok))
                elif tok in syms:
                    problems.append("map: %s is listed in %s and again in %s"
                                    % (tok, syms[tok], name))
                else:
                    syms[tok] = name
            elif scope == "local":
                if tok != "*":
                    problems.append("map: node %s has an unexpected local entry %r" % (name, tok))
            else:
                problems.append("map: %r in node %s is outside global:/local:" % (tok, name))
    if not nodes:
        problems.append("map: no version node found in %s" % path)
    return syms, nodes, problems


def run(cmd):
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit("check_symbols: cannot run %s: %s" % (" ".join(cmd), e))


def library_symbols(path):
    """Map of defined dynamic symbol -> (version, is_default) from nm -D."""
    out = run(["nm", "-D", "--defined-only", "--with-symbol-versions", path])
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        kind, sym = parts[1], parts[2]
        if kind == "A" and "@" not in sym:
            continue  # the version node definitions themselves
        m = re.match(r"^([^@]+)(@@?)(.*)$", sym)
        if m:
            syms[m.group(1)] = (m.group(3), m.group(2) == "@@")
        else:
            syms[sym] = (None, False)
    return syms


def library_soname(path):
    out = run(["readelf", "-d", "-W", path])
    m = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", out)
    return m.group(1) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--map", required=True, help="linker version script")
    ap.add_argument("--library", help="built shared library to inspect")
    ap.add_argument("--soname", help="expected SONAME of --library")
    ap.add_argument("headers", nargs="+", help="public headers (and version.h.in)")
    args = ap.parse_args()

    problems = []
    # A header in the directory but not in the list would not be installed.
    given = {os.path.abspath(h) for h in args.headers}
    for d in sorted({os.path.dirname(h) for h in given}):
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if name.endswith(".h") and path not in given:
                problems.append("%s is not in public_headers (include/nvmft/meson.build)" % path)
    hdr, p = header_symbols(args.headers)
    problems += p
    mapped, nodes, p = map_symbols(args.map)
    problems += p

    for name in sorted(set(hdr) - set(mapped)):
        problems.append("%s: %s is declared NVMFT_API but missing from %s"
                        % (hdr[name], name, os.path.basename(args.map)))
    for name in sorted(set(mapped) - set(hdr)):
        problems.append("%s: %s (node %s) is not declared NVMFT_API in any public header"
                        % (os.path.basename(args.map), name, mapped[name]))

    if args.library:
        lib = library_symbols(args.library)
        libname = os.path.basename(args.library)
        for name in sorted(set(mapped) - set(lib)):
            problems.append("%s: does not export %s (listed in node %s)"
                            % (libname, name, mapped[name]))
        for name in sorted(set(lib) - set(mapped)):
            problems.append("%s: exports %s, which the version script does not list "
                            "(internal symbol leak?)" % (libname, name))
        for name in sorted(set(lib) & set(mapped)):
            ver, default = lib[name]
            if ver != mapped[name] or not default:
                got = "unversioned" if ver is None else ("%s@%s" % (name, ver) if not default
                                                        else "%s@@%s" % (name, ver))
                problems.append("%s: %s is %s, expected %s@@%s"
                                % (libname, name, got, name, mapped[name]))
        if args.soname:
            soname = library_soname(args.library)
            if soname != args.soname:
                problems.append("%s: SONAME is %s, expected %s" % (libname, soname, args.soname))

    for p in problems:
        print("FAIL: " + p)
    if problems:
        print("check_symbols: %d problem(s)" % len(problems))
        return 1
    print("check_symbols: %d functions agree across headers, %s%s; nodes: %s"
          % (len(hdr), os.path.basename(args.map),
             " and " + os.path.basename(args.library) if args.library else "",
             " ".join(nodes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
