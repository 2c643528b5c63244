"""Tests of the `ctm` command, driving the real binary.

The binary comes from $CTM_CLI (set by meson), else build/examples/cli/ctm.  Each test works in
a fresh temporary directory.  Argon2id makes every login cost a noticeable fraction of a second,
so one initialised site is made once per session and copied into each test's directory.
"""
import csv
import io
import json
import os
import re
import select
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

import backends

ROOT = Path(__file__).resolve().parents[2]
CLI = os.environ.get("CTM_CLI") or str(ROOT / "build" / "examples" / "cli" / "ctm")

ADMIN = "admin"
ADMIN_PW = "admin-pass-1234"
PHARM = "phil"
PHARM_PW = "phil-pass-1234"
ACCOUNT_CHANGE = "authorized account change"
SECRETS = (ADMIN_PW, PHARM_PW, "new-pass-5678", "wrong-pass-999")


class Site:
    """A site in a directory, and a way to run `ctm` on it as some user.

    On SQLite the site is the file site.db there, its key file site.db.key beside it (libctm's
    default).  On PostgreSQL (tests/backends.py) it is a database of its own, made at the first
    command unless given, named by db (a postgresql:// URL), and its key file is site.key in the
    directory, given to ctm as $CTM_SITE_KEY."""

    def __init__(self, directory, database=None):
        self.dir = Path(directory)
        if backends.POSTGRES:
            self.pgname = database
            self.db = backends.url(database) if database else None
            self.key = self.dir / "site.key"
        else:
            self.db = self.dir / "site.db"
            self.key = self.dir / "site.db.key"

    def env(self, db=True):
        """The environment of a ctm command on this site: none of the caller's CTM_*."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CTM_")}
        if db:
            if backends.POSTGRES and self.pgname is None:
                self.pgname = backends.create_database()
                self.db = backends.url(self.pgname)
            env["CTM_DB"] = str(self.db)
            if backends.POSTGRES:
                env["CTM_SITE_KEY"] = str(self.key)
        return env

    def run(self, *args, user=ADMIN, password=ADMIN_PW, new_password=None, expect=0, db=True):
        env = self.env(db)
        if user is not None:
            env["CTM_USER"] = user
        if password is not None:
            env["CTM_PASSWORD"] = password
        if new_password is not None:
            env["CTM_NEW_PASSWORD"] = new_password
        proc = subprocess.run([CLI, *args], env=env, cwd=self.dir, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=120)
        for secret in SECRETS:
            assert secret not in proc.stdout + proc.stderr, "a password was printed"
        if expect is not None:
            assert proc.returncode == expect, (args, proc.returncode, proc.stdout, proc.stderr)
        return proc

    def fails(self, *args, code=None, **kw):
        """Run a command that must fail with exactly one line "ctm: ..." on stderr."""
        proc = self.run(*args, expect=None, **kw)
        assert proc.returncode != 0, (args, proc.stdout)
        if code is not None:
            assert proc.returncode == code, (args, proc.returncode, proc.stderr)
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("ctm: "), proc.stderr
        return proc

    def json(self, *args, **kw):
        return json.loads(self.run(*args, "--json", **kw).stdout)

    def users(self):
        return {u["user"]: u for u in self.json("user", "list")}

    def log(self):
        return self.json("audit", "log")

    def add_pharmacist(self):
        self.run("user", "add", PHARM, "--role", "pharmacist", "--name", "Phil Pharma",
                 new_password=PHARM_PW)

    def vkey(self):
        return self.run("audit", "pubkey", user=None, password=None).stdout.strip()

    def checkpoint(self):
        return self.run("audit", "checkpoint", user=None, password=None).stdout

    def verify(self, *args, expect=0):
        return self.run("audit", "verify", *args, user=None, password=None, expect=expect)

    def sql(self, statement, params=()):
        """Change the database behind the library's back, as an intruder with file access (or
        the server's superuser, bypassing libctm's guard triggers) would.  Returns the rows.
        Placeholders are SQLite's (?, :name) on both back ends."""
        if backends.POSTGRES:
            return backends.execute(self.pgname, statement, params, intruder=True)
        con = sqlite3.connect(self.db)
        try:
            rows = con.execute(statement, params).fetchall()
            con.commit()
        finally:
            con.close()
        return rows

    def files(self):
        """The site's files (on PostgreSQL: the key file)."""
        if backends.POSTGRES:
            return [self.key] if self.key.exists() else []
        return [p for p in self.dir.iterdir() if p.name.startswith(self.db.name)]

    def copy(self, directory):
        """A copy of this site (nothing may be connected to it) in another directory."""
        for f in self.files():
            shutil.copy2(f, Path(directory) / f.name)
        if backends.POSTGRES:
            return type(self)(directory, backends.create_database(template=self.pgname))
        return type(self)(directory)

    def snapshot(self, where):
        """Copy the database at rest (WAL folded in) to directory where (on PostgreSQL: a copy
        of the database, and the key file there)."""
        where.mkdir()
        if backends.POSTGRES:
            self.snapshot_db = backends.create_database(template=self.pgname)
            shutil.copy2(self.key, where / self.key.name)
            return
        con = sqlite3.connect(self.db)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        for f in self.files():
            shutil.copy2(f, where / f.name)

    def restore(self, where):
        """Put back what snapshot(where) copied, as a restore from a backup would."""
        if backends.POSTGRES:
            backends.drop_database(self.pgname)
            backends.rename_database(self.snapshot_db, self.pgname)
            shutil.copy2(where / self.key.name, self.key)
            return
        for f in self.files():
            if f.suffix in (".db-wal", ".db-shm") or f.name.endswith(("-wal", "-shm")):
                f.unlink()
        for f in where.iterdir():
            shutil.copy2(f, self.dir / f.name)


