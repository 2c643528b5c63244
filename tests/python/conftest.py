"""Fixtures for the ctm Python binding tests.  Each login costs an Argon2id run (~0.1-0.3 s), so
fixtures create as few databases and sessions as they can.

The sites live on the back end tests/backends.py names: SQLite files (the default), or with
CTM_TEST_BACKEND=postgres databases of their own on a PostgreSQL server (the session exits 77,
skipped, when none is named).  A test that makes a site asks new_site_path() for where, and opens
it with ctm_init()/ctm_open(), which give a site on a server its key file (a server site has no
default one)."""
import pathlib
import sys

import pytest

import ctm

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import backends  # noqa: E402
from backends import pytest_sessionfinish, pytest_sessionstart  # noqa: E402,F401

SITE = "Test Site Pharmacy"
ADMIN = "alice"
ADMIN_PW = "alice-password-1"
TECH = "tom"
TECH_PW = "tom-password-12"

_key_paths = {}  # URL of a site on PostgreSQL -> its key file




def new_site_path(directory, name="site.db"):
    """Where a new site goes: the file directory/name, or on PostgreSQL the URL of a new empty
    database whose key file will be in directory."""
    if not backends.POSTGRES:
        return str(pathlib.Path(directory) / name)
    dbname = backends.create_database()
    url = backends.url(dbname)
    _key_paths[url] = str(pathlib.Path(directory) / (dbname + ".key"))
    return url


def key_path(path):
    """The key file of a site made at new_site_path() (None on SQLite: the default, beside it)."""
    return _key_paths.get(str(path))


def ctm_init(path, *args, **kw):
    """ctm.init, given the site's key file on PostgreSQL."""
    if key_path(path) is not None:
        kw.setdefault("key_path", key_path(path))
    return ctm.init(path, *args, **kw)


def ctm_open(path, *args, **kw):
    """ctm.open, given the site's key file on PostgreSQL."""
    if key_path(path) is not None:
        kw.setdefault("key_path", key_path(path))
    return ctm.open(path, *args, **kw)


def raw_sql(path, statement, *params):
    """Run SQL on the site behind libctm's back: on the file with sqlite3, or on the server as a
    superuser past libctm's guard triggers.  Returns the rows."""
    if backends.POSTGRES:
        return backends.execute(backends.dbname(path), statement, params, intruder=True)
    import sqlite3
    con = sqlite3.connect(path)
    try:
        with con:
            return con.execute(statement, params).fetchall()
    finally:
        con.close()


@pytest.fixture
def db_path(tmp_path):
    """Where a fresh site goes: a database file name in a fresh directory (the key file goes
    beside it), or on PostgreSQL the URL of a fresh database (see new_site_path)."""
    return new_site_path(tmp_path)


@pytest.fixture
def db(db_path):
    """A freshly initialised database with the administrator logged in."""
    d = ctm_init(db_path, SITE, ADMIN, ADMIN_PW, printed_name="Alice Admin")
    yield d
    d.close()


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory):
    """One initialised database per module for tests that change nothing."""
    path = new_site_path(tmp_path_factory.mktemp("shared"))
    d = ctm_init(path, SITE, ADMIN, ADMIN_PW)
    yield d
    d.close()
