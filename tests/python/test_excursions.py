"""Temperature excursions through the ctm Python bindings: recorded as logger files are imported
(a run out of range lasting the location's alarm delay, a gap longer than the allowed gap), the
kits in the fridge quarantined, an ongoing excursion extended by the next file, the sponsor's
decisions (whole or per kit, release or reject, pharmacists only), the report, a shipment's own
logger, and what a blinded user reads.

libctm takes the time of a kit's arrival from the clock, and an excursion affects the kits that
were in the place during it: so the logger files here hold readings from the next hour on, after
the kits of the fixture arrived, and every expected time is counted from that hour (BASE).
"""
import datetime
import json
import pathlib

import pytest

import ctm
from conftest import ADMIN, ADMIN_PW, SITE, ctm_init, ctm_open, new_site_path

PW = "excursion-password-1"
TRIAL = "CT-EXC"
ARMS = ("QZACTIVE", "QZPLACEBO")
UTC = datetime.timezone.utc
BASE = (datetime.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        + datetime.timedelta(hours=1))
SERIAL = "1000777001"


def at(minutes):
    """BASE plus so many minutes."""
    return BASE + datetime.timedelta(minutes=minutes)


def logger_file(path, start_minutes, temps, step=10, serial=SERIAL, times=None):
    """A LogTag Analyzer export: temps[i] at BASE + start_minutes + i * step minutes (or at the
    minutes listed in times), local times read as UTC (import with tz="UTC")."""
    minutes = times if times is not None else [start_minutes + i * step for i in range(len(temps))]
    lines = ["Serial #,%s" % serial, "Product Name,TRIX-8", "Reading interval,00:%02d:00" % step,
             "", "No.,Date/Time,Temperature"]
    lines += ["%d,%s,%.1f" % (i + 1, at(m).strftime("%Y-%m-%d %H:%M:%S"), t)
              for i, (m, t) in enumerate(zip(minutes, temps))]
    path.write_text("\n".join(lines) + "\n")
    return path


# Two hours above 8 C, from minute 60 (9.0 C, rising 0.2 C a reading to 11.2 C at minute 170) to
# the first reading back in range at minute 180, in 30 readings every 10 minutes.
HIGH = [9.0 + 0.2 * (i - 6) if 6 <= i < 18 else 5.0 for i in range(30)]


@pytest.fixture
def site(tmp_path):
    """A blinded trial's kits K1, K2 available in FRIDGE-1 and K3 in FRIDGE-2."""
    path = new_site_path(tmp_path)
    with ctm_init(path, SITE, ADMIN, ADMIN_PW) as db:
        db.user_add("paula", "pharmacist", PW, unblinded=True, printed_name="Paula Pharm")
        db.user_add("bert", "pharmacist", PW)
        db.user_add("tom", "technician", PW)
        db.user_add("ivy", "investigator", PW)
    with ctm_open(path, "paula", PW) as db:
        db.trial_add(TRIAL, "Excursions", "Sponsor AB", {ARMS[0]: 1, ARMS[1]: 1}, blinded=True)
        db.kittype_add(TRIAL, "KT", "Drug or placebo", 30, (2, 8))
        db.location_add("FRIDGE-1", (2, 8), kind="fridge")
        db.location_add("FRIDGE-2", (2, 8), kind="fridge")
        head = "kit_number,kit_type,lot,expiry,arm\n"
        db.receive(TRIAL, "SH-1", head + "K1,KT,L1,2030-01-31,%s\nK2,KT,L1,2030-01-31,%s\n" % ARMS,
                   "FRIDGE-1")
        db.confirm("SH-1", unchecked_present=True)
        db.receive(TRIAL, "SH-2", head + "K3,KT,L1,2030-01-31,%s\n" % ARMS[0], "FRIDGE-2")
        db.confirm("SH-2", unchecked_present=True)
    return path


@pytest.fixture
def paula(site):
    with ctm_open(site, "paula", PW) as db:
        yield db


def statuses(db):
    return {k["kit_number"]: k["status"] for k in db.kits(trial=TRIAL)}


