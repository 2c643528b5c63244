"""The independent verifier (examples/python/verify_ledger.py, written from docs/audit-format.md
with no libctm code) against real databases made with the ctm package: it must accept what libctm
writes, reject tampering, and agree with ctm's own verify on every case."""
import base64
import hashlib
import importlib.util
import pathlib
import re
import sqlite3
import subprocess
import sys

import pytest

import ctm

pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
SCRIPT = ROOT / "examples" / "python" / "verify_ledger.py"
DOC = ROOT / "docs" / "audit-format.md"
ADMIN, ADMIN_PW = "alice", "alice-password-1"


def copy_db(src, dst):
    """A consistent copy of a database (WAL included) through SQLite's backup API."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()
    return dst


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A database with several users, notes, role and password changes, failed logins and a
    batch; plus a copy taken half-way and the checkpoints of both moments."""
    tmp = tmp_path_factory.mktemp("independent")
    path = str(tmp / "site.db")
    d = ctm.init(path, "Independent Site", ADMIN, ADMIN_PW, printed_name="Alice Admin")
    d.user_add("tom", "technician", "tom-password-12")
    d.user_add("paula", "pharmacist", "paula-password-1", unblinded=True, printed_name="Paula P")
    d.note("stock count started")
    d.note("stock count done", meaning="reviewed")
    d.user_set_role("tom", "pharmacist", "completed training")
    old_copy = copy_db(path, str(tmp / "old.db"))
    old_checkpoint = d.checkpoint()
    d.user_disable("paula", "on leave")
    d.user_enable("paula", "back from leave")
    d.user_passwd("tom-reset-password-1", user="tom")  # admin reset: tom gets a new signing key
    with d.batch():
        d.note("batch note one")
        d.note("batch note two", meaning="approved")
        d.user_add("mona", "monitor", "mona-password-1")
    with pytest.raises(ctm.AuthError):
        ctm.open(path, user="tom", password="not-the-password")
    with pytest.raises(ctm.AuthError):
        ctm.open(path, user="nobody", password="whatever-password")
    t = ctm.open(path, user="tom", password="tom-reset-password-1")  # also auth.reset
    t.user_passwd("tom-own-password-2")
    t.note("checked by tom", meaning="checked")  # e-signed with the key of the reset
    t.close()
    vkey, checkpoint, size = d.vkey(), d.checkpoint(), d.size
    d.close()
    return {"path": path, "vkey": vkey, "checkpoint": checkpoint, "size": size, "tmp": tmp,
            "old_copy": old_copy, "old_checkpoint": old_checkpoint}


def independent(path, vkey, held=None, tmp=None):
    args = [sys.executable, str(SCRIPT), path, "--key", vkey]
    if held is not None:
        f = pathlib.Path(tmp) / ("held-%d.txt" % abs(hash(held)))
        f.write_text(held, encoding="utf-8")
        args += ["--checkpoint", str(f)]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert p.returncode in (0, 1), p.stderr
    return p.returncode, p.stdout.strip()


def libctm_verify(path, vkey, held=None):
    """ctm's own verify: (True, result dict) or (False, IntegrityError)."""
    with ctm.open(path) as d:
        try:
            return True, d.verify(vkey=vkey, checkpoint=held)
        except ctm.IntegrityError as e:
            return False, e


def both(site, path, held=None):
    rc, out = independent(path, site["vkey"], held, site["tmp"])
    ok, res = libctm_verify(path, site["vkey"], held)
    return rc, out, ok, res


def assert_both_reject(site, path, held=None):
    rc, out, ok, res = both(site, path, held)
    assert rc == 1 and out.startswith("FAIL: "), out
    assert not ok, "ctm verify accepted what the independent verifier rejected: " + out
    m = re.search(r"seq (\d+):", out)
    if m and res.result and res.result["failed_seq"] >= 0:
        assert int(m.group(1)) == res.result["failed_seq"], (out, str(res))
    m = re.search(r"table (\w+)", out)
    if m and res.result and res.result["failed_table"]:
        assert m.group(1) == res.result["failed_table"], (out, str(res))
    return out, res


def tampered(site, name, *sql, params=()):
    path = copy_db(site["path"], str(site["tmp"] / name))
    with sqlite3.connect(path) as c:
        for s in sql:
            c.execute(s, params if "?" in s else ())
    c.close()
    return path


