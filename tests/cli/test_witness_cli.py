"""Tests of witnessing with `ctm`, driving the real binary: a monitor makes a witness key
(`audit witness-key`), witnesses the site at each visit (`audit witness`), which keeps the
cosigned checkpoint in its state directory and stores the cosignature at the site; `audit verify`
reports the largest witnessed size; a site put back to an older copy is refused by the next
witnessing and fails verification naming the witnessed size.
"""
import json
import stat

import pytest

from test_cli import ADMIN, Site

MONITOR, MONITOR_PW = "mona", "mona-pass-1234"
WITNESS = "monitor.example.org/mona"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("witness-template"))
    site.run("init", "--site", "Demo", "--admin", ADMIN, "--name", "Ada Admin", user=None)
    site.run("user", "add", MONITOR, "--role", "monitor", "--name", "Mona Monitor",
             new_password=MONITOR_PW)
    return site


@pytest.fixture
def site(template, tmp_path):
    return template.copy(tmp_path)


def witness_key(site, name=WITNESS, out="mona.key", expect=0):
    return site.run("audit", "witness-key", "--name", name, "--out", str(site.dir / out),
                    user=None, password=None, db=False, expect=expect)


def witness(site, *extra, expect=0, state=None):
    state = state or site.dir / "witnessed"
    return site.run("audit", "witness", "--key-file", str(site.dir / "mona.key"),
                    "--state", str(state), *extra, user=MONITOR, password=MONITOR_PW,
                    expect=expect)


def size(site):
    return int(site.checkpoint().split("\n")[1])


def test_a_witness_key_is_made_once_and_its_verifier_key_printed(site):
    out = witness_key(site)
    vkey = out.stdout.strip()
    assert out.stdout == vkey + "\n"
    assert vkey.startswith(WITNESS + "+") and len(vkey) == len(WITNESS) + 1 + 8 + 1 + 44
    key = site.dir / "mona.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("libctm-witness-key-v1 " + WITNESS + " ")
    before = key.read_bytes()
    again = site.fails("audit", "witness-key", "--name", "other", "--out", str(key), user=None,
                       password=None, db=False, code=1)
    assert "refusing to overwrite a key" in again.stderr
    assert key.read_bytes() == before
    bad = site.fails("audit", "witness-key", "--name", "two words", "--out",
                     str(site.dir / "x.key"), user=None, password=None, db=False, code=1)
    assert "witness name: 'two words' is not a key name" in bad.stderr
    assert not (site.dir / "x.key").exists()


def test_the_monitor_witnesses_each_visit_and_verify_reports_it(site):
    vkey = witness_key(site).stdout.strip()
    state = site.dir / "witnessed"
    n = size(site)
    site_vkey = site.vkey()
    out = witness(site, "--site-vkey", site_vkey)
    path = state / "libctm%2Fdemo.checkpoint"
    assert out.stdout == ("Witnessed libctm/demo at size %d (the first witnessed here); "
                          "cosignature stored; kept in %s\n" % (n, path))
    assert out.stderr == ""
    note = path.read_text()
    lines = note.split("\n")
    assert lines[:2] == ["libctm/demo", str(n)]
    assert lines[-3].startswith("\u2014 libctm/demo ")
    assert lines[-2].startswith("\u2014 " + WITNESS + " ") and lines[-1] == ""
    # the kept note is a checkpoint held outside like any other
    ok = site.verify("--key", site_vkey, "--checkpoint", str(path))
    assert ok.stdout.splitlines()[1] == "Witnessed up to size %d by %s (1 cosignature counted)" % (
        n, WITNESS)
    entry = site.log()[-1]
    assert (entry["user"], entry["action"]) == (MONITOR, "audit.cosign")
    assert json.loads(entry["params"]) == {"witness": WITNESS, "size": str(n)}
    assert site.sql("SELECT size, witness, vkey, note, stored_by FROM cosignatures") == [
        (n, WITNESS, vkey, note, MONITOR)]

    site.run("audit", "note", "pharmacy visit")
    out = witness(site)
    assert out.stdout.startswith("Witnessed libctm/demo at size %d (it extends size %d, "
                                 "witnessed before)" % (n + 2, n))
    assert out.stderr == ("ctm: warning: no --site-vkey was given, so the site key stored in the "
                          "database was trusted\n")
    assert path.read_text().split("\n")[1] == str(n + 2)
    ok = site.verify("--key", site_vkey)
    assert ok.stdout.splitlines()[1] == ("Witnessed up to size %d by %s (2 cosignatures counted)"
                                         % (n + 2, WITNESS))


def test_only_a_monitor_witnesses(site):
    witness_key(site)
    out = site.fails("audit", "witness", "--key-file", str(site.dir / "mona.key"),
                     "--state", str(site.dir / "w"), code=1)
    assert out.stderr == "ctm: audit witness: not allowed for the role 'admin' of user 'admin'\n"
    assert site.sql("SELECT count(*) FROM cosignatures") == [(0,)]
    assert not (site.dir / "w").exists() or not list((site.dir / "w").iterdir())


def test_a_site_put_back_to_an_older_copy_is_refused_and_fails_verification(site, tmp_path):
    witness_key(site)
    (tmp_path / "backup").mkdir()
    old = site.copy(tmp_path / "backup")
    k = size(site)
    site.run("audit", "note", "after the backup")
    witness(site)
    path = site.dir / "witnessed" / "libctm%2Fdemo.checkpoint"
    kept = path.read_bytes()
    # the next visit finds the older copy in place of the site
    out = old.fails("audit", "witness", "--key-file", str(site.dir / "mona.key"),
                    "--state", str(site.dir / "witnessed"), user=MONITOR,
                    password=MONITOR_PW, code=1)
    assert out.stderr == ("ctm: audit witness: the site's newest checkpoint has size %d, but "
                          "size %d was witnessed before: the ledger was rolled back or "
                          "truncated\n" % (k, k + 1))
    assert path.read_bytes() == kept
    assert old.sql("SELECT count(*) FROM cosignatures") == [(0,)]
    # with the site's cosignatures kept, verification names the witnessed size
    for row in site.sql("SELECT id, size, witness, vkey, note, stored_us, stored_by"
                        " FROM cosignatures"):
        old.sql("INSERT INTO cosignatures VALUES (?, ?, ?, ?, ?, ?, ?)", row)
    bad = old.verify("--key", site.vkey(), expect=1)
    assert bad.stderr == ("ctm: verify: seq %d: witness %s cosigned the checkpoint of size %d, "
                          "but the ledger has %d entries: it was rolled back or truncated\n"
                          % (k, WITNESS, k + 1, k))
