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

import backends
import ctm

# The independent verifier reads an SQLite file (its sqlite3 module), and these tests copy and
# change the files themselves.
pytestmark = backends.sqlite_only

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


def load_script():
    spec = importlib.util.spec_from_file_location("verify_ledger", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def documented_schemas():
    """audit-format.md 1.1: {version: [(type, name, tbl_name, sql), ...]} from its row blocks."""
    doc = DOC.read_text(encoding="utf-8")
    schemas = {}
    for version, block in re.findall(r"\n\*\*Schema version (\d+)\*\*[^\n]*\n\n```\n(.*?)\n```\n",
                                     doc, re.S):
        rows = []
        for line in block.split("\n"):
            kind, name, tbl_name, sql = line.split("|", 3)
            rows.append((kind, name, tbl_name, sql or None))
        schemas[int(version)] = rows
    return schemas


def test_the_documented_schema_is_the_schema_libctm_makes(site):
    """audit-format.md 1.1 lists sqlite_master byte for byte per schema version; verify_ledger.py
    compares with the list of the database's version.  libctm makes only the newest version, whose
    rows begin with the older versions' rows (migrations only append)."""
    documented = documented_schemas()
    script = load_script()
    with sqlite3.connect(site["path"]) as c:
        version = c.execute("PRAGMA user_version").fetchone()[0]
        live = c.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid")
        live = live.fetchall()
    c.close()
    assert version == 10 == max(documented) == max(script.SCHEMAS)
    assert sorted(documented) == sorted(script.SCHEMAS) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert documented[10] == live
    assert script.SCHEMAS[10] == live
    # version 10 appends the DARF log's lines and their index
    assert documented[10][:-2] == documented[9] == script.SCHEMAS[9]
    assert [r[:3] for r in documented[10][-2:]] == [
        ("table", "darf_lines", "darf_lines"),
        ("index", "darf_lines_by_kit_type", "darf_lines")]
    # version 9 makes kit_events_by_kit again, with the row's other columns: its row moves
    old_index = [r for r in documented[8] if r[1] == "kit_events_by_kit"]
    assert [r for r in documented[8] if r not in old_index] == documented[9][:-1]
    assert documented[9][-1] == script.SCHEMAS[9][-1] == (
        "index", "kit_events_by_kit", "kit_events",
        "CREATE INDEX kit_events_by_kit ON kit_events(kit_id, at_us, id, status, by_user)")
    assert documented[8] == script.SCHEMAS[8]
    assert documented[7] == script.SCHEMAS[7] == documented[8][:len(documented[7])]
    assert documented[6] == script.SCHEMAS[6] == documented[7][:len(documented[6])]
    assert documented[5] == script.SCHEMAS[5] == documented[6][:len(documented[5])]
    assert documented[4] == script.SCHEMAS[4] == documented[5][:len(documented[4])]
    assert documented[3] == script.SCHEMAS[3] == documented[2] == script.SCHEMAS[2]
    assert documented[1] == script.SCHEMAS[1] == documented[2][:len(documented[1])]
    assert [r[1] for r in documented[1]][-1] == "checkpoints"  # version 1 ends with its view
    # version 4 rebuilds kits and kit_moves: their six rows move to the end, kits with its CHECK
    moved = [r for r in documented[3] if r[2] in ("kits", "kit_moves")]
    assert [r for r in documented[3] if r not in moved] == documented[4][:-len(moved)]
    assert [r[:3] for r in moved] == [r[:3] for r in documented[4][-len(moved):]]
    assert [r for r in documented[4] if r not in documented[3]] == [documented[4][-len(moved)]]
    assert "status TEXT NOT NULL CHECK (status IN ('in_transit'," in documented[4][-len(moved)][3]
    assert script.audited(script.SCHEMAS[5]) == [
        "site", "users", "credentials", "trials", "arms", "kit_types", "locations", "lots",
        "shipments", "bulk_stock", "discrepancies", "kits", "kit_moves", "rand_schemes",
        "subjects", "rand_list", "kit_list", "visits", "visit_kits", "dose_levels",
        "titration_rules", "dispensations", "code_breaks"]
    assert script.audited(script.SCHEMAS[6])[-3:] == ["logger_files", "readings", "logger_days"]
    assert script.audited(script.SCHEMAS[7])[-3:] == ["location_alarms", "excursions",
                                                      "excursion_kits"]
    assert script.audited(script.SCHEMAS[8])[-8:] == [
        "kit_events", "compliance_limits", "kit_returns", "destructions", "shipbacks",
        "shipback_kits", "cosignatures", "signoffs"]
    assert script.audited(script.SCHEMAS[10])[-1:] == ["darf_lines"]


def test_accepts_a_database_of_schema_version_1(site):
    """A database whose ledger touches only version 1's tables, taken back to version 1 by
    dropping migration 2's tables (what a libctm 1.x database is): checked against version 1."""
    drops = ["DROP INDEX %s" % i for i in ("kits_for_dispensing", "kits_by_number",
                                           "kits_by_serial")] + [
        "DROP TABLE %s" % t for t in ("darf_lines", "signoffs", "cosignatures", "shipback_kits", "shipbacks",
                                           "destructions", "kit_returns", "compliance_limits",
                                           "kit_events", "excursion_kits", "excursions", "location_alarms", "logger_days", "readings", "logger_files", "dispensations", "code_breaks", "titration_rules", "dose_levels",
                                           "visit_kits", "visits", "kit_list", "rand_list",
                                           "subjects", "rand_schemes",
                                           "discrepancies", "bulk_stock", "kit_moves", "kits",
                                           "shipments", "lots", "locations", "kit_types", "arms",
                                           "trials")]
    path = tampered(site, "v1.db", *drops, "PRAGMA user_version = 1")
    rc, out = independent(path, site["vkey"])
    assert rc == 0 and out.startswith("OK: %d entries" % site["size"]), out
    # version 1's schema with version 2's number is missing tables
    path = tampered(site, "v1as2.db", *drops)
    rc, out = independent(path, site["vkey"])
    assert rc == 1 and "table schema, key " in out and " or changed" in out, out
    # version 2's schema with version 1's number has tables version 1 does not know
    path = tampered(site, "v2as1.db", "PRAGMA user_version = 1")
    rc, out = independent(path, site["vkey"])
    assert rc == 1 and "added or changed outside libctm" in out, out


def test_refuses_a_schema_version_it_does_not_know(site):
    for version in (11, 0):
        path = tampered(site, "v%d.db" % version, "PRAGMA user_version = %d" % version)
        rc, out = independent(path, site["vkey"])
        assert rc == 1, out
        assert out == ("FAIL: schema version %d is unknown to this verifier (it knows versions "
                       "1, 2, 3, 4, 5, 6, 7, 8, 9, 10): verify with a verifier that knows it"
                       % version), out
    with pytest.raises(ctm.VersionError):  # libctm refuses a newer version too
        ctm.open(str(site["tmp"] / "v11.db"))


def test_values_of_every_storage_class_encode_as_documented():
    """audit-format.md 2.1: what the replay and the live rows are compared by."""
    script = load_script()
    assert script.encode(None) == b"\x01"
    assert script.encode(-2) == b"\x02\x01\xfe"                     # shortest form
    assert script.encode(128) == b"\x02\x02\x00\x80"
    assert script.encode(-2**63) == b"\x02\x08" + (-2**63).to_bytes(8, "big", signed=True)
    assert script.encode(1.5) == b"\x03" + bytes.fromhex("3ff8000000000000")
    assert script.encode(1.0) != script.encode(1)                 # REAL 1.0 is not INT 1
    assert script.encode(-0.0) != script.encode(0.0)
    assert script.encode("2027-01-31") == b"\x04\x00\x00\x00\x0a2027-01-31"
    assert script.encode(b"ab") == b"\x05\x00\x00\x00\x02ab"
    assert script.encode("ab") != script.encode(b"ab")            # TEXT is not BLOB
    assert script.show(script.encode(None)) == "NULL"
    assert script.show(script.encode(2.5)) == "2.5"


def test_rejects_a_wrong_verifier_key(site):
    other = ctm.init(str(site["tmp"] / "other.db"), "Other Site", ADMIN, ADMIN_PW)
    vkey = other.vkey()
    other.close()
    rc, out = independent(site["path"], vkey)
    ok, res = libctm_verify(site["path"], vkey)
    assert rc == 1 and not ok, out



def checkpoint_seqs(path):
    with sqlite3.connect(path) as c:
        seqs = [r[0] for r in c.execute("SELECT seq FROM ledger WHERE checkpoint IS NOT NULL"
                                        " ORDER BY seq")]
    c.close()
    return seqs


def test_rejects_a_checkpoint_removed_from_an_older_row(site):
    """One checkpoint per committed transaction, each naming the one before it (audit-format.md
    6.4): a signed checkpoint set to NULL leaves the next one naming a size the ledger lacks."""
    seqs = checkpoint_seqs(site["path"])
    for victim in (seqs[2], seqs[-2]):           # a single action's, and the last but one
        following = seqs[seqs.index(victim) + 1]
        path = tampered(site, "nocheckpoint-%d.db" % victim,
                        "UPDATE ledger SET checkpoint = NULL WHERE seq = %d" % victim)
        out, res = assert_both_reject(site, path)
        assert out.startswith("FAIL: seq %d: table ledger:" % following), out
        assert "a checkpoint was removed" in out, out
        assert res.result["failed_seq"] == following
    path = tampered(site, "nonewest.db",
                    "UPDATE ledger SET checkpoint = NULL WHERE seq = %d" % seqs[-1])
    out, res = assert_both_reject(site, path)   # after the last checkpoint: names the first
    assert out.startswith("FAIL: seq %d: table ledger:" % (seqs[-2] + 1)), out


def older_frontier(site, name, size_of):
    """A copy whose entry 2 also carries a frontier: that of size_of(3) entries (the right one is
    3), as a PostgreSQL site leaves on the previous entry until its writer's second commit."""
    script = load_script()
    path = copy_db(site["path"], str(site["tmp"] / name))
    with sqlite3.connect(path) as c:
        frontier = script.Frontier()
        for (data,) in c.execute("SELECT entry FROM ledger WHERE seq < ? ORDER BY seq",
                                 (size_of(3),)).fetchall():
            frontier.append(hashlib.sha256(b"\x00" + bytes(data)).digest())
        c.execute("UPDATE ledger SET frontier = ? WHERE seq = 2", (frontier.encode(),))
    c.close()
    return path


def test_accepts_an_older_entry_that_carries_its_own_frontier(site):
    rc, out, ok, res = both(site, older_frontier(site, "older-frontier.db", lambda n: n))
    assert rc == 0 and out.startswith("OK"), out
    assert ok, str(res)


def test_rejects_an_older_entry_whose_frontier_is_not_its_own(site):
    path = older_frontier(site, "older-frontier-wrong.db", lambda n: n + 1)
    out, res = assert_both_reject(site, path)
    assert "seq 2: table ledger: the stored tree state does not match the entries" in out, out


def test_checkpoints_name_the_one_before_them(site):
    with sqlite3.connect(site["path"]) as c:
        notes = c.execute("SELECT seq, checkpoint FROM ledger WHERE checkpoint IS NOT NULL"
                          " ORDER BY seq").fetchall()
    c.close()
    previous = 0
    for seq, note in notes:
        lines = note.split("\n\n")[0].split("\n")
        assert lines[1] == str(seq + 1) and lines[3:] == ["previous %d" % previous], note
        previous = seq + 1


@pytest.mark.parametrize("column, sql", [
    ("entry", "UPDATE ledger SET entry = CAST(entry AS TEXT) WHERE seq = 3"),
    ("checkpoint", "UPDATE ledger SET checkpoint = CAST(checkpoint AS BLOB)"
                   " WHERE seq = (SELECT min(seq) FROM ledger WHERE checkpoint IS NOT NULL)"),
    ("frontier", "UPDATE ledger SET frontier = hex(frontier) WHERE frontier IS NOT NULL"),
], ids=["entry-text", "checkpoint-blob", "frontier-text"])
def test_rejects_ledger_columns_of_another_storage_class(site, column, sql):
    path = tampered(site, "class-%s.db" % column, sql)
    out, res = assert_both_reject(site, path)
    assert "table ledger: the %s is stored as " % column in out, out


def test_rejects_a_database_in_utf16(site):
    """The same rows, written into a database whose text encoding is UTF-16le."""
    path = str(site["tmp"] / "utf16.db")
    pathlib.Path(path).unlink(missing_ok=True)
    with sqlite3.connect(site["path"]) as a, sqlite3.connect(path) as b:
        b.execute("PRAGMA encoding = 'UTF-16le'")
        for (sql,) in a.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"):
            b.execute(sql)
        for (t,) in a.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            rows = a.execute("SELECT * FROM \"%s\"" % t).fetchall()
            if rows:
                b.executemany("INSERT INTO \"%s\" VALUES (%s)" % (t, ",".join("?" * len(rows[0]))),
                              rows)
        for pragma in ("application_id", "user_version"):
            b.execute("PRAGMA %s = %d" % (pragma, a.execute("PRAGMA " + pragma).fetchone()[0]))
    a.close()
    b.close()
    out, res = assert_both_reject(site, path)
    assert "table schema, key encoding: the database's text encoding is UTF-16le" in out, out


def test_rejects_a_site_key_that_is_not_the_verifier_key(site):
    other = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    path = tampered(site, "sitekey.db", "UPDATE site SET public_key = ?", params=(other,))
    out, res = assert_both_reject(site, path)
    assert out.startswith("FAIL: table site, key id=1: the site's public key is not the "
                          "verifier key's"), out
    assert (res.result["failed_table"], res.result["failed_seq"]) == ("site", -1)


def test_verifier_key_splits_at_its_first_two_plus_signs(site):
    """audit-format.md 6.3: the base64 key may hold '+'; a name may not.  A well-formed key of
    another signer is a finding about the database (site key), a malformed one a usage error."""
    origin = site["vkey"].split("+")[0]
    while True:
        pub = Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        b64 = base64.b64encode(b"\x01" + pub).decode()
        if "+" in b64:
            break
    keyid = hashlib.sha256(origin.encode() + b"\n\x01" + pub).digest()[:4].hex()
    vkey = "%s+%s+%s" % (origin, keyid, b64)
    rc, out = independent(site["path"], vkey)
    assert rc == 1 and out.startswith("FAIL: table site, key id=1: the site's public key"), out
    ok, res = libctm_verify(site["path"], vkey)
    assert not ok and res.result["failed_table"] == "site", str(res)
    bad = "a+" + vkey                                    # a '+' in the name
    rc, out = independent(site["path"], bad)
    assert rc == 1 and "not a verifier key" in out, out
    with ctm.open(site["path"]) as d, pytest.raises(ctm.Error) as e:
        d.verify(vkey=bad)
    assert not isinstance(e.value, ctm.IntegrityError)


def newest_note(path):
    with sqlite3.connect(path) as c:
        (note,) = c.execute("SELECT checkpoint FROM ledger WHERE checkpoint IS NOT NULL"
                            " ORDER BY seq DESC LIMIT 1").fetchone()
    c.close()
    return note


def test_rejects_base64_with_padding_bits_set(site):
    """audit-format.md conventions: base64 is decoded strictly, padding bits included.  The
    signature line is not itself signed, so only the decoder can refuse it."""
    note = newest_note(site["path"])
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    text, sig = note[:note.rindex("\n\u2014 ") + 1], note[note.rindex("\n\u2014 ") + 1:]
    at = sig.index("=") - 1                       # 68 bytes: the last digit carries 2 zero bits
    loose = sig[:at] + alphabet[alphabet.index(sig[at]) | 1] + sig[at + 1:]
    assert base64.b64decode(loose.split(" ")[-1]) == base64.b64decode(sig.split(" ")[-1])
    path = tampered(site, "padding.db", NEWEST_CHECKPOINT_SQL, params=(text + loose,))
    assert_both_reject(site, path)


def site_signer(site):
    """The site's own signing key (the key file beside the database): what someone holding it
    can sign, verification must still judge by the format's rules."""
    line = pathlib.Path(site["path"] + ".key").read_text()
    assert line.startswith("libctm-site-key-v1 ") and line.endswith("\n")
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(line.split(" ")[1]))
    with sqlite3.connect(site["path"]) as c:
        (origin,) = c.execute("SELECT origin FROM site").fetchone()
    c.close()
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    keyid = hashlib.sha256(origin.encode() + b"\n\x01" + pub).digest()[:4]

    def sign(body):
        sig = base64.b64encode(keyid + key.sign(body.encode())).decode()
        return "%s\n\u2014 %s %s\n" % (body, origin, sig)
    return sign


