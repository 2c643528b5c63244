"""Tests of `ctm report`, driving the real binary: the inventory of kits on hand and the audit
trail as text, CSV, JSON and one HTML page; the blinded technician's reports show no arm; a
mistyped report or option is refused before any login, naming what is wrong; and each HTML
report, printed to PDF by headless Chromium, carries on every page the header that ties the paper
to the signed ledger: site, trial, period, generation time and checkpoint.
"""
import csv
import io
import json
import re
import shutil
import subprocess
from datetime import date, timedelta

import pytest

from test_stock_cli import (ARMS, FRIDGE, KIT_TYPE, PHARM, TECH, TRIAL, Site, manifest)


def expiry_in(days):
    return (date.today() + timedelta(days=days)).isoformat()


@pytest.fixture
def site(tmp_path):
    from test_stock_cli import ADMIN, ADMIN_PW, PHARM_PW, TECH_PW
    site = Site(tmp_path)
    site.run("init", "--site", "Trial Pharmacy", "--admin", ADMIN, "--name", "Ada Admin",
             user=None, password=ADMIN_PW)
    site.run("user", "add", PHARM, "--role", "pharmacist", "--unblinded", "--name", "Phil Pharma",
             new_password=PHARM_PW)
    site.run("user", "add", TECH, "--role", "technician", "--name", "Tess Tech",
             new_password=TECH_PW)
    site.run("trial", "add", TRIAL, "--title", "Drug X versus placebo in Y", "--sponsor", "Acme",
             "--blinded", "--arms", f"{ARMS[0]}:1,{ARMS[1]}:1", user=PHARM)
    site.run("kittype", "add", TRIAL, KIT_TYPE, "--name", "Drug X 10 mg or placebo", "--units",
             "30", "--storage", "2..8", user=PHARM)
    site.run("location", "add", FRIDGE, "--range", "2..8", "--kind", "fridge", user=PHARM)
    return site


def stock(site, kits, shipment="SH1"):
    (site.dir / "m.csv").write_text(manifest(kits, header="kit_number,kit_type,lot,expiry,arm"))
    site.run("receive", TRIAL, "--shipment", shipment, "--manifest", "m.csv", "--location", FRIDGE,
             user=PHARM)
    site.run("receive", "confirm", shipment, "--unchecked-present", user=PHARM)


@pytest.fixture
def stocked(site):
    # K1 alone: the audit trail shows its receipt row by row, arm included
    stock(site, [("K1", KIT_TYPE, "L1", expiry_in(10), ARMS[0])])
    stock(site, [("K2", KIT_TYPE, "L2", expiry_in(100), ARMS[1]),
                 ("K3", KIT_TYPE, "L2", expiry_in(100), ARMS[0])], shipment="SH2")
    site.run("kit", "status", TRIAL, "K3", "missing", "--reason", "=SUM(A1) not found",
             user=PHARM)
    return site


def checkpoint(site):
    """(size, base64 root) of the newest signed checkpoint."""
    lines = site.run("audit", "checkpoint", user=None).stdout.split("\n")
    return int(lines[1]), lines[2]


def test_inventory_as_json_names_the_checkpoint(stocked):
    report = json.loads(stocked.run("report", "inventory", TRIAL, "--json", user=PHARM).stdout)
    size, root = checkpoint(stocked)
    assert report["report"] == "inventory"
    assert report["site"] == "Trial Pharmacy"
    assert report["trial"] == TRIAL
    assert report["checkpoint"]["size"] == size
    assert report["checkpoint"]["root"] == root
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", report["generated_at"])
    assert (report["kits"], report["units"], report["expiring_soon"], report["expired"]) == (2, 60, 1, 0)
    assert [(r["kit_number"], r["status"], r["days_to_expiry"], r["expiring_soon"], r["arm"])
            for r in report["rows"]] == [("K1", "available", 10, 1, ARMS[0]),
                                         ("K2", "available", 100, 0, ARMS[1])]
    wider = json.loads(stocked.run("report", "inventory", TRIAL, "--days", "100", "--json",
                                   user=PHARM).stdout)
    assert [r["expiring_soon"] for r in wider["rows"]] == [1, 1]


