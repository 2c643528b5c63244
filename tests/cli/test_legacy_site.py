"""Sites made by older libctm releases, met with the CLI.

tests/data/legacy-v2, from before salted entries: read-only commands read it as it is; the first
command that opens it for writing migrates it to the current schema version with one
ledger.upgrade entry; a blinded user then sees no hash of the old entries, and `ctm audit prove`
gives proofs on such a ledger only to an unblinded user it logs in.

tests/data/legacy-v9, from before the DARF log's lines: the upgrade writes the lines of its
history, and the log read from them is the one the older libctm drew.
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


def copy_site(legacy, tmp_path):
    """A copy of a legacy site and its key (mode 0600, which git does not keep): its path."""
    for name in ("site.db", "site.db.key"):
        shutil.copyfile(legacy / name, tmp_path / name)
    os.chmod(tmp_path / "site.db.key", 0o600)
    return tmp_path / "site.db"


def test_legacy_site_through_the_cli(tmp_path):
    db = copy_site(LEGACY, tmp_path)

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
    assert user_version(db) == 10  # the newest schema version
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


LEGACY_9 = ROOT / "tests" / "data" / "legacy-v9"
VKEY_9 = ("libctm/university-hospital-trial-pharmacy+f923c064"
          "+AX2R0kPKnIkKwt4V7JgHgLdBSTmyuHB9Zypbewh1lJCZ")


def test_site_of_schema_9_gains_its_darf_lines_with_the_upgrade(tmp_path):
    """A site made by libctm at schema version 9 (tests/data/legacy-v9: a demo day, a kit found
    again) has no darf_lines.  Its first write-open writes the lines of its whole history in the
    ledger.upgrade entry; the site verifies, and the DARF log read from the lines is the one that
    libctm drew from the history (darf.csv)."""
    db = copy_site(LEGACY_9, tmp_path)
    out = ctm(db, "audit", "verify", "--key", VKEY_9)
    assert out.returncode == 0 and out.stdout.startswith("OK: 47 entries"), out
    assert user_version(db) == 9

    out = ctm(db, "report", "darf", "EU-CT-2026-500123-01", "--csv", user="petra",
              password="pharm-demo-pass2")
    assert out.returncode == 0, out
    assert out.stdout == (LEGACY_9 / "darf.csv").read_text()
    assert user_version(db) == 10

    out = ctm(db, "audit", "log", "--json", user="petra", password="pharm-demo-pass2")
    upgrade = json.loads(out.stdout)[-1]
    assert upgrade["action"] == "ledger.upgrade" and upgrade["seq"] == 47, upgrade
    changes = upgrade["changes"]
    changes = json.loads(changes) if isinstance(changes, str) else changes
    with sqlite3.connect("file:%s?mode=ro" % db, uri=True) as c:
        lines = c.execute("SELECT id, status FROM darf_lines ORDER BY id").fetchall()
        events = c.execute("SELECT count(*) FROM kit_events").fetchone()[0]
    assert [c["op"] for c in changes] == ["insert"] * len(lines)
    assert {c["table"] for c in changes} == {"darf_lines"}
    # the log's twelve lines (receipts, dispensings, the return, the destruction, the kit missing
    # and found again), and none of the rows that move no balance (a release after the receipt,
    # a quarantine, the kit waiting for destruction after its return)
    assert len(lines) == 12 and events == 20, (lines, events)
    out = ctm(db, "audit", "verify", "--key", VKEY_9)
    assert out.returncode == 0 and out.stdout.startswith("OK: 48 entries"), out
