"""Tests of `ctm dispense ...`, `ctm dispensations` and `ctm codebreak`, driving the real binary.

A blinded trial with kits of both arms, a two-visit schedule and randomized subjects; a blinded
pharmacist dispenses at the counter, an unblinded one overrides a window, the investigator breaks
one subject's code.  Nothing the blinded users are shown may hold an arm.
"""
import json
from datetime import date, timedelta

import pytest

import test_cli as base
from test_stock_cli import Site

ADMIN, ADMIN_PW = base.ADMIN, base.ADMIN_PW
PHARM, PHARM_PW = "phil", "phil-pass-1234"   # unblinded
BLIND, BLIND_PW = "bea", "bea-pass-12345"    # blinded pharmacist
INV, INV_PW = "ines", "ines-pass-1234"       # blinded investigator
PASSWORDS = {PHARM: PHARM_PW, BLIND: BLIND_PW, INV: INV_PW}
ARMS = ("QZVERUM", "QZSHAM")
TRIAL = "CLI-DISP"
EXPIRY = (date.today() + timedelta(days=400)).isoformat()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("dispense"))
    s.run("init", "--site", "Trial Pharmacy", "--admin", ADMIN, user=None, password=ADMIN_PW)
    for name, role, flags in ((PHARM, "pharmacist", ["--unblinded"]), (BLIND, "pharmacist", []),
                              (INV, "investigator", [])):
        s.run("user", "add", name, "--role", role, *flags, new_password=PASSWORDS[name],
              password=ADMIN_PW)
    run(s, PHARM, "trial", "add", TRIAL, "--title", "T", "--sponsor", "S", "--blinded",
        "--arms", f"{ARMS[0]}:1,{ARMS[1]}:1")
    run(s, PHARM, "kittype", "add", TRIAL, "KT", "--name", "Drug X or placebo", "--units", "30",
        "--storage", "2..8", "--dnd-days", "30")
    run(s, PHARM, "location", "add", "FRIDGE-1", "--range", "2..8")
    manifest = "kit_number,kit_type,lot,expiry,arm\n" + "".join(
        f"K{i:03d},KT,L1,{EXPIRY},{ARMS[i % 2]}\n" for i in range(1, 13))
    (s.dir / "m.csv").write_text(manifest)
    run(s, PHARM, "receive", TRIAL, "--shipment", "SH1", "--manifest", "m.csv",
        "--location", "FRIDGE-1")
    run(s, PHARM, "receive", "confirm", "SH1", "--unchecked-present")
    (s.dir / "fridge-1.csv").write_text("time,temperature\n2026-06-01T10:00:00Z,4.5\n"
                                        "2026-06-01T10:10:00Z,9.1\n")
    run(s, PHARM, "temp", "import", "FRIDGE-1", "fridge-1.csv")
    run(s, PHARM, "visit", "add", TRIAL, "V1", "--day", "0", "--window", "-0..+3", "--kits", "KT:1")
    run(s, PHARM, "visit", "add", TRIAL, "V2", "--day", "28", "--window", "-3..+3", "--kits",
        "KT:1", "--from", "previous")
    run(s, PHARM, "random", "generate", TRIAL, "--size", "8", "--blocks", "2")
    for subject in ("S-1", "S-2"):
        run(s, INV, "subject", "add", TRIAL, subject)
        run(s, INV, "randomize", TRIAL, subject)
    return s


def run(site, user, *args, expect=0):
    return site.run(*args, user=user, password=PASSWORDS.get(user, ADMIN_PW), expect=expect)


def assigned(out):
    """The kit numbers of an assignment's --json output."""
    return [row["kit_number"] for row in json.loads(out)]


def test_dispense_at_the_counter(site):
    kit = assigned(run(site, BLIND, "dispense", "assign", TRIAL, "S-1", "--visit", "V1",
                       "--json").stdout)
    assert len(kit) == 1
    other = next(f"K{i:03d}" for i in range(1, 13) if f"K{i:03d}" != kit[0])
    wrong = run(site, BLIND, "dispense", "confirm", TRIAL, "S-1", "--scan", other, expect=1)
    assert "not a kit assigned" in wrong.stderr
    out = run(site, BLIND, "dispense", "confirm", TRIAL, "S-1", "--scan", kit[0]).stdout
    assert "Dispensed to subject S-1: 1 kit, e-signed." in out
    rows = json.loads(run(site, BLIND, "dispensations", TRIAL, "--subject", "S-1",
                          "--json").stdout)
    assert [(r["kit_number"], r["status"], r["visit"]) for r in rows] == [(kit[0], "dispensed",
                                                                           "V1")]
    # V2 is four weeks away: refused, but an unblinded pharmacist may override with a reason
    late = run(site, BLIND, "dispense", "assign", TRIAL, "S-1", "--visit", "V2", expect=1)
    assert "outside its window" in late.stderr
    run(site, BLIND, "dispense", "assign", TRIAL, "S-1", "--visit", "V2", "--override",
        "travelling", expect=1)
    run(site, PHARM, "dispense", "assign", TRIAL, "S-1", "--visit", "V2", "--override",
        "travelling")
    run(site, PHARM, "dispense", "cancel", TRIAL, "S-1", "--reason", "did not come")
    for user, out in site.transcript:
        if user in (BLIND, INV):
            for arm in ARMS:
                assert arm not in out, (user, out)