@pytest.mark.parametrize("char", ["\u0085", "\u007f", "\u009f", "\r"])
def test_rejects_a_signed_note_with_a_control_character(site, char):
    """audit-format.md 6.2: control characters are U+0000-U+001F and U+007F-U+009F; a note's
    text may hold none but "\n", even when the site key signed it."""
    note = newest_note(site["path"])
    body = note[:note.index("\n\n") + 1] + "remark" + char + "\n"
    path = tampered(site, "control-%x.db" % ord(char), NEWEST_CHECKPOINT_SQL,
                    params=(site_signer(site)(body),))
    assert_both_reject(site, path)
    ok_path = tampered(site, "control-ok.db", NEWEST_CHECKPOINT_SQL,
                       params=(site_signer(site)(body.replace(char, "\u00a0")),))
    rc, out, ok, res = both(site, ok_path)      # an extension line of printable text is fine
    assert rc == 0 and ok, out


@pytest.mark.parametrize("change", ["extra-newline", "crlf", "no-final-newline", "bom"])
def test_held_checkpoint_file_is_the_note_byte_for_byte(site, change):
    """audit-format.md 8, step 2: the held checkpoint is exactly the note `ctm audit checkpoint`
    prints; a file with anything added, removed or converted is refused by both verifiers."""
    note = {"extra-newline": site["checkpoint"] + "\n",
            "crlf": site["checkpoint"].replace("\n", "\r\n"),
            "no-final-newline": site["checkpoint"][:-1],
            "bom": "\ufeff" + site["checkpoint"]}[change]
    rc, out = independent(site["path"], site["vkey"], note, site["tmp"])
    assert rc == 1 and out.startswith("FAIL: held checkpoint: "), out
    with ctm.open(site["path"]) as d, pytest.raises(ctm.Error):
        d.verify(vkey=site["vkey"], checkpoint=note)


