"""Accountability through the ctm Python bindings: the reconciliation per kit type and lot with
exact counts and a total, a kit changed behind the library's back named as a break, as of a past
day, the DARF log, and a monitor's e-signed sign-off (pharmacists refused)."""
import datetime

import pytest

import ctm
from conftest import ADMIN, ADMIN_PW, SITE, ctm_init, ctm_open, new_site_path, raw_sql

PW = "reconcile-password-1"
TRIAL = "CT-REC"
ARMS = ("QZACTIVE", "QZPLACEBO")


@pytest.fixture
def site(tmp_path):
    """A blinded trial: K1-K3 of lot L1 and K4 of lot L2 received and confirmed; K4 quarantined."""
    path = new_site_path(tmp_path)
    with ctm_init(path, SITE, ADMIN, ADMIN_PW) as db:
        db.user_add("paula", "pharmacist", PW, unblinded=True, printed_name="Paula Pharm")
        db.user_add("mona", "monitor", PW, printed_name="Mona Monitor")
    with ctm_open(path, "paula", PW) as db:
        db.trial_add(TRIAL, "Reconciliation", "Sponsor AB", {ARMS[0]: 1, ARMS[1]: 1},
                     blinded=True)
        db.kittype_add(TRIAL, "KT", "Drug or placebo", 30, (2, 8))
        db.location_add("FRIDGE-1", (2, 8), kind="fridge")
        db.receive(TRIAL, "SH-1", "kit_number,kit_type,lot,expiry,arm\n"
                   "K1,KT,L1,2030-01-31,%s\nK2,KT,L1,2030-01-31,%s\nK3,KT,L1,2030-01-31,%s\n"
                   "K4,KT,L2,2030-01-31,%s\n" % (ARMS + ARMS), "FRIDGE-1")
        db.confirm("SH-1", unchecked_present=True)
        db.kit_set_status(TRIAL, "K4", "quarantined", "recall")
    return path


@pytest.fixture
def mona(site):
    with ctm_open(site, "mona", PW) as db:
        yield db


def test_exact_counts_per_lot_and_a_total(mona):
    rows = mona.reconciliation(TRIAL).fetchall()
    assert [(r["kit_type"], r["lot"], r["received"], r["available"], r["quarantined"],
             r["breaks"], r["balanced"], r["as_of"]) for r in rows] == [
        ("KT", "L1", 3, 3, 0, 0, True, None), ("KT", "L2", 1, 0, 1, 0, True, None),
        (None, None, 4, 3, 1, 0, True, None)]
    assert mona.reconciliation_breaks(TRIAL).fetchall() == []
    text = repr(rows)
    assert ARMS[0] not in text and ARMS[1] not in text


def test_a_kit_changed_behind_the_library_is_named(site, mona):
    raw_sql(site, "UPDATE kits SET status = 'missing' WHERE kit_number = 'K2'")
    assert mona.reconciliation_breaks(TRIAL).fetchall() == [
        {"kit": "K2", "kit_type": "KT", "lot": "L1", "status": "missing",
         "problem": "history (kit_events) ends available but the kit is missing"}]
    total = mona.reconciliation(TRIAL).fetchall()[-1]
    assert (total["missing"], total["breaks"], total["balanced"]) == (1, 1, False)


def test_as_of_a_past_day(mona):
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    rows = mona.reconciliation(TRIAL, as_of=yesterday).fetchall()
    assert [(r["received"], r["balanced"], r["as_of"]) for r in rows] == [(0, True, yesterday)]
    with pytest.raises(ctm.InvalidError):
        mona.reconciliation(TRIAL, as_of=datetime.date.today() + datetime.timedelta(days=1))
    with pytest.raises(ctm.NotFoundError):
        mona.reconciliation("NO-SUCH")


