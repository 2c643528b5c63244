"""Tests of `ctm destroy`, `ctm destructions`, `ctm shipback` (pack, manifest, dispatch, cancel)
and `ctm shipbacks`, driving the real binary on the blinded trial of test_dispense_cli: kits
pending destruction are destroyed under a witness whose password comes from
$CTM_WITNESS_PASSWORD; refusals (the witness is oneself, a wrong witness password, a kit not
pending destruction) change nothing; kits go back to the sponsor with a manifest without arms.
"""
import json

import pytest

from test_dispense_cli import ADMIN_PW, ARMS, BLIND, INV, PASSWORDS, PHARM, TRIAL, EXPIRY
from test_dispense_cli import site as dispense_site  # noqa: F401 (a fixture)

MONITOR, MONITOR_PW = "moe", "moe-pass-12345"


@pytest.fixture(scope="module")
def site(dispense_site):  # noqa: F811
    s = dispense_site
    s.run("user", "add", MONITOR, "--role", "monitor", new_password=MONITOR_PW, password=ADMIN_PW)
    PASSWORDS[MONITOR] = MONITOR_PW
    for kit in ("K003", "K004", "K006"):
        run(s, PHARM, "kit", "status", TRIAL, kit, "damaged", "--reason", "crushed")
        run(s, PHARM, "kit", "status", TRIAL, kit, "pending_destruction", "--reason", "destroy")
    run(s, PHARM, "kit", "status", TRIAL, "K005", "expired", "--reason", "past its date")
    return s


def run(site, user, *args, expect=0, witness_pw=None):
    extra = {"CTM_WITNESS_PASSWORD": witness_pw} if witness_pw is not None else None
    return site.run(*args, user=user, password=PASSWORDS.get(user, ADMIN_PW), expect=expect,
                    env_extra=extra)


def audit_size(site):
    return len(json.loads(run(site, PHARM, "audit", "log", "--json").stdout))


def status(site, kit):
    return json.loads(run(site, PHARM, "kit", "show", TRIAL, kit, "--json").stdout)["status"]


DESTROY = ("destroy", TRIAL, "--method", "incineration", "--certificate", "DC-2026-014",
           "--witness", MONITOR)


def test_destroy_under_a_witness(site):
    size = audit_size(site)
    mine = run(site, PHARM, "destroy", TRIAL, "--method", "incineration", "--certificate",
               "DC-1", "--witness", PHARM, "K003", expect=2)
    assert f"--witness: a second user witnesses, not {PHARM}" in mine.stderr
    wrong = run(site, PHARM, *DESTROY, "K003", witness_pw="not-moes-password", expect=1)
    assert wrong.stderr == ("ctm: destroy: unknown user or wrong password for witness "
                            f"'{MONITOR}'\n")
    available = run(site, PHARM, *DESTROY, "K003", "K007", witness_pw=MONITOR_PW, expect=1)
    assert available.stderr == ("ctm: kit K007: available; only a kit pending destruction is "
                                "destroyed\n")
    run(site, INV, *DESTROY, "K003", witness_pw=MONITOR_PW, expect=1)
    assert audit_size(site) == size + 1  # the witness's failed login, nothing else
    assert status(site, "K003") == "pending_destruction"
    out = run(site, PHARM, *DESTROY, "K003", "K004", witness_pw=MONITOR_PW).stdout
    assert out == (f"Destroyed 2 kits of trial {TRIAL} (certificate DC-2026-014), e-signed by "
                   f"{PHARM} and witnessed by {MONITOR}.\n")
    assert status(site, "K003") == "destroyed"
    rows = json.loads(run(site, PHARM, "destructions", TRIAL, "--json").stdout)
    assert [(r["kit_number"], r["lot"], r["expiry"], r["method"], r["certificate"],
             r["destroyed_by"], r["witness"]) for r in rows] == [
        (k, "L1", EXPIRY, "incineration", "DC-2026-014", PHARM, MONITOR) for k in ("K003", "K004")]
    log = json.loads(run(site, PHARM, "audit", "log", "--json").stdout)
    assert [(e["action"], e["user"], e["esig_user"], e["esig_meaning"]) for e in log[-2:]] == [
        ("kit.destroy", PHARM, PHARM, "destroyed"),
        ("kit.destroy_witness", MONITOR, MONITOR, "witnessed destruction")]
    assert "OK" in site.run("audit", "verify").stdout


def test_shipback_to_the_sponsor(site):
    out = run(site, PHARM, "shipback", TRIAL, "--shipment", "RTS-1", "K005", "K006").stdout
    assert out == (f"Packed 2 kits of trial {TRIAL} for the sponsor in shipback RTS-1; "
                   "'ctm shipback dispatch' sends them.\n")
    packed = run(site, PHARM, *DESTROY, "K006", witness_pw=MONITOR_PW, expect=1)
    assert "kit K006: packed in shipback RTS-1 for the sponsor" in packed.stderr
    manifest = ("shipment,kit_number,kit_type,lot,expiry,status,units_left\r\n"
                f"RTS-1,K005,KT,L1,{EXPIRY},expired,30\r\n"
                f"RTS-1,K006,KT,L1,{EXPIRY},pending_destruction,30\r\n")
    assert run(site, BLIND, "shipback", "manifest", TRIAL, "RTS-1").stdout == manifest
    run(site, PHARM, "shipback", "manifest", TRIAL, "RTS-1", "--output", "rts-1.csv")
    assert (site.dir / "rts-1.csv").read_bytes().decode() == manifest
    run(site, BLIND, "shipback", "dispatch", TRIAL, "RTS-1", expect=2)  # --reference
    out = run(site, PHARM, "shipback", "dispatch", TRIAL, "RTS-1", "--reference",
              "AWB 176-12345675").stdout
    assert out == (f"Shipback RTS-1 of trial {TRIAL} is dispatched (reference AWB 176-12345675),"
                   f" e-signed by {PHARM}; its kits are returned to the sponsor.\n")
    assert status(site, "K005") == "returned_to_sponsor"
    rows = json.loads(run(site, INV, "shipbacks", TRIAL, "--json").stdout)
    assert [(r["shipment"], r["destination"], r["status"], r["kits"], r["reference"])
            for r in rows] == [("RTS-1", "S", "dispatched", 2, "AWB 176-12345675")]
    assert run(site, PHARM, "shipback", "manifest", TRIAL, "RTS-1").stdout == manifest
    again = run(site, PHARM, "shipback", "cancel", TRIAL, "RTS-1", "--reason", "x", expect=1)
    assert again.stderr == "ctm: shipback RTS-1: dispatched already\n"
    assert "OK" in site.run("audit", "verify").stdout


def test_blinded_users_read_without_arms(site):
    for user in (BLIND, INV, MONITOR):
        for args in (("destructions", "--json"), ("shipbacks", "--csv"),
                     ("shipback", "manifest", TRIAL, "RTS-1")):
            text = run(site, user, *args).stdout
            assert not any(arm in text for arm in ARMS), (user, args)