def test_a_high_excursion_quarantines_the_fridges_kits(paula, tmp_path):
    r = paula.temp_import("FRIDGE-1", logger_file(tmp_path / "f1.csv", 0, HIGH), tz="UTC")
    assert (r["readings"], r["excursions"], r["quarantined"], r["serial"]) == (30, 1, 2, SERIAL)
    [e] = paula.excursions("FRIDGE-1").fetchall()
    assert e["excursion"] >= 1 and e["detected_by"] == "paula"
    assert {k: e[k] for k in ("location", "shipment", "kind", "daily", "start", "end", "ongoing",
                              "minutes", "min", "min_time", "max", "max_time", "readings",
                              "range_min", "range_max", "delay_minutes", "status", "kits",
                              "quarantined", "decided", "decided_by", "reference")} == {
        "location": "FRIDGE-1", "shipment": None, "kind": "high", "daily": False,
        "start": at(60), "end": at(180), "ongoing": False, "minutes": 120,
        "min": 9.0, "min_time": at(60), "max": 11.2, "max_time": at(170), "readings": 12,
        "range_min": 2.0, "range_max": 8.0, "delay_minutes": 30, "status": "open", "kits": 2,
        "quarantined": 2, "decided": None, "decided_by": None, "reference": None}
    # each reading holds 10 minutes: (1.0 + 1.2 + ... + 3.2) C x 10 min beyond 8 C
    assert e["degree_minutes"] == pytest.approx(252.0)
    assert e["detected"].tzinfo is not None
    assert statuses(paula) == {"K1": "quarantined", "K2": "quarantined", "K3": "available"}
    kits = paula.excursion_kits(e["excursion"]).fetchall()
    assert [(k["trial"], k["kit_number"], k["kit_type"], k["lot"], k["status_was"],
             k["quarantined"], k["status"], k["decision"]) for k in kits] == [
        (TRIAL, "K1", "KT", "L1", "available", True, "quarantined", None),
        (TRIAL, "K2", "KT", "L1", "available", True, "quarantined", None)]
    # the kit type has no excursion budget: any time out of range flags a kit for rejection
    assert [(k["minutes_out"], k["over_budget"]) for k in kits] == [(120, True), (120, True)]
    exposure = paula.kit_exposure("K1")
    assert (exposure["minutes_high"], exposure["over_budget"]) == (120, True)
    assert paula.excursions("FRIDGE-2").fetchall() == []
    assert paula.verify()["failed_seq"] == -1


def test_excursions_and_their_kits_as_dataframes(paula, tmp_path):
    paula.temp_import("FRIDGE-1", logger_file(tmp_path / "f1.csv", 0, HIGH), tz="UTC")
    df = paula.excursions().to_pandas()
    assert len(df) == 1 and df["kind"].tolist() == ["high"]
    for column in ("start", "end", "min_time", "max_time", "detected"):
        assert str(df[column].dtype) == "datetime64[ns, UTC]", column
    assert str(df["ongoing"].dtype) == "bool" and str(df["daily"].dtype) == "bool"
    assert df["start"][0].to_pydatetime() == at(60)
    assert (df["end"] - df["start"])[0] == datetime.timedelta(minutes=120)
    kits = paula.excursion_kits(int(df["excursion"][0])).to_pandas()
    assert kits["kit_number"].tolist() == ["K1", "K2"]
    assert str(kits["quarantined"].dtype) == "bool" and kits["quarantined"].all()
    assert str(kits["over_budget"].dtype) == "bool"
    assert "arm" not in kits.columns


def test_release_by_the_sponsors_reference_makes_the_kits_available(paula, tmp_path):
    paula.temp_import("FRIDGE-1", logger_file(tmp_path / "f1.csv", 0, HIGH), tz="UTC")
    [n] = [e["excursion"] for e in paula.excursions()]
    paula.excursion_decide(n, "release", "SPONSOR-TE-118")
    assert statuses(paula) == {"K1": "available", "K2": "available", "K3": "available"}
    [e] = paula.excursions().fetchall()
    assert (e["status"], e["reference"], e["decided_by"]) == ("released", "SPONSOR-TE-118", "paula")
    assert e["decided"].tzinfo is not None
    assert [(k["kit_number"], k["decision"], k["reference"], k["decided_by"], k["status"])
            for k in paula.excursion_kits(n)] == [
        ("K1", "released", "SPONSOR-TE-118", "paula", "available"),
        ("K2", "released", "SPONSOR-TE-118", "paula", "available")]
    assert paula.excursions(open_only=True).fetchall() == []
    with pytest.raises(ctm.RuleError):
        paula.excursion_decide(n, "reject", "SPONSOR-TE-119")
    [entry] = paula.events(action="excursion.release").fetchall()
    assert entry["esig_meaning"] == "excursion released"
    assert entry["params"]["reference"] == "SPONSOR-TE-118"
    assert paula.verify()["failed_seq"] == -1