def test_codebreak_asks_the_password_again(site):
    truth = json.loads(run(site, PHARM, "subject", "show", TRIAL, "S-2", "--json").stdout)["arm"]
    refused = site.run("codebreak", TRIAL, "S-2", "--reason", "emergency", user=INV,
                       password="wrong-password-1", expect=1)
    assert refused.returncode == 1
    run(site, BLIND, "codebreak", TRIAL, "S-2", "--reason", "emergency", expect=1)
    out = run(site, INV, "codebreak", TRIAL, "S-2", "--reason", "anaphylaxis").stdout
    assert f"arm {truth}" in out and "e-signature" in out
    log = run(site, INV, "audit", "log", "--action", "subject.codebreak", "--json").stdout
    entries = json.loads(log)
    assert entries[-1]["esig_meaning"] == "emergency unblinding"
    assert truth not in log
    assert "OK" in site.run("audit", "verify").stdout


# Commands that change state or need no database: not reads.  `trial list` shows the arm codes,
# which are part of the protocol.
CLI_WRITES = {"init", "migrate", "user add", "user disable", "user enable", "user role",
              "user passwd", "trial add", "kittype add", "location add", "receive scan",
              "receive unscan", "receive void", "receive confirm", "receive bulk", "receive",
              "kit status", "expiry extend", "transfer out", "transfer", "random generate",
              "random import", "random minimization", "subject add", "subject strata",
              "subject withdraw", "subject complete", "randomize", "visit add", "dose levels",
              "subject hold", "subject resume", "dispense assign", "dispense confirm",
              "dispense cancel", "dispense replace", "dispense reverse", "dispense record",
              "codebreak", "temp import", "audit note", "scan", "version", "help", "trial list",
              "location alarm", "receive logger", "excursion decide", "return", "lost",
              "compliance limits", "destroy", "shipback", "shipback dispatch", "shipback cancel",
              "signoff",
              # a shipback's manifest, read by blinded users in test_destroy_cli.py
              "shipback manifest",
              "audit witness", "audit witness-key",
              # an excursion's own views, read by a blinded technician in test_excursion_cli.py
              "excursion show", "excursion report"}
CLI_READS = {
    "user list": ["user", "list", "--json"],
    "kittype list": ["kittype", "list", TRIAL],
    "location list": ["location", "list"],
    "receive status": ["receive", "status", "SH1", "--json"],
    "lots": ["lots", TRIAL, "--json"],
    "receive discrepancies": ["receive", "discrepancies", "SH1"],
    "shipments": ["shipments", "--json"],
    "kits": ["kits", "--json"],
    "kit show": ["kit", "show", TRIAL, "K001", "--json"],
    "kit history": ["kit", "history", TRIAL, "K002"],
    "random show": ["random", "show", TRIAL, "--json"],
    "subject list": ["subject", "list", "--csv"],
    "subject show": ["subject", "show", TRIAL, "S-1", "--json"],
    "visit list": ["visit", "list", TRIAL],
    "subject visits": ["subject", "visits", TRIAL, "S-1"],
    "dispensations": ["dispensations", TRIAL, "--json"],
    "temp list": ["temp", "list", "FRIDGE-1", "--json"],
    "temp files": ["temp", "files", "--json"],
    "temp mkt": ["temp", "mkt", "FRIDGE-1", "--json"],
    "kit exposure": ["kit", "exposure", TRIAL, "K001", "--json"],
    "excursions": ["excursions", "--json"],
    "compliance": ["compliance", TRIAL, "--json"],
    "destructions": ["destructions", TRIAL, "--json"],
    "shipbacks": ["shipbacks", "--json"],
    "reconcile": ["reconcile", TRIAL, "--json"],
    "darf": ["darf", TRIAL, "--json"],
    "signoffs": ["signoffs", TRIAL, "--json"],
    "forecast": ["forecast", TRIAL, "--json"],
    "self-inspection": ["self-inspection", TRIAL, "--json"],
    "audit log": ["audit", "log", "--json"],
    "report": ["report", "inventory", "--json"],
    "report audit": ["report", "audit", TRIAL, "--json"],
    "report html": ["report", "inventory", "--html"],
    "audit verify": ["audit", "verify"],
    "audit checkpoint": ["audit", "checkpoint"],
    "audit pubkey": ["audit", "pubkey"],
    "audit prove": ["audit", "prove", "3"],
    "export": ["export", "fhir", TRIAL],
}


