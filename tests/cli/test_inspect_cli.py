"""Tests of `ctm forecast` and `ctm self-inspection`, driving the real binary on the blinded trial
of test_dispense_cli (two subjects randomized today, visits V1 today and V2 four weeks on, twelve
kits of the two arms): exact figures per kit type, per arm for the unblinded pharmacist only;
the findings of a self-inspection; refusals of bad day counts.
"""
import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from test_dispense_cli import ADMIN_PW, ARMS, BLIND, INV, PASSWORDS, PHARM, TRIAL
from test_dispense_cli import site as dispense_site  # noqa: F401 (a fixture)

TODAY = datetime.now(timezone.utc).date()


@pytest.fixture(scope="module")
def site(dispense_site):  # noqa: F811
    return dispense_site


def run(site, user, *args, expect=0):
    return site.run(*args, user=user, password=PASSWORDS.get(user, ADMIN_PW), expect=expect)


def test_forecast_per_kit_type_and_arm(site):
    through = (TODAY + timedelta(days=28)).isoformat()
    pooled = {"kit_type": "KT", "arm": None, "through": through, "visits_due": 4,
              "kits_needed": 4, "kits_available": 12, "kits_dispensable": 12,
              "kits_quarantined": 0, "shortfall": 0, "first_shortfall": None}
    rows = json.loads(run(site, PHARM, "forecast", TRIAL, "--json").stdout)
    assert rows == [pooled] + [dict(pooled, arm=arm, visits_due=2, kits_needed=2,
                                    kits_available=6, kits_dispensable=6,
                                    kits_quarantined=None) for arm in ARMS]
    # over a week only the V1 visits; blinded users get the pooled row only
    week = json.loads(run(site, BLIND, "forecast", TRIAL, "--days", "7", "--json").stdout)
    assert week == [dict(pooled, through=(TODAY + timedelta(days=7)).isoformat(),
                         visits_due=2, kits_needed=2)]
    for user in (BLIND, INV):
        out = run(site, user, "forecast", TRIAL).stdout
        assert "kit_type" in out and "KT" in out
        for arm in ARMS:
            assert arm not in out
    table = list(csv.DictReader(io.StringIO(run(site, PHARM, "forecast", TRIAL, "--csv").stdout)))
    assert [r["arm"] for r in table] == ["", ARMS[0], ARMS[1]]


def test_forecast_refusals(site):
    bad = run(site, PHARM, "forecast", TRIAL, "--days", "0", expect=2)
    assert "--days: give a number of days from 1 to 3650" in bad.stderr
    run(site, PHARM, "forecast", TRIAL, "--days", "many", expect=2)
    missing = run(site, PHARM, "forecast", "NO-SUCH", expect=1)
    assert "NO-SUCH" in missing.stderr
    run(site, PHARM, "forecast", expect=2)


def test_self_inspection_lists_the_findings(site):
    # BLIND never wrote an action, but the account is new: not stale
    assert json.loads(run(site, PHARM, "self-inspection", TRIAL, "--json").stdout) == []
    # created 40 days ago (behind the library's back): stale after 30 days, not after 90
    day_us = 86400 * 10**6
    site.sql("UPDATE users SET created_us = created_us - ? WHERE username = ?", (40 * day_us, BLIND))
    try:
        created = (TODAY - timedelta(days=40)).isoformat()
        rows = json.loads(run(site, PHARM, "self-inspection", TRIAL, "--stale-days", "30",
                              "--json").stdout)
        assert rows == [{"category": "stale_access", "trial": None, "reference": BLIND,
                         "subject": None,
                         "detail": f"user {BLIND} (pharmacist) is enabled and has recorded no"
                                   f" action since the account was created on {created}",
                         "since": created}]
        # the whole site, read by the blinded investigator: the same
        assert json.loads(run(site, INV, "self-inspection", "--stale-days", "30",
                              "--json").stdout) == rows
        assert json.loads(run(site, PHARM, "self-inspection", TRIAL, "--json").stdout) == []
    finally:
        site.sql("UPDATE users SET created_us = created_us + ? WHERE username = ?",
                 (40 * day_us, BLIND))
    bad = run(site, PHARM, "self-inspection", "--stale-days", "0", expect=2)
    assert "--stale-days: give a number of days from 1 to 3650" in bad.stderr