def test_reject_sends_the_kits_to_pending_destruction(paula, tmp_path):
    paula.temp_import("FRIDGE-1", logger_file(tmp_path / "f1.csv", 0, HIGH), tz="UTC")
    [n] = [e["excursion"] for e in paula.excursions()]
    paula.excursion_decide(n, "reject", "SPONSOR-TE-120")
    assert statuses(paula) == {"K1": "pending_destruction", "K2": "pending_destruction",
                               "K3": "available"}
    assert paula.excursions().fetchall()[0]["status"] == "rejected"
    [entry] = paula.events(action="excursion.reject").fetchall()
    assert entry["esig_meaning"] == "excursion rejected"
    with pytest.raises(ctm.InvalidError):
        paula.excursion_decide(n, "accept", "SPONSOR-TE-121")


def test_decisions_kit_by_kit(paula, tmp_path):
    paula.temp_import("FRIDGE-1", logger_file(tmp_path / "f1.csv", 0, HIGH), tz="UTC")
    [n] = [e["excursion"] for e in paula.excursions()]
    with pytest.raises(ctm.InvalidError):
        paula.excursion_decide(n, "release", "SPONSOR-TE-122", kits=[])  # not "all of them"
    with pytest.raises(ctm.RuleError):
        paula.excursion_decide(n, "release", "SPONSOR-TE-122", kits=["K3"])  # not in it
    with pytest.raises(ctm.NotFoundError):
        paula.excursion_decide(n, "release", "SPONSOR-TE-122", kits=["K9"])
    with pytest.raises(ctm.NotFoundError):
        paula.excursion_decide(n + 100, "release", "SPONSOR-TE-122")
    paula.excursion_decide(n, "release", "SPONSOR-TE-122", kits=["K1"])
    assert statuses(paula) == {"K1": "available", "K2": "quarantined", "K3": "available"}
    assert paula.excursions().fetchall()[0]["status"] == "open"
    with pytest.raises(ctm.RuleError):
        paula.excursion_decide(n, "reject", "SPONSOR-TE-123", kits=["K1"])  # decided already
    paula.excursion_decide(n, "reject", "SPONSOR-TE-123", kits=["K2"])
    assert statuses(paula) == {"K1": "available", "K2": "pending_destruction", "K3": "available"}
    [e] = paula.excursions().fetchall()
    assert (e["status"], e["reference"]) == ("decided", None)
    assert [(k["kit_number"], k["decision"], k["reference"]) for k in paula.excursion_kits(n)] == [
        ("K1", "released", "SPONSOR-TE-122"), ("K2", "rejected", "SPONSOR-TE-123")]
    assert paula.excursions(open_only=True).fetchall() == []


def test_a_kit_stays_in_quarantine_while_another_excursion_holds_it(paula, tmp_path):
    # two runs above range in one file: minutes 60-100 and 200-240
    temps = [9.5 if 6 <= i < 10 or 20 <= i < 24 else 5.0 for i in range(30)]
    r = paula.temp_import("FRIDGE-1", logger_file(tmp_path / "f1.csv", 0, temps), tz="UTC")
    assert (r["excursions"], r["quarantined"]) == (2, 2)
    second, first = [(e["excursion"], e["start"]) for e in paula.excursions("FRIDGE-1")]
    assert (first[1], second[1]) == (at(60), at(200))  # newest first
    paula.excursion_decide(first[0], "release", "SPONSOR-TE-124")
    assert statuses(paula)["K1"] == "quarantined"
    paula.excursion_decide(second[0], "release", "SPONSOR-TE-125")
    assert statuses(paula) == {"K1": "available", "K2": "available", "K3": "available"}


