#!/usr/bin/env python3
"""One owner per rule (docs/internals.md): the code that may write a field is named here, and no
other file of libctm/src writes it.

- kits.status: only domain/stock.c, the kit status transition table, writes it (receipt inserts
  a kit with the first status stock.h names, through CTM__KIT_FIRST_STATUS); a schema migration
  (store/schema.c) that rebuilds kits copies its rows back as they were, and the CHECK of
  schema version 4 refuses any status the table does not name;
- the session's unblinded flag: domain/users.c sets it at login and logout, ledger/blinding.c
  alone reads it; every listing asks blinding.h.
- the parts of struct ctm_db (ledger/internal.h): each part is written by its owner alone
  (PART_OWNERS below); any other file reads it, and changes it only by calling its owner.  A write
  is an assignment (=, op=, ++, --), an address taken (&db->part...) or the first argument of
  free, sodium_free, memcpy, memset and the like.

Prints each offence with its file and line; exits 1 if any.

    check_owners.py SRC_DIR
"""
import os
import re
import sys

COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
# what may stand between two string literals of one SQL text: blanks and macro names
GLUE = re.compile(r"^\s*(?:[A-Z_][A-Z0-9_]*(?:\([^)]*\))?\s*)*$")
KITS = r"(?:main\.)?kits\b"
# (pattern, what it does, the files besides domain/stock.c that may do it)
STATUS_WRITE = [
    (re.compile(r"\bUPDATE\s+" + KITS + r"\s+SET\b.*\bstatus\s*=", re.I | re.S), "sets kits.status",
     ()),
    (re.compile(r"\bINSERT\s+INTO\s+" + KITS + r"\s*\([^)]*\bstatus\b(?![^)]*\)\s*VALUES\s*\([^)]*CTM__KIT_FIRST_STATUS)", re.I | re.S),
     "inserts a kit with a status of its own", ()),
    (re.compile(r"\bINSERT\s+INTO\s+" + KITS + r"\s+SELECT\b", re.I | re.S),
     "inserts kits with the statuses of another table", ("store/schema.c",)),
]

# part of struct ctm_db -> the one file that writes it (the handle's own fields are site.c's:
# ctm_open, the migration and ctm_close)
PART_OWNERS = {
    "site": "domain/site.c",
    "session": "domain/users.c",
    "tx": "ledger/ledger.c",
    "hasher": "ledger/hasher.c",
    "stmts": "ledger/db.c",
    "capture": "ledger/ledger.c",
}
HANDLE_FIELDS = {"store", "path", "flags", "readonly", "schema_version"}
HANDLE_OWNER = "domain/site.c"
ACCESS = re.compile(r"\bdb\s*->\s*(\w+)((?:\s*\.\s*\w+|\s*\[[^\]]*\])*)")
WRITE_AFTER = re.compile(r"\s*(?:(?:[-+*/%&|^]|<<|>>)?=(?!=)|\+\+|--)")
WRITE_BEFORE = re.compile(r"(?:(?<!&)&|\+\+|--|\b(?:free|sodium_free|memcpy|memmove|memset|"
                          r"sodium_memzero|sprintf|snprintf|strcpy)\s*\()\s*$")


def part_writes(rel, code):
    """Writes of a part of struct ctm_db outside its owner."""
    for m in ACCESS.finditer(code):
        name, rest = m.group(1), m.group(2)
        if name in PART_OWNERS:
            owner = PART_OWNERS[name]
        elif name in HANDLE_FIELDS and not rest.strip().startswith("."):
            owner = HANDLE_OWNER
        else:
            continue
        if rel == owner:
            continue
        if WRITE_AFTER.match(code, m.end()) or WRITE_BEFORE.search(code[max(0, m.start() - 40):m.start()]):
            line = code.count("\n", 0, m.start()) + 1
            field = re.sub(r"\s+", "", m.group(0))
            yield f"{rel}:{line}: writes {field}; only {owner} writes it (ledger/internal.h)"


def sql_texts(code):
    """The file's SQL texts: runs of adjacent string literals, with their first line."""
    runs, cur, start, end = [], [], None, None
    for m in LITERAL.finditer(code):
        if cur and GLUE.match(code[end:m.start()]):
            between = code[end:m.start()].strip()
            cur.append(between)  # a macro's name stays in the text, as a placeholder
            cur.append(m.group(1))
        else:
            if cur:
                runs.append((start, " ".join(cur)))
            cur, start = [m.group(1)], code.count("\n", 0, m.start()) + 1
        end = m.end()
    if cur:
        runs.append((start, " ".join(cur)))
    return runs


def blank_comments(code):
    return COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), code)


def main(src):
    problems = []
    for layer in sorted(os.listdir(src)):
        d = os.path.join(src, layer)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith((".c", ".h")):
                continue
            rel = f"{layer}/{name}"
            with open(os.path.join(d, name), encoding="utf-8") as f:
                code = blank_comments(f.read())
            if rel != "domain/stock.c":
                for line, text in sql_texts(code):
                    for pattern, what, allowed in STATUS_WRITE:
                        if rel not in allowed and pattern.search(text):
                            problems.append(f"{rel}:{line}: {what}; only domain/stock.c writes it")
            if rel not in ("domain/users.c", "ledger/blinding.c", "ledger/internal.h"):
                for m in re.finditer(r"\bsession\s*\.\s*unblinded\b", code):
                    line = code.count("\n", 0, m.start()) + 1
                    problems.append(f"{rel}:{line}: reads the session's unblinded flag; ask "
                                    "ledger/blinding.h")
            problems.extend(part_writes(rel, code))
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} write(s) or read(s) outside their owner")
        return 1
    print("kits.status, the unblinded flag and each part of struct ctm_db have one owner each")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