def test_the_technician_gets_blinded_reports(stocked):
    for fmt in ("--json", "--csv", "--html", None):
        args = ["report", "inventory", TRIAL] + ([fmt] if fmt else [])
        out = stocked.run(*args, user=TECH).stdout
        assert "(blinded)" in out
        for arm in ARMS:
            assert arm not in out, (fmt, out)
    trail = json.loads(stocked.run("report", "audit", TRIAL, "--json", user=TECH).stdout)
    rows = [r for r in trail["rows"] if r["action"] != "trial.add"]  # arm codes: the protocol's
    assert rows and all(arm not in json.dumps(rows) for arm in ARMS)
    assert "arm=(blinded)" in json.dumps(rows)


def test_audit_trail_as_csv_and_text(stocked):
    out = stocked.run("report", "audit", TRIAL, "--csv", user=PHARM).stdout
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert list(rows[0]) == ["seq", "time", "user", "printed_name", "action", "reason", "changes",
                             "esig_name", "esig_time", "esig_meaning"]
    status = [r for r in rows if r["action"] == "kit.status"]
    assert len(status) == 1
    assert status[0]["reason"] == "'=SUM(A1) not found"  # a formula a spreadsheet would run
    assert status[0]["printed_name"] == "Phil Pharma"
    assert status[0]["changes"].startswith("kits id=3 updated: status available -> missing")
    confirm = [r for r in rows if r["action"] == "shipment.confirm"][0]
    assert f"arm={ARMS[0]}" in out  # what the technician sees as (blinded)
    assert (confirm["esig_name"], confirm["esig_meaning"]) == ("Phil Pharma", "receipt confirmed")
    text = stocked.run("report", "audit", TRIAL, "--from", date.today().isoformat(),
                       user=PHARM).stdout
    assert text.startswith("Audit trail\n\nSite:       Trial Pharmacy\n"
                           f"Trial:      {TRIAL} (Drug X versus placebo in Y)\n"
                           f"Period:     {date.today().isoformat()} to now (UTC days)\n"), text
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    empty = stocked.run("report", "audit", TRIAL, "--as-of", yesterday, user=PHARM).stdout
    assert empty.endswith("\n(0 rows)\n")


def test_output_file(stocked):
    out = stocked.run("report", "inventory", "--html", "--output", "inv.html", user=PHARM).stdout
    assert out == "Wrote the inventory report (html) to inv.html.\n"
    html = (stocked.dir / "inv.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html


@pytest.mark.parametrize("args,message", [
    (["report", "stock", TRIAL], "NAME: no report 'stock' (the reports are inventory, audit"),
    (["report", "inventory", TRIAL, "--as-of", "2026-01-01"],
     "--as-of: the inventory report does not take it"),
    (["report", "audit", "--as-of", "2026-02-30"], "--as-of '2026-02-30': no such day"),
    (["report", "audit", "--from", "2026-03-01", "--to", "2026-02-01"],
     "--from: 2026-03-01 is after to 2026-02-01"),
    (["report", "audit", "--days", "3"], "--days: the audit report does not take it"),
    (["report", "inventory", "--json", "--csv"], "exclude each other"),
])
def test_mistakes_are_refused_before_any_login(site, args, message):
    out = site.run(*args, user=TECH, password="wrong password", expect=2)
    assert message in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1
    # no login was tried: the technician's account counts no failure
    users = {u["user"]: u for u in site.json("user", "list", user=PHARM)}
    assert users[TECH]["failed_logins"] == 0


def test_an_unknown_trial_is_named(site):
    out = site.run("report", "inventory", "NOPE", user=PHARM, expect=1)
    assert "NOPE" in out.stderr


# ---- printed: headless Chromium to PDF, the text read back with pdftotext ----

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFTOTEXT = shutil.which("pdftotext")
PDFINFO = shutil.which("pdfinfo")


def print_pdf(html_path, pdf_path, profile, mode="-layout"):
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                    "--no-pdf-header-footer", f"--user-data-dir={profile}",
                    f"--print-to-pdf={pdf_path}", html_path.as_uri()],
                   check=True, capture_output=True, timeout=180)
    pages = int(re.search(r"Pages:\s+(\d+)",
                          subprocess.run([PDFINFO, str(pdf_path)], capture_output=True,
                                         text=True, check=True).stdout).group(1))
    return [subprocess.run([PDFTOTEXT, mode, "-f", str(p), "-l", str(p), str(pdf_path), "-"],
                           capture_output=True, text=True, check=True).stdout
            for p in range(1, pages + 1)]


