"""The back end of the CLI suite's sites (tests/backends.py): SQLite files, or databases on a
PostgreSQL server with CTM_TEST_BACKEND=postgres (skipped, exit 77, when none is named)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from backends import pytest_sessionfinish, pytest_sessionstart  # noqa: E402,F401