def reseal(site, name, seq, edit):
    """A copy of the database whose entry seq is edit(entry), with every root, checkpoint and the
    stored tree state made to match again with the site's own key: what someone holding the key
    file can forge.  Only the rules of the format are then left to catch it."""
    script, sign = load_script(), site_signer(site)
    path = copy_db(site["path"], str(site["tmp"] / name))
    with sqlite3.connect(path) as c:
        (entry,) = c.execute("SELECT entry FROM ledger WHERE seq = ?", (seq,)).fetchone()
        new = edit(bytes(entry))
        assert new != entry
        c.execute("UPDATE ledger SET entry = ? WHERE seq = ?", (new, seq))
        frontier = script.Frontier()
        for i, data, note, stored in c.execute(
                "SELECT seq, entry, checkpoint, frontier FROM ledger ORDER BY seq").fetchall():
            frontier.append(hashlib.sha256(b"\x00" + data).digest())
            if note is not None and i >= seq:
                lines = note[:note.index("\n\n")].split("\n")
                lines[2] = base64.b64encode(frontier.root()).decode()
                c.execute("UPDATE ledger SET checkpoint = ? WHERE seq = ?",
                          (sign("\n".join(lines) + "\n"), i))
            if stored is not None:
                c.execute("UPDATE ledger SET frontier = ? WHERE seq = ?", (frontier.encode(), i))
    c.close()
    return path


