"""Subject returns and compliance through the ctm Python bindings: kits dispensed on paper four
weeks ago come back with their units counted (or are lost), never to stock; compliance per
subject and visit reads into pandas with exact figures and flags; refusals raise the library's
errors and change nothing.
"""
import datetime

import pytest

import ctm
from conftest import ADMIN, ADMIN_PW, SITE, ctm_init, ctm_open, new_site_path

PW = "returns-password-1"
TRIAL = "CT-RET"
ARMS = ("QZACTIVE", "QZPLACEBO")
TODAY = datetime.datetime.now(datetime.timezone.utc).date()


@pytest.fixture
def db(tmp_path):
    """S-1 and S-2 got one kit each (30 units covering 28 days) on paper 28 days ago."""
    path = new_site_path(tmp_path)
    with ctm_init(path, SITE, ADMIN, ADMIN_PW) as admin:
        admin.user_add("paula", "pharmacist", PW, unblinded=True, printed_name="Paula Pharm")
        admin.user_add("tom", "technician", PW)
    with ctm_open(path, "paula", PW) as db:
        db.trial_add(TRIAL, "Returns", "Sponsor AB", {ARMS[0]: 1, ARMS[1]: 1}, blinded=True)
        db.kittype_add(TRIAL, "KT", "Drug or placebo", 30, (2, 8), dispensing_days=28)
        db.location_add("FRIDGE-1", (2, 8), kind="fridge")
        rows = "".join("A%d,KT,L1,2030-01-31,%s\nB%d,KT,L1,2030-01-31,%s\n" % (i, ARMS[0], i,
                                                                              ARMS[1])
                       for i in range(1, 4))
        db.receive(TRIAL, "SH-1", "kit_number,kit_type,lot,expiry,arm\n" + rows, "FRIDGE-1",
                   date_received=TODAY - datetime.timedelta(days=30))  # before the paper dispensings
        db.confirm("SH-1", unchecked_present=True)
        db.visit_add(TRIAL, "V1", 0, "-30..+3", "KT:1")
        db.random_generate(TRIAL, 4, [2])
        when = datetime.datetime.combine(TODAY - datetime.timedelta(days=28),
                                         datetime.time(10, 0), datetime.timezone.utc)
        for screening, n in (("S-1", 1), ("S-2", 2)):
            db.subject_add(TRIAL, screening)
            arm = db.randomize(TRIAL, screening)["arm"]
            kit = ("A%d" if arm == ARMS[0] else "B%d") % n
            db.dispense_record(TRIAL, screening, "V1", [kit], when, "system down")
    with ctm_open(path, "paula", PW) as db:
        yield db


def kit_of(db, screening):
    return db.dispensations(TRIAL, screening).fetchall()[0]["kit_number"]


def test_returns_and_compliance_into_pandas(db):
    db.return_kit(TRIAL, kit_of(db, "S-1"), 2, condition="opened")
    db.return_kit(TRIAL, kit_of(db, "S-2"), 10, returned_on=TODAY)
    df = db.compliance(TRIAL).to_pandas()
    assert list(df.screening) == ["S-1", "S-2"]
    assert list(df.days) == [28, 28]
    assert list(df.prescribed_units) == [30.0, 30.0]
    assert list(df.consumed_units) == [28, 20]
    assert list(df.compliance_pct) == [93.3, 66.7]
    assert list(df.flag) == ["ok", "low"]
    assert df.returned_on[0].date() == TODAY
    db.compliance_limits(TRIAL, 60, 90)
    assert [r["flag"] for r in db.compliance(TRIAL)] == ["high", "ok"]
    assert db.kit_show(kit_of(db, "S-1"), TRIAL)["status"] == "returned"


def test_refusals_change_nothing(db):
    kit = kit_of(db, "S-1")
    size = db.size
    with pytest.raises(ctm.InvalidError, match="units: 31 is more than the 30 units"):
        db.return_kit(TRIAL, kit, 31)
    with pytest.raises(ctm.InvalidError, match="is in the future"):
        db.return_kit(TRIAL, kit, 3, returned_on=TODAY + datetime.timedelta(days=1))
    with pytest.raises(ctm.InvalidError, match="reason"):
        db.lost(TRIAL, kit, "")
    with pytest.raises(ctm.RuleError, match="is not with a subject"):
        db.return_kit(TRIAL, "A3", 1)
    assert db.size == size
    db.lost(TRIAL, kit, "left on the bus")
    with pytest.raises(ctm.RuleError, match="already recorded lost by its subject"):
        db.return_kit(TRIAL, kit, 3)
    assert [r["flag"] for r in db.compliance(TRIAL, "S-1")] == ["lost"]


def test_the_compliance_example_script(db, tmp_path):
    """examples/python/compliance.py as a monitor runs it: the table, the flagged rows, the CSV
    and the chart; exit status 1 when a row is flagged."""
    import os
    import pathlib
    import subprocess
    db.return_kit(TRIAL, kit_of(db, "S-1"), 2)
    db.return_kit(TRIAL, kit_of(db, "S-2"), 10)
    script = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python" / "compliance.py"
    env = dict(os.environ, CTM_PASSWORD=PW)
    out = subprocess.run(["/usr/bin/python3", str(script), db.path, TRIAL, "--user", "tom",
                          "--csv", str(tmp_path / "c.csv"), "--plot", str(tmp_path / "c.png")],
                         env=env, capture_output=True, text=True)
    assert out.returncode == 1, out.stderr
    assert "Outside 80-110 %: 1" in out.stdout
    flagged = out.stdout.split("Outside 80-110 %: 1\n")[1].splitlines()
    assert flagged[1].split() == ["S-2", "V1", "66.7", "low"]
    assert "No figure yet: 0" in out.stdout
    assert (tmp_path / "c.csv").read_text().splitlines()[0].startswith("trial,screening,")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_reconcile_and_accountability_example_scripts(db, tmp_path):
    """examples/python/reconcile.py and accountability_report.py as a monitor runs them on a
    site: the reconciliation balances (exit 0) and the DARF closes at the library's balance."""
    import os
    import pathlib
    import subprocess
    db.return_kit(TRIAL, kit_of(db, "S-1"), 2)
    examples = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python"
    env = dict(os.environ, CTM_PASSWORD=PW)
    out = subprocess.run(["/usr/bin/python3", str(examples / "reconcile.py"), db.path, TRIAL,
                          "--user", "tom", "--csv", str(tmp_path / "r.csv")],
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "\nBalanced.\n" in out.stdout
    total = [line.split() for line in out.stdout.splitlines() if line.strip().startswith("total")]
    # kits: received 6, available 4, dispensed 1 (S-2's), returned 1 (S-1's)
    assert total[0][:6] == ["total", "6", "4", "0", "1", "1"], out.stdout
    out = subprocess.run(["/usr/bin/python3", str(examples / "accountability_report.py"), db.path,
                          TRIAL, "--user", "tom", "--html", str(tmp_path / "darf.html")],
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("KT: Drug or placebo (dose not given)\n"), out.stdout
    last = db.darf(TRIAL).fetchall()[-1]  # the script closes at the library's balance
    assert "balance: %d kits, %d units" % (last["balance"], last["balance_units"]) in out.stdout
    assert "returned" in out.stdout
    page = (tmp_path / "darf.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "Ledger checkpoint" in page
