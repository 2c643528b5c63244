"""Database.events() with filters: who, what, when, which trial or kit, the newest N."""
import datetime

import pytest

import ctm

from conftest import ADMIN, TECH, TECH_PW, ctm_open

PHARM, PHARM_PW = "pia", "pia-password-123"
TRIAL, OTHER = "CT-EV-1", "CT-EV-2"


@pytest.fixture
def site(db, db_path):
    """The administrator's database with a pharmacist, two trials and a received shipment."""
    db.user_add(PHARM, "pharmacist", PHARM_PW, unblinded=True)
    db.user_add(TECH, "technician", TECH_PW)
    pharm = ctm_open(db_path, user=PHARM, password=PHARM_PW)
    pharm.trial_add(TRIAL, "Trial one", "Sponsor", {"ACTIVE": 1, "PLACEBO": 1}, blinded=True)
    pharm.trial_add(OTHER, "Trial two", "Sponsor", {"A": 1})
    pharm.kittype_add(TRIAL, "KT", "Drug X", 30, storage=(2, 8))
    pharm.kittype_add(OTHER, "KT", "Drug Y", 30, storage=(2, 8))
    pharm.location_add("FRIDGE", (2, 8))
    pharm.receive(TRIAL, "SH-1", "kit_number,kit_type,lot,expiry,arm\n"
                  "K1,KT,L1,2030-01-31,ACTIVE\nK2,KT,L1,2030-01-31,PLACEBO\n", "FRIDGE")
    pharm.receive(OTHER, "SH-2", "kit_number,kit_type,lot,expiry\nK9,KT,L9,2030-01-31\n",
                  "FRIDGE")
    pharm.note("fridge checked")
    yield pharm
    pharm.close()


def seqs(query):
    return [e["seq"] for e in query]


def test_filters_by_user_action_trial_and_kit(site):
    everything = list(site.events())
    assert all("changes_summary" in e for e in everything)
    assert seqs(site.events(by=ADMIN)) == [e["seq"] for e in everything if e["user"] == ADMIN]
    assert [e["action"] for e in site.events(action="trial.*")] == ["trial.add", "trial.add"]
    assert [e["action"] for e in site.events(by=PHARM, action="shipment.receive")] == [
        "shipment.receive", "shipment.receive"]
    receipt1, receipt2 = seqs(site.events(action="shipment.receive"))
    assert seqs(site.events(kit="K2")) == [receipt1]
    assert seqs(site.events(kit="K9")) == [receipt2]
    # a scan of the pack names its kit here as in every other kit-taking call
    assert seqs(site.events(kit="(01)05909990329717(17)300131(10)L1(21)K2")) == [receipt1]
    with pytest.raises(ctm.NotFoundError):
        site.events(kit="(01)05909990329717(21)K77")
    other = list(site.events(trial=OTHER))
    assert [e["action"] for e in other] == ["trial.add", "kittype.add", "shipment.receive"]
    assert seqs(site.events(trial=OTHER, kit="K1")) == []
    with pytest.raises(ctm.NotFoundError, match="trial"):
        site.events(trial="NOPE")
    with pytest.raises(ctm.InvalidError, match="action"):
        site.events(action="not an action")


def test_last_is_the_newest_oldest_first(site):
    everything = seqs(site.events())
    assert seqs(site.events(last=3)) == everything[-3:]
    assert seqs(site.events(by=ADMIN, last=1)) == [
        [e["seq"] for e in site.events() if e["user"] == ADMIN][-1]]
    with pytest.raises(ctm.InvalidError, match="last"):
        site.events(last=2, limit=1)
    with pytest.raises(ctm.InvalidError, match="last"):
        site.events(last=-1)


def test_time_bounds_take_datetimes_dates_and_text(site):
    everything = list(site.events())
    middle = everything[len(everything) // 2]
    at = middle["time"].replace(tzinfo=None)  # naive: taken as UTC
    assert seqs(site.events(since=at, until=at)) == [middle["seq"]]
    aware = at.replace(tzinfo=datetime.timezone.utc).astimezone(
        datetime.timezone(datetime.timedelta(hours=-5)))
    text = middle["time"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert seqs(site.events(since=aware, until=text)) == [middle["seq"]]
    assert seqs(site.events(until=at)) == [e["seq"] for e in everything
                                           if e["seq"] <= middle["seq"]]
    day = at.date()
    assert len(seqs(site.events(since=day, until=day))) >= 1
    assert seqs(site.events(until=day - datetime.timedelta(days=1))) == []
    with pytest.raises(ctm.InvalidError, match="since"):
        site.events(since="yesterday")
    with pytest.raises(ctm.InvalidError, match="until"):
        site.events(until=12345)


def test_summaries_hide_arms_from_blinded_readers(site, db_path):
    receipt = list(site.events(kit="K1"))[0]
    assert "arm=ACTIVE" in receipt["changes_summary"]
    with ctm_open(db_path, user=TECH, password=TECH_PW) as tech:
        seen = list(tech.events(kit="K1"))
        assert seqs(seen) == [receipt["seq"]]
        summary = seen[0]["changes_summary"]
        assert "arm=(blinded)" in summary
        assert "ACTIVE" not in summary and "PLACEBO" not in summary
