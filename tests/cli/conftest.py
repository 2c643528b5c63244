"""The back end of the CLI suite's sites (tests/backends.py): SQLite files, or databases on a
PostgreSQL server with CTM_TEST_BACKEND=postgres (skipped, exit 77, when none is named)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import backends  # noqa: E402


def pytest_sessionstart(session):
    if backends.POSTGRES and not backends.available():
        pytest.exit("CTM_TEST_BACKEND=postgres but no PostgreSQL server (PGHOST is not set)", 77)


def pytest_sessionfinish(session):
    if backends.POSTGRES:
        backends.drop_all()