@pytest.mark.skipif(CHROMIUM is None or PDFTOTEXT is None or PDFINFO is None,
                    reason="needs Debian's chromium and poppler-utils (pdftotext, pdfinfo): "
                           "scripts/install-deps.sh installs them")
@pytest.mark.parametrize("report", ["inventory", "audit"])
def test_every_printed_page_names_site_trial_period_and_checkpoint(site, tmp_path, report):
    # enough kits for several pages, each audited: the header must repeat on every page
    stock(site, [(f"K{i:03d}", KIT_TYPE, "L1", expiry_in(20), ARMS[i % 2]) for i in range(1, 121)])
    for i in range(1, 31):
        site.run("kit", "status", TRIAL, f"K{i:03d}", "quarantined", "--reason",
                 f"<b>check</b> & count {i}", user=PHARM)
    html = tmp_path / f"{report}.html"
    site.run("report", report, TRIAL, "--html", "--output", str(html), user=TECH)
    size, root = checkpoint(site)
    pages = print_pdf(html, tmp_path / f"{report}.pdf", tmp_path / "profile")
    assert len(pages) >= 2, "the report should take several pages"
    for n, text in enumerate(pages, 1):
        flat = " ".join(text.split())
        assert "Site: Trial Pharmacy" in flat, (n, flat[:600])
        assert f"Trial: {TRIAL} (Drug X versus placebo in Y)" in flat, (n, flat[:600])
        assert "Period: as of now (" in flat, (n, flat[:600])
        assert "Generated: " in flat, (n, flat[:600])
        # the root may wrap at the page's edge: compare without blanks
        assert f"Ledger checkpoint: size {size}, root" in flat, (n, flat[:600])
        assert root in text.replace(" ", "").replace("\n", ""), (n, flat[:600])
        for arm in ARMS:
            assert arm not in flat or report == "audit", (n, arm)
    whole = " ".join(" ".join(pages).split())
    if report == "inventory":
        assert "K001" in whole and "K120" in whole and "(blinded)" in whole
        for arm in ARMS:
            assert arm not in whole
    else:
        # escaped in the HTML, shown as typed; read in the page's own order (a cell may wrap
        # anywhere, and -layout sets the columns' lines side by side): blanks left out
        raw = print_pdf(html, tmp_path / "raw.pdf", tmp_path / "profile", mode="-raw")
        joined = "".join("".join(raw).split())
        assert "<b>check</b>&count30" in joined
        assert "PhilPharma" in joined


@pytest.mark.skipif(CHROMIUM is None or PDFTOTEXT is None or PDFINFO is None,
                    reason="needs Debian's chromium and poppler-utils (pdftotext, pdfinfo): "
                           "scripts/install-deps.sh installs them")
@pytest.mark.parametrize("report,title,shows", [
    ("subjects", "Accountability and compliance per subject", "below_limit"),
    ("reconciliation", "Reconciliation per kit type and lot", "balanced true"),
    ("darf", "Drug accountability record (DARF)", "L2"),
    ("forecast", "Supply forecast", KIT_TYPE),
    ("self-inspection", "Self-inspection findings", "stale_access"),
])
def test_each_accountability_report_prints_with_its_header(stocked, tmp_path, report, title,
                                                          shows):
    """The reports added after the first two print the same way: title, the header that ties
    the paper to the signed log on every page, their summary or rows, no arm."""
    html = tmp_path / f"{report}.html"
    if report == "self-inspection":
        # accounts created 100 days ago (behind the library's back): those that never wrote an
        # action are stale (a new account is not)
        stocked.sql("UPDATE users SET created_us = created_us - ?", (100 * 86400 * 10**6,))
    stocked.run("report", report, TRIAL, "--html", "--output", str(html), user=TECH)
    size, root = checkpoint(stocked)
    pages = print_pdf(html, tmp_path / f"{report}.pdf", tmp_path / "profile")
    whole = " ".join(" ".join(pages).split())
    assert title in whole, whole[:600]
    assert shows in whole, whole[:1200]
    for n, text in enumerate(pages, 1):
        flat = " ".join(text.split())
        assert "Site: Trial Pharmacy" in flat and f"Trial: {TRIAL}" in flat, (n, flat[:600])
        assert f"Ledger checkpoint: size {size}, root" in flat, (n, flat[:600])
        assert root in text.replace(" ", "").replace("\n", ""), (n, flat[:600])
    for arm in ARMS:
        assert arm not in whole, arm
