"""Tests of `ctm random ...`, `ctm subject ...` and `ctm randomize`, driving the real binary.

One site per session: an unblinded pharmacist makes the lists, a blinded investigator enrols
and randomizes.  Nothing the investigator is shown may hold an arm, the seed or the list.
Each test uses its own trial.
"""
import csv
import io
import json
import re

import pytest

import test_cli as base
from test_stock_cli import Site

ADMIN, ADMIN_PW = base.ADMIN, base.ADMIN_PW
PHARM, PHARM_PW = "phil", "phil-pass-1234"
INV, INV_PW = "ines", "ines-pass-1234"
ARMS = ("QZVERUM", "QZSHAM")  # found in no other text: a search for them finds only a leak
SEED = "c0ffee" * 10 + "c0ff"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("random"))
    s.run("init", "--site", "Trial Pharmacy", "--admin", ADMIN, user=None, password=ADMIN_PW)
    s.run("user", "add", PHARM, "--role", "pharmacist", "--unblinded", new_password=PHARM_PW,
          password=ADMIN_PW)
    s.run("user", "add", INV, "--role", "investigator", new_password=INV_PW, password=ADMIN_PW)
    return s


def ph(site, *args, expect=0, input=None):
    return site.run(*args, user=PHARM, password=PHARM_PW, expect=expect, input=input)


def inv(site, *args, expect=0):
    return site.run(*args, user=INV, password=INV_PW, expect=expect)


def trial(site, code, blinded=True):
    flags = ["--blinded"] if blinded else []
    ph(site, "trial", "add", code, "--title", "T", "--sponsor", "S", *flags,
       "--arms", f"{ARMS[0]}:1,{ARMS[1]}:1")


def test_help_lists_the_commands(site):
    overview = site.run("help", db=False, user=None, password=None).stdout
    for command in ("random generate", "random import", "random show", "subject add",
                    "subject strata", "subject list", "subject show", "subject withdraw",
                    "subject complete", "randomize"):
        assert re.search(r"^  " + re.escape(command) + r" ", overview, re.M), command


def test_generate_randomize_and_show(site):
    trial(site, "CLI-GEN")
    out = ph(site, "random", "generate", "CLI-GEN", "--size", "8", "--blocks", "2,4",
             "--strata", "sex=M,F", "--seed", SEED).stdout
    assert "a generated list of 16 rows (0 allocated), sex=M,F" in out
    # a mistyped option costs no login and changes nothing
    bad = ph(site, "random", "generate", "CLI-GEN", "--size", "many", "--blocks", "2", expect=2)
    assert "--size" in bad.stderr
    inv(site, "subject", "add", "CLI-GEN", "S-001")
    refused = inv(site, "randomize", "CLI-GEN", "S-001", expect=1)
    assert "sex" in refused.stderr and "not known" in refused.stderr
    inv(site, "subject", "strata", "CLI-GEN", "S-001", "sex=F")
    got = json.loads(inv(site, "randomize", "CLI-GEN", "S-001", "--json").stdout)
    assert got == {"trial": "CLI-GEN", "subject": "S-001", "rand_number": "200001",
                   "arm": "(blinded)", "stratum": "sex=F"}
    again = inv(site, "randomize", "CLI-GEN", "S-001", expect=1)
    assert "randomized once" in again.stderr
    # the pharmacist's view: the list, its seed and the arm S-001 got
    shown = json.loads(ph(site, "random", "show", "CLI-GEN", "--json").stdout)
    assert shown["seed"] == SEED and shown["block_sizes"] == "2,4" and shown["allocated"] == 1
    row = next(r for r in shown["list"] if r["subject"] == "S-001")
    assert row["number"] == "200001" and row["arm"] in ARMS
    listed = list(csv.DictReader(io.StringIO(ph(site, "subject", "list", "CLI-GEN",
                                                "--csv").stdout)))
    assert listed[0]["arm"] == row["arm"] and listed[0]["rand_number"] == "200001"
    # the investigator's: no list, no seed, no arm, through every read command
    seen = [inv(site, "random", "show", "CLI-GEN").stdout,
            inv(site, "random", "show", "CLI-GEN", "--json").stdout,
            inv(site, "subject", "list", "CLI-GEN", "--json").stdout,
            inv(site, "subject", "show", "CLI-GEN", "S-001").stdout,
            inv(site, "audit", "log", "--action", "random.*", "--json").stdout,
            inv(site, "audit", "log", "--action", "subject.*", "--json").stdout]
    assert "unblinded users only" in seen[0]
    for out in seen:
        for secret in ARMS + (SEED,):
            assert secret not in out
    inv(site, "random", "generate", "CLI-GEN", "--size", "9", "--blocks", "2", expect=1)


def test_import_names_the_line_and_keeps_nothing(site, tmp_path):
    trial(site, "CLI-IMP")
    bad = tmp_path / "bad.csv"
    bad.write_text("randomization_number,stratum,arm\nR1,,%s\nR2,,QZOTHER\n" % ARMS[0])
    out = ph(site, "random", "import", "CLI-IMP", str(bad), expect=1)
    assert "line 3, field arm" in out.stderr and "QZOTHER" not in out.stderr
    ph(site, "random", "show", "CLI-IMP", expect=1)
    good = "randomization_number,stratum,arm\nR1,,%s\nR2,,%s\n" % ARMS
    out = ph(site, "random", "import", "CLI-IMP", "-", "--format", "sponsor", input=good).stdout
    assert "a sponsor list of 2 rows" in out
    inv(site, "subject", "add", "CLI-IMP", "X-1")
    assert "number R1" in inv(site, "randomize", "CLI-IMP", "X-1").stdout
    # replacing a list with allocations is refused; extending it is not
    more = "randomization_number,stratum,arm\nQ1,,%s\nQ2,,%s\n" % ARMS
    refused = ph(site, "random", "import", "CLI-IMP", "-", input=more, expect=1)
    assert "cannot be replaced, only extended" in refused.stderr
    assert "of 4 rows" in ph(site, "random", "import", "CLI-IMP", "-", "--extend",
                             input=more).stdout
    inv(site, "subject", "withdraw", "CLI-IMP", "X-1", "--reason", "consent withdrawn")
    shown = inv(site, "subject", "show", "CLI-IMP", "X-1", "--json").stdout
    assert json.loads(shown)["status"] == "withdrawn"
    assert "OK" in site.run("audit", "verify").stdout


def test_open_trial_shows_the_arm_to_the_investigator(site):
    trial(site, "CLI-OPEN", blinded=False)
    ph(site, "random", "generate", "CLI-OPEN", "--size", "4", "--blocks", "2")
    inv(site, "subject", "add", "CLI-OPEN", "O-1")
    out = inv(site, "randomize", "CLI-OPEN", "O-1").stdout
    assert re.search(r"arm (%s|%s)\." % ARMS, out), out
