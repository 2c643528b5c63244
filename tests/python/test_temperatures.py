"""Storage temperatures through the ctm Python bindings: a logger file imported for a fridge, its
readings as a pandas DataFrame with UTC times, the same file again, a progress callback, and the
exceptions each refusal raises.
"""
import datetime
import math

import pytest

import ctm
from conftest import ADMIN, ADMIN_PW, SITE, ctm_init, ctm_open, new_site_path

TECH, TECH_PW = "tom", "tom-password-12"
INV, INV_PW = "ivy", "ivy-password-12"
UTC = datetime.timezone.utc


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    path = new_site_path(tmp_path_factory.mktemp("temperatures"))
    with ctm_init(path, SITE, ADMIN, ADMIN_PW) as db:
        db.user_add(TECH, "technician", TECH_PW)
        db.user_add(INV, "investigator", INV_PW)
        db.location_add("FRIDGE-1", (2, 8), kind="fridge")
        db.location_add("FRIDGE-2", (2, 8), kind="fridge")
    return path


@pytest.fixture(scope="module")
def tech(site):
    with ctm_open(site, TECH, TECH_PW) as db:
        yield db


def test_import_and_read_back_as_a_dataframe(tech, tmp_path):
    logger = tmp_path / "fridge-1.csv"
    rows = ["2026-06-01T%02d:%02d:00Z,%.1f" % (h, m, 4 + (h * 6 + m // 10) % 5 / 2)
            for h in range(10, 12) for m in range(0, 60, 10)]
    logger.write_text("time,temperature\n" + "\n".join(rows) + "\n")
    calls = []
    r = tech.temp_import("FRIDGE-1", logger, progress=lambda done, total: calls.append((done, total)))
    assert (r["duplicate"], r["readings"], r["days"], r["added"], r["format"]) == (
        False, 12, 0, 12, "csv")
    assert r["first"] == datetime.datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert r["last"] == datetime.datetime(2026, 6, 1, 11, 50, tzinfo=UTC)
    size = logger.stat().st_size
    assert calls[-1] == (2 * size, 2 * size)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)

    df = tech.temp_list("FRIDGE-1").to_pandas()
    assert list(df.columns) == ["time", "temp", "serial", "file"]
    assert len(df) == 12
    assert str(df["time"].dt.tz) == "UTC"
    assert df["temp"].tolist() == [float(x.split(",")[1]) for x in rows]
    window = tech.temp_list("FRIDGE-1", datetime.datetime(2026, 6, 1, 11, 0, tzinfo=UTC),
                            "2026-06-01T11:20Z").fetchall()
    assert [w["time"].minute for w in window] == [0, 10, 20]

    again = tech.temp_import("FRIDGE-1", str(logger))
    assert again["duplicate"] is True and again["file"] == r["file"] and again["added"] == 0
    files = tech.temp_files("FRIDGE-1").fetchall()
    assert [(f["name"], f["readings"], f["sha256"]) for f in files] == [
        ("fridge-1.csv", 12, r["sha256"])]
    assert files[0]["imported"].tzinfo is not None
    assert tech.verify()["entries"] > 0


def test_mkt_of_a_period(tech, tmp_path):
    logger = tmp_path / "fridge-2.csv"
    logger.write_text("2026-07-01T00:00:00Z,5.0\n2026-07-01T00:10:00Z,5.0\n"
                      "2026-07-01T00:20:00Z,25.0\n2026-07-01T00:30:00Z,5.0\n")
    tech.temp_import("FRIDGE-1", logger)
    m = tech.temp_mkt("FRIDGE-1", datetime.date(2026, 7, 1))
    k = 10000.0
    expect = k / -math.log((3 * math.exp(-k / 278.15) + math.exp(-k / 298.15)) / 4) - 273.15
    assert m["mkt"] == pytest.approx(expect, abs=1e-9)
    assert (m["readings"], m["min"], m["max"], m["gaps"]) == (4, 5.0, 25.0, 0)
    assert m["first"] == datetime.datetime(2026, 7, 1, tzinfo=UTC)
    assert tech.temp_mkt("FRIDGE-1", "2026-07-01", energy_kj=83.0)["energy_kj"] == pytest.approx(83.0)
    assert tech.temp_mkt("FRIDGE-1", "2030-01-01")["mkt"] is None
    with pytest.raises(ctm.InvalidError):
        tech.temp_mkt("FRIDGE-1", energy_kj=0.5)


def test_kit_exposure(site, tech, tmp_path):
    with ctm_open(site, ADMIN, ADMIN_PW) as admin:
        admin.trial_add("OPEN-1", "Open", "Sponsor", {"ACTIVE": 1})
        admin.kittype_add("OPEN-1", "KT", "Drug X", 30, (2, 8), excursion_budget=(60, 15.0))
        admin.location_add("FRIDGE-3", (2, 8), kind="fridge")
    tech.receive("OPEN-1", "SH-E", "kit_number,kit_type,lot,expiry\nE1,KT,L1,2030-01-31\n",
                 "FRIDGE-3")
    e = tech.kit_exposure("E1")
    assert (e["readings"], e["minutes_high"], e["minutes_low"], e["over_budget"]) == (0, 0, 0, False)
    assert (e["min"], e["max"], e["mkt"]) == (None, None, None)
    assert (e["budget_minutes"], e["budget_max"]) == (60, 15.0)
    with pytest.raises(ctm.NotFoundError):
        tech.kit_exposure("E9")


def test_refusals_change_nothing(site, tech, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("2026-06-02T10:00:00Z,4.5\n2026-06-02T09:00:00Z,4.5\n")
    with pytest.raises(ctm.InvalidError, match="^line 2: "):
        tech.temp_import("FRIDGE-2", bad)
    local = tmp_path / "local.csv"
    local.write_text("2026-06-02 10:00,4.5\n")
    with pytest.raises(ctm.InvalidError, match="zone"):
        tech.temp_import("FRIDGE-2", local)
    with pytest.raises(ctm.NotFoundError):
        tech.temp_import("FREEZER-9", local, tz="UTC")
    with pytest.raises(ctm.FileError):
        tech.temp_import("FRIDGE-2", tmp_path / "missing.csv")
    with pytest.raises(ctm.InvalidError):
        tech.temp_import("FRIDGE-2", local, unit="K")
    with pytest.raises(ctm.InvalidError):
        tech.temp_import("FRIDGE-2", local, progress="not callable")

    def stop(done, total):
        if done * 2 > total:  # once it is storing
            raise KeyboardInterrupt
    size = tech.size
    with pytest.raises(KeyboardInterrupt):
        tech.temp_import("FRIDGE-2", local, tz="UTC", progress=stop)
    assert tech.size == size
    assert tech.temp_list("FRIDGE-2").fetchall() == []
    with ctm_open(site, INV, INV_PW) as inv:
        with pytest.raises(ctm.PermissionDenied):
            inv.temp_import("FRIDGE-2", local, tz="UTC")
        assert inv.temp_files("FRIDGE-2").fetchall() == []