@pytest.fixture(scope="session")
def template(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("template"))
    out = site.run("init", "--site", "Test Site Pharmacy", "--admin", ADMIN, "--name", "Ada Admin",
                   user=None).stdout
    return site, out


@pytest.fixture
def site(template, tmp_path):
    source, _ = template
    return source.copy(tmp_path)


# ---- help, usage, version (no database) ----

def test_help_lists_commands():
    proc = Site(".").run("help", db=False, user=None, password=None)
    for command in ("init", "user add", "user list", "user passwd", "audit log", "audit note",
                    "audit verify", "audit checkpoint", "audit pubkey", "audit prove", "version"):
        assert command in proc.stdout
    sub = Site(".").run("audit", "verify", "--help", db=False, user=None, password=None)
    assert sub.stdout.startswith("usage: ctm audit verify")
    assert "--checkpoint" in Site(".").run("help", "audit", "verify", db=False).stdout


def test_version():
    out = Site(".").run("version", db=False).stdout
    assert re.match(r"ctm \d+\.\d+\.\d+ \(libctm \d+\.\d+\.\d+\)$", out.strip())


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["user"],
    ["user", "frobnicate"],
    ["user", "add"],
    ["user", "add", "bob"],
    ["user", "add", "bob", "--role"],
    ["user", "add", "bob", "--role", "pharmacist", "--bogus"],
    ["user", "list", "--json", "--csv"],
    ["user", "disable", "bob"],
    ["user", "role", "bob", "--role", "monitor", "--reason", "x", "--blinded", "--unblinded"],
    ["audit", "log", "--limit", "ten"],
    ["audit", "prove", "x"],
    ["audit", "note", "one", "two"],
    ["audit", "verify", "--key", "k", "--key-file", "f"],
    ["--nonsense", "help"],
])
def test_usage_errors_exit_2(tmp_path, args):
    Site(tmp_path).fails(*args, code=2)


def test_missing_database_is_a_usage_error(tmp_path):
    Site(tmp_path).fails("user", "list", db=False, code=2)


# ---- init ----

def test_init_prints_verifier_key_and_key_file(template):
    site, out = template
    assert site.vkey() in out
    assert str(site.key) in out
    assert site.key.exists()
    assert "outside" in out


def test_init_twice_fails(site):
    site.fails("init", "--site", "Again", "--admin", "root", user=None)


def test_init_without_password_fails_clearly(tmp_path):
    proc = Site(tmp_path).fails("init", "--site", "S", "--admin", ADMIN, user=None, password=None)
    assert "CTM_NEW_PASSWORD" in proc.stderr


# ---- passwords typed on a terminal ----

def run_on_terminal(site, args, answers, user=ADMIN):
    """Run ctm with stdin and stderr on a pseudo-terminal, answering each prompt in turn.
    Returns (exit status, stdout, everything the terminal showed)."""
    env = site.env()
    env.update(CTM_USER=user)
    master, slave = os.openpty()
    proc = subprocess.Popen([CLI, *args], env=env, cwd=site.dir, stdin=slave, stderr=slave,
                            stdout=subprocess.PIPE, text=True)
    os.close(slave)
    shown = b""
    pending = list(answers)
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        assert ready, "ctm did not prompt: " + shown.decode(errors="replace")
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        shown += chunk
        if pending and shown.rstrip().endswith(b":"):
            os.write(master, pending.pop(0).encode() + b"\n")
            shown += b"<answered>"
    out = proc.stdout.read()
    status = proc.wait(timeout=60)
    os.close(master)
    return status, out, shown.decode(errors="replace")


