"""The supply forecast and the self-inspection through the ctm Python bindings: exact figures
per kit type (and per arm for the unblinded pharmacist only), into pandas; the findings of a
self-inspection as dicts with dates; refusals raise the library's errors.
"""
import datetime

import pytest

import ctm
from conftest import ADMIN, ADMIN_PW, SITE, ctm_init, ctm_open, new_site_path, raw_sql

PW = "inspect-password-1"
TRIAL = "CT-INS"
ARMS = ("QZACTIVE", "QZPLACEBO")
TODAY = datetime.datetime.now(datetime.timezone.utc).date()


@pytest.fixture
def site(tmp_path):
    """S-1 and S-2 got their V1 kit on paper 28 days ago; V2 falls due today; A2, A3, B2, B3
    (one arm each letter) are in stock until 2030."""
    path = new_site_path(tmp_path)
    with ctm_init(path, SITE, ADMIN, ADMIN_PW) as admin:
        admin.user_add("paula", "pharmacist", PW, unblinded=True, printed_name="Paula Pharm")
        admin.user_add("tom", "technician", PW)
    with ctm_open(path, "paula", PW) as db:
        db.trial_add(TRIAL, "Inspect", "Sponsor AB", {ARMS[0]: 1, ARMS[1]: 1}, blinded=True)
        db.kittype_add(TRIAL, "KT", "Drug or placebo", 30, (2, 8), dnd_days=30,
                       dispensing_days=28)
        db.location_add("FRIDGE-1", (2, 8), kind="fridge")
        rows = "".join("A%d,KT,L1,2030-01-31,%s\nB%d,KT,L1,2030-01-31,%s\n" % (i, ARMS[0], i,
                                                                              ARMS[1])
                       for i in range(1, 4))
        db.receive(TRIAL, "SH-1", "kit_number,kit_type,lot,expiry,arm\n" + rows, "FRIDGE-1",
                   date_received=TODAY - datetime.timedelta(days=30))  # before the paper dispensings
        db.confirm("SH-1", unchecked_present=True)
        db.visit_add(TRIAL, "V1", 0, "-30..+3", "KT:1")
        db.visit_add(TRIAL, "V2", 28, "-3..+3", "KT:1", anchor="previous")
        db.random_generate(TRIAL, 4, [2])
        when = datetime.datetime.combine(TODAY - datetime.timedelta(days=28),
                                         datetime.time(10, 0), datetime.timezone.utc)
        for screening in ("S-1", "S-2"):
            db.subject_add(TRIAL, screening)
            arm = db.randomize(TRIAL, screening)["arm"]
            kit = "A1" if arm == ARMS[0] else "B1"
            db.dispense_record(TRIAL, screening, "V1", [kit], when, "system down")
    return path


def test_the_forecast_per_kit_type_and_arm(site):
    through = TODAY + datetime.timedelta(days=28)
    pooled = {"kit_type": "KT", "arm": None, "through": through, "visits_due": 2,
              "kits_needed": 2, "kits_available": 4, "kits_dispensable": 4,
              "kits_quarantined": 0, "shortfall": 0, "first_shortfall": None}
    with ctm_open(site, "paula", PW) as db:
        rows = db.forecast(TRIAL).fetchall()
        per_arm = [dict(pooled, arm=a, visits_due=1, kits_needed=1, kits_available=2,
                        kits_dispensable=2, kits_quarantined=None) for a in ARMS]
        assert rows == [pooled] + per_arm
        df = db.forecast(TRIAL, days=10).to_pandas()
        assert list(df.visits_due) == [2, 1, 1]
        # a kit of each arm set aside: each subject's V2 is still covered
        db.kit_set_status(TRIAL, "A2", "quarantined", "label check")
        db.kit_set_status(TRIAL, "B2", "quarantined", "label check")
        first = db.forecast(TRIAL, days=28).fetchall()[0]
        assert (first["kits_available"], first["kits_quarantined"], first["shortfall"]) == (2, 2, 0)
        db.kit_set_status(TRIAL, "A3", "quarantined", "label check")
        rows = db.forecast(TRIAL, days=28).fetchall()
        assert [(r["arm"], r["shortfall"], r["first_shortfall"]) for r in rows] == [
            (None, 1, TODAY), (ARMS[0], 1, TODAY), (ARMS[1], 0, None)]
    with ctm_open(site, "tom", PW) as db:
        rows = db.forecast(TRIAL, days=28).fetchall()
        assert [(r["arm"], r["visits_due"], r["shortfall"]) for r in rows] == [(None, 2, 1)]


def test_the_self_inspection_findings(site):
    with ctm_open(site, "paula", PW) as db:
        # tom never acted, but the account is new: not stale; the V1 kits are due back by the
        # end of V2's window, 3 days from now: not overdue
        assert db.self_inspection(TRIAL).fetchall() == []
    # tom's account created 100 days ago (behind the library's back): stale since then
    raw_sql(site, "UPDATE users SET created_us = created_us - ? WHERE username = 'tom'",
            100 * 86400 * 10**6)
    created = TODAY - datetime.timedelta(days=100)
    with ctm_open(site, "paula", PW) as db:
        rows = db.self_inspection(TRIAL).fetchall()
        assert rows == [{"category": "stale_access", "trial": None, "reference": "tom",
                         "subject": None,
                         "detail": "user tom (technician) is enabled and has recorded no action"
                                   " since the account was created on %s" % created,
                         "since": created}]
        # the whole site into pandas
        df = db.self_inspection(stale_days=1).to_pandas()
        assert list(df.category) == ["stale_access"]
    with ctm_open(site, "tom", PW) as db:
        assert [r["reference"] for r in db.self_inspection(TRIAL)] == ["tom"]


def test_refusals(site):
    with ctm_open(site, "paula", PW) as db:
        with pytest.raises(ctm.InvalidError, match="days: 0; give 1 to 3650"):
            db.forecast(TRIAL, days=0)
        with pytest.raises(ctm.NotFoundError):
            db.forecast("NO-SUCH")
        with pytest.raises(ctm.InvalidError, match="stale days: 4000"):
            db.self_inspection(TRIAL, stale_days=4000)
        with pytest.raises(ctm.InvalidError):
            db.forecast(TRIAL, days="28")