# Replaces the newest checkpoint (audit-format.md section 1: it sits on the newest ledger row).
NEWEST_CHECKPOINT_SQL = "UPDATE ledger SET checkpoint = ? WHERE seq = (SELECT max(seq) FROM ledger)"


# ---- accepting ---------------------------------------------------------------------------------

def test_accepts_a_real_database_and_agrees_on_the_counts(site):
    rc, out, ok, res = both(site, site["path"])
    assert rc == 0, out
    assert ok, str(res)
    m = re.fullmatch(r"OK: (\d+) entries, (\d+) checkpoints, (\d+) e-signatures, (\d+) rows; "
                     r"root ([0-9a-f]{64})", out)
    assert m, out
    assert int(m.group(1)) == res["entries"] == site["size"]
    assert int(m.group(2)) == res["checkpoints"]
    assert int(m.group(3)) == res["esignatures"]
    assert int(m.group(4)) == res["rows"]
    assert m.group(5) == res["root_hex"]
    # a batch commits several entries under one checkpoint
    assert res["checkpoints"] < res["entries"]
    assert res["esignatures"] >= 9


def test_accepts_growth_from_a_held_checkpoint(site):
    rc, out, ok, res = both(site, site["path"], site["old_checkpoint"])
    assert rc == 0 and "grew from the held checkpoint" in out, out
    assert ok, str(res)
    rc, out, ok, res = both(site, site["path"], site["checkpoint"])
    assert rc == 0 and ok, out


def test_inclusion_proof_verifies_with_the_documented_algorithm(site):
    """audit-format.md section 9, against Database.prove."""
    with ctm.open(site["path"]) as d:
        text = d.prove(3)
    lines = dict(l.split(" ", 1) for l in text.splitlines() if not l.startswith("proof "))
    proof = [bytes.fromhex(l[6:]) for l in text.splitlines() if l.startswith("proof ")]
    seq, size = int(lines["seq"]), int(lines["size"])
    with sqlite3.connect(site["path"]) as c:
        entry = c.execute("SELECT entry FROM ledger WHERE seq = 3").fetchone()[0]
    c.close()
    leaf = hashlib.sha256(b"\x00" + entry).digest()
    assert lines["leaf"] == leaf.hex()
    fn, sn, r = seq, size - 1, leaf
    for p in proof:
        assert sn != 0
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while fn != 0 and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0 and r.hex() == lines["root"]
    root_line = site["checkpoint"].split("\n")[2]
    assert base64.b64decode(root_line).hex() == lines["root"]


# ---- rejecting ---------------------------------------------------------------------------------

def test_rejects_a_row_changed_with_sqlite3(site):
    path = tampered(site, "row.db", "UPDATE users SET role = 'admin' WHERE username = 'tom'")
    out, res = assert_both_reject(site, path)
    assert "table users" in out and res.result["failed_table"] == "users"


def test_rejects_a_secret_changed_with_sqlite3(site):
    path = tampered(site, "secret.db",
                    "UPDATE credentials SET password_hash = 'x' WHERE user_id = 2")
    out, res = assert_both_reject(site, path)
    assert "table credentials" in out and res.result["failed_table"] == "credentials"


def test_rejects_a_deleted_ledger_row(site):
    path = tampered(site, "deleted.db", "DELETE FROM ledger WHERE seq = 4")
    out, res = assert_both_reject(site, path)
    assert out.startswith("FAIL: seq 4:"), out


def test_rejects_a_swapped_pair_of_entries(site):
    path = tampered(
        site, "swapped.db",
        "UPDATE ledger SET seq = -1 WHERE seq = 3",
        "UPDATE ledger SET seq = 3 WHERE seq = 4",
        "UPDATE ledger SET seq = 4 WHERE seq = -1")
    out, res = assert_both_reject(site, path)
    assert out.startswith("FAIL: seq 3:"), out


def test_rejects_swapped_entry_bytes(site):
    """The entries trade places but keep the rows' other columns (checkpoint, frontier)."""
    with sqlite3.connect(site["path"]) as c:
        (e3,) = c.execute("SELECT entry FROM ledger WHERE seq = 3").fetchone()
        (e4,) = c.execute("SELECT entry FROM ledger WHERE seq = 4").fetchone()
    c.close()
    path = copy_db(site["path"], str(site["tmp"] / "swapped2.db"))
    with sqlite3.connect(path) as c:
        c.execute("UPDATE ledger SET entry = ? WHERE seq = 3", (e4,))
        c.execute("UPDATE ledger SET entry = ? WHERE seq = 4", (e3,))
    c.close()
    assert_both_reject(site, path)