def test_password_prompt_does_not_echo(site):
    status, out, shown = run_on_terminal(site, ["user", "list"], [ADMIN_PW])
    assert status == 0, shown
    assert "Password for admin:" in shown and ADMIN_PW not in shown
    assert ADMIN in out


def test_new_password_asked_twice_must_match(site):
    status, _, shown = run_on_terminal(site, ["user", "passwd"],
                                       [ADMIN_PW, "new-pass-5678", "new-pass-5679"])
    assert status == 1 and "do not match" in shown
    assert "new-pass-567" not in shown
    site.run("user", "list")  # the old password still works


# ---- users ----

def test_user_add_and_list_json(site):
    site.add_pharmacist()
    users = site.users()
    assert set(users) == {ADMIN, PHARM}
    phil = users[PHARM]
    assert phil["role"] == "pharmacist" and phil["printed_name"] == "Phil Pharma"
    assert phil["unblinded"] == 0 and phil["disabled"] == 0
    assert isinstance(phil["failed_logins"], int)
    assert users[ADMIN]["role"] == "admin"


def test_user_list_csv_and_table(site):
    site.add_pharmacist()
    rows = list(csv.DictReader(io.StringIO(site.run("user", "list", "--csv").stdout, newline="")))
    assert {r["user"] for r in rows} == {ADMIN, PHARM}
    assert next(r for r in rows if r["user"] == PHARM)["role"] == "pharmacist"
    table = site.run("user", "list").stdout.splitlines()
    assert table[0].split()[:3] == ["user", "printed_name", "role"]
    assert set(table[1]) <= {"-", " "}
    assert len(table) == 4
    phil_row = next(line for line in table if line.startswith(PHARM + " "))
    assert phil_row.index("pharmacist") == table[0].index("role")


def test_wrong_password_fails_with_one_line(site):
    proc = site.fails("user", "list", password="wrong-pass-999")
    assert proc.stdout == ""
    assert "auth.failed" in [e["action"] for e in site.log()]


def test_no_password_and_no_terminal_fails_clearly(site):
    proc = site.fails("user", "list", password=None)
    assert "CTM_PASSWORD" in proc.stderr


def test_disabled_user_cannot_act(site):
    site.add_pharmacist()
    site.run("user", "disable", PHARM, "--reason", "left the trial")
    site.fails("audit", "note", "hello", user=PHARM, password=PHARM_PW)
    assert site.users()[PHARM]["disabled"] == 1
    site.run("user", "enable", PHARM, "--reason", "came back")
    site.run("audit", "note", "hello", user=PHARM, password=PHARM_PW)


def test_non_admin_cannot_add_users(site):
    site.add_pharmacist()
    site.fails("user", "add", "eve", "--role", "admin", user=PHARM, password=PHARM_PW,
               new_password="new-pass-5678")
    assert "eve" not in site.users()


def test_user_role_keeps_blinding_unless_told(site):
    site.run("user", "add", "ivy", "--role", "investigator", "--unblinded",
             new_password="new-pass-5678")
    site.run("user", "role", "ivy", "--role", "monitor", "--reason", "changed job")
    assert site.users()["ivy"]["role"] == "monitor"
    assert site.users()["ivy"]["unblinded"] == 1
    site.run("user", "role", "ivy", "--role", "monitor", "--blinded", "--reason", "blinded")
    assert site.users()["ivy"]["unblinded"] == 0


def test_user_passwd_own_and_reset(site):
    site.add_pharmacist()
    site.run("user", "passwd", user=PHARM, password=PHARM_PW, new_password="new-pass-5678")
    site.fails("user", "list", user=PHARM, password=PHARM_PW)
    site.run("user", "passwd", PHARM, new_password=PHARM_PW)  # the admin resets it
    # the reset password only lets phil choose his own (see test_accounts_cli.py)
    site.run("user", "passwd", user=PHARM, password=PHARM_PW, new_password="new-pass-5678")
    site.run("audit", "note", "back in", "--sign", "confirmed", user=PHARM,
             password="new-pass-5678")
    site.verify()


# ---- the audit trail ----