def test_a_second_file_extends_an_ongoing_excursion(paula, tmp_path):
    # out of range from minute 60 to the file's last reading at minute 110
    a = [9.5 if i >= 6 else 5.0 for i in range(12)]
    r = paula.temp_import("FRIDGE-1", logger_file(tmp_path / "a.csv", 0, a), tz="UTC")
    assert (r["excursions"], r["quarantined"]) == (1, 2)
    [e] = paula.excursions().fetchall()
    assert (e["ongoing"], e["start"], e["end"], e["minutes"], e["readings"]) == (
        True, at(60), at(110), 50, 6)
    with pytest.raises(ctm.RuleError):  # still going on: its end is not known yet
        paula.excursion_decide(e["excursion"], "release", "SPONSOR-TE-126")
    # the next file: still out at minutes 120-140 (10.0 C at 130), back in range at 150
    b = [9.5, 10.0, 9.5, 5.0, 5.0, 5.0]
    r = paula.temp_import("FRIDGE-1", logger_file(tmp_path / "b.csv", 120, b), tz="UTC")
    assert (r["excursions"], r["quarantined"]) == (1, 0)
    [f] = paula.excursions().fetchall()
    assert f["excursion"] == e["excursion"]
    assert (f["ongoing"], f["start"], f["end"], f["minutes"], f["readings"], f["max"],
            f["max_time"], f["kits"], f["status"]) == (
        False, at(60), at(150), 90, 9, 10.0, at(130), 2, "open")
    paula.excursion_decide(f["excursion"], "release", "SPONSOR-TE-126")
    assert statuses(paula)["K1"] == "available"


def test_a_run_at_the_end_shorter_than_the_delay_waits_for_the_next_file(paula, tmp_path):
    a = [5.0] * 10 + [9.5, 9.5]  # out of range at minutes 100 and 110 only: 10 minutes so far
    r = paula.temp_import("FRIDGE-1", logger_file(tmp_path / "a.csv", 0, a), tz="UTC")
    assert (r["excursions"], r["quarantined"]) == (0, 0)
    b = [9.5, 9.5, 5.0]  # still out at 120 and 130, back in range at 140
    r = paula.temp_import("FRIDGE-1", logger_file(tmp_path / "b.csv", 120, b), tz="UTC")
    assert (r["excursions"], r["quarantined"]) == (1, 2)
    assert [(e["start"], e["end"], e["minutes"], e["readings"], e["ongoing"])
            for e in paula.excursions()] == [(at(100), at(140), 40, 4, False)]


def test_a_run_across_both_limits_is_mixed(paula, tmp_path):
    temps = [5.0, 9.0, 9.5, 1.5, 1.0, 5.0]
    r = paula.temp_import("FRIDGE-1", logger_file(tmp_path / "m.csv", 0, temps), tz="UTC")
    assert r["excursions"] == 1
    [e] = paula.excursions().fetchall()
    assert (e["kind"], e["start"], e["end"], e["min"], e["min_time"], e["max"], e["max_time"]) == (
        "mixed", at(10), at(50), 1.0, at(40), 9.5, at(20))
    # (1.0 + 1.5 + 0.5 + 1.0) C x 10 minutes beyond the range
    assert e["degree_minutes"] == pytest.approx(40.0)


def test_only_the_sponsors_decision_takes_a_kit_out_of_quarantine(paula, tmp_path):
    paula.temp_import("FRIDGE-1", logger_file(tmp_path / "f1.csv", 0, HIGH), tz="UTC")
    [n] = [e["excursion"] for e in paula.excursions()]
    with pytest.raises(ctm.RuleError, match="sponsor"):
        paula.kit_set_status(TRIAL, "K1", "available", "checked with the sponsor by phone")
    with pytest.raises(ctm.InvalidError):
        paula.excursion_decide(n, "release", "")
    with pytest.raises(ctm.InvalidError):
        paula.excursion_decide(n, "release", "R" * 200 + "R")
    assert statuses(paula)["K1"] == "quarantined"
    paula.excursion_decide(n, "release", "R" * 200)
    assert statuses(paula)["K1"] == "available"