def entry_of(path, action, nth=0):
    script = load_script()
    with sqlite3.connect(path) as c:
        rows = c.execute("SELECT seq, entry FROM ledger ORDER BY seq").fetchall()
    c.close()
    seqs = [seq for seq, data in rows if script.decode_entry(bytes(data))["action"] == action]
    return seqs[nth]


def test_accepts_a_rewritten_note_resealed_with_the_site_key(site):
    """The forging helper itself: an unsigned note rewritten and resealed with the site key
    breaks no rule (audit-format.md 12: the site key file must be kept from the database), so
    the rule tests below fail on their rule alone."""
    seq = entry_of(site["path"], "audit.note")
    path = reseal(site, "resealed.db", seq, lambda e: e.replace(b"stock count started",
                                                                b"stock count startex"))
    rc, out, ok, res = both(site, path)
    assert rc == 0 and ok, (out, str(res))


def test_rejects_an_update_that_changes_nothing(site):
    """audit-format.md 3.1: an update lists only the columns it changed; a failed login's
    failed_logins 0 -> 1 rewritten as 1 -> 1 is refused by the decoders of both verifiers."""
    seq = entry_of(site["path"], "auth.failed")
    path = reseal(site, "unchanged.db", seq,
                  lambda e: e.replace(b"\x02\x01\x00\x02\x01\x01", b"\x02\x01\x01\x02\x01\x01", 1))
    out, res = assert_both_reject(site, path)
    assert out.startswith("FAIL: seq %d: table ledger: the entry cannot be decoded" % seq), out