def test_audit_log_json_in_order_with_esignature(site):
    site.add_pharmacist()
    site.run("user", "disable", PHARM, "--reason", "on leave")
    log = site.log()
    actions = [e["action"] for e in log]
    assert actions[0] == "site.init"
    assert actions.index("user.add") < actions.index("user.disable")
    seqs = [e["seq"] for e in log]
    assert seqs == sorted(seqs) and all(isinstance(s, int) for s in seqs)
    add = next(e for e in log if e["action"] == "user.add")
    assert add["esig_meaning"] == ACCOUNT_CHANGE
    assert add["esig_user"] == ADMIN and add["esig_name"] == "Ada Admin"
    assert json.loads(add["params"]) is not None
    assert isinstance(json.loads(add["changes"]), list)
    assert next(e for e in log if e["action"] == "user.disable")["reason"] == "on leave"


def test_audit_log_human_view(site):
    site.add_pharmacist()
    out = site.run("audit", "log").stdout
    blocks = out.strip().split("\n\n")
    assert len(blocks) == len(site.log())
    assert blocks[0].startswith("seq ")
    assert "site.init" in blocks[0]
    assert re.search(r"^  signed by Ada Admin \(admin\) at \d{4}-\d\d-\d\dT[\d:.]+Z: "
                     + ACCOUNT_CHANGE + "$", out, re.M)


def test_audit_log_window(site):
    for i in range(4):
        site.run("audit", "note", f"note {i}")
    log = site.log()
    second = log[1]["seq"]
    window = site.json("audit", "log", "--from", str(second), "--limit", "2")
    assert [e["seq"] for e in window] == [second, log[2]["seq"]]


def test_audit_note_signed_and_exact_in_json_and_csv(site):
    text = 'Monitor visit, "all fine"\nsecond line, caf\u00e9 \u2713'
    site.run("audit", "note", text, "--sign", "reviewed and approved")
    note = site.log()[-1]
    assert note["action"] == "audit.note"
    assert note["esig_meaning"] == "reviewed and approved" and note["esig_user"] == ADMIN
    assert text in json.loads(note["params"]).values()
    rows = list(csv.DictReader(io.StringIO(site.run("audit", "log", "--csv").stdout, newline="")))
    assert rows[-1]["params"] == note["params"]
    assert rows[-1]["esig_meaning"] == "reviewed and approved"
    human = site.run("audit", "log").stdout
    assert not any(line.startswith("second line") for line in human.splitlines())


# ---- verification ----

def test_verify_ok_warns_without_external_key(site):
    site.add_pharmacist()
    proc = site.verify()
    assert re.match(r"OK: \d+ entries, \d+ checkpoints, \d+ e-signatures, \d+ rows; root [0-9a-f]{64}$",
                    proc.stdout.strip())
    assert "warning" in proc.stderr and "key" in proc.stderr
    proc = site.verify("--key", site.vkey())
    assert proc.stderr == ""


def test_checkpoint_and_pubkey_are_usable(site):
    vkey = site.vkey()
    assert re.match(r"^[A-Za-z0-9._/:-]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$", vkey)
    held = site.checkpoint()
    assert held.endswith("\n") and "\n\n\u2014 " in held
    (site.dir / "held.txt").write_text(held)
    (site.dir / "vkey.txt").write_text(vkey + "\n")
    site.add_pharmacist()
    site.run("audit", "note", "later")
    assert site.checkpoint() != held
    site.verify("--checkpoint", "held.txt", "--key", vkey)
    site.verify("--checkpoint", "held.txt", "--key-file", "vkey.txt")


def test_verify_with_wrong_key_fails(site, tmp_path_factory):
    other = Site(tmp_path_factory.mktemp("other"))
    other.run("init", "--site", "Other Site", "--admin", ADMIN, user=None)
    site.fails("audit", "verify", "--key", other.vkey(), user=None, password=None, code=1)


def test_prove(site):
    site.run("audit", "note", "something")
    seq = site.log()[0]["seq"]
    out = site.run("audit", "prove", str(seq), user=None, password=None).stdout
    assert out.startswith(f"seq {seq}\n")
    assert re.search(r"^root [0-9a-f]{64}$", out, re.M)
    site.fails("audit", "prove", "999999", user=None, password=None)


def test_verification_commands_need_no_login(site):
    for args in (["audit", "pubkey"], ["audit", "checkpoint"], ["audit", "verify"]):
        site.run(*args, user=None, password=None)


# ---- tampering is caught ----