def test_a_kit_dispensed_and_returned_on_an_earlier_day(site):
    """Dispensed on paper yesterday at 10:00 and returned the same day: as of yesterday the kit
    is back, after its dispensing, although a return on an earlier day is dated at that day's
    start."""
    three_days = 3 * 86400 * 1000000
    raw_sql(site, f"UPDATE kit_events SET at_us = at_us - {three_days}")
    raw_sql(site, f"UPDATE shipments SET registered_us = registered_us - {three_days}")
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    with ctm_open(site, "paula", PW) as db:
        db.visit_add(TRIAL, "V1", 0, "-30..+3", "KT:1")
        db.random_generate(TRIAL, 4, [2])
        db.subject_add(TRIAL, "S-1")
        kit = "K1" if db.randomize(TRIAL, "S-1")["arm"] == ARMS[0] else "K2"
        at_ten = datetime.datetime.combine(yesterday, datetime.time(10, 0),
                                           datetime.timezone.utc)
        db.dispense_record(TRIAL, "S-1", "V1", [kit], at_ten, "system down")
        db.return_kit(TRIAL, kit, 5, returned_on=yesterday)
    with ctm_open(site, "mona", PW) as mona:
        total = mona.reconciliation(TRIAL, as_of=yesterday).fetchall()[-1]
        assert (total["received"], total["available"], total["dispensed"], total["returned"],
                total["returned_units"], total["consumed_units"], total["breaks"],
                total["balanced"]) == (4, 2, 0, 1, 5, 25, 0, True)
        assert mona.reconciliation_breaks(TRIAL, as_of=yesterday).fetchall() == []
        assert mona.reconciliation(TRIAL).fetchall()[-1]["returned"] == 1


def receive_backdated(path, arrived):
    """K1-K4 of SH-2 arrived on `arrived` and were registered today, while S-1 waits for its V1
    kit: the receipt of a site whose system was down."""
    with ctm_open(path, "paula", PW) as db:
        db.trial_add("CT-LATE", "Late receipt", "Sponsor AB", {ARMS[0]: 1, ARMS[1]: 1},
                     blinded=True)
        db.kittype_add("CT-LATE", "KT", "Drug or placebo", 30, (2, 8))
        db.receive("CT-LATE", "SH-2", "kit_number,kit_type,lot,expiry,arm\n"
                   "K1,KT,L1,2030-01-31,%s\nK2,KT,L1,2030-01-31,%s\nK3,KT,L1,2030-01-31,%s\n"
                   "K4,KT,L1,2030-01-31,%s\n" % (ARMS + ARMS), "FRIDGE-1",
                   date_received=arrived)
        db.confirm("SH-2", unchecked_present=True)
        db.visit_add("CT-LATE", "V1", 0, "-30..+3", "KT:1")
        db.random_generate("CT-LATE", 4, [2])
        db.subject_add("CT-LATE", "S-1")
        return "K1" if db.randomize("CT-LATE", "S-1")["arm"] == ARMS[0] else "K2"


