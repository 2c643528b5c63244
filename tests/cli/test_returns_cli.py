"""Tests of `ctm return`, `ctm lost`, `ctm compliance` and `ctm compliance limits`, driving the
real binary on the blinded trial of test_dispense_cli: a subject's kit comes back with its units
counted, once, and never goes back to stock; a refused return changes nothing; compliance is
flagged against the trial's limits; a blinded technician records returns and sees no arm.
"""
import json
from datetime import date, timedelta

import pytest

from test_dispense_cli import ADMIN_PW, ARMS, BLIND, INV, PASSWORDS, PHARM, TRIAL, assigned
from test_dispense_cli import site as dispense_site  # noqa: F401 (a fixture)

TECH, TECH_PW = "tove", "tove-pass-1234"


@pytest.fixture(scope="module")
def site(dispense_site):  # noqa: F811
    s = dispense_site
    s.run("user", "add", TECH, "--role", "technician", new_password=TECH_PW, password=ADMIN_PW)
    PASSWORDS[TECH] = TECH_PW
    for subject in ("S-1", "S-2"):
        kit = assigned(run(s, PHARM, "dispense", "assign", TRIAL, subject, "--visit", "V1",
                           "--json").stdout)
        run(s, PHARM, "dispense", "confirm", TRIAL, subject, "--scan", kit[0])
    return s


def run(site, user, *args, expect=0):
    return site.run(*args, user=user, password=PASSWORDS.get(user, ADMIN_PW), expect=expect)


def kit_of(site, subject):
    rows = json.loads(run(site, PHARM, "dispensations", TRIAL, "--subject", subject,
                          "--json").stdout)
    return rows[0]["kit_number"]


def compliance(site, subject):
    rows = json.loads(run(site, PHARM, "compliance", TRIAL, "--subject", subject,
                          "--json").stdout)
    assert len(rows) == 1
    return rows[0]


def audit_size(site):
    return len(json.loads(run(site, PHARM, "audit", "log", "--json").stdout))


def test_a_return_is_counted_once_and_never_restocked(site):
    kit = kit_of(site, "S-1")
    assert compliance(site, "S-1")["flag"] == "not returned"
    size = audit_size(site)
    too_many = run(site, TECH, "return", TRIAL, kit, "--units", "31", expect=1)
    assert too_many.stderr == f"ctm: units: 31 is more than the 30 units kit {kit} held\n"
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    future = run(site, TECH, "return", TRIAL, kit, "--units", "3", "--date", tomorrow, expect=1)
    assert f"returned_on: {tomorrow} is in the future" in future.stderr
    no_units = run(site, TECH, "return", TRIAL, kit, expect=2)
    assert "--units" in no_units.stderr
    assert audit_size(site) == size  # refusals change nothing (the log reads add no entry)
    out = run(site, TECH, "return", TRIAL, kit, "--units", "4", "--condition", "opened").stdout
    assert out == (f"Kit {kit} of trial {TRIAL} is returned with 4 units; it does not go back "
                   "to stock.\n")
    again = run(site, TECH, "return", TRIAL, kit, "--units", "4", expect=1)
    assert f"kit {kit}: already recorded returned on {date.today().isoformat()}" in again.stderr
    back = run(site, PHARM, "kit", "status", TRIAL, kit, "available", "--reason", "x", expect=1)
    assert "no change from returned to available by hand" in back.stderr
    row = compliance(site, "S-1")
    # KT has no dispensing days: the kit is the prescription, 26 of 30 taken
    assert (row["units_dispensed"], row["units_returned"], row["consumed_units"],
            row["compliance_pct"], row["flag"]) == (30, 4, 26, 86.7, "ok")
    run(site, PHARM, "compliance", "limits", TRIAL, "--low", "90", "--high", "110")
    assert compliance(site, "S-1")["flag"] == "low"
    bad = run(site, PHARM, "compliance", "limits", TRIAL, "--low", "95", "--high", "90",
              expect=1)
    assert "low: 95% is above high (90%)" in bad.stderr
    run(site, TECH, "compliance", "limits", TRIAL, "--low", "50", "--high", "90", expect=1)


def test_a_lost_kit_needs_a_reason(site):
    kit = kit_of(site, "S-2")
    run(site, TECH, "lost", TRIAL, kit, expect=2)
    out = run(site, TECH, "lost", TRIAL, kit, "--reason", "left on the bus").stdout
    assert out == f"Kit {kit} of trial {TRIAL} is recorded as lost by its subject.\n"
    assert compliance(site, "S-2")["flag"] == "lost"
    csv = run(site, INV, "compliance", TRIAL, "--csv").stdout
    assert csv.splitlines()[0].startswith("trial,screening,rand_number,visit,kit_type,")
    for user in (TECH, INV, BLIND):
        text = run(site, user, "compliance", TRIAL, "--json").stdout
        assert not any(arm in text for arm in ARMS)
