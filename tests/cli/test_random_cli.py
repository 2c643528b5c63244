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
    for command in ("random generate", "random import", "random minimization", "random show",
                    "subject add",
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


def test_minimization_randomizes_and_hides_draws_weights_and_arms(site):
    trial(site, "CLI-MIN")
    strata = "site=SE1,SE2;sex=M,F"
    # a bad --p costs no change; a blinded user may not set the scheme
    bad = ph(site, "random", "minimization", "CLI-MIN", "--strata", strata, "--factors",
             "site:1,sex:1", "--p", "high", expect=2)
    assert "--p" in bad.stderr
    refused = ph(site, "random", "minimization", "CLI-MIN", "--strata", strata, "--factors",
                 "site:1,sex:1", "--p", "1.5", expect=1)
    assert "p:" in refused.stderr
    inv(site, "random", "minimization", "CLI-MIN", "--strata", strata, "--factors", "site:1",
        expect=1)
    out = ph(site, "random", "minimization", "CLI-MIN", "--strata", strata, "--factors",
             "site:1,sex:2.5", "--method", "variance").stdout
    assert "minimization (variance, p = 0.8)" in out
    shown = json.loads(ph(site, "random", "show", "CLI-MIN", "--json").stdout)
    assert (shown["method"], shown["source"], shown["strata"]) == ("minimization",
                                                                   "minimization", strata)
    assert (shown["weights"], shown["imbalance"], shown["p"]) == ("site:1,sex:2.5", "variance",
                                                                  0.8)
    assert "list" not in shown
    arms = []
    for i in range(1, 5):
        inv(site, "subject", "add", "CLI-MIN", f"M-{i}", "--strata", "site=SE1,sex=F")
        got = json.loads(inv(site, "randomize", "CLI-MIN", f"M-{i}", "--json").stdout)
        assert got["rand_number"] == str(i) and got["arm"] == "(blinded)"
        arms.append(json.loads(ph(site, "subject", "show", "CLI-MIN", f"M-{i}",
                                  "--json").stdout)["arm"])
    # four alike subjects, 1:1: the minimizer keeps them 2 and 2 whatever the draws, but for
    # the 1 - p chance of the worse arm at each of subjects 2 and 4
    assert set(arms) <= set(ARMS)
    log = json.loads(ph(site, "audit", "log", "--action", "subject.randomize", "--json").stdout)
    def decoded(v):
        return json.loads(v) if isinstance(v, str) else v
    draws = [c["columns"]["draw"][1] for e in log if decoded(e["params"])["trial"] == "CLI-MIN"
             for c in decoded(e["changes"])
             if c["table"] == "subjects" and "draw" in c["columns"]]
    assert len(draws) == 4 and all(isinstance(d, int) and 0 <= d < 2**32 for d in draws)
    seen = [inv(site, "random", "show", "CLI-MIN").stdout,
            inv(site, "random", "show", "CLI-MIN", "--json").stdout,
            inv(site, "subject", "list", "CLI-MIN", "--json").stdout,
            inv(site, "audit", "log", "--action", "random.*", "--json").stdout,
            inv(site, "audit", "log", "--action", "subject.*", "--json").stdout]
    assert json.loads(seen[1])["weights"] == "(blinded)"
    for text in seen:
        for secret in ARMS + ("site:1,sex:2.5", "variance") + tuple(str(d) for d in draws if d >= 100000):
            assert secret not in text
    # the scheme is fixed once a subject is randomized
    again = ph(site, "random", "minimization", "CLI-MIN", "--strata", strata, "--factors",
               "site:1", expect=1)
    assert "cannot be replaced" in again.stderr
    assert "OK" in site.run("audit", "verify").stdout
