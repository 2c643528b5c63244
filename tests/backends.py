"""Where the CLI and Python suites keep a test's site: an SQLite file (the default) or, with
CTM_TEST_BACKEND=postgres, a database of its own on the PostgreSQL server that libpq's PG*
variables name (pg_virtualenv sets them; the role must be allowed to create databases, and to be
a superuser for the tests that tamper with a site).  The databases a run creates are dropped when
it ends (drop_all).  SQL runs through libpq itself (ctypes): no Python driver is needed.

Tampering (execute with intruder=True) runs as the superuser with session_replication_role set
to replica, so that libctm's guard triggers do not fire: an intruder who bypasses them, whose
changes `verify` must still catch.
"""
import ctypes
import ctypes.util
import itertools
import os
import re

import pytest

BACKEND = os.environ.get("CTM_TEST_BACKEND", "sqlite")
if BACKEND not in ("sqlite", "postgres"):
    raise RuntimeError("CTM_TEST_BACKEND: expected sqlite or postgres, got %r" % BACKEND)
POSTGRES = BACKEND == "postgres"

# A test about SQLite's files themselves (a key file beside the database, WAL files, file modes,
# copies of the files, the legacy SQLite sites of tests/data/legacy-v2).
sqlite_only = pytest.mark.skipif(POSTGRES, reason="about SQLite database files")

_PREFIX = "ctmt_%d_" % os.getpid()
_names = itertools.count(1)
_created = []


def available():
    """True when a PostgreSQL server is named by the environment (as pg_virtualenv does)."""
    return bool(os.environ.get("PGHOST") or os.environ.get("PGSERVICE"))


# ---- libpq through ctypes ----------------------------------------------------------------------

_pq = None


def _lib():
    global _pq
    if _pq is None:
        name = ctypes.util.find_library("pq") or "libpq.so.5"
        pq = ctypes.CDLL(name)
        pq.PQconnectdb.restype = ctypes.c_void_p
        pq.PQconnectdb.argtypes = [ctypes.c_char_p]
        pq.PQstatus.argtypes = [ctypes.c_void_p]
        pq.PQerrorMessage.restype = ctypes.c_char_p
        pq.PQerrorMessage.argtypes = [ctypes.c_void_p]
        pq.PQfinish.argtypes = [ctypes.c_void_p]
        pq.PQexecParams.restype = ctypes.c_void_p
        pq.PQexecParams.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                    ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p),
                                    ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        pq.PQresultStatus.argtypes = [ctypes.c_void_p]
        pq.PQresultErrorMessage.restype = ctypes.c_char_p
        pq.PQresultErrorMessage.argtypes = [ctypes.c_void_p]
        pq.PQntuples.argtypes = [ctypes.c_void_p]
        pq.PQnfields.argtypes = [ctypes.c_void_p]
        pq.PQftype.restype = ctypes.c_uint
        pq.PQftype.argtypes = [ctypes.c_void_p, ctypes.c_int]
        pq.PQgetisnull.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        pq.PQgetvalue.restype = ctypes.c_char_p
        pq.PQgetvalue.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        pq.PQclear.argtypes = [ctypes.c_void_p]
        _pq = pq
    return _pq


_BOOL, _BYTEA, _INTS, _FLOATS = 16, 17, (20, 21, 23, 26), (700, 701)
_PGRES_COMMAND_OK, _PGRES_TUPLES_OK = 1, 2


def _value(oid, raw):
    text = raw.decode("utf-8")
    if oid == _BOOL:
        return text == "t"
    if oid in _INTS:
        return int(text)
    if oid in _FLOATS:
        return float(text)
    if oid == _BYTEA:
        return bytes.fromhex(text[2:])
    return text


def _param(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return b"\\x" + bytes(value).hex().encode()
    return str(value).encode("utf-8")


def _numbered(statement, params):
    """SQLite's placeholders (?, ?NNN, :name) as PostgreSQL's $n, and the values in that order."""
    named = isinstance(params, dict)
    order, values = {}, []

    def number(m):
        if m.group(0).startswith("'"):
            return m.group(0)
        key = m.group(1) if named else len(values)
        if key not in order:
            order[key] = len(values) + 1
            values.append(params[key])
        return "$%d" % order[key]

    sql = re.sub(r"'(?:[^']|'')*'|(?<!:):(\w+)|\?", number, statement)
    return sql, values


def execute(dbname, statement, params=(), intruder=False):
    """Run one statement on database dbname; return its rows as tuples of Python values."""
    pq = _lib()
    conn = pq.PQconnectdb(("dbname=%s" % dbname).encode())
    try:
        if pq.PQstatus(conn) != 0:
            raise RuntimeError(pq.PQerrorMessage(conn).decode())
        if intruder:
            _run(pq, conn, "SET session_replication_role = replica", [])
        sql, values = _numbered(statement, params)
        return _run(pq, conn, sql, values)
    finally:
        pq.PQfinish(conn)


def _run(pq, conn, sql, values):
    args = (ctypes.c_char_p * max(len(values), 1))(*[_param(v) for v in values])
    res = pq.PQexecParams(conn, sql.encode("utf-8"), len(values), None, args, None, None, 0)
    try:
        status = pq.PQresultStatus(res)
        if status not in (_PGRES_COMMAND_OK, _PGRES_TUPLES_OK):
            raise RuntimeError("%s: %s" % (sql, pq.PQresultErrorMessage(res).decode().strip()))
        types = [pq.PQftype(res, c) for c in range(pq.PQnfields(res))]
        return [tuple(None if pq.PQgetisnull(res, r, c) else _value(t, pq.PQgetvalue(res, r, c))
                      for c, t in enumerate(types))
                for r in range(pq.PQntuples(res))]
    finally:
        pq.PQclear(res)


# ---- databases of a run ------------------------------------------------------------------------

def url(dbname):
    return "postgresql:///" + dbname


def dbname(target):
    """The database name in a URL made by url()."""
    return str(target).rsplit("/", 1)[1]


def create_database(template=None):
    """A new empty database (or a copy of template, which nobody may be connected to)."""
    name = _PREFIX + str(next(_names))
    _created.append(name)
    execute("postgres", 'CREATE DATABASE "%s"' % name
            + (' TEMPLATE "%s"' % template if template else ""))
    return name


def drop_database(name):
    execute("postgres", 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def rename_database(old, new):
    execute("postgres", 'ALTER DATABASE "%s" RENAME TO "%s"' % (old, new))


def drop_all():
    """Drop every database this run created."""
    while _created:
        drop_database(_created.pop())


# The session hooks of both suites' conftest.py (which import them): skip the whole session,
# exit 77, when PostgreSQL is asked for and no server is named; drop every database at the end.
def pytest_sessionstart(session):
    if POSTGRES and not available():
        pytest.exit("CTM_TEST_BACKEND=postgres but no PostgreSQL server (PGHOST is not set)", 77)


def pytest_sessionfinish(session):
    if POSTGRES:
        drop_all()
