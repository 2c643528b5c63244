"""A site made by a libctm from before salted entries (tests/data/legacy-v2), met with the CLI.

Read-only commands read it as it is; the first command that opens it for writing migrates it to
the current schema version (4) with one ledger.upgrade entry; a blinded user then sees no hash of the old
entries, and `ctm audit prove` gives proofs on such a ledger only to an unblinded user it logs in.
"""
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import backends

pytestmark = backends.sqlite_only  # the legacy sites are SQLite files

ROOT = Path(__file__).resolve().parents[2]
CLI = os.environ.get("CTM_CLI") or str(ROOT / "build" / "examples" / "cli" / "ctm")
LEGACY = ROOT / "tests" / "data" / "legacy-v2"
VKEY = "libctm/legacy-site+487693ac+AbrRCyTSuZbfRS2GtfyEMUFq4/IuNO732M56V0KzSS0f"


def ctm(db, *args, user=None, password=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTM_")}
    env["CTM_DB"] = str(db)
    if user is not None:
        env["CTM_USER"], env["CTM_PASSWORD"] = user, password
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def user_version(db):
    with sqlite3.connect("file:%s?mode=ro" % db, uri=True) as c:
        return c.execute("PRAGMA user_version").fetchone()[0]


def test_legacy_site_through_the_cli(tmp_path):
    for name in ("site.db", "site.db.key"):
        shutil.copyfile(LEGACY / name, tmp_path / name)
    os.chmod(tmp_path / "site.db.key", 0o600)
    db = tmp_path / "site.db"

    # read-only commands leave it at schema version 2
    out = ctm(db, "audit", "verify", "--key", VKEY)
    assert out.returncode == 0 and out.stdout.startswith("OK: 16 entries"), out
    out = ctm(db, "audit", "prove", "6")
    assert out.returncode == 1 and "logged-in unblinded user" in out.stderr, out
    assert "ACTIVE" not in out.stderr and "PLACEBO" not in out.stderr
    assert user_version(db) == 2

    # a blinded technician's first command opens it for writing: it is migrated
    out = ctm(db, "audit", "log", "--json", user="tom", password="tom-password-12")
    assert out.returncode == 0, out
    events = json.loads(out.stdout)
    assert user_version(db) == 9  # the newest schema version
    assert [e["action"] for e in events][-1] == "ledger.upgrade"
    assert [e["leaf_hash"] is None for e in events] == [True] * 16 + [False]
    receipt = next(e for e in events if e["action"] == "shipment.receive")
    changes = receipt["changes"]
    changes = json.loads(changes) if isinstance(changes, str) else changes
    kits = [c for c in changes if c["table"] == "kits"]
    assert len(kits) == 8 and all(c["columns"]["arm"] == ["(blinded)"] * 2 for c in kits)

    # the unblinded pharmacist sees every hash and, naming herself, gets proofs; the blinded
    # technician and an anonymous reader get none
    out = ctm(db, "audit", "log", "--json", user="petra", password="petra-password-1")
    assert all(e["leaf_hash"] for e in json.loads(out.stdout))
    assert ctm(db, "audit", "prove", "16").returncode == 1
    out = ctm(db, "audit", "prove", "6", user="tom", password="tom-password-12")
    assert out.returncode == 1 and "logged-in unblinded user" in out.stderr, out
    out = ctm(db, "audit", "prove", "6", user="petra", password="petra-password-1")
    assert out.returncode == 0 and out.stdout.startswith("seq 6\nsize 17\n"), out
    out = ctm(db, "audit", "verify", "--key", VKEY)
    assert out.returncode == 0 and out.stdout.startswith("OK: 17 entries"), out


def test_legacy_site_without_its_key_is_refused_for_writing(tmp_path):
    shutil.copyfile(LEGACY / "site.db", tmp_path / "site.db")
    db = tmp_path / "site.db"
    out = ctm(db, "audit", "log", user="tom", password="tom-password-12")
    assert out.returncode == 1 and "needs the site key" in out.stderr, out
    assert user_version(db) == 2
    assert ctm(db, "audit", "verify", "--key", VKEY).returncode == 0