def test_a_gap_longer_than_the_allowed_gap_is_of_unknown_temperature(paula, tmp_path):
    # readings in range at minutes 0, 10, 20, then none until 200: the reading at 20 holds
    # until 80 (the allowed gap, 60 minutes by default), and 80 to 200 is not known
    times = [0, 10, 20, 200, 210]
    path = logger_file(tmp_path / "gap.csv", 0, [5.0] * 5, times=times)
    r = paula.temp_import("FRIDGE-1", path, tz="UTC")
    assert (r["excursions"], r["quarantined"]) == (1, 2)
    [e] = paula.excursions().fetchall()
    assert (e["kind"], e["start"], e["end"], e["minutes"], e["ongoing"]) == (
        "unknown", at(80), at(200), 120, False)
    assert (e["min"], e["max"], e["degree_minutes"]) == (None, None, None)
    assert statuses(paula)["K1"] == "quarantined"
    # a location whose logger may be silent for 4 hours: the same gap is no excursion
    paula.location_alarm("FRIDGE-2", 30, 240)
    r = paula.temp_import("FRIDGE-2", logger_file(tmp_path / "gap2.csv", 0, [5.0] * 5,
                                                  times=times), tz="UTC")
    assert (r["excursions"], r["quarantined"]) == (0, 0)
    assert statuses(paula)["K3"] == "available"


def test_the_report_of_an_unknown_excursion_is_json_without_an_mkt(paula, tmp_path):
    times = [0, 10, 20, 200, 210]
    paula.temp_import("FRIDGE-1", logger_file(tmp_path / "gap.csv", 0, [5.0] * 5, times=times),
                      tz="UTC")
    [n] = [e["excursion"] for e in paula.excursions()]
    report = paula.excursion_report(n)
    assert (report["excursion"]["kind"], report["mkt"]) == ("unknown", None)


def test_a_daily_summary_loggers_alarm_days(paula):
    fridge_tag = (pathlib.Path(__file__).resolve().parents[1] / "data" / "loggers"
                  / "fridgetag2-sample.txt")  # UTC+1; alarm minutes on 5 and 7 March 2024
    r = paula.temp_import("FRIDGE-2", fridge_tag)
    assert (r["days"], r["excursions"], r["serial"]) == (10, 2, "130400190001")
    day = datetime.timedelta(days=1)
    march = datetime.datetime(2024, 3, 4, 23, 0, tzinfo=UTC)
    assert [(e["kind"], e["daily"], e["start"], e["end"], e["minutes"], e["degree_minutes"])
            for e in paula.excursions("FRIDGE-2")] == [
        ("low", True, march + 2 * day, march + 3 * day, 12, None),
        ("high", True, march, march + day, 95, None)]


def test_the_alarm_delay_decides_what_counts(site, paula, tmp_path):
    # files one after the other (a longer gap between them would be an excursion of its own)
    twenty = [5.0, 5.0, 9.0, 9.0, 5.0, 5.0]  # out of range for 20 minutes
    r = paula.temp_import("FRIDGE-2", logger_file(tmp_path / "a.csv", 0, twenty), tz="UTC")
    assert r["excursions"] == 0  # the default delay is 30 minutes
    paula.location_alarm("FRIDGE-2", 15, 60)
    r = paula.temp_import("FRIDGE-2", logger_file(tmp_path / "b.csv", 60, twenty), tz="UTC")
    assert (r["excursions"], r["quarantined"]) == (1, 1)
    paula.location_alarm("FRIDGE-2", 0, 60)
    ten = [5.0, 5.0, 1.5, 5.0]  # one reading below range: 10 minutes
    r = paula.temp_import("FRIDGE-2", logger_file(tmp_path / "c.csv", 120, ten), tz="UTC")
    assert r["excursions"] == 1
    assert [(e["kind"], e["start"], e["minutes"], e["delay_minutes"], e["min"])
            for e in paula.excursions("FRIDGE-2")] == [
        ("low", at(140), 10, 0, 1.5), ("high", at(80), 20, 15, 9.0)]
    with pytest.raises(ctm.InvalidError):
        paula.location_alarm("FRIDGE-2", 1441, 60)
    with pytest.raises(ctm.InvalidError):
        paula.location_alarm("FRIDGE-2", 30, 0)
    with pytest.raises(ctm.NotFoundError):
        paula.location_alarm("FREEZER-9", 30, 60)
    [entry] = paula.events(action="location.alarm", last=1).fetchall()
    assert entry["params"]["delay_minutes"] == "0"
    with ctm_open(site, ADMIN, ADMIN_PW) as admin:  # administrators set them too
        admin.location_alarm("FRIDGE-2", 5, 60)