def test_a_receipt_registered_after_the_day_it_arrived(site):
    """Registered today for three days ago: the kits' history begins at the start of that day,
    so a dispensing made on paper that day after 00:00 is recorded and comes after the receipt in
    the DARF log, one the day before is refused and changes nothing, and the reconciliation as
    of the arrival day counts the kits, as of the day before does not."""
    today = datetime.datetime.now(datetime.timezone.utc).date()
    arrived = today - datetime.timedelta(days=3)
    kit = receive_backdated(site, arrived)
    midnight = datetime.datetime.combine(arrived, datetime.time(0, 0), datetime.timezone.utc)
    with ctm_open(site, "paula", PW) as db:
        size = db.size
        with pytest.raises(ctm.RuleError) as refused:
            db.dispense_record("CT-LATE", "S-1", "V1", [kit],
                               midnight - datetime.timedelta(minutes=1), "system down")
        assert str(refused.value) == (
            "kit %s: dispensed at %sT23:59:00Z, before its receipt at %sT00:00:00Z"
            % (kit, arrived - datetime.timedelta(days=1), arrived))
        assert ARMS[0] not in str(refused.value) and ARMS[1] not in str(refused.value)
        assert db.size == size
        assert db.dispensations("CT-LATE").fetchall() == []
        assert db.kit_show(kit, "CT-LATE")["status"] == "available"
        at_ten = midnight + datetime.timedelta(hours=10)
        db.dispense_record("CT-LATE", "S-1", "V1", [kit], at_ten, "system down")
        [d] = db.dispensations("CT-LATE").fetchall()
        assert (d["kit_number"], d["status"], d["dispensed"]) == (kit, "dispensed", at_ten)
        [shipment] = [s for s in db.shipments("CT-LATE")]
        assert shipment["date_received"] == arrived
    # the registration keeps its own instant, today's, for the audit
    [(registered,)] = raw_sql(site, "SELECT registered_us FROM shipments WHERE number = 'SH-2'")
    today_us = (today - datetime.date(1970, 1, 1)).days * 86400 * 1000000
    assert registered >= today_us
    with ctm_open(site, "mona", PW) as mona:
        lines = mona.darf("CT-LATE").fetchall()
        assert [(d["event"], d["kit"], d["quantity"], d["balance"]) for d in lines] == [
            ("received", "K1", 1, 1), ("received", "K2", 1, 2), ("received", "K3", 1, 3),
            ("received", "K4", 1, 4), ("dispensed", kit, -1, 3)]
        assert [d["date"] for d in lines[:4]] == [midnight] * 4
        assert lines[4]["date"] >= at_ten and lines[4]["subject"] == "S-1"
        [on_the_day] = [r for r in mona.reconciliation("CT-LATE", as_of=arrived)
                        if r["kit_type"] is None]
        assert (on_the_day["received"], on_the_day["receiving"], on_the_day["breaks"],
                on_the_day["balanced"]) == (4, 4, 0, True)
        day_before = mona.reconciliation("CT-LATE",
                                         as_of=arrived - datetime.timedelta(days=1)).fetchall()
        assert [(r["kit_type"], r["received"], r["balanced"]) for r in day_before] == [
            (None, 0, True)]


def test_a_receipt_of_today_is_dated_when_registered(site):
    """A receipt of today keeps the time it was registered: a dispensing earlier that day is
    before it."""
    today = datetime.datetime.now(datetime.timezone.utc).date()
    kit = receive_backdated(site, today)
    midnight = datetime.datetime.combine(today, datetime.time(0, 0), datetime.timezone.utc)
    with ctm_open(site, "mona", PW) as mona:
        received = [d["date"] for d in mona.darf("CT-LATE")]
    assert len(received) == 4 and min(received) > midnight
    with ctm_open(site, "paula", PW) as db:
        with pytest.raises(ctm.RuleError, match="kit %s: dispensed at %sT00:00:00Z, before its "
                           "receipt at %sT" % (kit, today, today)):
            db.dispense_record("CT-LATE", "S-1", "V1", [kit], midnight, "system down")


