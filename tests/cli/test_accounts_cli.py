"""Accounts and signatures through `ctm`, driving the real binary: empty passwords, disabled
accounts, password resets, the prompt that says what a password signs, and forged checkpoints.
The helpers and the binary come from test_cli.py."""
import base64
import hashlib
import json
import re

import pytest

import test_cli as base
from test_cli import ACCOUNT_CHANGE, ADMIN, ADMIN_PW, PHARM, PHARM_PW, site, template  # noqa: F401

RESET_PW = "new-pass-5678"   # one of test_cli.SECRETS: never printed
OWN_PW = "wrong-pass-999"    # likewise; here it is phil's own choice after the reset


def failed_logins(site, user):
    return site.users()[user]["failed_logins"]


# ---- empty passwords ----

def test_empty_ctm_password_is_a_usage_error(site):
    site.add_pharmacist()
    size = len(site.log())
    proc = site.fails("user", "list", user=PHARM, password="", code=2)
    assert "$CTM_PASSWORD is set but empty" in proc.stderr
    assert len(site.log()) == size and failed_logins(site, PHARM) == 0


def test_empty_ctm_new_password_is_a_usage_error(site):
    size = len(site.log())
    proc = site.fails("user", "add", "dora", "--role", "technician", new_password="", code=2)
    assert "$CTM_NEW_PASSWORD is set but empty" in proc.stderr
    assert len(site.log()) == size and "dora" not in site.users()


def test_empty_password_typed_is_not_a_failed_login(site):
    size = len(site.log())
    status, _, shown = base.run_on_terminal(site, ["user", "list"], [""])
    assert status == 1 and "password: empty" in shown, shown
    assert len(site.log()) == size and failed_logins(site, ADMIN) == 0


# ---- disabled accounts ----

def test_disabled_account_answers_the_same_for_any_password(site):
    site.add_pharmacist()
    site.run("user", "disable", PHARM, "--reason", "on leave")
    size = len(site.log())
    right = site.fails("user", "list", user=PHARM, password=PHARM_PW, code=1).stderr
    wrong = site.fails("user", "list", user=PHARM, password="wrong-pass-999", code=1).stderr
    assert right == wrong and "disabled" in right
    assert len(site.log()) == size and failed_logins(site, PHARM) == 0


# ---- password resets ----

def test_reset_password_allows_only_choosing_ones_own(site):
    site.add_pharmacist()
    before = site.users()[PHARM]["public_key"]
    site.run("user", "passwd", PHARM, new_password=RESET_PW)
    reset = site.log()[-1]
    assert reset["action"] == "user.reset" and reset["esig_user"] == ADMIN
    assert reset["esig_meaning"] == ACCOUNT_CHANGE
    assert site.users()[PHARM]["must_change"] == 1
    size = len(site.log())
    for args in (["user", "list"], ["audit", "note", "x", "--sign", "reviewed"], ["audit", "log"]):
        err = site.fails(*args, user=PHARM, password=RESET_PW, code=1).stderr
        assert "reset the password of phil" in err and "ctm --user phil user passwd" in err, err
    site.fails("user", "passwd", user=PHARM, password=RESET_PW, new_password=RESET_PW)
    assert len(site.log()) == size
    site.run("user", "passwd", user=PHARM, password=RESET_PW, new_password=OWN_PW)
    own = site.log()[-1]
    assert own["action"] == "user.passwd" and own["esig_user"] == PHARM
    assert own["esig_meaning"] == "password changed"
    assert json.loads(own["params"])["new_signing_key"] == "yes"
    users = site.users()
    assert users[PHARM]["must_change"] == 0 and users[PHARM]["public_key"] != before
    site.fails("user", "list", user=PHARM, password=RESET_PW)
    site.run("audit", "note", "back in", "--sign", "reviewed", user=PHARM, password=OWN_PW)
    site.verify("--key", site.vkey())


# ---- the prompt says what the password signs ----

@pytest.mark.parametrize("args, meaning", [
    (["receive", "confirm", "SH-404"], "receipt confirmed"),
    (["receive", "bulk", "T-404", "--shipment", "B1", "--kittype", "K", "--lot", "L1",
      "--expiry", "2030-01-31", "--units", "10", "--location", "F"], "receipt confirmed"),
    (["expiry", "extend", "T-404", "--to", "2030-01-31", "--reference", "R1", "--lot", "L1"],
     "expiry extended"),
    (["user", "disable", "nobody", "--reason", "left"], ACCOUNT_CHANGE),
    (["user", "passwd", "nobody"], ACCOUNT_CHANGE),
    (["audit", "note", "count done", "--sign", "reviewed and approved"], "reviewed and approved"),
])
def test_signing_prompt_names_the_meaning(site, args, meaning):
    status, _, shown = base.run_on_terminal(site, args, [ADMIN_PW, RESET_PW, RESET_PW])
    assert f"Signing: {meaning}. Password for admin:" in shown, shown
    assert ADMIN_PW not in shown
    # without a terminal and without $CTM_PASSWORD, the refusal names it too
    proc = site.fails(*args, password=None, code=1)
    assert f'no password to sign "{meaning}"' in proc.stderr


def test_init_prompt_names_the_first_signature(tmp_path):
    fresh = base.Site(tmp_path)
    status, _, shown = base.run_on_terminal(
        fresh, ["init", "--site", "Prompt Pharmacy", "--admin", ADMIN], [ADMIN_PW, ADMIN_PW])
    assert status == 0, shown
    assert "Signing: site initialised. New password for %s:" % ADMIN in shown, shown
    assert ADMIN_PW not in shown


def test_own_password_change_prompt_and_plain_prompt(site):
    _, _, shown = base.run_on_terminal(site, ["user", "passwd"], [ADMIN_PW, RESET_PW, RESET_PW])
    assert "Signing: password changed. Password for admin:" in shown, shown
    _, _, shown = base.run_on_terminal(site, ["user", "list"], [RESET_PW])
    assert "Password for admin:" in shown and "Signing" not in shown, shown
    _, _, shown = base.run_on_terminal(site, ["audit", "note", "unsigned note"], [RESET_PW])
    assert "Password for admin:" in shown and "Signing" not in shown, shown


# ---- a checkpoint signed by another key under the site's name ----

def note_key_id(name, public_key):
    """C2SP signed note: the first 4 bytes of SHA-256(name || "\\n" || 0x01 || key)."""
    return hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]


@pytest.mark.parametrize("key_id", ["genuine", "forger's"])
def test_checkpoint_signed_by_another_key_fails_verify(site, key_id):
    ed25519 = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    site.add_pharmacist()
    vkey = site.vkey()
    name, genuine_id, _ = vkey.split("+", 2)
    forger = ed25519.Ed25519PrivateKey.generate()
    raw = forger.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    [(seq, note)] = site.sql("SELECT seq, checkpoint FROM ledger WHERE checkpoint IS NOT NULL"
                             " ORDER BY seq DESC LIMIT 1")
    body = note[:note.index("\n\n") + 1]
    assert body.startswith(name + "\n")
    kid = bytes.fromhex(genuine_id) if key_id == "genuine" else note_key_id(name, raw)
    signature = base64.b64encode(kid + forger.sign(body.encode())).decode()
    forged = body + "\n\u2014 " + name + " " + signature + "\n"
    site.sql("UPDATE ledger SET checkpoint = ? WHERE seq = ?", (forged, seq))
    for args in (["--key", vkey], []):
        err = site.fails("audit", "verify", *args, user=None, password=None, code=1).stderr
        assert re.search(rf"seq {seq}\b", err) and "checkpoint" in err, err
