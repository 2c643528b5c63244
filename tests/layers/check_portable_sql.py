#!/usr/bin/python3
"""check_portable_sql.py - the domain's SQL stays portable (issue 7).

    check_portable_sql.py SOURCE_ROOT

Domain SQL runs unchanged on SQLite and on PostgreSQL (libctm/src/store/store.h): dates and times
are computed in C, strings aggregated in C, and no SQLite-only function is called.  This reads
the C string literals of libctm/src/domain/, libctm/src/ledger/ (but verify.c: its replay runs on a
private SQLite database, and its few engine-specific reads of the site, such as typeof() to tell a
large entry without reading it, are chosen by ctm__store_engine) and libctm/src/store/query.c, and fails naming file, line and function for every
SQLite-only function or operator found in them.  Comments are not read.

Adjacent literals are joined as the compiler joins them.  A name that is also an English word
(date, time, hex) counts in a literal that reads as SQL (an upper-case keyword), or when written
as a call with no space before "(": messages such as "not a date or time (YYYY-MM-DD)" pass.
"""
import os
import re
import sys

# Functions of SQLite that PostgreSQL 15 lacks or reads otherwise.  string_agg is PostgreSQL's
# own: neither engine-only aggregate is allowed.
ALWAYS = ["strftime", "julianday", "datetime", "unixepoch", "group_concat", "string_agg",
          "ifnull", "printf", "iif", "instr", "randomblob", "zeroblob", "last_insert_rowid",
          "typeof"]
WORDS = ["date", "time", "hex"]
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|WITH|FROM|WHERE|CASE|WHEN|JOIN|VALUES|"
                       r"AND|OR|AS|COALESCE|ORDER BY|GROUP BY)\b")
CALL_ALWAYS = re.compile(r"\b(%s)\s*\(" % "|".join(ALWAYS), re.IGNORECASE)
CALL_WORD_TIGHT = re.compile(r"\b(%s)\(" % "|".join(WORDS), re.IGNORECASE)
CALL_WORD_SQL = re.compile(r"\b(%s)\s*\(" % "|".join(WORDS), re.IGNORECASE)
GLOB = re.compile(r"\bGLOB\b|\bglob\s*\(")


def literals(text):
    """(line, joined text) of each run of adjacent string literals, comments skipped."""
    out, i, n, line = [], 0, len(text), 1
    run, run_line, last_end = None, 0, -1
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif c in "\"'":
            j, buf = i + 1, []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n:
                    if text[j + 1] == "\n":  # a line continued inside the literal
                        j += 2
                        continue
                    buf.append(text[j:j + 2])
                    j += 2
                else:
                    buf.append(text[j])
                    j += 1
            j += 1
            if c == '"':
                between = text[last_end:i] if run is not None else ""
                if run is not None and re.fullmatch(r"(\s|\\\n)*", between):
                    run += "".join(buf)
                else:
                    if run is not None:
                        out.append((run_line, run))
                    run, run_line = "".join(buf), line
                last_end = j
        else:
            j = i + 1
        line += text.count("\n", i, j)
        i = j
    if run is not None:
        out.append((run_line, run))
    return out


def problems(text):
    for line, lit in literals(text):
        found = [m.group(1) for m in CALL_ALWAYS.finditer(lit)]
        found += [m.group(1) for m in CALL_WORD_TIGHT.finditer(lit)]
        if SQL_WORDS.search(lit):
            found += [m.group(1) for m in CALL_WORD_SQL.finditer(lit)]
            found += ["GLOB" for _ in GLOB.finditer(lit)]
        for name in sorted(set(f.lower() for f in found)):
            yield line, name, lit


def sources(root):
    src = os.path.join(root, "libctm", "src")
    for sub in ("domain", "ledger"):
        d = os.path.join(src, sub)
        for name in sorted(os.listdir(d)):
            if name.endswith((".c", ".h")) and not (sub == "ledger" and name == "verify.c"):
                yield os.path.join(d, name)
    yield os.path.join(src, "store", "query.c")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_portable_sql.py SOURCE_ROOT")
    root = sys.argv[1]
    bad = 0
    checked = 0
    for path in sources(root):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        checked += 1
        for line, name, lit in problems(text):
            bad += 1
            print("%s:%d: SQLite-only %s in SQL (compute it in C; see libctm/src/store/store.h):"
                  " %.100s" % (os.path.relpath(path, root), line, name, lit.strip()))
    if checked == 0:
        sys.exit("check_portable_sql: no sources under %s" % root)
    print("%d files checked, %d SQLite-only uses" % (checked, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