def test_rejects_a_checkpoint_signed_by_another_key(site):
    origin = site["checkpoint"].split("\n")[0]
    body = "%s\n%d\n%s\n" % (origin, site["size"], base64.b64encode(b"\x42" * 32).decode())
    fake = Ed25519PrivateKey.generate()
    pub = fake.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    keyid = hashlib.sha256(origin.encode() + b"\n\x01" + pub).digest()[:4]
    sig = base64.b64encode(keyid + fake.sign(body.encode())).decode()
    note = "%s\n\u2014 %s %s\n" % (body, origin, sig)
    path = tampered(site, "forged.db", NEWEST_CHECKPOINT_SQL, params=(note,))
    assert_both_reject(site, path)


def test_rejects_a_checkpoint_with_an_altered_root(site):
    lines = site["checkpoint"].split("\n")
    lines[2] = base64.b64encode(b"\x42" * 32).decode()
    path = tampered(site, "altered.db", NEWEST_CHECKPOINT_SQL,
                    params=("\n".join(lines),))
    assert_both_reject(site, path)


def test_rejects_an_older_copy_against_a_newer_held_checkpoint(site):
    rc, out, ok, res = both(site, site["old_copy"])
    assert rc == 0 and ok, out  # on its own the older copy is a valid database
    out, res = assert_both_reject(site, site["old_copy"], site["checkpoint"])
    assert "rolled back or truncated" in out


def test_rejects_rows_in_a_table_added_by_hand(site):
    path = tampered(site, "extra.db", "CREATE TABLE extra(id INTEGER PRIMARY KEY, x)",
                    "INSERT INTO extra VALUES (1, 'smuggled')")
    out, res = assert_both_reject(site, path)
    assert "table schema, key table extra:" in out, out
    assert (res.result["failed_table"], res.result["failed_key"]) == ("schema", "table extra")


def test_rejects_a_trigger_added_by_hand(site):
    """A trigger changes no row until it fires, so only the schema comparison can see it."""
    path = tampered(site, "trigger.db",
                    "CREATE TRIGGER promote AFTER UPDATE OF failed_logins ON users"
                    " BEGIN UPDATE users SET role = 'admin' WHERE id = new.id; END")
    out, res = assert_both_reject(site, path)
    assert "table schema, key trigger promote:" in out, out
    assert (res.result["failed_table"], res.result["failed_key"]) == ("schema", "trigger promote")


def test_rejects_a_changed_and_a_removed_schema_object(site):
    path = tampered(site, "view.db", "DROP VIEW checkpoints",
                    "CREATE VIEW checkpoints AS"
                    "  SELECT seq + 1 AS size, checkpoint AS note FROM ledger")  # no WHERE
    out, res = assert_both_reject(site, path)
    assert "table schema, key view checkpoints:" in out, out
    assert res.result["failed_key"] == "view checkpoints"
    path = tampered(site, "noview.db", "DROP VIEW checkpoints")
    out, res = assert_both_reject(site, path)
    assert "key view checkpoints: missing or changed" in out, out
    assert res.result["failed_key"] == "view checkpoints"


def test_the_documented_schema_is_the_schema_libctm_makes(site):
    """audit-format.md 1.1 lists sqlite_master byte for byte; verify_ledger.py compares with it."""
    doc = DOC.read_text(encoding="utf-8")
    block = re.search(r"\n```\n(table\|site\|.*?)\n```\n", doc, re.S).group(1)
    documented = set()
    for line in block.split("\n"):
        kind, name, tbl_name, sql = line.split("|", 3)
        documented.add((kind, name, tbl_name, sql or None))
    with sqlite3.connect(site["path"]) as c:
        live = set(c.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
    c.close()
    assert documented == live
    spec = importlib.util.spec_from_file_location("verify_ledger", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.SCHEMA == live


def test_rejects_a_wrong_verifier_key(site):
    other = ctm.init(str(site["tmp"] / "other.db"), "Other Site", ADMIN, ADMIN_PW)
    vkey = other.vkey()
    other.close()
    rc, out = independent(site["path"], vkey)
    ok, res = libctm_verify(site["path"], vkey)
    assert rc == 1 and not ok, out

