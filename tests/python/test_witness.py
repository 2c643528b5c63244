"""Witnessing through the ctm Python bindings: a monitor's witness key, its cosignatures of the
site's checkpoints (each extending the last), verify's largest witnessed size, a rewound site
refused; and the independent verifier (examples/python/verify_ledger.py) checking the same
cosignatures with nothing but the witness's verifier key.
"""
import importlib.util
import os
import pathlib
import shutil
import sqlite3
import stat
import subprocess
import sys

import pytest

import backends
import conftest
import ctm
from conftest import ADMIN, ADMIN_PW, SITE, ctm_init, ctm_open, new_site_path

MONITOR, MONITOR_PW = "mona", "mona-password-1"
WITNESS = "monitor.example.org/mona"
SCRIPT = pathlib.Path(__file__).resolve().parent.parent.parent / "examples" / "python" / \
    "verify_ledger.py"


@pytest.fixture
def site(tmp_path):
    path = new_site_path(tmp_path)
    with ctm_init(path, SITE, ADMIN, ADMIN_PW) as db:
        db.user_add(MONITOR, "monitor", MONITOR_PW, printed_name="Mona Monitor")
        db.user_add("paula", "pharmacist", "paula-password-1")
    key = tmp_path / "mona.key"
    vkey = ctm.witness_key_create(key, WITNESS)
    return {"path": path, "key": key, "vkey": vkey, "tmp": tmp_path}


def test_witness_keys(site):
    assert ctm.witness_key_vkey(site["key"]) == site["vkey"]
    assert site["vkey"].startswith(WITNESS + "+")
    assert stat.S_IMODE(os.stat(site["key"]).st_mode) == 0o600
    with pytest.raises(ctm.ExistsError):
        ctm.witness_key_create(site["key"], "other")
    with pytest.raises(ctm.InvalidError, match="witness name: 'a b' is not a key name"):
        ctm.witness_key_create(site["tmp"] / "x.key", "a b")
    with pytest.raises(ctm.FileError):
        ctm.witness_key_vkey(site["tmp"] / "missing.key")


def test_the_monitor_witnesses_and_verify_counts_it(site):
    with ctm_open(site["path"], MONITOR, MONITOR_PW) as db:
        n = db.size
        checkpoint = db.checkpoint()
        note = db.witness(site["key"])
        assert note.startswith(checkpoint)
        assert note[len(checkpoint):].startswith("\u2014 " + WITNESS + " ")
        assert db.size == n + 1
        result = db.verify(vkey=db.vkey(), checkpoint=note)
        assert (result["cosignatures"], result["witnessed_size"], result["witness"]) == (
            1, n, WITNESS)
        db.note("monitoring visit")
        second = db.witness(site["key"], previous=note, site_vkey=db.vkey())
        result = db.verify()
        assert (result["cosignatures"], result["witnessed_size"]) == (2, n + 2)
        assert second.split("\n")[1] == str(n + 2)


def test_only_a_monitor_witnesses(site):
    with ctm_open(site["path"], "paula", "paula-password-1") as db:
        with pytest.raises(ctm.PermissionDenied):
            db.witness(site["key"])
        assert db.verify()["cosignatures"] == 0


def copy_site(path, directory):
    """A copy of the closed site at path (a backup), on either back end."""
    if backends.POSTGRES:
        url = backends.url(backends.create_database(template=backends.dbname(path)))
        conftest._key_paths[url] = conftest.key_path(path)
        return url
    copy = str(pathlib.Path(directory) / "backup.db")
    with sqlite3.connect(path) as a, sqlite3.connect(copy) as b:
        a.backup(b)
    a.close()
    b.close()
    shutil.copy(path + ".key", copy + ".key")
    return copy


def test_a_rewound_site_is_refused(site, tmp_path):
    backup = copy_site(site["path"], tmp_path)
    with ctm_open(site["path"], MONITOR, MONITOR_PW) as db:
        db.note("after the backup")
        note = db.witness(site["key"])
        n = db.size - 1
    with ctm_open(backup, MONITOR, MONITOR_PW) as db:
        with pytest.raises(ctm.IntegrityError, match="newest checkpoint has size %d, but size %d "
                           "was witnessed before" % (n - 1, n)):
            db.witness(site["key"], previous=note)
        db.note("another history")
        with pytest.raises(ctm.IntegrityError, match="the ledger at size %d differs" % n):
            db.witness(site["key"], previous=note)
        assert db.verify()["cosignatures"] == 0
    (tmp_path / "other").mkdir()
    other = new_site_path(tmp_path / "other")
    with ctm_init(other, "Another Site", ADMIN, ADMIN_PW) as db:
        db.user_add(MONITOR, "monitor", MONITOR_PW)
    with ctm_open(other, MONITOR, MONITOR_PW) as db:
        with pytest.raises(ctm.InvalidError, match="previous checkpoint"):
            db.witness(site["key"], previous=note)


def load_script():
    spec = importlib.util.spec_from_file_location("verify_ledger", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@backends.sqlite_only
def test_the_independent_verifier_checks_the_cosignatures(site, tmp_path):
    pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
    path = site["path"]
    with ctm_open(path, MONITOR, MONITOR_PW) as db:
        vkey = db.vkey()
        db.note("before")
    backup = tmp_path / "backup.db"
    shutil.copy(path, backup)
    with ctm_open(path, MONITOR, MONITOR_PW) as db:
        db.note("after the backup")
        k = db.size
        note = db.witness(site["key"])
    # the witness's signature, checked with its verifier key alone
    script = load_script()
    name, pub = script.parse_vkey(site["vkey"])
    assert script.note_text(note, name, pub) == note[:note.index("\n\n") + 1]
    out = subprocess.run([sys.executable, str(SCRIPT), path, "--key", vkey],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout
    assert out.stdout.splitlines()[1] == "Witnessed up to size %d by %s (1 cosignature counted)" % (
        k, WITNESS)
    # the backup in place of the site, its cosignatures kept: both verifiers name the size
    with sqlite3.connect(path) as a, sqlite3.connect(backup) as b:
        for row in a.execute("SELECT * FROM cosignatures"):
            b.execute("INSERT INTO cosignatures VALUES (?, ?, ?, ?, ?, ?, ?)", row)
    a.close()
    b.close()
    out = subprocess.run([sys.executable, str(SCRIPT), str(backup), "--key", vkey],
                         capture_output=True, text=True, timeout=120)
    want = ("seq %d: witness %s cosigned the checkpoint of size %d, but the ledger has %d entries"
            % (k - 1, WITNESS, k, k - 1))
    assert out.returncode == 1 and want in out.stdout, out.stdout
    with ctm.open(str(backup)) as db:
        with pytest.raises(ctm.IntegrityError, match=want) as e:
            db.verify(vkey=vkey)
        assert e.value.result["failed_seq"] == k - 1