def failed_verify(site, *args):
    proc = site.fails("audit", "verify", "--key", site.vkey(), *args, user=None, password=None,
                      code=1)
    return proc.stderr


def test_tamper_users_table(site):
    site.add_pharmacist()
    site.sql("UPDATE users SET role = 'admin' WHERE username = ?", (PHARM,))
    err = failed_verify(site)
    assert "users" in err


def test_tamper_delete_last_entry(site):
    site.add_pharmacist()
    site.run("audit", "note", "last words")
    site.sql("DELETE FROM ledger WHERE seq = (SELECT max(seq) FROM ledger)")
    err = failed_verify(site)
    assert re.search(r"seq|ledger|checkpoint|size", err)


def test_tamper_swap_entries(site):
    site.add_pharmacist()
    site.run("audit", "note", "one")
    site.run("audit", "note", "two")
    top = site.log()[-1]["seq"]
    site.sql("UPDATE ledger SET entry = CASE seq WHEN :a THEN (SELECT entry FROM ledger WHERE seq = :b)"
             " ELSE (SELECT entry FROM ledger WHERE seq = :a) END WHERE seq IN (:a, :b)",
             {"a": top - 1, "b": top})
    err = failed_verify(site)
    assert re.search(r"seq", err)


def test_tamper_remove_an_older_checkpoint(site):
    """Each checkpoint names the one before it: a signed checkpoint set to NULL is seen at the
    next one."""
    site.add_pharmacist()
    site.run("audit", "note", "one")
    site.run("audit", "note", "two")
    top = site.log()[-1]["seq"]
    site.sql("UPDATE ledger SET checkpoint = NULL WHERE seq = ?", (top - 1,))
    err = failed_verify(site)
    assert "seq %d: table ledger:" % top in err and "a checkpoint was removed" in err, err


def test_tamper_restore_older_copy_while_monitor_holds_newer_checkpoint(site):
    site.add_pharmacist()
    site.snapshot(site.dir / "older")
    site.run("user", "role", PHARM, "--role", "technician", "--reason", "demoted")
    (site.dir / "held.txt").write_text(site.checkpoint())
    site.restore(site.dir / "older")
    # The old copy is self-consistent; only the held checkpoint shows it was rolled back.
    site.verify("--key", site.vkey())
    err = failed_verify(site, "--checkpoint", "held.txt")
    assert re.search(r"seq|size|checkpoint", err)


# ---- scan (GS1 barcodes; no database) ----

REAL_PACK = "]d20105909990329717211039520876635\x1d1727043010NE76571"
REAL_PACK_JSON = ('{"ai":{"01":"05909990329717","21":"1039520876635","17":"270430","10":"NE76571"},'
                  '"gtin":"05909990329717","lot":"NE76571","serial":"1039520876635",'
                  '"expiry":"2027-04-30"}\n')


def scan(*args, **kw):
    return Site(".").run("scan", *args, db=False, user=None, password=None, **kw)


@pytest.mark.parametrize("typed", [REAL_PACK, REAL_PACK.replace("\x1d", "<GS>"),
                                   REAL_PACK.replace("\x1d", "\\x1d")])
def test_scan_json_is_exact(typed):
    assert scan(typed, "--json").stdout == REAL_PACK_JSON


def test_scan_human_view_names_each_ai():
    out = scan("(01)05909990329717(10)NE76571(17)270400").stdout
    assert re.search(r"^\(01\)\s+GTIN\s+05909990329717$", out, re.M)
    assert re.search(r"^\(10\)\s+batch/lot\s+NE76571$", out, re.M)
    assert re.search(r"^\(17\)\s+expiry\s+270400$", out, re.M)
    assert "2027-04-30" in out


@pytest.mark.parametrize("barcode,reason", [
    ("]d20105909990329718211039520876635<GS>1727043010NE76571", "GS1 (01): bad check digit"),
    ("(01)05909990329717(17)271301", "GS1 (17): month 13 in 271301"),
    ("(01)05909990329717(10)ABCDEFGHIJKLMNOPQRSTU", "GS1 (10): too long"),
    ("(21)123", "GS1 (21)"),
    ("]E00590999032971", "not a GS1 symbology"),
])
def test_scan_rejects_with_the_reason(barcode, reason):
    proc = Site(".").fails("scan", barcode, db=False, user=None, password=None, code=1)
    assert proc.stdout == ""
    assert reason in proc.stderr


def test_scan_needs_a_string():
    Site(".").fails("scan", db=False, user=None, password=None, code=2)
    assert "<GS>" in scan("--help").stdout
