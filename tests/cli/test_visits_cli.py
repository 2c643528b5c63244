"""Tests of `ctm visit ...`, `ctm dose levels` and `ctm subject hold|resume|visits`, driving the
real binary.

One site per module: a pharmacist sets up the schedule and the dose levels, an investigator
randomizes, holds and resumes.  Option values that begin with '-' (the window "-3..+3") are
taken as values.
"""
import csv
import datetime
import io
import json
import re

import pytest

import test_cli as base
from test_stock_cli import Site

ADMIN, ADMIN_PW = base.ADMIN, base.ADMIN_PW
PHARM, PHARM_PW = "phil", "phil-pass-1234"
INV, INV_PW = "ines", "ines-pass-1234"
SEED = "c0ffee" * 10 + "c0ff"
TRIAL = "VIS-1"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("visits"))
    s.run("init", "--site", "Trial Pharmacy", "--admin", ADMIN, user=None, password=ADMIN_PW)
    s.run("user", "add", PHARM, "--role", "pharmacist", "--unblinded", new_password=PHARM_PW,
          password=ADMIN_PW)
    s.run("user", "add", INV, "--role", "investigator", new_password=INV_PW, password=ADMIN_PW)
    ph(s, "trial", "add", TRIAL, "--title", "T", "--sponsor", "S", "--arms", "A:1,B:1")
    for code in ("KT5", "KT10", "KT20"):
        ph(s, "kittype", "add", TRIAL, code, "--name", "Drug " + code, "--units", "30",
           "--storage", "2..8")
    ph(s, "random", "generate", TRIAL, "--size", "8", "--blocks", "2,4", "--seed", SEED)
    return s


def ph(site, *args, expect=0):
    return site.run(*args, user=PHARM, password=PHARM_PW, expect=expect)


def inv(site, *args, expect=0):
    return site.run(*args, user=INV, password=INV_PW, expect=expect)


def test_help_lists_the_commands(site):
    overview = site.run("help", db=False, user=None, password=None).stdout
    for command in ("visit add", "visit list", "dose levels", "subject hold", "subject resume",
                    "subject visits"):
        assert re.search(r"^  " + re.escape(command) + r" ", overview, re.M), command


def test_schedule_dates_and_hold(site):
    out = ph(site, "dose", "levels", TRIAL, "--levels", "KT5,KT10,KT20", "--start", "2",
             "--min-interval", "14", "--max-titrations", "2").stdout
    assert "dose levels KT5,KT10,KT20" in out
    ph(site, "visit", "add", TRIAL, "V1", "--day", "0", "--window", "0..0", "--kits", "KT10:1")
    # a value beginning with '-' after the option is the option's value
    out = ph(site, "visit", "add", TRIAL, "V2", "--day", "14", "--window", "-3..+3",
             "--kits", "KT10:2,KT20:1").stdout
    assert "Visit V2 added" in out and "window -3..+3" in out
    ph(site, "visit", "add", TRIAL, "V3", "--window=-0..+7", "--day", "28", "--from", "previous",
       "--kits", "DOSE:1")
    listed = json.loads(inv(site, "visit", "list", TRIAL, "--json").stdout)
    assert [(v["position"], v["code"], v["day"], v["anchor"], v["window_before"],
             v["window_after"], v["kits"]) for v in listed] == [
        (1, "V1", 0, "randomization", 0, 0, "KT10:1"),
        (2, "V2", 14, "randomization", 3, 3, "KT10:2,KT20:1"),
        (3, "V3", 28, "previous", 0, 7, "DOSE:1")]
    rows = list(csv.DictReader(io.StringIO(inv(site, "visit", "list", TRIAL, "--csv").stdout)))
    assert rows[1]["kits"] == "KT10:2,KT20:1"

    inv(site, "subject", "add", TRIAL, "S-001")
    before = json.loads(inv(site, "subject", "visits", TRIAL, "S-001", "--json").stdout)
    assert [(v["visit"], v["due"], v["dose_level"]) for v in before] == [
        ("V1", None, 2), ("V2", None, 2), ("V3", None, 2)]
    inv(site, "randomize", TRIAL, "S-001")
    shown = json.loads(inv(site, "subject", "show", TRIAL, "S-001", "--json").stdout)
    r = datetime.date.fromisoformat(shown["randomized"][:10])

    def day(n):
        return (r + datetime.timedelta(days=n)).isoformat()

    got = json.loads(inv(site, "subject", "visits", TRIAL, "S-001", "--json").stdout)
    assert [(v["visit"], v["due"], v["window_from"], v["window_to"], v["dispensed"],
             v["on_hold"]) for v in got] == [
        ("V1", day(0), day(0), day(0), None, 0),
        ("V2", day(14), day(11), day(17), None, 0),
        ("V3", day(42), day(42), day(49), None, 0)]

    refused = inv(site, "subject", "resume", TRIAL, "S-001", "--reason", "fine", expect=1)
    assert refused.stderr == "ctm: subject S-001 is not on hold\n"
    inv(site, "subject", "hold", TRIAL, "S-001", "--reason", "grade 3 rash")
    again = inv(site, "subject", "hold", TRIAL, "S-001", "--reason", "again", expect=1)
    assert "on hold already" in again.stderr
    got = json.loads(inv(site, "subject", "visits", TRIAL, "S-001", "--json").stdout)
    assert {v["on_hold"] for v in got} == {1}
    log = json.loads(ph(site, "audit", "log", "--action", "subject.hold", "--json").stdout)
    assert [(e["reason"], json.loads(e["params"])["subject"]) for e in log] == [
        ("grade 3 rash", "S-001")]
    out = ph(site, "subject", "resume", TRIAL, "S-001", "--reason", "resolved").stdout
    assert out == "Subject S-001 of trial VIS-1: dispensing resumed.\n"
    table = inv(site, "subject", "visits", TRIAL, "S-001").stdout
    assert "V3" in table and day(42) in table


