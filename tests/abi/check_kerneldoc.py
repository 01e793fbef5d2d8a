#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Check that every public declaration in the libnvmft headers is documented.

Rules:
  * every NVMFT_API function and every struct definition is preceded by a
    comment block ("/** ... */" or "/* ... */").  A comment also covers the
    declarations that follow it without a blank line, so a group of getters
    may share one comment;
  * a kernel-doc block ("/**") that names a function ("name() - ...") must
    name the function right after it and describe each of its parameters
    with "@param:", and nothing that is not a parameter;
  * a kernel-doc block that names a struct ("struct name - ...") must name
    that struct and describe each of its members with "@member:".

Exit status 0 when all hold, 1 with one line per problem otherwise.
"""

import os
import re
import sys


def join_statement(lines, i):
    """The declaration starting at line i, up to its ';' or '{', and the
    index of its last line."""
    text = ""
    j = i
    while j < len(lines):
        text += lines[j] + "\n"
        if ";" in lines[j] or "{" in lines[j]:
            break
        j += 1
    return text, j


def function_params(decl):
    m = re.search(r"\b([A-Za-z_]\w*)\s*\((.*)\)\s*;", decl, re.S)
    if not m:
        return None, []
    name, plist = m.group(1), m.group(2).strip()
    if plist in ("", "void"):
        return name, []
    params = []
    depth = 0
    cur = ""
    for c in plist:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == "," and depth == 0:
            params.append(cur)
            cur = ""
        else:
            cur += c
    params.append(cur)
    names = []
    for p in params:
        p = re.sub(r"\[[^\]]*\]", "", p).strip()
        fp = re.search(r"\(\s*\*\s*([A-Za-z_]\w*)\s*\)", p)
        m = fp or re.search(r"([A-Za-z_]\w*)\s*$", p)
        names.append(m.group(1) if m else p)
    return name, names


def struct_members(lines, start):
    """Member names of the struct whose '{' is on line start."""
    members = []
    body = ""
    depth = 0
    for line in lines[start:]:
        depth += line.count("{") - line.count("}")
        body += line + "\n"
        if depth == 0 and "}" in line:
            break
    body = re.sub(r"/\*.*?\*/|//[^\n]*", "", body, flags=re.S)
    body = body[body.index("{") + 1:body.rindex("}")]
    for stmt in body.split(";"):
        stmt = re.sub(r"\[[^\]]*\]", "", stmt).strip()
        if not stmt:
            continue
        fp = re.search(r"\(\s*\*\s*([A-Za-z_]\w*)\s*\)\s*\(", stmt)
        m = fp or re.search(r"([A-Za-z_]\w*)\s*(:\s*\d+\s*)?$", stmt)
        if m:
            members.append(m.group(1))
    return members


def documented_names(comment):
    return re.findall(r"^\s*\*\s*@(\w+)\s*:", comment, re.M)


def check_file(path):
    problems = []
    base = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")

    last_comment = None  # (text, end line) of the comment covering the current group
    in_comment = False
    comment = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if in_comment:
            comment += line + "\n"
            if "*/" in line:
                in_comment = False
                last_comment = comment
            i += 1
            continue
        if stripped.startswith("/*"):
            comment = line + "\n"
            if "*/" in stripped[2:]:
                last_comment = comment
            else:
                in_comment = True
            i += 1
            continue
        if stripped == "":
            last_comment = None
            i += 1
            continue
        if stripped.startswith("#"):
            # a directive ends a group, like a blank line
            last_comment = None
            while lines[i].rstrip().endswith("\\"):
                i += 1
            i += 1
            continue

        where = "%s:%d" % (base, i + 1)
        decl, end = join_statement(lines, i)
        code = re.sub(r"/\*.*?\*/", "", decl, flags=re.S)
        if re.match(r"\s*NVMFT_API\b", code):
            name, params = function_params(code)
            if name is None:
                problems.append("%s: cannot parse the NVMFT_API declaration" % where)
            elif last_comment is None:
                problems.append("%s: %s() has no comment block before it" % (where, name))
            else:
                problems += check_function_doc(where, name, params, last_comment)
        else:
            sm = re.match(r"\s*struct\s+(\w+)\s*\{", code)
            if sm:
                name = sm.group(1)
                if last_comment is None:
                    problems.append("%s: struct %s has no comment block before it" % (where, name))
                else:
                    problems += check_struct_doc(where, name, struct_members(lines, i),
                                                 last_comment)
                # skip the body: its lines are not declarations
                depth = 0
                for k in range(i, len(lines)):
                    depth += lines[k].count("{") - lines[k].count("}")
                    if depth == 0 and "}" in lines[k]:
                        end = k
                        break
                last_comment = None
        i = end + 1
    return problems


def kerneldoc_title(comment):
    """What a "/**" block documents: ("function", name), ("struct", name),
    or None for a plain comment, a DOC: block or a typedef."""
    if not comment.lstrip().startswith("/**"):
        return None
    first = re.sub(r"^\s*/?\*+\s?", "", comment.split("\n")[1] if comment.count("\n") > 1 else "")
    m = re.match(r"\s*struct\s+(\w+)\s+-", first)
    if m:
        return ("struct", m.group(1))
    m = re.match(r"\s*([A-Za-z_]\w*)\(\)\s+-", first)
    if m:
        return ("function", m.group(1))
    return None


def check_function_doc(where, name, params, comment):
    title = kerneldoc_title(comment)
    if title is None or title[0] != "function":
        return []  # a plain comment shared by a group: presence is what counts
    if title[1] != name:
        # a kernel-doc block covers only the function it names; the rest
        # of its group needs its own comment
        return ["%s: %s() follows the kernel-doc block of %s(), not its own"
                % (where, name, title[1])]
    problems = []
    doc = documented_names(comment)
    for p in params:
        if p not in doc:
            problems.append("%s: %s(): parameter %s is not described (@%s:)" % (where, name, p, p))
    for d in doc:
        if d not in params:
            problems.append("%s: %s(): describes @%s, which is not a parameter" % (where, name, d))
    return problems


def check_struct_doc(where, name, members, comment):
    title = kerneldoc_title(comment)
    if title is None or title[0] != "struct":
        return []
    if title[1] != name:
        return ["%s: struct %s follows the kernel-doc block of struct %s" % (where, name, title[1])]
    problems = []
    doc = documented_names(comment)
    for m in members:
        if m not in doc:
            problems.append("%s: struct %s: member %s is not described (@%s:)"
                            % (where, name, m, m))
    for d in doc:
        if d not in members:
            problems.append("%s: struct %s: describes @%s, which is not a member"
                            % (where, name, d))
    return problems


def main(argv):
    if len(argv) < 2:
        sys.exit("usage: check_kerneldoc.py HEADER...")
    problems = []
    for path in argv[1:]:
        problems += check_file(path)
    for p in problems:
        print("FAIL: " + p)
    if problems:
        print("check_kerneldoc: %d problem(s)" % len(problems))
        return 1
    print("check_kerneldoc: every public function and struct in %d headers is documented"
          % (len(argv) - 1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