def test_only_pharmacists_decide(site, paula, tmp_path):
    paula.temp_import("FRIDGE-1", logger_file(tmp_path / "f1.csv", 0, HIGH), tz="UTC")
    [n] = [e["excursion"] for e in paula.excursions()]
    with ctm_open(site, "tom", PW) as tom:
        assert [e["excursion"] for e in tom.excursions()] == [n]
        assert len(tom.excursion_kits(n).fetchall()) == 2
        with pytest.raises(ctm.PermissionDenied):
            tom.excursion_decide(n, "release", "SPONSOR-TE-127")
        with pytest.raises(ctm.PermissionDenied):
            tom.excursion_decide(n, "reject", "SPONSOR-TE-127", kits=["K1"])
        with pytest.raises(ctm.PermissionDenied):
            tom.location_alarm("FRIDGE-1", 10, 60)
    with ctm_open(site, "ivy", PW) as ivy:
        with pytest.raises(ctm.PermissionDenied):
            ivy.excursion_decide(n, "release", "SPONSOR-TE-127")
    assert paula.excursions().fetchall()[0]["status"] == "open"
    assert statuses(paula)["K1"] == "quarantined"


def test_a_blinded_user_reads_excursions_and_kits_without_an_arm(site, paula, tmp_path):
    paula.temp_import("FRIDGE-1", logger_file(tmp_path / "f1.csv", 0, HIGH), tz="UTC")
    [n] = [e["excursion"] for e in paula.excursions()]
    with ctm_open(site, "bert", PW) as bert:
        excursions = bert.excursions().fetchall()
        kits = bert.excursion_kits(n)
        assert "arm" not in kits.columns
        kits = kits.fetchall()
        reports = [bert.excursion_report(n, f) for f in ("text", "csv")]
        reports.append(bert.excursion_report(n, "json", parse=False))
        assert [e["excursion"] for e in excursions] == [n]
        assert [k["kit_number"] for k in kits] == ["K1", "K2"]
        for text in [repr(excursions), repr(kits)] + reports:
            for arm in ARMS:
                assert arm not in text
        bert.excursion_decide(n, "release", "SPONSOR-TE-128", kits=["K2"])
    # the search above could find an arm: an unblinded listing of the kits shows them
    assert {k["arm"] for k in paula.kits(location="FRIDGE-1")} == set(ARMS)


def test_the_report(paula, tmp_path):
    paula.temp_import("FRIDGE-1", logger_file(tmp_path / "f1.csv", 0, HIGH), tz="UTC")
    [n] = [e["excursion"] for e in paula.excursions()]
    paula.excursion_decide(n, "release", "SPONSOR-TE-129")
    report = paula.excursion_report(n)
    assert sorted(report) == ["excursion", "kits", "loggers", "mkt", "signatures"]
    assert report["excursion"] == paula.excursions().fetchall()[0]
    assert [(f["serial"], f["name"], f["first"], f["last"]) for f in report["loggers"]] == [
        (SERIAL, "f1.csv", at(0), at(290))]
    assert report["kits"] == paula.excursion_kits(n).fetchall()
    [s] = report["signatures"]
    assert (s["printed_name"], s["username"], s["meaning"], s["reference"], s["kits"]) == (
        "Paula Pharm", "paula", "excursion released", "SPONSOR-TE-129", 2)
    assert s["signed"] == report["excursion"]["decided"]
    assert 9.0 < report["mkt"]["mkt"] < 11.2
    raw = paula.excursion_report(n, "json", parse=False)
    assert json.loads(raw)["excursion"]["reference"] == "SPONSOR-TE-129"
    text = paula.excursion_report(n, "text")
    assert "serial %s" % SERIAL in text and "SPONSOR-TE-129" in text and "K2" in text
    csv_rows = paula.excursion_report(n, "csv").splitlines()
    assert len(csv_rows) == 3 and csv_rows[0].startswith("excursion,location,")
    with pytest.raises(ctm.InvalidError):
        paula.excursion_report(n, "pdf")
    with pytest.raises(ctm.NotFoundError):
        paula.excursion_report(n + 100)
    with pytest.raises(ctm.InvalidError):
        paula.excursion_report("1")


