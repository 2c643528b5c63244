#!/usr/bin/env python3
"""The layers of libctm/src include one way only: core <- parse <- store <- ledger <- domain.

A file may include headers of its own layer and of the layers below it, never above; the public
ctm.h is everyone's.  Only the store layer talks to a database library (sqlite3.h, libpq-fe.h),
with no exception: verification replays into a scratch store.  Prints every wrong include with
its file and line; exits 1 if any.

    check_includes.py SRC_DIR
"""
import os
import re
import sys

LAYERS = ["core", "parse", "store", "ledger", "domain"]
DATABASE_HEADERS = {"sqlite3.h", "libpq-fe.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')


def main(src):
    headers = {}  # header file name -> layer
    for layer in LAYERS:
        for name in sorted(os.listdir(os.path.join(src, layer))):
            if name.endswith(".h"):
                if name in headers:
                    return fail([f"{layer}/{name}: a header of that name is in {headers[name]}/ too"])
                headers[name] = layer
    problems = []
    for rank, layer in enumerate(LAYERS):
        for name in sorted(os.listdir(os.path.join(src, layer))):
            if not name.endswith((".c", ".h")):
                continue
            rel = f"{layer}/{name}"
            with open(os.path.join(src, layer, name), encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if m is None:
                        continue
                    kind, header = m.groups()
                    where = f"{rel}:{lineno}: #include {kind}{header}{'>' if kind == '<' else kind}"
                    base = os.path.basename(header)
                    if base in DATABASE_HEADERS:
                        if layer != "store":
                            problems.append(f"{where}: only the store layer talks to the database")
                    elif kind == '"' and header != "ctm.h":
                        owner = headers.get(header)
                        if owner is None:
                            problems.append(f"{where}: no such header in any layer")
                        elif LAYERS.index(owner) > rank:
                            problems.append(f"{where}: {layer} may not include {owner}, a layer above it")
    return fail(problems) if problems else ok(src)


def fail(problems):
    for p in problems:
        print(p)
    print(f"{len(problems)} include(s) run the wrong way between layers ({' <- '.join(LAYERS)})")
    return 1


def ok(src):
    print(f"includes of {src} run one way: {' <- '.join(LAYERS)}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