def test_rejects_an_unsalted_entry_after_a_salted_one(site):
    """audit-format.md 8, step 4: version-1 entries only begin a log (a migrated site).  A salted
    note rewritten without its salt, resealed with the site key, is refused by both verifiers."""
    seq = entry_of(site["path"], "audit.note")
    assert seq > 0
    path = reseal(site, "unsalted.db", seq, lambda e: b"\x01" + e[1:17] + e[49:])
    out, res = assert_both_reject(site, path)
    assert out.startswith("FAIL: seq %d: table ledger: an unsalted entry" % seq), out


# ---- schema version 2: trials and stock --------------------------------------------------------

TRIAL, KIT_TYPE, PHARM, PHARM_PW = "CT-IV-1", "KT-5MG", "phil", "phil-password-12"
ARMS = ("VERUM", "PLACEBO")


@pytest.fixture(scope="module")
def stock_site(tmp_path_factory):
    """A database with every table of schema version 2 filled through the ctm package: a blinded
    trial with arms, kit types (one with NULL optional columns), locations, a shipment received,
    scanned (ok, damaged, extra), confirmed with kits missing, kits transferred, set to
    quarantine and relabelled."""
    needed = ("trial_add", "kittype_add", "location_add", "receive", "scan", "confirm",
              "transfer", "kit_set_status", "expiry_extend")
    missing = [m for m in needed if not hasattr(ctm.Database, m)]
    if missing:
        pytest.skip("the ctm package has no stock methods yet (%s)" % ", ".join(missing))
    tmp = tmp_path_factory.mktemp("independent-stock")
    path = str(tmp / "stock.db")
    d = ctm.init(path, "Independent Stock Site", ADMIN, ADMIN_PW)
    d.user_add(PHARM, "pharmacist", PHARM_PW, unblinded=True, printed_name="Phil Pharmacist")
    d.logout()
    d.login(PHARM, PHARM_PW)
    d.trial_add(TRIAL, "A blinded trial", "Sponsor AB", {a: 1 for a in ARMS}, blinded=True)
    d.trial_add("OPEN-IV", "An open trial", "Academic Sponsor", "A:2,B:1")
    d.kittype_add(TRIAL, KIT_TYPE, "Zoltrax 5 mg", 30, storage=(2, 8), dnd_days=30,
                  dose_form="tablet", strength="5 mg", excursion_budget=(1440, 15.5),
                  dispensing_days=28)
    d.kittype_add("OPEN-IV", "BULK", "Open product", 100, (15, 25))  # NULL dose_form, strength...
    d.location_add("FRIDGE-1", (2, 8), kind="fridge")
    d.location_add("FRIDGE-2", (2.5, 7.75), kind="fridge")
    lines = ["kit_number,kit_type,lot,expiry,arm,serial"]
    for i in range(1, 9):
        lines.append("K%03d,%s,LOT-%s,2031-0%d-15,%s,%s" % (
            i, KIT_TYPE, "A" if i <= 4 else "B", 1 if i <= 4 else 2, ARMS[i % 2],
            "K%03d" % i if i % 2 else ""))  # every other kit without serial: NULL
    d.receive(TRIAL, "S1", "\n".join(lines) + "\n", "FRIDGE-1", origin="Central Depot")
    for i in range(1, 6):
        d.scan("S1", "K%03d" % i, damaged=(i == 5))
    d.scan("S1", "K999")                                   # not on the manifest: extra
    d.confirm("S1")                                        # K006-K008 missing
    d.transfer(TRIAL, ["K001", "K002"], "FRIDGE-2", reason="fridge defrost")
    d.kit_set_status(TRIAL, "K003", "quarantined", "temperature check")
    d.expiry_extend(TRIAL, "2032-01-15", "Sponsor letter 7", lot="LOT-A")
    # schema version 5: a generated list (its seed a BLOB), a kit list, subjects randomized
    d.random_generate(TRIAL, 6, [2, 4], strata="sex=M,F", seed="ab" * 32)
    d.random_import(TRIAL, "kit_number,arm\nK101,%s\nK102,%s\n" % (ARMS[0], ARMS[1]))
    d.subject_add(TRIAL, "S-1", "sex=F")
    d.subject_add(TRIAL, "S-2")
    d.randomize(TRIAL, "S-1")
    d.subject_withdraw(TRIAL, "S-2", "screening failure")
    vkey, size = d.vkey(), d.size
    statuses = {k["kit_number"]: k["status"] for k in d.kits(trial=TRIAL)}
    d.close()
    return {"path": path, "vkey": vkey, "size": size, "tmp": tmp, "statuses": statuses}


