"""Tests of trials, receipt of shipments, stock and GS1 barcodes through the ctm Python bindings.

One module-scoped site (fixture ``site``) runs a blinded trial through set-up and receipt:
shipment S1 (manifest as str) is scanned and confirmed with discrepancies, S2 (bytes) is scanned
by the blinded technician and confirmed, S3 (a path) stays under receipt.  The tests then check
what that left and change disjoint kits, so they do not depend on one another's order; the last
test verifies the whole database.

Run with /usr/bin/python3 -m pytest and PYTHONPATH=<builddir>/bindings/python (meson test does).
"""
import collections
import csv
import datetime
import io
import json
import re
import types

import pytest

import ctm
from conftest import ADMIN, ADMIN_PW, SITE, TECH, TECH_PW, ctm_init, ctm_open, new_site_path

PHARM = "phil"
PHARM_PW = "phil-password-12"

TRIAL = "CT-2026-0001"
OPEN_TRIAL = "OPEN-7"
ARMS = {"VERUM": 1, "PLACEBO": 1}
ARM_VALUES = tuple(ARMS)
KIT_TYPE = "KT-10MG"
GTIN = "05909990329717"  # a real GTIN-14 with a valid check digit
GS = "\x1d"

TODAY = datetime.date.today()
NOW = datetime.datetime.now(datetime.timezone.utc)
EXPIRY = {"A": TODAY + datetime.timedelta(days=200), "B": TODAY + datetime.timedelta(days=300)}


def _kit(prefix, i):
    return "K%d%03d" % (prefix, i)


def _lot(prefix, which):
    return "LOT-%d%s" % (prefix, which)


def _arm_of(i):
    return ARM_VALUES[i % 2]


def manifest(prefix, n=20):
    """A manifest of n kits K<prefix>001..: lot A for the first half, lot B for the rest, arms
    alternating, the serial equal to the kit number, columns in a non-default order."""
    lines = ["kit_number,kit_type,lot,expiry,arm,gtin,serial"]
    for i in range(1, n + 1):
        which = "A" if i <= n // 2 else "B"
        lines.append("%s,%s,%s,%s,%s,%s,%s" % (_kit(prefix, i), KIT_TYPE, _lot(prefix, which),
                                              EXPIRY[which].isoformat(), _arm_of(i), GTIN,
                                              _kit(prefix, i)))
    return "\n".join(lines) + "\n"


def yymmdd(day):
    return day.strftime("%y%m%d")


def gs1_scan(kit, lot, expiry):
    """Scanner output for a pack: ]d2, (01), (17), (10) ended by GS, then (21)."""
    return "]d201%s17%s10%s%s21%s" % (GTIN, yymmdd(expiry), lot, GS, kit)


def gs1_bracketed(kit, lot, expiry):
    return "(01)%s(17)%s(10)%s(21)%s" % (GTIN, yymmdd(expiry), lot, kit)


def rows_by_kit(query):
    return {row["kit_number"]: row for row in query}


