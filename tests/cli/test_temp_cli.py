"""Tests of `ctm temp import|list|files`, driving the real binary: a technician imports a
fridge's logger file, the same file again changes nothing, an overlapping file adds only what is
new, a bad file stores nothing and names its line, and the readings list as a table, JSON and
CSV.
"""
import csv
import io
import json
import re

import pytest

import test_cli as base
from test_stock_cli import Site

ADMIN, ADMIN_PW = base.ADMIN, base.ADMIN_PW
TECH, TECH_PW = "tess", "tess-pass-1234"
INV, INV_PW = "ines", "ines-pass-1234"
FRIDGE = "FRIDGE-1"

WEEK1 = ("timestamp;temperature (C)\n"
         "2026-06-01 10:00;4,5\n"
         "2026-06-01 10:10;4,6\n"
         "2026-06-01 10:20;8,9\n"
         "2026-06-01 10:30;5,0\n")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("temp"))
    s.run("init", "--site", "Trial Pharmacy", "--admin", ADMIN, user=None, password=ADMIN_PW)
    s.run("user", "add", TECH, "--role", "technician", new_password=TECH_PW, password=ADMIN_PW)
    s.run("user", "add", INV, "--role", "investigator", new_password=INV_PW, password=ADMIN_PW)
    s.run("location", "add", FRIDGE, "--range", "2..8", "--kind", "fridge")
    return s


def tech(site, *args, expect=0):
    return site.run(*args, user=TECH, password=TECH_PW, expect=expect)


def test_help_lists_the_commands(site):
    overview = site.run("help", db=False, user=None, password=None).stdout
    for command in ("temp import", "temp list", "temp files", "temp mkt"):
        assert re.search(r"^  " + re.escape(command) + r" ", overview, re.M), command


def test_import_list_and_files(site):
    (site.dir / "week1.csv").write_text(WEEK1)
    out = tech(site, "temp", "import", FRIDGE, "week1.csv", "--tz", "+02:00").stdout
    assert out.startswith("imported week1.csv for FRIDGE-1: 4 readings from 2026-06-01T08:00:00Z"
                          " to 2026-06-01T08:30:00Z, 4 new\n"), out
    again = json.loads(tech(site, "temp", "import", FRIDGE, "week1.csv", "--tz", "+02:00",
                            "--json").stdout)
    assert again["duplicate"] is True and again["added"] == 0 and again["readings"] == 4
    assert again["first"] == "2026-06-01T08:00:00Z" and len(again["sha256"]) == 64
    # an overlapping file: two readings the fridge has, one new
    (site.dir / "week1b.csv").write_text("2026-06-01T08:20:00Z,8.9\n2026-06-01T08:30:00Z,5.0\n"
                                         "2026-06-01T08:40:00Z,5.2\n")
    res = json.loads(tech(site, "temp", "import", FRIDGE, "week1b.csv", "--json").stdout)
    assert (res["duplicate"], res["readings"], res["added"]) == (False, 3, 1)

    # anyone logged in reads them
    rows = json.loads(site.run("temp", "list", FRIDGE, "--json", user=INV,
                               password=INV_PW).stdout)
    assert [(r["time"], r["temp"]) for r in rows] == [
        ("2026-06-01T08:00:00Z", 4.5), ("2026-06-01T08:10:00Z", 4.6),
        ("2026-06-01T08:20:00Z", 8.9), ("2026-06-01T08:30:00Z", 5.0),
        ("2026-06-01T08:40:00Z", 5.2)]
    window = list(csv.DictReader(io.StringIO(tech(
        site, "temp", "list", FRIDGE, "--from", "2026-06-01T08:10Z", "--to",
        "2026-06-01T08:30:00Z", "--csv").stdout)))
    assert [r["time"] for r in window] == ["2026-06-01T08:10:00Z", "2026-06-01T08:20:00Z",
                                           "2026-06-01T08:30:00Z"]
    table = tech(site, "temp", "list", FRIDGE).stdout
    assert table.splitlines()[0].split() == ["time", "temp", "serial", "file"]
    files = json.loads(tech(site, "temp", "files", "--json").stdout)
    assert [(f["name"], f["readings"], f["zone"]) for f in files] == [
        ("week1b.csv", 3, ""), ("week1.csv", 4, "+02:00")]
    log = json.loads(site.run("audit", "log", "--action", "temp.*", "--json").stdout)
    assert [e["action"] for e in log] == ["temp.import", "temp.import"]
    assert "OK" in site.run("audit", "verify").stdout