def test_accepts_a_database_with_trials_and_stock(stock_site):
    s = stock_site
    assert s["statuses"]["K001"] == "available" and s["statuses"]["K006"] == "missing"
    with sqlite3.connect(s["path"]) as c:
        counts = {t: c.execute("SELECT count(*) FROM %s" % t).fetchone()[0] for t in (
            "trials", "arms", "kit_types", "locations", "lots", "shipments", "kits", "kit_moves",
            "discrepancies", "rand_schemes", "rand_list", "subjects", "kit_list")}
        nulls = c.execute("SELECT count(*) FROM kits WHERE serial IS NULL").fetchone()[0]
        kt_nulls = c.execute("SELECT count(*) FROM kit_types WHERE dose_form IS NULL").fetchone()
    c.close()
    assert all(counts.values()), counts                 # every new table has rows
    assert nulls > 0 and kt_nulls[0] == 1               # NULL values go through the replay
    rc, out, ok, res = both(s, s["path"])
    assert rc == 0 and ok, (out, str(res))
    m = re.fullmatch(r"OK: (\d+) entries, (\d+) checkpoints, (\d+) e-signatures, (\d+) rows; "
                     r"root ([0-9a-f]{64})", out)
    assert m, out
    assert int(m.group(1)) == res["entries"] == s["size"]
    assert int(m.group(4)) == res["rows"] >= sum(counts.values())
    assert m.group(5) == res["root_hex"]