def test_a_receipt_given_the_time_it_arrived(site):
    """The system was down the morning the shipment arrived: registered later that day with the
    time it arrived, the kits' history begins then, so a dispensing made on paper after it is
    recorded and one before it is refused."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    arrived = now - datetime.timedelta(hours=2)
    kit = receive_backdated(site, arrived)
    with ctm_open(site, "paula", PW) as db:
        with pytest.raises(ctm.RuleError, match="kit %s: dispensed at %s, before its receipt at "
                           "%s" % (kit, (arrived - datetime.timedelta(minutes=30)).strftime(
                               "%Y-%m-%dT%H:%M:%SZ"), arrived.strftime("%Y-%m-%dT%H:%M:%SZ"))):
            db.dispense_record("CT-LATE", "S-1", "V1", [kit],
                               arrived - datetime.timedelta(minutes=30), "system down")
        db.dispense_record("CT-LATE", "S-1", "V1", [kit],
                           arrived + datetime.timedelta(minutes=30), "system down")
        [shipment] = [s for s in db.shipments("CT-LATE")]
        assert shipment["date_received"] == arrived.date()
    with ctm_open(site, "mona", PW) as mona:
        lines = mona.darf("CT-LATE").fetchall()
        assert [d["date"] for d in lines[:4]] == [arrived] * 4
        assert lines[4]["event"] == "dispensed"
    with ctm_open(site, "paula", PW) as db:
        with pytest.raises(ctm.InvalidError, match="date received: .* is in the future"):
            db.receive("CT-LATE", "SH-3", "kit_number,kit_type,lot,expiry,arm\n"
                       "K9,KT,L1,2030-01-31,%s\n" % ARMS[0], "FRIDGE-1",
                       date_received=now + datetime.timedelta(hours=1))
        with pytest.raises(ctm.InvalidError, match="date received"):
            db.receive("CT-LATE", "SH-3", "kit_number,kit_type,lot,expiry,arm\n"
                       "K9,KT,L1,2030-01-31,%s\n" % ARMS[0], "FRIDGE-1",
                       date_received="2026-12-01T25:00Z")


def test_a_kit_without_history_is_not_refused(site):
    """A kit of a site upgraded from schema version 7 has no history to compare with."""
    arrived = datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=3)
    kit = receive_backdated(site, arrived)
    raw_sql(site, "DELETE FROM kit_events WHERE kit_id = (SELECT k.id FROM kits k"
            " JOIN trials t ON t.id = k.trial_id WHERE t.code = 'CT-LATE' AND k.kit_number = ?)",
            kit)
    before = datetime.datetime.combine(arrived - datetime.timedelta(days=5),
                                       datetime.time(10, 0), datetime.timezone.utc)
    with ctm_open(site, "paula", PW) as db:
        db.dispense_record("CT-LATE", "S-1", "V1", [kit], before, "system down")
        assert db.kit_show(kit, "CT-LATE")["status"] == "dispensed"


def test_the_darf_log(mona):
    lines = mona.darf(TRIAL).fetchall()
    assert [(d["event"], d["kit"], d["quantity"], d["balance"], d["balance_units"],
             d["recorder"]) for d in lines] == [
        ("received", "K%d" % i, 1, i, 30 * i, "paula") for i in range(1, 5)]
    assert isinstance(lines[0]["date"], datetime.datetime)
    with pytest.raises(ctm.NotFoundError):
        mona.darf(TRIAL, kit_type="NOPE")


def test_the_darf_log_of_a_kit_lost_and_found(site):
    """A kit missing is one line out; found again, one line back in; its quarantine and release
    after that, like K4's quarantine, change no balance and are no lines."""
    with ctm_open(site, "paula", PW) as db:
        db.kit_set_status(TRIAL, "K2", "missing", "not on the shelf")
        db.kit_set_status(TRIAL, "K2", "available", "found behind the box")
        db.kit_set_status(TRIAL, "K2", "quarantined", "check")
        db.kit_set_status(TRIAL, "K2", "available", "checked")
    with ctm_open(site, "mona", PW) as mona:
        assert [(d["event"], d["kit"], d["quantity"], d["balance"], d["balance_units"])
                for d in mona.darf(TRIAL)] == [
            ("received", "K1", 1, 1, 30), ("received", "K2", 1, 2, 60),
            ("received", "K3", 1, 3, 90), ("received", "K4", 1, 4, 120),
            ("missing", "K2", -1, 3, 90), ("available", "K2", 1, 4, 120)]


def test_a_monitor_signs_off(site, mona):
    with ctm_open(site, "paula", PW) as paula:
        with pytest.raises(ctm.PermissionDenied):
            paula.signoff_reconciliation(TRIAL)
    size = mona.size
    mona.signoff_reconciliation(TRIAL, comment="reviewed")
    [s] = mona.signoffs(TRIAL).fetchall()
    assert (s["kind"], s["as_of"], s["balanced"], s["ledger_size"], s["signed_by"],
            s["printed_name"], s["comment"]) == (
        "reconciliation", datetime.date.today(), True, size, "mona", "Mona Monitor", "reviewed")
    [e] = [e for e in mona.events() if e["action"] == "signoff.reconciliation"]
    assert e["esig_meaning"] == "reconciliation reviewed"