def test_mkt(site):
    (site.dir / "july.csv").write_text("2026-07-01T00:00:00Z,5.0\n2026-07-01T00:10:00Z,5.0\n"
                                       "2026-07-01T00:20:00Z,25.0\n2026-07-01T00:30:00Z,5.0\n"
                                       "2026-07-01T03:30:00Z,5.0\n")
    tech(site, "temp", "import", FRIDGE, "july.csv")
    m = json.loads(tech(site, "temp", "mkt", FRIDGE, "--from", "2026-07-01", "--json").stdout)
    assert (m["readings"], m["min"], m["max"], m["gaps"], m["gap_minutes"]) == (5, 5.0, 25.0, 1, 120.0)
    assert m["first"] == "2026-07-01T00:00:00Z" and m["last"] == "2026-07-01T03:30:00Z"
    assert m["energy_kj"] == 83.145
    out = tech(site, "temp", "mkt", FRIDGE, "--from", "2026-07-01", "--energy", "83.0",
               "--max-gap", "10").stdout
    assert re.match(r"FRIDGE-1: MKT \d+\.\d\d C over 5 readings from 2026-07-01T00:00:00Z to "
                    r"2026-07-01T03:30:00Z \(dH 83\.000 kJ/mol; min 5\.0 C, max 25\.0 C\)\n"
                    r"1 gap longer than the longest hold: 170 minutes not known, not counted\n$",
                    out), out
    assert tech(site, "temp", "mkt", FRIDGE, "--from", "2030-01-01").stdout == (
        "FRIDGE-1: no readings in the period\n")
    tech(site, "temp", "mkt", FRIDGE, "--energy", "lots", expect=2)


def test_kit_exposure(site):
    site.run("trial", "add", "OPEN-1", "--title", "Open", "--sponsor", "S", "--arms", "ACTIVE:1")
    site.run("kittype", "add", "OPEN-1", "KT", "--name", "Drug X", "--units", "30",
             "--storage", "2..8", "--budget", "60@15")
    (site.dir / "m.csv").write_text("kit_number,kit_type,lot,expiry\nE1,KT,L1,2030-01-31\n")
    tech(site, "receive", "OPEN-1", "--shipment", "SH-E", "--manifest", "m.csv",
         "--location", FRIDGE)
    e = json.loads(tech(site, "kit", "exposure", "E1", "--json").stdout)
    assert e == {"kit": "E1", "readings": 0, "minutes_high": 0, "minutes_low": 0,
                 "minutes_unknown": e["minutes_unknown"], "min": None, "max": None, "mkt": None,
                 "budget_minutes": 60, "budget_max": 15.0, "over_budget": False}
    out = tech(site, "kit", "exposure", "OPEN-1", "E1").stdout
    assert out.startswith("kit E1: 0 minutes above and 0 below its storage range over 0 readings;")
    assert out.endswith("budget 60 minutes up to 15.0 C: within\n"), out
    tech(site, "kit", "exposure", "E9", expect=1)


def test_a_bad_file_stores_nothing_and_names_its_line(site):
    before = json.loads(tech(site, "temp", "files", "--json").stdout)
    (site.dir / "bad.csv").write_text("2026-06-02T10:00:00Z,4.5\n2026-06-02T10:10:00Z,4.5.1\n")
    out = tech(site, "temp", "import", FRIDGE, "bad.csv", expect=1)
    assert out.stderr.startswith("ctm: line 2: ") and "4.5.1" in out.stderr, out.stderr
    # local times need a zone
    (site.dir / "local.csv").write_text("2026-06-02 10:00,4.5\n")
    out = tech(site, "temp", "import", FRIDGE, "local.csv", expect=1)
    assert "zone" in out.stderr
    # investigators read, they do not import
    out = site.run("temp", "import", FRIDGE, "local.csv", "--tz", "UTC", user=INV,
                   password=INV_PW, expect=1)
    assert "not allowed" in out.stderr
    tech(site, "temp", "import", "FREEZER-9", "local.csv", "--tz", "UTC", expect=1)
    assert json.loads(tech(site, "temp", "files", "--json").stdout) == before