def test_a_shipments_logger_quarantines_its_kits_at_confirmation(site, paula, tmp_path):
    head = "kit_number,kit_type,lot,expiry,arm\n"
    paula.receive(TRIAL, "SH-3", head + "K4,KT,L1,2030-01-31,%s\n" % ARMS[0], "FRIDGE-2")
    transit = [5.0, 5.0, 8.5, 5.0]  # ten minutes above range in transit: no delay for shipments
    calls = []
    with ctm_open(site, "tom", PW) as tom:
        r = tom.shipment_logger("SH-3", logger_file(tmp_path / "t.csv", -600, transit), tz="UTC",
                                progress=lambda done, total: calls.append(done))
    assert (r["readings"], r["excursions"], r["quarantined"]) == (4, 1, 1)
    assert calls
    [e] = paula.excursions().fetchall()
    assert (e["shipment"], e["location"], e["kind"], e["start"], e["minutes"], e["kits"]) == (
        "SH-3", None, "high", at(-580), 10, 1)
    assert paula.excursions("FRIDGE-2").fetchall() == []
    assert statuses(paula)["K4"] == "received"
    assert paula.kit_exposure("K4")["minutes_high"] == 10  # its journey counts
    paula.confirm("SH-3", unchecked_present=True)
    assert statuses(paula)["K4"] == "quarantined"
    with pytest.raises(ctm.RuleError):
        paula.shipment_logger("SH-3", logger_file(tmp_path / "t2.csv", -300, transit), tz="UTC")
    with pytest.raises(ctm.NotFoundError):
        paula.shipment_logger("SH-9", tmp_path / "t.csv", tz="UTC")


def test_receive_with_the_shipments_logger(paula, tmp_path):
    head = "kit_number,kit_type,lot,expiry,arm\n"
    transit = logger_file(tmp_path / "t.csv", -600, [5.0, 1.0, 5.0])
    calls = []
    paula.receive(TRIAL, "SH-4", head + "K5,KT,L1,2030-01-31,%s\n" % ARMS[1], "FRIDGE-2",
                  logger=transit, logger_options={"tz": "UTC",
                                                  "progress": lambda d, t: calls.append(d)})
    assert calls
    [e] = paula.excursions().fetchall()
    assert (e["shipment"], e["kind"], e["min"], e["kits"]) == ("SH-4", "low", 1.0, 1)
    paula.confirm("SH-4", unchecked_present=True)
    assert statuses(paula)["K5"] == "quarantined"
    # the sponsor decided before the receipt's confirmation: the confirmation follows it
    for shipment, kit, decision in (("SH-6", "K6", "reject"), ("SH-7", "K7", "release")):
        paula.receive(TRIAL, shipment, head + "%s,KT,L1,2030-01-31,%s\n" % (kit, ARMS[1]),
                      "FRIDGE-2", logger=logger_file(tmp_path / (shipment + ".csv"), -600,
                                                     [5.0, 1.0, 5.0], serial=shipment),
                      logger_options={"tz": "UTC"})
        [n] = [e["excursion"] for e in paula.excursions() if e["shipment"] == shipment]
        paula.excursion_decide(n, decision, "SPONSOR-TE-131")
        assert statuses(paula)[kit] == "received"
        paula.confirm(shipment, unchecked_present=True)
    assert (statuses(paula)["K6"], statuses(paula)["K7"]) == ("pending_destruction", "available")
    # a logger file that cannot be read refuses the receipt whole
    with pytest.raises(ctm.InvalidError, match="zone"):
        paula.receive(TRIAL, "SH-5", head + "K9,KT,L1,2030-01-31,%s\n" % ARMS[1], "FRIDGE-2",
                      logger=transit)
    with pytest.raises(ctm.InvalidError):
        paula.receive(TRIAL, "SH-5", head + "K9,KT,L1,2030-01-31,%s\n" % ARMS[1], "FRIDGE-2",
                      logger=transit, logger_options={"zone": "UTC"})
    assert "SH-5" not in [s["number"] for s in paula.shipments()]

    def stop(done, total):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        paula.receive(TRIAL, "SH-5", head + "K9,KT,L1,2030-01-31,%s\n" % ARMS[1], "FRIDGE-2",
                      logger=transit, logger_options={"tz": "UTC", "progress": stop})
    assert "SH-5" not in [s["number"] for s in paula.shipments()]
    assert paula.verify()["failed_seq"] == -1
