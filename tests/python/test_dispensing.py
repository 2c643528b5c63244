"""Dispensing through the ctm Python bindings: assign, scan-to-verify, listings as dicts and
DataFrames, a wrong scan refused, a dispensing recorded afterwards, and an emergency unblinding
whose record a blinded reader cannot read the arm from."""
import datetime

import pytest

import ctm
from conftest import ADMIN, ADMIN_PW, SITE, ctm_init, ctm_open, new_site_path

PHARM, PHARM_PW = "pia", "pia-password-12"
INV, INV_PW = "ivy", "ivy-password-12"
ARMS = ("QZVERUM", "QZSHAM")
TRIAL = "PY-DISP"
EXPIRY = datetime.date.today() + datetime.timedelta(days=400)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    path = new_site_path(tmp_path_factory.mktemp("dispense"))
    with ctm_init(path, SITE, ADMIN, ADMIN_PW) as db:
        db.user_add(PHARM, "pharmacist", PHARM_PW, unblinded=True)
        db.user_add(INV, "investigator", INV_PW)
    with ctm_open(path, PHARM, PHARM_PW) as db:
        db.trial_add(TRIAL, "Blinded", "Sponsor", {ARMS[0]: 1, ARMS[1]: 1}, blinded=True)
        db.kittype_add(TRIAL, "KT", "Drug or placebo", 30, (2, 8), dnd_days=30)
        db.location_add("FRIDGE-1", (2, 8))
        lines = ["kit_number,kit_type,lot,expiry,arm"] + [
            "K%02d,KT,L1,%s,%s" % (i, EXPIRY.isoformat(), ARMS[i % 2]) for i in range(12)]
        # arrived yesterday: a dispensing on paper a moment ago comes after its receipt
        yesterday = datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=1)
        db.receive(TRIAL, "SH1", "\n".join(lines) + "\n", "FRIDGE-1", date_received=yesterday)
        db.confirm("SH1", unchecked_present=True)
        db.visit_add(TRIAL, "V1", 0, "-0..+3", "KT:1")
        db.random_generate(TRIAL, 6, [2])
        for s in ("S-1", "S-2"):
            db.subject_add(TRIAL, s)
            db.randomize(TRIAL, s)
    return path


def test_assign_confirm_and_listings(site):
    with ctm_open(site, PHARM, PHARM_PW) as db:
        kits = db.dispense_assign(TRIAL, "S-1", "V1")
        assert len(kits) == 1 and kits[0]["expiry"] == EXPIRY
        arm = db.subject(TRIAL, "S-1")["arm"]
        assert db.kit_show(kits[0]["kit_number"])["arm"] == arm  # the subject's arm
        others = [k["kit_number"] for k in db.kits(trial=TRIAL, status="available")
                  if k["kit_number"] != kits[0]["kit_number"]]
        with pytest.raises(ctm.RuleError, match="not a kit assigned"):
            db.dispense_confirm(TRIAL, "S-1", [others[0]])
        db.dispense_confirm(TRIAL, "S-1", [kits[0]["kit_number"]])
        df = db.dispensations(TRIAL).to_pandas()
        assert list(df["status"]) == ["dispensed"] and list(df["subject"]) == ["S-1"]
        assert df["dispensed"].notna().all()
        # the paper fallback: a kit of S-2's arm, recorded afterwards with both times
        arm2 = db.subject(TRIAL, "S-2")["arm"]
        kit2 = next(k["kit_number"] for k in db.kits(trial=TRIAL, status="available")
                    if k["arm"] == arm2)
        when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
        db.dispense_record(TRIAL, "S-2", "V1", [kit2], when, "network down")
        row = db.dispensations(TRIAL, "S-2").fetchall()[0]
        assert row["status"] == "dispensed" and row["recorded"] >= row["dispensed"]
        assert db.verify()["entries"] == db.size


def test_codebreak_and_blinded_reads(site):
    with ctm_open(site, PHARM, PHARM_PW) as db:
        truth = db.subject(TRIAL, "S-2")["arm"]
        start = db.size
    with ctm_open(site, INV, INV_PW) as db:
        with pytest.raises(ctm.AuthError):
            db.codebreak(TRIAL, "S-2", "wrong-password-1", "emergency")
        assert db.codebreak(TRIAL, "S-2", INV_PW, "anaphylaxis") == truth
        seen = repr(list(db.events(start))) + repr(db.dispensations(TRIAL).fetchall())
        assert not any(a in seen for a in ARMS)
        assert db.subject(TRIAL, "S-2")["arm"] == "(blinded)"
