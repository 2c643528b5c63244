"""Fixtures for the ctm Python binding tests.  Each login costs an Argon2id run (~0.1-0.3 s), so
fixtures create as few databases and sessions as they can."""
import pytest

import ctm

SITE = "Test Site Pharmacy"
ADMIN = "alice"
ADMIN_PW = "alice-password-1"
TECH = "tom"
TECH_PW = "tom-password-12"


@pytest.fixture
def db_path(tmp_path):
    """A database file name in a fresh directory (the key file goes beside it)."""
    return str(tmp_path / "site.db")


@pytest.fixture
def db(db_path):
    """A freshly initialised database with the administrator logged in."""
    d = ctm.init(db_path, SITE, ADMIN, ADMIN_PW, printed_name="Alice Admin")
    yield d
    d.close()


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory):
    """One initialised database per module for tests that change nothing."""
    path = str(tmp_path_factory.mktemp("shared") / "site.db")
    d = ctm.init(path, SITE, ADMIN, ADMIN_PW)
    yield d
    d.close()