@pytest.mark.parametrize("table, sql", [
    ("kits", "UPDATE kits SET status = 'available' WHERE kit_number = 'K003'"),
    ("kits", "UPDATE kits SET arm = CASE arm WHEN 'VERUM' THEN 'PLACEBO' ELSE 'VERUM' END"
             " WHERE kit_number = 'K002'"),
    ("kits", "UPDATE kits SET serial = 'K002' WHERE kit_number = 'K002'"),     # NULL -> TEXT
    ("kits", "UPDATE kits SET units = 29.5 WHERE kit_number = 'K001'"),        # INT -> REAL
    ("kit_moves", "DELETE FROM kit_moves WHERE id = (SELECT max(id) FROM kit_moves)"),
    ("rand_list", "UPDATE rand_list SET arm = CASE arm WHEN 'VERUM' THEN 'PLACEBO' ELSE 'VERUM'"
                  " END WHERE position = 2"),
    ("subjects", "UPDATE subjects SET status = 'enrolled' WHERE screening = 'S-2'"),
    ("rand_schemes", "UPDATE rand_schemes SET seed = zeroblob(32)"),
    ("locations", "UPDATE locations SET max_mc = 25000 WHERE name = 'FRIDGE-2'"),
    ("discrepancies", "INSERT INTO discrepancies(shipment_id, kit_number, kind, detail,"
                      " recorded_us, recorded_by) SELECT shipment_id, kit_number, kind, detail,"
                      " recorded_us, recorded_by FROM discrepancies LIMIT 1"),
], ids=["status", "arm", "null", "real", "kit_moves", "list_arm", "subject_status", "seed",
        "locations", "discrepancies"])
def test_rejects_stock_changed_with_sqlite3(stock_site, table, sql):
    path = tampered(stock_site, "stock-%d.db" % abs(hash(sql)), sql)
    out, res = assert_both_reject(stock_site, path)
    assert ("table %s, key id=" % table) in out, out
    assert res.result["failed_table"] == table
    for arm in ARMS:                                    # failures name keys, never values
        assert arm not in out


def drop_last_column(script, entry, table):
    """The entry with the last column of table's first change group removed from its column
    list and from every row of the group (a group of inserts)."""
    r = script.Reader(entry)
    name = struct_str(table)
    r.off = entry.index(name) + len(name)
    ncols_at = r.off
    defs = [(r.str(), r.flag("is_pk")) for _ in range(r.u32())]
    last_def = r.off - (4 + len(defs[-1][0]) + 1)
    rows_at = r.off
    out = bytearray(entry[:ncols_at]) + (len(defs) - 1).to_bytes(4, "big")
    out += entry[ncols_at + 4:last_def] + entry[rows_at:rows_at + 4]
    nrows = r.u32()
    for _ in range(nrows):
        start = r.off
        assert r.u8() == ord("I")
        for _ in defs[:-1]:
            r.value()
        keep_end = r.off
        r.value()
        out += entry[start:keep_end]
    return bytes(out + entry[r.off:])