def test_every_read_command_as_a_blinded_user_shows_no_arm(site):
    overview = site.run("help", db=False, user=None, password=None).stdout
    commands = overview.split("Commands:\n")[1].split("\n\n")[0]
    listed = {line[2:25].strip() for line in commands.split("\n")}
    assert listed - CLI_WRITES - set(CLI_READS) == set(), "a read command is not walked"
    for user in (BLIND, INV):
        for name, args in CLI_READS.items():
            out = run(site, user, *args, expect=None)
            text = out.stdout + out.stderr
            assert out.returncode == 0, (name, user, text)
            if name == "audit log":  # the trial's entry lists its arm codes: public
                text = json.dumps([e for e in json.loads(out.stdout)
                                   if e["action"] != "trial.add"])
            if name == "report audit":  # the same, in the report's rows
                text = json.dumps([e for e in json.loads(out.stdout)["rows"]
                                   if e["action"] != "trial.add"])
            for arm in ARMS:
                assert arm not in text, "%s shows an arm to %s" % (name, user)


def test_export_is_the_same_for_every_user_and_holds_the_dispensings(site):
    handed = [row for row in json.loads(run(site, PHARM, "dispensations", TRIAL, "--json").stdout)
              if row["dispensed"] is not None]
    assert handed, "test_dispense_at_the_counter dispensed a kit"
    fhir = run(site, PHARM, "export", "fhir", TRIAL).stdout
    bundle = json.loads(fhir)
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")
    dispenses = [e["resource"] for e in bundle["entry"]
                 if e["resource"]["resourceType"] == "MedicationDispense"]
    assert [d["identifier"][0]["value"] for d in dispenses] == [r["kit_number"] for r in handed]
    assert [d["subject"]["identifier"]["value"] for d in dispenses] == [r["subject"]
                                                                         for r in handed]
    deliveries = [e["resource"] for e in bundle["entry"]
                  if e["resource"]["resourceType"] == "SupplyDelivery"]
    assert [(d["identifier"][0]["value"], d["suppliedItem"]["quantity"]["value"])
            for d in deliveries] == [("SH1", 12 * 30)]
    sdtm = run(site, PHARM, "export", "sdtm-da", TRIAL).stdout
    lines = sdtm.split("\r\n")
    assert lines[0].startswith("STUDYID,DOMAIN,USUBJID,DASEQ,DAREFID,")
    assert len(lines) == 1 + len([r for r in handed if r["status"] != "reversed"]) + 1
    for user in (BLIND, INV):
        assert run(site, user, "export", "fhir", TRIAL).stdout == fhir
        assert run(site, user, "export", "sdtm-da", TRIAL).stdout == sdtm
    out = run(site, BLIND, "export", "sdtm-da", TRIAL, "--output", "da.csv").stdout
    assert out == f"Wrote the sdtm-da export of trial {TRIAL} to da.csv.\n"
    assert (site.dir / "da.csv").read_bytes() == sdtm.encode()
    none = run(site, PHARM, "export", "sdtm-da", TRIAL, "--from", "2020-01-01", "--to",
               "2020-01-31").stdout
    assert none == lines[0] + "\r\n"
    kit = next(r for r in handed if r["status"] == "dispensed")
    run(site, BLIND, "return", TRIAL, kit["kit_number"], "--units", "7")
    returned = [line for line in run(site, INV, "export", "sdtm-da", TRIAL).stdout.split("\r\n")
                if ",RETAMT," in line]
    assert len(returned) == 1
    assert returned[0].startswith(f"{TRIAL},DA,{TRIAL}-{kit['subject']},")
    assert f",{kit['kit_number']},L1,RETAMT,Returned Amount,7,UNIT,7,7,UNIT,,,,," in returned[0]
    assert run(site, PHARM, "export", "fhir", TRIAL).stdout == fhir  # no FHIR resource
    bad = run(site, PHARM, "export", "hl7", TRIAL, expect=2)
    assert "FORMAT: give fhir or sdtm-da, not 'hl7'" in bad.stderr
    bad = run(site, PHARM, "export", "fhir", TRIAL, "--from", "2026-02-30", expect=2)
    assert "--from '2026-02-30'" in bad.stderr
