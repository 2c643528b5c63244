"""Tests of the accountability commands of `ctm`, driving the real binary: `ctm reconcile` gives
exact counts per kit type and lot and a total, balanced, and exits 1 naming the kit when a kit's
records disagree with its status (made here behind the library's back); `--as-of` reads the
kits' history; `ctm darf` keeps a running balance; a monitor signs a reconciliation off,
e-signed, and `ctm signoffs` lists it; a pharmacist cannot sign off.
"""
import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from test_stock_cli import (ADMIN, ADMIN_PW, ARMS, EXPIRY, FRIDGE, KIT_TYPE, LOT, PASSWORDS,
                            PHARM, PHARM_PW, TRIAL, GTIN, Site, manifest)

MONITOR, MONITOR_PW = "mona", "mona-monitor-pw-1"
PASSWORDS[MONITOR] = MONITOR_PW


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("reconcile-template"))
    site.run("init", "--site", "Trial Pharmacy", "--admin", ADMIN, "--name", "Ada Admin",
             user=None, password=ADMIN_PW)
    site.run("user", "add", PHARM, "--role", "pharmacist", "--unblinded", "--name", "Phil Pharma",
             new_password=PHARM_PW)
    site.run("user", "add", MONITOR, "--role", "monitor", "--name", "Mona Monitor",
             new_password=MONITOR_PW)
    site.run("trial", "add", TRIAL, "--title", "Drug X versus placebo", "--sponsor", "Acme",
             "--blinded", "--arms", f"{ARMS[0]}:1,{ARMS[1]}:1", user=PHARM)
    site.run("kittype", "add", TRIAL, KIT_TYPE, "--name", "Drug X 10 mg or placebo", "--units",
             "30", "--storage", "2..8", user=PHARM)
    site.run("location", "add", FRIDGE, "--range", "2..8", "--kind", "fridge", user=PHARM)
    kits = [(f"K{i}", KIT_TYPE, LOT, EXPIRY, ARMS[i % 2], GTIN) for i in range(1, 5)]
    (site.dir / "m.csv").write_text(manifest(kits))
    site.run("receive", TRIAL, "--shipment", "SH1", "--manifest", "m.csv", "--location", FRIDGE,
             user=PHARM)
    site.run("receive", "confirm", "SH1", "--unchecked-present", user=PHARM)
    site.run("kit", "status", TRIAL, "K4", "quarantined", "--reason", "recall", user=PHARM)
    return site


@pytest.fixture
def site(template, tmp_path):
    return template.copy(tmp_path)


def report(site, *args, expect=0):
    out = site.run("reconcile", TRIAL, "--json", *args, user=MONITOR, expect=expect)
    return json.loads(out.stdout)


def test_a_balanced_trial_with_exact_counts(site):
    r = report(site)
    assert r["balanced"] is True and r["as_of"] is None and r["breaks"] == []
    lot, total = r["rows"]
    assert (lot["kit_type"], lot["lot"]) == (KIT_TYPE, LOT)
    assert total["kit_type"] is None and total["lot"] is None
    for row in (lot, total):
        assert {k: row[k] for k in ("received", "available", "quarantined", "dispensed",
                                    "destroyed", "breaks", "balanced")} == {
            "received": 4, "available": 3, "quarantined": 1, "dispensed": 0, "destroyed": 0,
            "breaks": 0, "balanced": 1}
    out = site.run("reconcile", TRIAL, user=MONITOR)
    assert out.stdout.rstrip().endswith("Balanced.")
    rows = list(csv.DictReader(io.StringIO(site.run("reconcile", TRIAL, "--csv",
                                                    user=MONITOR).stdout)))
    assert [r["received"] for r in rows] == ["4", "4"]
    for arm in ARMS:
        assert arm not in out.stdout


def test_a_kit_changed_behind_the_library_breaks_it_and_is_named(site):
    site.sql("UPDATE kits SET status = 'destroyed' WHERE kit_number = 'K2'")
    r = report(site, expect=1)
    assert r["balanced"] is False
    assert r["breaks"] == [{"kit": "K2", "kit_type": KIT_TYPE, "lot": LOT, "status": "destroyed",
                            "problem": "history (kit_events) ends available but the kit is destroyed"}]
    assert [row["breaks"] for row in r["rows"]] == [1, 1]
    out = site.run("reconcile", TRIAL, user=MONITOR, expect=1)
    assert "Kits that break it:" in out.stdout and "K2" in out.stdout
    assert "does not balance" in out.stderr