def assert_no_arm(*values):
    """No value (str, number, dict, list, exception) shows a real arm code."""
    for value in values:
        text = value if isinstance(value, str) else json.dumps(value, default=str) \
            if isinstance(value, (dict, list, tuple)) else str(value)
        for arm in ARM_VALUES:
            assert arm.lower() not in text.lower(), "arm %s shown in %r" % (arm, text)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site: a blinded trial set up, S1 received, scanned and confirmed, S2 received, scanned
    by the technician and confirmed, S3 (from a file) under receipt."""
    tmp = tmp_path_factory.mktemp("stock")
    path = new_site_path(tmp)
    pharm = ctm_init(path, SITE, ADMIN, ADMIN_PW)
    pharm.user_add(PHARM, "pharmacist", PHARM_PW, unblinded=True, printed_name="Phil Pharmacist")
    pharm.user_add(TECH, "technician", TECH_PW, printed_name="Tom Technician")
    pharm.logout()
    pharm.login(PHARM, PHARM_PW)
    tech = ctm_open(path, user=TECH, password=TECH_PW)
    s = types.SimpleNamespace(path=path, tmp=tmp, pharm=pharm, tech=tech)

    pharm.trial_add(TRIAL, "A blinded placebo-controlled trial", "Sponsor AB", ARMS, blinded=True)
    pharm.trial_add(OPEN_TRIAL, "An open trial", "Academic Sponsor", "A:2,B:1")
    pharm.kittype_add(TRIAL, KIT_TYPE, "Zoltrax 10 mg tablets", 30, storage=(2, 8), dnd_days=30,
                      dose_form="tablet", strength="10 mg", excursion_budget=(1440, 15.5),
                      dispensing_days=28)
    pharm.kittype_add(OPEN_TRIAL, "BULK", "Open product", 100, (15, 25))
    pharm.location_add("FRIDGE-1", (2, 8), kind="fridge")
    pharm.location_add("FRIDGE-2", range=(2.0, 8.0), kind="fridge")

    # S1: the manifest as str, scanned by the pharmacist.
    s.size_before_s1 = pharm.size
    pharm.receive(TRIAL, "S1", manifest(1), "FRIDGE-1", origin="Central Depot")
    s.size_after_receive = pharm.size
    s.s1_before_confirm = rows_by_kit(pharm.kits(trial=TRIAL, lot=_lot(1, "A")))
    s.s1_before_confirm.update(rows_by_kit(pharm.kits(trial=TRIAL, lot=_lot(1, "B"))))
    scans = s.scans = {}
    scans["ok"] = pharm.scan("S1", gs1_scan(_kit(1, 1), _lot(1, "A"), EXPIRY["A"]))
    size = pharm.size
    scans["repeat"] = pharm.scan("S1", gs1_scan(_kit(1, 1), _lot(1, "A"), EXPIRY["A"]))
    s.repeat_size_unchanged = pharm.size == size
    scans["mismatch"] = pharm.scan("S1", gs1_bracketed(_kit(1, 2), "LOT-9Z", EXPIRY["A"]))
    scans["typed"] = pharm.scan("S1", _kit(1, 3))
    scans["damaged"] = pharm.scan("S1", _kit(1, 4), damaged=True)
    scans["extra"] = pharm.scan("S1", "K9999")
    size = pharm.size
    with pytest.raises(ctm.InvalidError) as excinfo:  # bad check digit
        pharm.scan("S1", "]d201%s21%s" % (GTIN[:-1] + "8", _kit(1, 5)))
    s.bad_scan_error = excinfo.value
    s.bad_scan_size_unchanged = pharm.size == size
    scans["rest"] = [pharm.scan("S1", _kit(1, i)) for i in range(5, 18)]
    s.shipment_s1_before = {r["number"]: r for r in pharm.shipments(TRIAL)}["S1"]
    pharm.confirm("S1")

    # S2: the manifest as bytes, scanned by the blinded technician, the rest declared present.
    pharm.receive(TRIAL, "S2", manifest(2).encode("utf-8"), "FRIDGE-1")
    s.tech_scans = [tech.scan("S2", gs1_scan(_kit(2, 1), _lot(2, "A"), EXPIRY["A"])),
                    tech.scan("S2", _kit(2, 2))]
    pharm.confirm("S2", unchecked_present=True)

    # S3: the manifest from a file (pathlib.Path), left under receipt.
    s.s3_path = tmp / "s3-manifest.csv"
    s.s3_path.write_text(manifest(3), encoding="utf-8")
    pharm.receive(TRIAL, "S3", s.s3_path, "FRIDGE-2", date_received=TODAY)
    yield s
    tech.close()
    pharm.close()


# ---------------------------------------------------------------------------------------------
# Set-up
# ---------------------------------------------------------------------------------------------

def test_trials_kittypes_locations(site):
    trials = {t["code"]: t for t in site.tech.trials()}
    assert set(trials) == {TRIAL, OPEN_TRIAL}
    assert trials[TRIAL]["blinded"] is True and trials[OPEN_TRIAL]["blinded"] is False
    assert trials[TRIAL]["arms"] == "VERUM:1,PLACEBO:1"
    assert trials[OPEN_TRIAL]["arms"] == "A:2,B:1"
    assert trials[TRIAL]["sponsor"] == "Sponsor AB"

    kts = list(site.pharm.kittypes(TRIAL))
    assert len(kts) == 1
    kt = kts[0]
    assert (kt["trial"], kt["code"], kt["units"], kt["dnd_days"]) == (TRIAL, KIT_TYPE, 30, 30)
    assert (kt["storage_min"], kt["storage_max"]) == (2, 8)
    assert (kt["dose_form"], kt["strength"]) == ("tablet", "10 mg")
    assert (kt["excursion_budget_minutes"], kt["excursion_max"]) == (1440, 15.5)
    assert kt["dispensing_days"] == 28
    everything = list(site.pharm.kittypes())
    assert {k["code"] for k in everything} == {KIT_TYPE, "BULK"}
    bulk = [k for k in everything if k["code"] == "BULK"][0]
    assert bulk["dose_form"] is None and bulk["strength"] is None
    assert bulk["excursion_budget_minutes"] in (None, -1)

    locations = {loc["name"]: loc for loc in site.pharm.locations()}
    assert set(locations) >= {"FRIDGE-1", "FRIDGE-2"}
    assert locations["FRIDGE-1"]["kind"] == "fridge"
    assert (locations["FRIDGE-2"]["min"], locations["FRIDGE-2"]["max"]) == (2, 8)


def test_setup_refusals(site):
    pharm, tech = site.pharm, site.tech
    size = pharm.size
    with pytest.raises(ctm.ExistsError):
        pharm.trial_add(TRIAL, "again", "Sponsor AB", ARMS, blinded=True)
    with pytest.raises(ctm.InvalidError) as excinfo:  # a blinded trial needs two arms
        pharm.trial_add("ONE-ARM", "t", "s", {"A": 1}, blinded=True)
    assert "arm" in str(excinfo.value)
    with pytest.raises(ctm.InvalidError):
        pharm.trial_add("BAD-RATIO", "t", "s", {"A": 0, "B": 1})
    with pytest.raises(ctm.InvalidError):  # checked in Python
        pharm.trial_add("BAD-TYPE", "t", "s", {"A": "1", "B": 1})
    with pytest.raises(ctm.NotFoundError):
        pharm.kittype_add("NO-SUCH-TRIAL", "KT", "x", 1, (2, 8))
    with pytest.raises(ctm.ExistsError):
        pharm.kittype_add(TRIAL, KIT_TYPE, "again", 30, (2, 8))
    with pytest.raises(ctm.InvalidError):
        pharm.kittype_add(TRIAL, "KT-X", "x", 30, (8,))
    with pytest.raises(ctm.InvalidError):
        pharm.location_add("ROOM", (float("nan"), 25))
    with pytest.raises(ctm.PermissionDenied):
        tech.trial_add("TECH-TRIAL", "t", "s", "A:1,B:1")
    assert pharm.size == size


# ---------------------------------------------------------------------------------------------
# Receipt
# ---------------------------------------------------------------------------------------------

def test_receive_is_one_action(site):
    assert site.size_after_receive == site.size_before_s1 + 1
    kits = site.s1_before_confirm
    assert sorted(kits) == [_kit(1, i) for i in range(1, 21)]
    assert {k["status"] for k in kits.values()} == {"received"}
    assert {k["location"] for k in kits.values()} == {"FRIDGE-1"}
    assert {k["shipment"] for k in kits.values()} == {"S1"}
    assert all(k["dispensable"] is False for k in kits.values())
    assert site.shipment_s1_before["status"] == "receiving"
    assert site.shipment_s1_before["kits"] == 20
    assert site.shipment_s1_before["checked"] == 17


def test_scan_outcomes(site):
    scans = site.scans
    ok = scans["ok"]
    assert ok["outcome"] == "ok"
    assert ok["kit_number"] == _kit(1, 1)
    assert (ok["checked"], ok["expected"]) == (1, 20)
    assert isinstance(ok["detail"], str)

    assert scans["repeat"]["outcome"] == "repeat"
    assert scans["repeat"]["kit_number"] == _kit(1, 1)
    assert scans["repeat"]["checked"] == 1
    assert site.repeat_size_unchanged  # a repeat records nothing

    mismatch = scans["mismatch"]
    assert mismatch["outcome"] == "mismatch"
    assert mismatch["kit_number"] == _kit(1, 2)
    assert mismatch["detail"]

    assert scans["typed"]["outcome"] == "ok" and scans["typed"]["kit_number"] == _kit(1, 3)
    assert scans["damaged"]["outcome"] == "ok" and scans["damaged"]["kit_number"] == _kit(1, 4)

    extra = scans["extra"]
    assert extra["outcome"] == "extra"
    assert extra["kit_number"] == "K9999"
    assert extra["checked"] == 4  # an extra kit is not one of the manifest's

    assert [r["outcome"] for r in scans["rest"]] == ["ok"] * 13
    assert scans["rest"][-1]["checked"] == 17
    assert scans["rest"][-1]["expected"] == 20

    assert "01" in str(site.bad_scan_error)  # the AI with the bad check digit is named
    assert site.bad_scan_size_unchanged


def test_scans_never_show_an_arm(site):
    everything = list(site.scans.values())
    assert_no_arm(everything, site.tech_scans)
    assert [r["outcome"] for r in site.tech_scans] == ["ok", "ok"]


def test_confirm_statuses(site):
    kits = rows_by_kit(site.pharm.kits(trial=TRIAL, lot=_lot(1, "A")))
    kits.update(rows_by_kit(site.pharm.kits(trial=TRIAL, lot=_lot(1, "B"))))
    status = {k: row["status"] for k, row in kits.items()}
    expect = {_kit(1, i): "available" for i in [1, 3] + list(range(5, 18))}
    expect[_kit(1, 2)] = "quarantined"  # scanned with another lot
    expect[_kit(1, 4)] = "damaged"
    expect.update({_kit(1, i): "missing" for i in (18, 19, 20)})
    assert status == expect
    assert kits[_kit(1, 1)]["dispensable"] is True
    assert kits[_kit(1, 2)]["dispensable"] is False
    assert kits[_kit(1, 1)]["expiry"] == EXPIRY["A"]
    assert kits[_kit(1, 11)]["expiry"] == EXPIRY["B"]
    assert kits[_kit(1, 1)]["units"] == 30 and kits[_kit(1, 1)]["kit_type"] == KIT_TYPE
    assert "K9999" not in kits  # an extra kit is recorded, never created

    available = list(site.pharm.kits(trial=TRIAL, status="available", lot=_lot(1, "A")))
    assert {r["kit_number"] for r in available} == {_kit(1, i) for i in [1, 3, 5, 6, 7, 8, 9, 10]}

    confirm = [e for e in site.pharm.events() if e["action"] == "shipment.confirm"]
    assert confirm and confirm[0]["esig_meaning"] == "receipt confirmed"
    assert confirm[0]["esig_user"] == PHARM

    size = site.pharm.size
    with pytest.raises(ctm.RuleError):
        site.pharm.confirm("S1")
    with pytest.raises(ctm.RuleError):
        site.pharm.scan("S1", _kit(1, 18))
    with pytest.raises(ctm.NotFoundError):
        site.pharm.confirm("NO-SUCH-SHIPMENT")
    assert site.pharm.size == size


def test_discrepancies(site):
    rows = list(site.pharm.discrepancies("S1"))
    kinds = collections.Counter(r["kind"] for r in rows)
    assert kinds == {"missing": 3, "extra": 1, "damaged": 1, "lot_mismatch": 1}
    by_kind = collections.defaultdict(set)
    for r in rows:
        by_kind[r["kind"]].add(r["kit_number"])
        assert r["recorded_by"] == PHARM and r["shipment"] == "S1"
        assert r["recorded"].tzinfo == datetime.timezone.utc
        assert abs(r["recorded"] - NOW) < datetime.timedelta(hours=1)
    assert by_kind["missing"] == {_kit(1, 18), _kit(1, 19), _kit(1, 20)}
    assert by_kind["extra"] == {"K9999"}
    assert by_kind["damaged"] == {_kit(1, 4)}
    assert by_kind["lot_mismatch"] == {_kit(1, 2)}
    assert list(site.pharm.discrepancies("S2")) == []
    with pytest.raises(ctm.NotFoundError):
        site.pharm.discrepancies("NO-SUCH-SHIPMENT")


def test_discrepancies_of_every_shipment(site):
    every = list(site.tech.discrepancies())
    by_shipment = collections.defaultdict(list)
    for r in every:
        by_shipment[r["shipment"]].append(r)
    assert set(by_shipment) >= {"S1"} and "S2" not in by_shipment
    for number, rows in by_shipment.items():
        assert rows == list(site.tech.discrepancies(number))
    assert every == sorted(every, key=lambda r: r["recorded"])
    assert_no_arm(*every)


def test_receive_forms_and_shipments(site):
    s2 = rows_by_kit(site.pharm.kits(trial=TRIAL, lot=_lot(2, "A")))
    s2.update(rows_by_kit(site.pharm.kits(trial=TRIAL, lot=_lot(2, "B"))))
    assert sorted(s2) == [_kit(2, i) for i in range(1, 21)]
    assert {r["shipment"] for r in s2.values()} == {"S2"}

    s3 = rows_by_kit(site.pharm.kits(trial=TRIAL, location="FRIDGE-2", status="received"))
    assert sorted(s3) == [_kit(3, i) for i in range(1, 21)]
    assert {r["shipment"] for r in s3.values()} == {"S3"}
    assert s3[_kit(3, 1)]["arm"] == _arm_of(1)

    ships = {r["number"]: r for r in site.tech.shipments(TRIAL)}
    assert {"S1", "S2", "S3"} <= set(ships)
    assert ships["S1"]["status"] == "confirmed" and ships["S1"]["origin"] == "Central Depot"
    assert ships["S2"]["status"] == "confirmed"
    assert ships["S3"]["status"] == "receiving"
    assert ships["S3"]["date_received"] == TODAY
    assert all(ships[n]["direction"] == "in" and ships[n]["kits"] == 20 for n in ("S1", "S2", "S3"))
    assert all(ships[n]["trial"] == TRIAL for n in ships)
    assert list(site.pharm.shipments(OPEN_TRIAL)) == []
    assert {r["number"] for r in site.pharm.shipments()} >= {"S1", "S2", "S3"}


def test_receive_options(site):
    pharm = site.pharm
    text = ("kit_type,kit_number,expiry,lot,arm\n"
            "%s,K4001,%s,LOT-4A,VERUM\n%s,K4002,%s,LOT-4A,PLACEBO\n"
            % (KIT_TYPE, EXPIRY["A"], KIT_TYPE, EXPIRY["A"]))
    received = TODAY - datetime.timedelta(days=2)
    pharm.receive(TRIAL, "S4", bytearray(text.encode()), "FRIDGE-1", origin="Depot Nord",
                  date_received=received, excursion=True)
    ship = {r["number"]: r for r in pharm.shipments(TRIAL)}["S4"]
    assert ship["date_received"] == received
    assert ship["origin"] == "Depot Nord"
    assert pharm.scan("S4", "K4001")["outcome"] == "ok"
    assert pharm.scan("S4", "K4002")["outcome"] == "ok"
    pharm.confirm("S4")
    kits = rows_by_kit(pharm.kits(trial=TRIAL, lot="LOT-4A"))
    assert {k: r["status"] for k, r in kits.items()} == {"K4001": "quarantined",
                                                         "K4002": "quarantined"}


def test_receive_refusals(site):
    pharm = site.pharm
    size = pharm.size
    with pytest.raises(ctm.ExistsError):
        pharm.receive(TRIAL, "S1", manifest(5), "FRIDGE-1")
    with pytest.raises(ctm.NotFoundError):
        pharm.receive("NO-SUCH-TRIAL", "S5", manifest(5), "FRIDGE-1")
    with pytest.raises(ctm.NotFoundError):
        pharm.receive(TRIAL, "S5", manifest(5), "NO-SUCH-FRIDGE")
    with pytest.raises(ctm.FileError):
        pharm.receive(TRIAL, "S5", site.tmp / "no-such-manifest.csv", "FRIDGE-1")
    with pytest.raises(ctm.InvalidError):
        pharm.receive(TRIAL, "S5", 42, "FRIDGE-1")
    assert pharm.size == size
    assert not [k for k in pharm.kits(trial=TRIAL) if k["kit_number"].startswith("K5")]


HEADER = "kit_number,kit_type,lot,expiry,arm\n"
GOOD_LINE = "K6001,%s,LOT-6A,2031-01-31,VERUM\n" % KIT_TYPE

MALFORMED = [
    # (id, manifest, line, field)
    ("bad_expiry", HEADER + GOOD_LINE + "K6002,%s,LOT-6A,2031-02-30,PLACEBO\n" % KIT_TYPE,
     3, "expiry"),
    ("expiry_format", HEADER + GOOD_LINE + "K6002,%s,LOT-6A,30/01/2031,PLACEBO\n" % KIT_TYPE,
     3, "expiry"),
    ("unknown_kit_type", HEADER + "K6001,NO-SUCH-TYPE,LOT-6A,2031-01-31,VERUM\n", 2, "kit_type"),
    ("arm_not_in_trial", HEADER + GOOD_LINE + GOOD_LINE.replace("K6001", "K6002")
     + "K6003,%s,LOT-6A,2031-01-31,ACTIVE\n" % KIT_TYPE, 4, "arm"),
    ("duplicate_kit", HEADER + GOOD_LINE + GOOD_LINE, 3, "kit_number"),
    ("kit_already_in_trial", HEADER + GOOD_LINE.replace("K6001", _kit(1, 7)), 2, "kit_number"),
    ("missing_column", "kit_number,kit_type,expiry\nK6001,%s,2031-01-31\n" % KIT_TYPE, 1, "lot"),
    ("empty_kit_number", HEADER + GOOD_LINE + ",%s,LOT-6A,2031-01-31,VERUM\n" % KIT_TYPE,
     3, "kit_number"),
    ("too_few_fields", HEADER + GOOD_LINE + "K6002,%s\n" % KIT_TYPE, 3, None),
    ("empty", "", None, None),
    ("header_only", HEADER, None, None),
]


@pytest.mark.parametrize("text,line,field", [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
def test_malformed_manifest_changes_nothing(site, text, line, field):
    pharm = site.pharm
    size = pharm.size
    nkits = len(list(pharm.kits()))
    nships = len(list(pharm.shipments()))
    with pytest.raises(ctm.InvalidError) as excinfo:
        pharm.receive(TRIAL, "S6", text, "FRIDGE-1")
    message = str(excinfo.value)
    assert excinfo.value.code == ctm._ctm.CTM_EINVAL
    if line is not None:
        assert re.search(r"\bline %d\b" % line, message), message
    if field is not None:
        assert field in message, message
    assert_no_arm(message)
    assert pharm.size == size
    assert len(list(pharm.kits())) == nkits
    assert len(list(pharm.shipments())) == nships
    assert not [k for k in pharm.kits(trial=TRIAL) if k["kit_number"].startswith("K6")]


# ---------------------------------------------------------------------------------------------
# Blinding
# ---------------------------------------------------------------------------------------------

def test_blinded_technician_never_sees_an_arm(site):
    rows = list(site.tech.kits())
    assert len(rows) >= 60
    for row in rows:
        if row["trial"] == TRIAL:
            assert row["arm"] == "(blinded)"
        for value in row.values():
            assert_no_arm(value)
    for kwargs in ({"trial": TRIAL}, {"status": "available"}, {"lot": _lot(1, "A")},
                   {"location": "FRIDGE-2"}, {"expiring_within_days": 1000}):
        for row in site.tech.kits(**kwargs):
            assert_no_arm(row)
    for query in (site.tech.discrepancies("S1"), site.tech.kit_history(TRIAL, _kit(1, 1)),
                  site.tech.shipments(TRIAL)):
        for row in query:
            assert_no_arm(row)


def test_unblinded_pharmacist_sees_arms(site):
    rows = rows_by_kit(site.pharm.kits(trial=TRIAL))
    for prefix in (1, 2, 3):
        for i in range(1, 21):
            assert rows[_kit(prefix, i)]["arm"] == _arm_of(i)


def test_blinded_failing_calls_never_show_an_arm(site):
    tech, pharm = site.tech, site.pharm
    size = pharm.size
    dup = HEADER + "%s,%s,%s,%s,%s\n" % (_kit(1, 1), KIT_TYPE, _lot(1, "A"), EXPIRY["A"],
                                          _arm_of(1))
    bad = HEADER + "K7001,%s,LOT-7A,2031-13-01,%s\n" % (KIT_TYPE, _arm_of(1))
    attempts = [
        lambda: tech.confirm("S3"),                                     # pharmacists only
        lambda: tech.receive(TRIAL, "S7", dup, "FRIDGE-1"),             # kit already in trial
        lambda: tech.receive(TRIAL, "S7", bad, "FRIDGE-1"),             # bad expiry beside arm
        lambda: tech.scan("S1", _kit(1, 1)),                            # already confirmed
        lambda: tech.scan("S3", "]d201%s21%s" % (GTIN[:-1] + "0", _kit(3, 1))),  # check digit
        lambda: tech.kit_set_status(TRIAL, _kit(1, 1), "destroyed", "test"),
        lambda: tech.kit_set_status(TRIAL, _kit(1, 3), "dispensed", "test"),
        lambda: tech.expiry_extend(TRIAL, "2035-01-01", "SPONSOR-1", kits=[_kit(1, 1)]),
        lambda: tech.transfer_out(TRIAL, [_kit(1, 1)], "Elsewhere", "OUT-T"),
        lambda: tech.transfer(TRIAL, ["K9999"], "FRIDGE-2"),
        lambda: tech.transfer(TRIAL, [_kit(1, 1)], "NO-SUCH-FRIDGE"),
    ]
    for attempt in attempts:
        with pytest.raises(ctm.Error) as excinfo:
            attempt()
        assert_no_arm(str(excinfo.value), excinfo.value.message, repr(excinfo.value))
    assert pharm.size == size


def test_blinded_audit_log_never_shows_an_arm(site):
    """The ledger as the technician reads it: no kit's arm in params or changes (the arm codes
    of the trial itself, in trial.add, are not secret)."""
    events = [e for e in site.tech.events() if e["action"] != "trial.add"]
    assert any(e["action"] == "shipment.receive" for e in events)
    for event in events:
        assert_no_arm(event)


def test_to_pandas(site):
    pandas = pytest.importorskip("pandas")
    q = site.pharm.kits(trial=TRIAL, lot=_lot(3, "A"))
    df = q.to_pandas()
    assert isinstance(df, pandas.DataFrame)
    assert list(df.columns) == list(q.columns)
    assert "arm" in df.columns and "kit_number" in df.columns
    assert len(df) == 10
    assert set(df["arm"]) == set(ARM_VALUES)
    blind = site.tech.kits(trial=TRIAL).to_pandas()
    assert set(blind["arm"]) == {"(blinded)"}
    assert_no_arm(blind.to_csv())
    # typed columns get their dtypes
    assert str(df["expiry"].dtype) == "datetime64[ns]"
    assert set(df["expiry"].dt.date) == {EXPIRY["A"]}
    assert df["dispensable"].dtype == bool and str(df["units"].dtype) == "int64"
    ships = site.pharm.shipments(TRIAL).to_pandas()
    assert str(ships["date_received"].dtype) == "datetime64[ns]"
    history = site.pharm.kit_history(TRIAL, _kit(1, 1)).to_pandas()
    assert str(history["since"].dtype) == "datetime64[ns, UTC]"
    assert str(history["until"].dtype) == "datetime64[ns, UTC]"  # None becomes NaT


def test_listings_are_typed(site):
    """Dates are datetime.date, times aware datetimes in UTC, flags bool: never text."""
    utc = datetime.timezone.utc
    kit = next(iter(site.pharm.kits(trial=TRIAL, lot=_lot(1, "A"))))
    assert type(kit["expiry"]) is datetime.date and type(kit["dispensable"]) is bool
    assert isinstance(kit["units"], int)
    lot = {r["lot"]: r for r in site.pharm.lots(TRIAL)}[_lot(1, "A")]
    assert lot["expiry"] == EXPIRY["A"] and type(lot["dispensable"]) is bool
    ship = {r["number"]: r for r in site.pharm.shipments(TRIAL)}["S1"]
    assert type(ship["date_received"]) is datetime.date and ship["date_received"] == TODAY
    trial = {t["code"]: t for t in site.pharm.trials()}[TRIAL]
    assert trial["created"].tzinfo == utc and abs(trial["created"] - NOW) < datetime.timedelta(1)
    history = list(site.pharm.kit_history(TRIAL, _kit(1, 1)))
    assert history[-1]["since"].tzinfo == utc and history[-1]["until"] is None
    # CSV keeps the library's text
    buf = io.StringIO()
    site.pharm.kits(trial=TRIAL, lot=_lot(1, "A")).to_csv(buf)
    row = next(csv.DictReader(io.StringIO(buf.getvalue())))
    assert row["expiry"] == EXPIRY["A"].isoformat() and row["dispensable"] in ("0", "1")


# ---------------------------------------------------------------------------------------------
# Stock
# ---------------------------------------------------------------------------------------------

def test_expiring_within_days(site):
    q = site.pharm.kits(trial=TRIAL, lot=_lot(1, "A"), expiring_within_days=250)
    assert len(list(q)) == 10
    assert list(site.pharm.kits(trial=TRIAL, lot=_lot(1, "B"), expiring_within_days=250)) == []
    assert len(list(site.pharm.kits(trial=TRIAL, lot=_lot(1, "B"),
                                    expiring_within_days=301))) == 10
    with pytest.raises(ctm.InvalidError):
        site.pharm.kits(expiring_within_days=-1)


def test_expiry_extend_by_lot(site):
    pharm = site.pharm
    lot = _lot(2, "B")
    new = EXPIRY["B"] + datetime.timedelta(days=90)
    size = pharm.size
    pharm.expiry_extend(TRIAL, new.isoformat(), "SPONSOR-LETTER-17", lot=lot)
    assert pharm.size == size + 1  # one action for the whole lot
    kits = list(pharm.kits(trial=TRIAL, lot=lot))
    assert len(kits) == 10
    assert {k["expiry"] for k in kits} == {new}
    event = list(pharm.events(from_seq=size))[0]
    assert event["action"] == "expiry.extend"
    assert event["esig_meaning"] == "expiry extended" and event["esig_user"] == PHARM
    # not later than the current expiry: refused, nothing changes
    with pytest.raises((ctm.InvalidError, ctm.RuleError)):
        pharm.expiry_extend(TRIAL, EXPIRY["B"], "SPONSOR-LETTER-18", lot=lot)
    with pytest.raises(ctm.InvalidError):
        pharm.expiry_extend(TRIAL, "2031-02-30", "SPONSOR-LETTER-18", lot=lot)
    with pytest.raises(ctm.NotFoundError):
        pharm.expiry_extend(TRIAL, "2040-01-01", "SPONSOR-LETTER-18", lot="NO-SUCH-LOT")
    with pytest.raises(ctm.InvalidError):
        pharm.expiry_extend(TRIAL, "2040-01-01", "SPONSOR-LETTER-18")
    assert pharm.size == size + 1


def test_expiry_extend_by_kits(site):
    pharm = site.pharm
    chosen = [_kit(2, 3), _kit(2, 4)]
    new = EXPIRY["A"] + datetime.timedelta(days=31)
    size = pharm.size
    pharm.expiry_extend(TRIAL, new, "SPONSOR-LETTER-21", kits=chosen)  # a datetime.date
    assert pharm.size == size + 1
    kits = rows_by_kit(pharm.kits(trial=TRIAL, lot=_lot(2, "A")))
    for kit, row in kits.items():
        assert row["expiry"] == (new if kit in chosen else EXPIRY["A"]), kit
    with pytest.raises(ctm.NotFoundError):
        pharm.expiry_extend(TRIAL, "2040-01-01", "SPONSOR-LETTER-22", kits=["K9999"])
    with pytest.raises(ctm.InvalidError):  # a bare str is not a list of kits
        pharm.expiry_extend(TRIAL, "2040-01-01", "SPONSOR-LETTER-22", kits=_kit(2, 5))
    with pytest.raises(ctm.InvalidError, match=f"kits: {_kit(2, 5)} named twice"):
        pharm.expiry_extend(TRIAL, "2040-01-01", "SPONSOR-LETTER-22",
                            kits=[_kit(2, 5), _kit(2, 6), _kit(2, 5)])
    # a long list: the kit named again after every other kit of the trial is found
    every = sorted(kit for kit, row in rows_by_kit(pharm.kits(trial=TRIAL)).items()
                   if row["status"] == "available")
    assert len(every) >= 20
    again = every[len(every) // 2]
    with pytest.raises(ctm.InvalidError, match=f"kits: {again} named twice"):
        pharm.expiry_extend(TRIAL, "2040-01-01", "SPONSOR-LETTER-22", kits=every + [again])
    assert pharm.size == size + 1
    assert rows_by_kit(pharm.kits(trial=TRIAL, lot=_lot(2, "A")))[_kit(2, 5)]["expiry"] == \
        EXPIRY["A"]


def test_transfer_and_history(site):
    pharm, tech = site.pharm, site.tech
    kits = [_kit(2, 5), _kit(2, 6)]
    size = pharm.size
    tech.transfer(TRIAL, kits, "FRIDGE-2", reason="rebalancing")
    assert pharm.size == size + 1
    there = {r["kit_number"] for r in pharm.kits(trial=TRIAL, location="FRIDGE-2")}
    assert set(kits) <= there
    pharm.transfer(TRIAL, (k for k in kits[:1]), "FRIDGE-1")  # any iterable, no reason
    history = list(pharm.kit_history(TRIAL, kits[0]))
    assert [h["location"] for h in history] == ["FRIDGE-1", "FRIDGE-2", "FRIDGE-1"]
    assert all(h["since"] for h in history)
    assert history[0]["until"] is not None and history[1]["until"] is not None
    assert history[-1]["until"] is None
    assert history[1]["since"] <= history[1]["until"]
    other = list(pharm.kit_history(TRIAL, kits[1]))
    assert [h["location"] for h in other] == ["FRIDGE-1", "FRIDGE-2"]
    size = pharm.size
    with pytest.raises(ctm.NotFoundError):
        pharm.transfer(TRIAL, kits, "NO-SUCH-FRIDGE")
    with pytest.raises(ctm.NotFoundError):
        pharm.transfer(TRIAL, ["K9999"], "FRIDGE-2")
    with pytest.raises(ctm.RuleError):  # missing: not on site
        pharm.transfer(TRIAL, [_kit(1, 18)], "FRIDGE-2")
    with pytest.raises(ctm.InvalidError):
        pharm.transfer(TRIAL, [_kit(2, 7), 8], "FRIDGE-2")
    assert pharm.size == size


def test_transfer_out(site):
    pharm, tech = site.pharm, site.tech
    kit = _kit(2, 8)
    with pytest.raises(ctm.PermissionDenied):
        tech.transfer_out(TRIAL, [kit], "Other Hospital Pharmacy", "OUT-1")
    size = pharm.size
    pharm.transfer_out(TRIAL, [kit], "Other Hospital Pharmacy", "OUT-1", reason="site closing")
    assert pharm.size == size + 1
    row = rows_by_kit(pharm.kits(trial=TRIAL, lot=_lot(2, "A")))[kit]
    assert row["status"] == "in_transit"
    ship = {r["number"]: r for r in pharm.shipments(TRIAL)}["OUT-1"]
    assert ship["direction"] == "out" and ship["status"] == "sent"
    assert ship["destination"] == "Other Hospital Pharmacy"
    assert ship["kits"] == 1
    size = pharm.size
    with pytest.raises(ctm.RuleError):  # no longer on site
        pharm.transfer(TRIAL, [kit], "FRIDGE-2")
    with pytest.raises(ctm.RuleError):
        pharm.transfer_out(TRIAL, [kit], "Third Site", "OUT-2")
    with pytest.raises(ctm.ExistsError):
        pharm.transfer_out(TRIAL, [_kit(2, 9)], "Third Site", "OUT-1")
    assert pharm.size == size


def test_kit_set_status(site):
    pharm, tech = site.pharm, site.tech
    kit = _kit(2, 10)

    def status(k):
        return rows_by_kit(pharm.kits(trial=TRIAL, lot=_lot(2, "A")))[k]["status"]

    tech.kit_set_status(TRIAL, kit, "quarantined", "fridge door found open")
    assert status(kit) == "quarantined"
    size = pharm.size
    with pytest.raises(ctm.PermissionDenied):  # technicians may not release
        tech.kit_set_status(TRIAL, kit, "available", "released by sponsor")
    assert pharm.size == size
    pharm.kit_set_status(TRIAL, kit, "available", "released by sponsor REF-9")
    assert status(kit) == "available"
    event = list(pharm.events(from_seq=size))[0]
    assert event["action"] == "kit.status" and event["reason"] == "released by sponsor REF-9"

    size = pharm.size
    for target in ("destroyed", "dispensed", "in_transit", "received", "returned_to_sponsor"):
        with pytest.raises(ctm.RuleError) as excinfo:
            pharm.kit_set_status(TRIAL, kit, target, "should be refused")
        assert "available" in str(excinfo.value) and target in str(excinfo.value)
    with pytest.raises(ctm.RuleError):  # missing cannot be dispensed by hand
        pharm.kit_set_status(TRIAL, _kit(1, 19), "dispensed", "should be refused")
    with pytest.raises(ctm.InvalidError):
        pharm.kit_set_status(TRIAL, kit, "no_such_status", "typo")
    with pytest.raises(ctm.InvalidError):
        pharm.kit_set_status(TRIAL, kit, "quarantined", "")
    with pytest.raises(ctm.NotFoundError):
        pharm.kit_set_status(TRIAL, "K9999", "quarantined", "no such kit")
    assert pharm.size == size
    assert status(kit) == "available"


# ---------------------------------------------------------------------------------------------
# GS1
# ---------------------------------------------------------------------------------------------

def test_gs1_parse_real_pack():
    got = ctm.gs1_parse("]d20105909990329717211039520876635" + GS + "1727043010NE76571")
    assert got == {
        "ai": {"01": "05909990329717", "21": "1039520876635", "17": "270430", "10": "NE76571"},
        "gtin": "05909990329717",
        "lot": "NE76571",
        "serial": "1039520876635",
        "expiry": datetime.date(2027, 4, 30),
    }


def test_gs1_parse_forms():
    bracketed = ctm.gs1_parse("(01)05909990329717(10)NE76571(17)270430")
    assert bracketed["ai"] == {"01": "05909990329717", "10": "NE76571", "17": "270430"}
    assert (bracketed["gtin"], bracketed["lot"], bracketed["serial"], bracketed["expiry"]) == \
        ("05909990329717", "NE76571", None, datetime.date(2027, 4, 30))
    day00 = ctm.gs1_parse("]d20105909990329717172704002111039520876635" + GS + "10NE76571")
    assert day00["expiry"] == datetime.date(2027, 4, 30) and day00["ai"]["17"] == "270400"
    assert ctm.gs1_parse("]d201059099903297171728022910A")["expiry"] == datetime.date(2028, 2, 29)
    assert ctm.gs1_parse("]d2010590999032971710ABC")["expiry"] is None


@pytest.mark.parametrize("text,ai", [
    ("]d20105909990329718211039520876635" + GS + "1727043010NE76571", "01"),
    ("]d20105909990329717172713301010", "17"),
    ("]d20105909990329717172702311010", "17"),
    ("]d2010590999032971710ABCDEFGHIJKLMNOPQRSTU", "10"),
    ("(01)05909990329717(10)A^B", "10"),
], ids=["check_digit", "bad_month", "feb_31", "lot_too_long", "lot_bad_char"])
def test_gs1_parse_rejects(text, ai):
    with pytest.raises(ctm.InvalidError) as excinfo:
        ctm.gs1_parse(text)
    assert ai in str(excinfo.value)
    assert excinfo.value.code == ctm._ctm.CTM_EINVAL


def test_gs1_parse_argument_checks():
    with pytest.raises(ctm.InvalidError):
        ctm.gs1_parse(b"(01)05909990329717")
    with pytest.raises(ctm.InvalidError):
        ctm.gs1_parse("(01)0590999\x000329717")


# ---------------------------------------------------------------------------------------------
# What the docs say the receipt and stock rules do
# ---------------------------------------------------------------------------------------------

def _receive_all(pharm, shipment, kits, lot, expiry):
    text = "kit_number,kit_type,lot,expiry,arm\n" + "".join(
        "%s,%s,%s,%s,%s\n" % (k, KIT_TYPE, lot, expiry, _arm_of(i)) for i, k in enumerate(kits))
    pharm.receive(TRIAL, shipment, text, "FRIDGE-1")
    pharm.confirm(shipment, unchecked_present=True)


def test_expiry_extension_by_lot_relabels_the_lot(site):
    """By lot: the lot carries the new date (later receipts of it must list it); kits in stock
    get it; a kit no longer on site keeps the date its label showed."""
    pharm = site.pharm
    lot, old, new = "LOT-RL", EXPIRY["A"], EXPIRY["A"] + datetime.timedelta(days=120)
    kits = ["RL-001", "RL-002", "RL-003", "RL-004"]
    _receive_all(pharm, "RELABEL-1", kits, lot, old)
    pharm.transfer_out(TRIAL, ["RL-004"], "Other site", "RELABEL-OUT")
    pharm.expiry_extend(TRIAL, new, "SPONSOR-LETTER-31", lot=lot)
    assert {r["lot"]: r for r in pharm.lots(TRIAL)}[lot]["expiry"] == new
    expiry = {r["kit_number"]: r["expiry"] for r in pharm.kits(trial=TRIAL, lot=lot)}
    assert expiry == {"RL-001": new, "RL-002": new, "RL-003": new, "RL-004": old}
    size = pharm.size
    with pytest.raises(ctm.InvalidError, match="expiry"):
        _receive_all(pharm, "RELABEL-2", ["RL-101"], lot, old)
    assert pharm.size == size
    _receive_all(pharm, "RELABEL-2", ["RL-101"], lot, new)
    # by kits: only those kits change; the lot keeps its date
    newer = new + datetime.timedelta(days=30)
    pharm.expiry_extend(TRIAL, newer, "SPONSOR-LETTER-32", kits=["RL-001"])
    assert {r["lot"]: r for r in pharm.lots(TRIAL)}[lot]["expiry"] == new
    expiry = {r["kit_number"]: r["expiry"] for r in pharm.kits(trial=TRIAL, lot=lot)}
    assert expiry["RL-001"] == newer and expiry["RL-002"] == new and expiry["RL-101"] == new


def test_checked_kit_scanned_again_as_damaged(site):
    """A second scan as damaged is recorded (not a repeat): the kit is damaged at confirmation."""
    pharm = site.pharm
    pharm.receive(TRIAL, "DAMAGED-1", "kit_number,kit_type,lot,expiry,arm\n"
                  "DM-001,%s,LOT-DM,%s,VERUM\n" % (KIT_TYPE, EXPIRY["A"]), "FRIDGE-1")
    assert pharm.scan("DAMAGED-1", "DM-001")["outcome"] == "ok"
    size = pharm.size
    again = pharm.scan("DAMAGED-1", "DM-001", damaged=True)
    assert again["outcome"] == "ok" and "damaged" in again["detail"]
    assert pharm.size == size + 1
    assert pharm.scan("DAMAGED-1", "DM-001", damaged=True)["outcome"] == "repeat"
    assert pharm.scan("DAMAGED-1", "DM-001")["outcome"] == "repeat"
    pharm.confirm("DAMAGED-1")
    assert next(iter(pharm.kits(trial=TRIAL, lot="LOT-DM")))["status"] == "damaged"
    assert [r["kind"] for r in pharm.discrepancies("DAMAGED-1")] == ["damaged"]


def test_bulk_receipt_with_an_excursion_is_refused(site):
    """Bulk units have no status to quarantine: such a shipment waits for the sponsor."""
    pharm = site.pharm
    size = pharm.size
    with pytest.raises(ctm.RuleError, match="excursion"):
        pharm.bulk_receive(OPEN_TRIAL, "BULK-EXCURSION", "BULK", "OBX", "2027-09-30", 50,
                           "FRIDGE-1", excursion=True)
    assert pharm.size == size
    assert "BULK-EXCURSION" not in {r["number"] for r in pharm.shipments()}


# ---------------------------------------------------------------------------------------------
# Last: the whole database verifies
# ---------------------------------------------------------------------------------------------

def test_verify_at_the_end(site):
    result = site.pharm.verify(vkey=site.pharm.vkey())
    assert result["failed_seq"] == -1
    assert result["entries"] == site.pharm.size
    assert result["esignatures"] >= 3  # user adds, receipt confirmations, expiry extensions
    with ctm_open(site.path, readonly=True) as db:
        assert db.verify()["root_hex"] == result["root_hex"]


def test_bulk_supply_counted_per_lot(site):
    """Open-label bulk supply: units per lot, confirmed at once with an e-signature."""
    pharm, tech = site.pharm, site.tech
    size = pharm.size
    pharm.bulk_receive(OPEN_TRIAL, "BULK-1", "BULK", "OB1", datetime.date(2027, 9, 30), 300,
                       "FRIDGE-2", origin="Academic pharmacy")
    pharm.bulk_receive(OPEN_TRIAL, "BULK-2", "BULK", "OB1", "2027-09-30", 200, "FRIDGE-1")
    assert pharm.size == size + 2
    lots = {row["lot"]: row for row in tech.lots(OPEN_TRIAL)}
    assert lots["OB1"]["bulk_units"] == 500 and lots["OB1"]["kits"] == 0
    assert lots["OB1"]["expiry"] == datetime.date(2027, 9, 30)
    last = list(pharm.events(from_seq=pharm.size - 1))[0]
    assert last["action"] == "shipment.receive_bulk" and last["esig_meaning"] == "receipt confirmed"
    with pytest.raises(ctm.RuleError):
        pharm.bulk_receive(TRIAL, "BULK-3", KIT_TYPE, "OB2", "2027-09-30", 5, "FRIDGE-1")
    with pytest.raises(ctm.PermissionDenied):
        tech.bulk_receive(OPEN_TRIAL, "BULK-4", "BULK", "OB2", "2027-09-30", 5, "FRIDGE-1")
    with pytest.raises(ctm.InvalidError):
        pharm.bulk_receive(OPEN_TRIAL, "BULK-5", "BULK", "OB1", "2028-01-31", 5, "FRIDGE-1")
    with pytest.raises(ctm.InvalidError):
        pharm.bulk_receive(OPEN_TRIAL, "BULK-6", "BULK", "OB3", "2028-01-31", "5", "FRIDGE-1")
    assert pharm.size == size + 2
    pharm.verify()


# ---------------------------------------------------------------------------------------------
# One kit, scans for kits, receipt status, undoing a scan, voiding a shipment
# ---------------------------------------------------------------------------------------------

def test_kit_show_by_number_and_scan(site):
    kit = _kit(1, 6)
    shown = site.pharm.kit_show(kit, trial=TRIAL)
    assert (shown["trial"], shown["kit_number"], shown["kit_type"]) == (TRIAL, kit, KIT_TYPE)
    assert shown["lot"] == _lot(1, "A") and shown["expiry"] == EXPIRY["A"]
    assert shown["status"] == "available" and shown["location"] == "FRIDGE-1"
    assert shown["arm"] == _arm_of(6) and shown["shipment"] == "S1"
    assert shown["shipment_status"] == "confirmed" and shown["checked"] == "ok"
    assert shown["kit_type_name"] == "Zoltrax 10 mg tablets" and shown["serial"] == kit
    assert [h["location"] for h in shown["history"]] == ["FRIDGE-1"]
    for scan in (gs1_scan(kit, _lot(1, "A"), EXPIRY["A"]), gs1_bracketed(kit, "X", EXPIRY["A"])):
        assert site.pharm.kit_show(scan) == shown
    as_tech = site.tech.kit_show(gs1_scan(kit, _lot(1, "A"), EXPIRY["A"]))
    assert as_tech["arm"] == "(blinded)"
    assert_no_arm(as_tech)
    assert {k: v for k, v in as_tech.items() if k != "arm"} == \
        {k: v for k, v in shown.items() if k != "arm"}
    assert site.pharm.kit_show(_kit(1, 4))["checked"] == "damaged"
    with pytest.raises(ctm.NotFoundError):
        site.pharm.kit_show("K7777")
    with pytest.raises(ctm.NotFoundError):
        site.pharm.kit_show("(01)%s(21)K7777" % GTIN)
    with pytest.raises(ctm.InvalidError):
        site.pharm.kit_show("(01)%s(10)L1" % GTIN)  # no serial: names no kit
    # a GTIN that contradicts the kit's is not that kit
    with pytest.raises(ctm.NotFoundError):
        site.pharm.kit_show("(01)05012345678900(21)%s" % kit)


def test_kit_calls_take_scans(site):
    kit = _kit(2, 12)
    scan = gs1_scan(kit, _lot(2, "B"), EXPIRY["B"])
    site.tech.kit_set_status(TRIAL, scan, "quarantined", "fell on the floor")
    assert site.pharm.kit_show(kit)["status"] == "quarantined"
    last = list(site.pharm.events(from_seq=site.pharm.size - 1))[0]
    assert last["action"] == "kit.status" and "kit" in last["params"]
    assert last["params"]["kit"] == kit  # the kit, not the barcode
    site.tech.transfer(TRIAL, [gs1_bracketed(_kit(2, 13), "X", EXPIRY["B"])], "FRIDGE-2")
    assert [h["location"] for h in site.tech.kit_history(None, _kit(2, 13))] == \
        ["FRIDGE-1", "FRIDGE-2"]
    with pytest.raises(ctm.InvalidError):  # the number and a scan of the same kit
        site.tech.transfer(TRIAL, [_kit(2, 14), gs1_scan(_kit(2, 14), "X", EXPIRY["B"])],
                           "FRIDGE-2")


def test_kits_by_shipment_and_receive_status(site):
    assert set(rows_by_kit(site.tech.kits(shipment="S3"))) == {_kit(3, i) for i in range(1, 21)}
    assert set(rows_by_kit(site.tech.kits(shipment="S3", lot=_lot(3, "A")))) == \
        {_kit(3, i) for i in range(1, 11)}
    with pytest.raises(ctm.NotFoundError):
        site.tech.kits(shipment="S-NONE")
    s1 = site.tech.receive_status("S1")
    assert s1 == {"shipment": "S1", "trial": TRIAL, "status": "confirmed", "kits": 20,
                  "unchecked": 3, "checked": 17, "ok": 15, "mismatched": 1, "damaged": 1,
                  "extra": 1, "discrepancies": s1["discrepancies"]}
    assert s1["discrepancies"] == len(site.tech.discrepancies("S1").fetchall())
    assert_no_arm(s1, site.tech.receive_status("S3"))
    with pytest.raises(ctm.NotFoundError):
        site.tech.receive_status("S-NONE")


def test_unscan(site):
    tech = site.tech
    tech.receive(TRIAL, "S18", manifest(18, n=4), "FRIDGE-1")
    tech.scan("S18", gs1_scan(_kit(18, 1), "LOT-WRONG", EXPIRY["A"]))
    tech.scan("S18", "K18999")
    before = tech.receive_status("S18")
    assert (before["checked"], before["mismatched"], before["extra"]) == (1, 1, 1)
    tech.unscan("S18", gs1_scan(_kit(18, 1), "LOT-WRONG", EXPIRY["A"]), "scanned the wrong pack")
    tech.unscan("S18", "K18999", "not ours")
    after = tech.receive_status("S18")
    assert (after["checked"], after["discrepancies"]) == (0, 0)
    with pytest.raises(ctm.RuleError):
        tech.unscan("S18", _kit(18, 2), "never scanned")
    with pytest.raises(ctm.NotFoundError):
        tech.unscan("S18", "K18998", "never there")
    with pytest.raises(ctm.InvalidError):
        tech.unscan("S18", _kit(18, 1), "")
    actions = [e for e in site.pharm.events() if e["action"] == "shipment.unscan"]
    assert [e["reason"] for e in actions[-2:]] == ["scanned the wrong pack", "not ours"]
    for event in tech.events(from_seq=site.pharm.size - 6):
        assert_no_arm(event)
    site.pharm.verify()


def test_void(site):
    pharm, tech = site.pharm, site.tech
    tech.receive(TRIAL, "S19", manifest(19, n=4), "FRIDGE-1")
    tech.scan("S19", _kit(19, 1))
    with pytest.raises(ctm.PermissionDenied):
        tech.void("S19", "wrong trial")
    with pytest.raises(ctm.InvalidError):
        pharm.void("S19", "")
    pharm.void("S19", "wrong trial")
    with pytest.raises(ctm.NotFoundError):
        pharm.kits(shipment="S19")
    assert not [r for r in pharm.kits(trial=TRIAL) if r["kit_number"].startswith("K19")]
    assert not [r for r in pharm.lots(TRIAL) if r["lot"].startswith("LOT-9")]
    last = list(pharm.events(from_seq=pharm.size - 1))[0]
    assert last["action"] == "shipment.void" and last["esig_meaning"] == "shipment voided"
    # the same number again, then confirmed: no longer voidable
    tech.receive(TRIAL, "S19", manifest(19, n=2), "FRIDGE-1")
    pharm.confirm("S19", unchecked_present=True)
    with pytest.raises(ctm.RuleError):
        pharm.void("S19", "too late")
    pharm.verify()