def real_units(entry):
    """Every kit of a receipt with units REAL 30.0 instead of INT 30 (status 'received', then
    location_id, then units)."""
    pattern = re.compile(rb"(\x04\x00\x00\x00\x08received\x02\x01[\x01-\x7f])\x02\x01\x1e")
    assert pattern.search(entry)
    return pattern.sub(lambda m: m.group(1) + bytes.fromhex("03403e000000000000"), entry)


def struct_str(text):
    return len(text).to_bytes(4, "big") + text.encode()


@pytest.mark.parametrize("case", ["is_pk", "missing-column", "real-for-int"])
def test_rejects_values_and_columns_the_schema_does_not_have(stock_site, case):
    """audit-format.md 8, step 5: a row change's columns are its table's with the schema's is_pk
    (an insert names every column), and values compare by canonical encoding (REAL 30.0 is not
    INT 30), even in a ledger resealed with the site key."""
    script = load_script()
    if case == "is_pk":                          # trials.code claimed as a key column
        seq = entry_of(stock_site["path"], "trial.add")
        edit = lambda e: e.replace(struct_str("code") + b"\x00", struct_str("code") + b"\x01", 1)  # noqa: E731
        where = "table trials"
    elif case == "missing-column":               # arms inserted without their ratio
        seq = entry_of(stock_site["path"], "trial.add")
        edit = lambda e: drop_last_column(script, e, "arms")  # noqa: E731
        where = "table arms"
    else:                                        # every kit received with units REAL 30.0
        seq = entry_of(stock_site["path"], "shipment.receive")
        edit = real_units
        where = "table kits"
    path = reseal(stock_site, "schema-%s.db" % case, seq, edit)
    out, res = assert_both_reject(stock_site, path)
    assert where in out, out
    if case != "real-for-int":
        assert out.startswith("FAIL: seq %d: %s" % (seq, where)), out



@pytest.fixture(scope="module")
def big_site(tmp_path_factory):
    """One receipt of 20,000 kits: an entry of more than 1 MB, which libctm's verify reads as a
    stream (docs/performance.md); the verdicts must not change with that."""
    if not hasattr(ctm.Database, "receive"):
        pytest.skip("the ctm package has no stock methods yet")
    tmp = tmp_path_factory.mktemp("independent-big")
    path = str(tmp / "big.db")
    d = ctm.init(path, "Big Receipt Site", ADMIN, ADMIN_PW)
    d.user_add(PHARM, "pharmacist", PHARM_PW, unblinded=True)
    d.trial_add(TRIAL, "A blinded trial", "Sponsor AB", {a: 1 for a in ARMS}, blinded=True)
    d.kittype_add(TRIAL, KIT_TYPE, "Zoltrax 5 mg", 30, storage=(2, 8))
    d.location_add("FRIDGE-1", (2, 8), kind="fridge")
    d.logout()
    d.login(PHARM, PHARM_PW)
    lines = ["kit_number,kit_type,lot,expiry,arm"] + [
        "B%06d,%s,LOT-%d,2031-01-15,%s" % (i, KIT_TYPE, i // 1000, ARMS[i % 2]) for i in range(20000)]
    d.receive(TRIAL, "BIG", "\n".join(lines) + "\n", "FRIDGE-1")
    vkey, size = d.vkey(), d.size
    d.close()
    with sqlite3.connect(path) as c:
        (longest,) = c.execute("SELECT max(length(entry)) FROM ledger").fetchone()
    c.close()
    assert longest > 1 << 20
    return {"path": path, "vkey": vkey, "size": size, "tmp": tmp}


def test_a_receipt_too_big_to_decode_whole_verifies_alike(big_site):
    rc, out, ok, res = both(big_site, big_site["path"])
    assert rc == 0 and ok, (out, str(res))
    assert res["rows"] >= 20000
    path = tampered(big_site, "big-row.db", "UPDATE kits SET status = 'damaged' WHERE id = 19999")
    out, res = assert_both_reject(big_site, path)
    assert "table kits, key id=19999" in out, out
    seq = entry_of(big_site["path"], "shipment.receive")
    for name, edit, where in (
            ("big-real", real_units, "table kits"),
            ("big-is-pk", lambda e: e.replace(struct_str("kit_number") + b"\x00",
                                              struct_str("kit_number") + b"\x01", 1),
             "seq %d: table kits" % seq),
            ("big-undecodable", lambda e: e + b"\x00", "seq %d: table ledger" % seq)):
        path = reseal(big_site, name + ".db", seq, edit)
        out, res = assert_both_reject(big_site, path)
        assert where in out, (name, out)
