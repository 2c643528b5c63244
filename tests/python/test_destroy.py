"""Destruction and return to the sponsor through the ctm Python bindings: kits pending destruction
are destroyed under a witness who signs with their own password (refusals raise the library's
errors and change nothing), listings read into pandas, a shipback is packed, its manifest read as
CSV and rows, and dispatched; the ledger verifies, with libctm and with the independent verifier.
"""
import datetime
import os
import subprocess
import sys

import pytest

import backends
import ctm
from conftest import ADMIN, ADMIN_PW, SITE, ctm_init, ctm_open, new_site_path

PW = "destroy-password-1"
TRIAL = "CT-DES"
ARMS = ("QZACTIVE", "QZPLACEBO")
EXPIRY = datetime.date(2030, 1, 31)
VERIFIER = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python",
                        "verify_ledger.py")


@pytest.fixture
def site(tmp_path):
    """A1..A3, B1..B3 received; A1, A2 damaged then pending destruction, B1 expired."""
    path = new_site_path(tmp_path)
    with ctm_init(path, SITE, ADMIN, ADMIN_PW) as admin:
        admin.user_add("paula", "pharmacist", PW, unblinded=True, printed_name="Paula Pharm")
        admin.user_add("mona", "monitor", PW, printed_name="Mona Monitor")
        admin.user_add("ivan", "investigator", PW)
    with ctm_open(path, "paula", PW) as db:
        db.trial_add(TRIAL, "Destruction", "Sponsor AB", {ARMS[0]: 1, ARMS[1]: 1}, blinded=True)
        db.kittype_add(TRIAL, "KT", "Drug or placebo", 30, (2, 8))
        db.location_add("FRIDGE-1", (2, 8), kind="fridge")
        rows = "".join("A%d,KT,L1,2030-01-31,%s\nB%d,KT,L1,2030-01-31,%s\n" % (i, ARMS[0], i,
                                                                              ARMS[1])
                       for i in range(1, 4))
        db.receive(TRIAL, "SH-1", "kit_number,kit_type,lot,expiry,arm\n" + rows, "FRIDGE-1")
        db.confirm("SH-1", unchecked_present=True)
        for kit in ("A1", "A2"):
            db.kit_set_status(TRIAL, kit, "damaged", "crushed")
            db.kit_set_status(TRIAL, kit, "pending_destruction", "to destroy")
        db.kit_set_status(TRIAL, "B1", "expired", "past its date")
    return path


def status(db, kit):
    return db.kit_show(kit, TRIAL)["status"]


def test_destroy_under_a_witness(site):
    with ctm_open(site, "paula", PW) as db:
        size = db.size
        with pytest.raises(ctm.RuleError, match="witness 'paula' is the user acting"):
            db.destroy(TRIAL, ["A1"], "incineration", "DC-7", "paula", PW)
        with pytest.raises(ctm.AuthError, match="wrong password for witness 'mona'"):
            db.destroy(TRIAL, ["A1"], "incineration", "DC-7", "mona", "wrong-password-1")
        with pytest.raises(ctm.PermissionDenied, match="role 'investigator'"):
            db.destroy(TRIAL, ["A1"], "incineration", "DC-7", "ivan", PW)
        with pytest.raises(ctm.RuleError, match="kit B2: available"):
            db.destroy(TRIAL, ["A1", "B2"], "incineration", "DC-7", "mona", PW)
        assert db.size == size + 1  # mona's failed login, nothing else
        assert status(db, "A1") == "pending_destruction"
        db.destroy(TRIAL, ["A1", "A2"], "incineration", "DC-7", "mona", PW)
        assert db.current_user == "paula"
        assert (status(db, "A1"), status(db, "A2")) == ("destroyed", "destroyed")
        df = db.destructions(TRIAL).to_pandas()
        assert list(df["kit_number"]) == ["A1", "A2"]
        assert set(df["witness"]) == {"mona"} and set(df["destroyed_by"]) == {"paula"}
        assert set(df["certificate"]) == {"DC-7"} and set(df["method"]) == {"incineration"}
        events = list(db.events())[-2:]
        assert [(e["action"], e["user"], e["esig_name"], e["esig_meaning"]) for e in events] == [
            ("kit.destroy", "paula", "Paula Pharm", "destroyed"),
            ("kit.destroy_witness", "mona", "Mona Monitor", "witnessed destruction")]
        assert db.verify()["entries"] == db.size
        vkey = db.vkey()
    if not backends.POSTGRES:  # the independent verifier reads SQLite files
        out = subprocess.run([sys.executable, VERIFIER, str(site), "--key", vkey],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr


def test_shipback(site):
    with ctm_open(site, "paula", PW) as db:
        db.shipback(TRIAL, "RTS-1", ["B1", "A2"])
        with pytest.raises(ctm.RuleError, match="kit A2: packed in shipback RTS-1"):
            db.destroy(TRIAL, ["A2"], "incineration", "DC-7", "mona", PW)
        with pytest.raises(ctm.RuleError, match="kit B2: available"):
            db.shipback(TRIAL, "RTS-2", ["B2"])
        rows = db.shipback_kits(TRIAL, "RTS-1").fetchall()
        assert [(r["kit_number"], r["status"], r["units_left"], r["expiry"]) for r in rows] == [
            ("A2", "pending_destruction", 30, EXPIRY), ("B1", "expired", 30, EXPIRY)]
        assert db.shipback_manifest(TRIAL, "RTS-1") == (
            "shipment,kit_number,kit_type,lot,expiry,status,units_left\r\n"
            "RTS-1,A2,KT,L1,2030-01-31,pending_destruction,30\r\n"
            "RTS-1,B1,KT,L1,2030-01-31,expired,30\r\n")
        db.shipback_dispatch(TRIAL, "RTS-1", "AWB 1")
        assert status(db, "B1") == "returned_to_sponsor"
        (row,) = db.shipbacks(TRIAL).fetchall()
        assert (row["shipment"], row["destination"], row["status"], row["kits"],
                row["reference"], row["dispatched_by"]) == ("RTS-1", "Sponsor AB", "dispatched",
                                                            2, "AWB 1", "paula")
        assert isinstance(row["dispatched"], datetime.datetime)
        db.shipback(TRIAL, "RTS-2", ["A1"])
        db.shipback_cancel(TRIAL, "RTS-2", "destroy on site instead")
        assert [r["shipment"] for r in db.shipbacks()] == ["RTS-1"]
    with ctm_open(site, "ivan", PW) as db:
        text = db.shipback_manifest(TRIAL, "RTS-1") + repr(db.destructions().fetchall())
        assert not any(arm in text for arm in ARMS)