def test_mistakes(site):
    ph(site, "trial", "add", "VIS-2", "--title", "T", "--sponsor", "S", "--arms", "A:1")
    ph(site, "kittype", "add", "VIS-2", "KT", "--name", "Drug", "--units", "30",
       "--storage", "2..8")
    bad = ph(site, "visit", "add", "VIS-2", "V1", "--day", "0", "--window", "-3..-1",
             "--kits", "KT:1", expect=1)
    assert bad.stderr == ("ctm: window: position 5: the days after must be 0 or positive "
                          "('+3')\n")
    bad = ph(site, "visit", "add", "VIS-2", "V1", "--day", "0", "--window", "0..0",
             "--kits", "KT:1,KT:2", expect=1)
    assert "kits: item 2 at position 6: 'KT' given twice" in bad.stderr
    bad = ph(site, "visit", "add", "VIS-2", "V1", "--day", "0", "--window", "0..0",
             "--kits", "DOSE:1", expect=1)
    assert "DOSE needs the dose levels" in bad.stderr
    # usage mistakes are found before any login: exit 2
    assert "--day" in ph(site, "visit", "add", "VIS-2", "V1", "--day", "-1", "--window", "0..0",
                         "--kits", "KT:1", expect=2).stderr
    assert "missing --window" in ph(site, "visit", "add", "VIS-2", "V1", "--day", "1",
                                    "--kits", "KT:1", expect=2).stderr
    assert "needs a value" in ph(site, "visit", "add", "VIS-2", "V1", "--day", "1", "--kits",
                                 "KT:1", "--window", expect=2).stderr
    assert "--start" in ph(site, "dose", "levels", "VIS-2", "--levels", "KT", "--start", "x",
                           "--min-interval", "0", "--max-titrations", "0", expect=2).stderr
    assert "missing --reason" in inv(site, "subject", "hold", "VIS-2", "S-1", expect=2).stderr
    # investigators do not set schedules up
    denied = inv(site, "visit", "add", "VIS-2", "V1", "--day", "0", "--window", "0..0",
                 "--kits", "KT:1", expect=1)
    assert denied.stderr.startswith("ctm: ")
    assert json.loads(inv(site, "visit", "list", "VIS-2", "--json").stdout) == []