def test_as_of_a_past_day(site):
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d")
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%d")
    r = report(site, "--as-of", yesterday)
    assert r["as_of"] == yesterday and r["balanced"] is True
    assert [row["received"] for row in r["rows"]] == [0]
    out = site.run("reconcile", TRIAL, "--as-of", tomorrow, user=MONITOR, expect=1)
    assert "as_of" in out.stderr and "future" in out.stderr


def test_the_darf_log(site):
    rows = list(csv.DictReader(io.StringIO(site.run("darf", TRIAL, "--csv", user=MONITOR).stdout)))
    assert [(r["event"], r["quantity"], r["balance"], r["balance_units"]) for r in rows] == [
        ("received", "1", "1", "30"), ("received", "1", "2", "60"), ("received", "1", "3", "90"),
        ("received", "1", "4", "120")]
    assert {r["recorder"] for r in rows} == {PHARM}
    assert site.run("darf", TRIAL, "--kit-type", "NOPE", user=MONITOR, expect=1).returncode == 1


def test_a_monitor_signs_off_e_signed(site):
    site.run("signoff", TRIAL, "--reconciliation", "--comment", "checked", user=PHARM, expect=1)
    out = site.run("signoff", TRIAL, "--reconciliation", "--comment", "reviewed on site",
                   user=MONITOR)
    assert "balanced" in out.stdout and "e-signed by mona" in out.stdout
    site.sql("UPDATE kits SET status = 'destroyed' WHERE kit_number = 'K2'")
    out = site.run("signoff", TRIAL, "--reconciliation", user=MONITOR)
    assert "does not balance" in out.stdout
    rows = json.loads(site.run("signoffs", TRIAL, "--json", user=MONITOR).stdout)
    assert [(r["kind"], r["balanced"], r["signed_by"], r["printed_name"], r["comment"])
            for r in rows] == [("reconciliation", 1, MONITOR, "Mona Monitor", "reviewed on site"),
                               ("reconciliation", 0, MONITOR, "Mona Monitor", None)]
    assert rows[1]["ledger_size"] == rows[0]["ledger_size"] + 1
    log = json.loads(site.run("audit", "log", "--action", "signoff.reconciliation", "--json",
                              user=MONITOR).stdout)
    assert [e["esig_meaning"] for e in log] == ["reconciliation reviewed"] * 2


def test_the_reconciliation_and_darf_as_reports(site):
    r = json.loads(site.run("report", "reconciliation", TRIAL, "--json", user=MONITOR).stdout)
    assert (r["report"], r["balanced"], r["breaks"], r["received"]) == ("reconciliation", True, 0, 4)
    assert [row["received"] for row in r["rows"]] == [4, 4]
    site.sql("UPDATE kits SET status = 'destroyed' WHERE kit_number = 'K2'")
    # not balanced: the report is still printed (or written), and the exit status is 1, as
    # `ctm reconcile`'s, so that a monitor's script stops on either
    out = site.run("report", "reconciliation", TRIAL, "--json", user=MONITOR, expect=1)
    r = json.loads(out.stdout)
    assert (r["balanced"], r["breaks"]) == (False, 1)
    assert out.stderr == f"ctm: the reconciliation of {TRIAL} does not balance\n"
    out = site.run("report", "reconciliation", TRIAL, "--csv", "--output", "recon.csv",
                   user=MONITOR, expect=1)
    assert out.stdout == f"Wrote the reconciliation report (csv) to recon.csv.\n"
    assert "does not balance" in out.stderr
    rows = list(csv.DictReader(io.StringIO((site.dir / "recon.csv").read_text())))
    assert [(row["received"], row["breaks"], row["balanced"]) for row in rows] == [
        ("4", "1", "0"), ("4", "1", "0")]
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d")
    site.run("report", "reconciliation", TRIAL, "--as-of", yesterday, user=MONITOR)
    d = json.loads(site.run("report", "darf", TRIAL, "--json", user=MONITOR).stdout)
    assert [row["balance"] for row in d["rows"]] == [1, 2, 3, 4]
