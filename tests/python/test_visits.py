"""Visits and dosing through the ctm Python bindings: a schedule given as text or as Python
values, dose levels, a subject's visit dates as datetime.date, dose holds, and the exceptions
each refusal raises.

One module-scoped site; each test uses its own trial.
"""
import datetime

import pytest

import ctm
from conftest import ADMIN, ADMIN_PW, SITE, ctm_init, ctm_open, new_site_path

PHARM, PHARM_PW = "pia", "pia-password-12"
INV, INV_PW = "ivy", "ivy-password-12"
SEED = "5eed" * 16


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    path = new_site_path(tmp_path_factory.mktemp("visits"))
    with ctm_init(path, SITE, ADMIN, ADMIN_PW) as db:
        db.user_add(PHARM, "pharmacist", PHARM_PW, unblinded=True)
        db.user_add(INV, "investigator", INV_PW)
    return path


@pytest.fixture(scope="module")
def pharm(site):
    with ctm_open(site, PHARM, PHARM_PW) as db:
        yield db


@pytest.fixture(scope="module")
def inv(site):
    with ctm_open(site, INV, INV_PW) as db:
        yield db


def trial(db, code):
    db.trial_add(code, "Titration", "Sponsor", {"A": 1, "B": 1})
    for kt in ("KT5", "KT10", "KT20"):
        db.kittype_add(code, kt, "Drug " + kt, 30, (2, 8))
    db.random_generate(code, 8, [2, 4], seed=SEED)


def test_schedule_and_subject_visits(pharm, inv):
    trial(pharm, "PY-VIS")
    pharm.dose_levels("PY-VIS", ["KT5", "KT10", "KT20"], 2, 14, 2)
    pharm.visit_add("PY-VIS", "V1", 0, "0..0", "KT10:1")
    pharm.visit_add("PY-VIS", "V2", 14, (3, 3), {"KT10": 2, "KT20": 1})
    pharm.visit_add("PY-VIS", "V3", 28, "-0..+7", {"DOSE": 1}, anchor="previous")
    assert [(v["position"], v["code"], v["anchor"], v["window_before"], v["window_after"],
             v["kits"]) for v in inv.visits("PY-VIS")] == [
        (1, "V1", "randomization", 0, 0, "KT10:1"),
        (2, "V2", "randomization", 3, 3, "KT10:2,KT20:1"),
        (3, "V3", "previous", 0, 7, "DOSE:1")]
    inv.subject_add("PY-VIS", "S-1")
    assert [(v["due"], v["on_hold"], v["dose_level"])
            for v in inv.subject_visits("PY-VIS", "S-1")] == [(None, False, 2)] * 3
    inv.randomize("PY-VIS", "S-1")
    r = inv.subject("PY-VIS", "S-1")["randomized"].date()
    got = inv.subject_visits("PY-VIS", "S-1").fetchall()
    day = datetime.timedelta(days=1)
    assert [(v["visit"], v["due"], v["window_from"], v["window_to"], v["dispensed"])
            for v in got] == [
        ("V1", r, r, r, None),
        ("V2", r + 14 * day, r + 11 * day, r + 17 * day, None),
        ("V3", r + 42 * day, r + 42 * day, r + 49 * day, None)]

    inv.subject_hold("PY-VIS", "S-1", "grade 3 rash")
    assert {v["on_hold"] for v in inv.subject_visits("PY-VIS", "S-1")} == {True}
    with pytest.raises(ctm.RuleError, match="on hold already"):
        inv.subject_hold("PY-VIS", "S-1", "again")
    held = list(pharm.events(action="subject.hold"))
    assert [(e["reason"], e["params"]["subject"]) for e in held] == [("grade 3 rash", "S-1")]
    pharm.subject_resume("PY-VIS", "S-1", "resolved")
    with pytest.raises(ctm.RuleError, match="not on hold"):
        pharm.subject_resume("PY-VIS", "S-1", "resolved")
    assert {v["on_hold"] for v in inv.subject_visits("PY-VIS", "S-1")} == {False}


def test_refusals(pharm, inv):
    trial(pharm, "PY-BAD")
    with pytest.raises(ctm.RuleError, match="DOSE needs the dose levels"):
        pharm.visit_add("PY-BAD", "V1", 0, "0..0", "DOSE:1")
    with pytest.raises(ctm.InvalidError, match=r"window: position 5: the days after"):
        pharm.visit_add("PY-BAD", "V1", 0, "-3..-1", "KT5:1")
    with pytest.raises(ctm.InvalidError, match="'KTX' is not a kit type of trial PY-BAD"):
        pharm.visit_add("PY-BAD", "V1", 0, (0, 0), {"KT5": 1, "KTX": 1})
    with pytest.raises(ctm.InvalidError, match="window before"):
        pharm.visit_add("PY-BAD", "V1", 0, (-1, 0), "KT5:1")
    with pytest.raises(ctm.PermissionDenied):
        inv.visit_add("PY-BAD", "V1", 0, "0..0", "KT5:1")
    with pytest.raises(ctm.PermissionDenied):
        inv.dose_levels("PY-BAD", "KT5,KT10", 1, 0, 1)
    with pytest.raises(ctm.InvalidError, match="start level: 3"):
        pharm.dose_levels("PY-BAD", "KT5,KT10", 3, 0, 1)
    pharm.visit_add("PY-BAD", "V1", 0, "0..0", "KT5:1")
    with pytest.raises(ctm.ExistsError):
        pharm.visit_add("PY-BAD", "V1", 1, "0..0", "KT5:1")
    inv.subject_add("PY-BAD", "S-1")
    with pytest.raises(ctm.RuleError, match="only a randomized subject"):
        inv.subject_hold("PY-BAD", "S-1", "rash")
    with pytest.raises(ctm.InvalidError):
        inv.subject_hold("PY-BAD", "S-1", None)
    with pytest.raises(ctm.NotFoundError):
        inv.subject_visits("PY-BAD", "S-404")
    assert len(pharm.visits("PY-BAD").fetchall()) == 1
