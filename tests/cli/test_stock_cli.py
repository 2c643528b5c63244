"""Tests of the set-up, receipt and stock commands of `ctm`, driving the real binary.

A site with an administrator, an unblinded pharmacist and a blinded technician, a blinded trial
with two arms, a kit type and two fridges is made once per session and copied into each test's
directory (the helpers and the binary come from test_cli.py).  The technician is blinded: nothing
any command prints to the technician may show an arm.
"""
import csv
import io
import json
import os
import re
import subprocess
from datetime import date, datetime, timedelta, timezone

import pytest

import backends
import test_cli as base

ADMIN, ADMIN_PW = base.ADMIN, base.ADMIN_PW
PHARM, PHARM_PW = "phil", "phil-pass-1234"   # unblinded pharmacist
TECH, TECH_PW = "tess", "tess-pass-1234"     # blinded technician
PASSWORDS = {ADMIN: ADMIN_PW, PHARM: PHARM_PW, TECH: TECH_PW}

TRIAL = "2026-500123-41-00"
ARMS = ("ACTIVE", "PLACEBO")
KIT_TYPE = "KT10"
FRIDGE, FRIDGE2 = "FRIDGE-1", "FRIDGE-2"
LOT, LOT2 = "L2401", "L2402"
EXPIRY = "2027-06-30"
GS = "\x1d"


def gtin14(body13):
    """A GTIN-14 with its GS1 check digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body13)))
    return body13 + str((10 - total % 10) % 10)


GTIN = gtin14("0590999032971")


def gs1(kit, lot, expiry=EXPIRY, separator=GS):
    """The element string a scanner reads from a pack: ]d2, (01), (21) + GS, (10) + GS, (17)."""
    yymmdd = expiry[2:4] + expiry[5:7] + expiry[8:10]
    return f"]d201{GTIN}21{kit}{separator}10{lot}{separator}17{yymmdd}"


def manifest(kits, header="kit_number,kit_type,lot,expiry,arm,gtin"):
    """CSV text of a manifest: kits are (number, kit type, lot, expiry, arm, gtin) tuples."""
    lines = [header] + [",".join(k) for k in kits]
    return "\r\n".join(lines) + "\r\n"


def standard_kits(n=10, prefix="K", lot_split=6):
    kits = []
    for i in range(1, n + 1):
        kits.append((f"{prefix}{i:04d}", KIT_TYPE, LOT if i <= lot_split else LOT2, EXPIRY,
                     ARMS[i % 2], GTIN))
    return kits


class Site(base.Site):
    """base.Site that feeds stdin, knows every user's password and keeps a transcript."""

    def __init__(self, directory, database=None):
        super().__init__(directory, database)
        self.transcript = []  # (user, stdout + stderr) of every command run

    def run(self, *args, user=ADMIN, password="", new_password=None, expect=0, db=True,
            input=None, env_extra=None):
        if password == "":
            password = PASSWORDS.get(user)
        env = self.env(db)
        if user is not None:
            env["CTM_USER"] = user
        if password is not None:
            env["CTM_PASSWORD"] = password
        if new_password is not None:
            env["CTM_NEW_PASSWORD"] = new_password
        env.update(env_extra or {})
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run([base.CLI, *args], env=env, cwd=self.dir, capture_output=True,
                              input=data if data is not None else b"",
                              timeout=120)
        proc.stdout = proc.stdout.decode("utf-8", errors="replace")
        proc.stderr = proc.stderr.decode("utf-8", errors="replace")
        self.transcript.append((user, proc.stdout + proc.stderr))
        for secret in PASSWORDS.values():
            assert secret not in proc.stdout + proc.stderr, "a password was printed"
        if expect is not None:
            assert proc.returncode == expect, (args, proc.returncode, proc.stdout, proc.stderr)
        return proc

    def kits(self, *args, user=PHARM):
        return {k["kit_number"]: k for k in self.json("kits", *args, user=user)}

    def receive(self, text, shipment="SH-001", user=TECH, expect=0, name="manifest.csv"):
        """Register a shipment at FRIDGE from manifest text (str or bytes) written to a file."""
        path = self.dir / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return self.run("receive", TRIAL, "--shipment", shipment, "--manifest", name,
                        "--location", FRIDGE, "--origin", "Depot Almere",
                        user=user, expect=expect)

    def scan(self, lines, shipment="SH-001", user=TECH, expect=0, flags=()):
        """Feed lines to `receive scan` on stdin."""
        return self.run("receive", "scan", shipment, *flags, user=user, expect=expect,
                        input="".join(line + "\n" for line in lines))

    def assert_technician_never_saw_an_arm(self):
        seen = [out for user, out in self.transcript if user == TECH]
        assert seen, "the technician ran nothing"
        for out in seen:
            for arm in ARMS:
                assert arm not in out, f"the blinded technician saw arm {arm}: {out!r}"


@pytest.fixture(scope="session")
def stock_template(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("stock-template"))
    site.run("init", "--site", "Trial Pharmacy", "--admin", ADMIN, "--name", "Ada Admin",
             user=None, password=ADMIN_PW)
    site.run("user", "add", PHARM, "--role", "pharmacist", "--unblinded", "--name", "Phil Pharma",
             new_password=PHARM_PW)
    site.run("user", "add", TECH, "--role", "technician", "--name", "Tess Tech",
             new_password=TECH_PW)
    site.run("trial", "add", TRIAL, "--title", "Drug X versus placebo in Y", "--sponsor", "Acme",
             "--blinded", "--arms", f"{ARMS[0]}:1,{ARMS[1]}:1", user=PHARM)
    site.run("kittype", "add", TRIAL, KIT_TYPE, "--name", "Drug X 10 mg or placebo", "--units",
             "30", "--storage", "2..8", "--dnd-days", "30", "--dose-form", "tablet",
             "--strength", "10 mg", "--budget", "1440@15", "--dispensing-days", "28", user=PHARM)
    site.run("location", "add", FRIDGE, "--range", "2..8", "--kind", "fridge", user=PHARM)
    site.run("location", "add", FRIDGE2, "--range", "2.0..8.0", "--kind", "fridge", user=PHARM)
    site.run("location", "add", "FREEZER-1", "--range", "-25..-15", "--kind", "freezer",
             user=PHARM)
    return site


@pytest.fixture
def site(stock_template, tmp_path):
    return stock_template.copy(tmp_path)


# ---- help and usage (no database, no password) ----

NEW_COMMANDS = ("trial add", "trial list", "kittype add", "kittype list", "location add",
                "location list", "receive", "receive scan", "receive confirm",
                "receive discrepancies", "shipments", "kits", "kit status", "kit history",
                "expiry extend", "transfer", "transfer out", "kit show", "receive status",
                "receive unscan", "receive void")


def test_help_lists_and_documents_every_command(tmp_path):
    nobody = Site(tmp_path)
    overview = nobody.run("help", db=False, user=None, password=None).stdout
    for command in NEW_COMMANDS:
        assert re.search(r"^  " + re.escape(command) + r" ", overview, re.M), command
        words = command.split()
        via_help = nobody.run("help", *words, db=False, user=None, password=None).stdout
        via_flag = nobody.run(*words, "--help", db=False, user=None, password=None).stdout
        assert via_help == via_flag
        assert via_help.startswith(f"usage: ctm {command}")
        assert "--db PATH" in via_help
    assert "<GS>" in nobody.run("help", "receive", "scan", db=False, user=None).stdout
    group = nobody.run("help", "kit", db=False, user=None).stdout
    assert "ctm kit status" in group and "ctm kit history" in group and "ctm kit show" in group


@pytest.mark.parametrize("args, words", [
    (["location", "add", "F", "--range", "2,5..8"], "comma"),
    (["location", "add", "F", "--range", "2..8,5"], "comma"),
    (["location", "add", "F", "--range", "2-8"], "MIN..MAX"),
    (["location", "add", "F", "--range", "2..hot"], "temperature"),
    (["location", "add", "F"], "--range"),
    (["kittype", "add", TRIAL, "K", "--name", "n", "--units", "30", "--storage", "2..8",
      "--budget", "1440"], "MINUTES@MAXC"),
    (["kittype", "add", TRIAL, "K", "--name", "n", "--units", "30", "--storage", "2..8",
      "--budget", "1440@15,5"], "comma"),
    (["kittype", "add", TRIAL, "K", "--name", "n", "--units", "thirty", "--storage", "2..8"],
     "--units"),
    (["kittype", "add", TRIAL, "--name", "n", "--units", "3", "--storage", "2..8"], "CODE"),
    (["trial", "add", "T", "--title", "t", "--sponsor", "s"], "--arms"),
    (["receive", TRIAL, "--shipment", "S", "--manifest", "m.csv", "--location", FRIDGE,
      "--date", "2026-02-30"], "no such day"),
    (["receive", TRIAL, "--shipment", "S", "--manifest", "m.csv", "--location", FRIDGE,
      "--date", "30/01/2026"], "YYYY-MM-DD"),
    (["receive", TRIAL, "--shipment", "S", "--manifest", "m.csv", "--location", FRIDGE,
      "--date", "2026-02-30T08:00Z"], "no such day"),
    (["receive", TRIAL, "--manifest", "m.csv", "--location", FRIDGE], "--shipment"),
    (["receive", "scan"], "SHIPMENT"),
    (["receive", "confirm", "S", "extra"], "extra"),
    (["receive", "discrepancies", "S", "--json", "--csv"], "--json"),
    (["kits", "--status", "availble"], "availble"),
    (["kits", "--expiring", "soon"], "--expiring"),
    (["kit", "status", TRIAL, "K0001", "gone", "--reason", "r"], "gone"),
    (["kit", "status", TRIAL, "K0001", "quarantined"], "--reason"),
    (["kit", "history"], "KIT"),
    (["kit", "show"], "KIT"),
    (["kit", "show", TRIAL, "K1", "K2"], "KIT"),
    (["receive", "unscan", "S", "K1"], "--reason"),
    (["receive", "void", "S"], "--reason"),
    (["receive", "status"], "SHIPMENT"),
    (["expiry", "extend", TRIAL, "--to", "2028-01-31", "--reference", "R"], "--lot"),
    (["expiry", "extend", TRIAL, "--to", "2028-01-31", "--reference", "R", "--lot", LOT,
      "K0001"], "not both"),
    (["expiry", "extend", TRIAL, "--to", "2028-02-30", "--reference", "R", "--lot", LOT],
     "no such day"),
    (["transfer", TRIAL, "--to", FRIDGE2], "KIT"),
    (["transfer", "out", TRIAL, "--site", "B", "K0001"], "--shipment"),
    (["kit"], "kit"),
])
def test_usage_errors_exit_2_before_any_login(tmp_path, args, words):
    # No database file and no password: the mistake is found before either is needed.
    site = Site(tmp_path)
    proc = site.fails(*args, code=2, password=None)
    assert words in proc.stderr
    if backends.POSTGRES:
        assert site.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
    else:
        assert not (tmp_path / "site.db").exists()


# ---- set-up ----

def test_setup_listings(site):
    trials = site.json("trial", "list", user=PHARM)
    assert [(t["code"], t["blinded"]) for t in trials] == [(TRIAL, 1)]
    kt = site.json("kittype", "list", TRIAL, user=PHARM)
    assert len(kt) == 1
    assert kt[0]["code"] == KIT_TYPE and kt[0]["units"] == 30 and kt[0]["dnd_days"] == 30
    assert float(kt[0]["storage_min"]) == 2 and float(kt[0]["storage_max"]) == 8
    assert kt[0]["excursion_budget_minutes"] == 1440 and float(kt[0]["excursion_max"]) == 15
    assert kt[0]["dispensing_days"] == 28 and kt[0]["dose_form"] == "tablet"
    assert site.json("kittype", "list", user=PHARM) == kt
    locations = {loc["name"]: loc for loc in site.json("location", "list", user=TECH)}
    assert set(locations) == {FRIDGE, FRIDGE2, "FREEZER-1"}
    assert float(locations["FREEZER-1"]["min"]) == -25 and float(locations["FREEZER-1"]["max"]) == -15
    assert locations[FRIDGE]["kind"] == "fridge" and locations[FRIDGE]["kits"] == 0
    table = site.run("location", "list", user=PHARM).stdout.splitlines()
    assert table[0].split()[:2] == ["name", "kind"] and len(table) == 5
    assert site.run("trial", "list", "--csv", user=PHARM).stdout.startswith("code,")


def test_location_default_kind_and_decimal_range(site):
    site.run("location", "add", "CABINET-3", "--range", "15.5..25", user=PHARM)
    loc = next(x for x in site.json("location", "list") if x["name"] == "CABINET-3")
    assert loc["kind"] == "storage"
    assert float(loc["min"]) == 15.5 and float(loc["max"]) == 25


def test_setup_failures_are_one_line_from_the_library(site):
    site.fails("trial", "add", TRIAL, "--title", "t", "--sponsor", "s", "--arms", "A:1,B:1",
               user=PHARM, code=1)
    site.fails("trial", "add", "T2", "--title", "t", "--sponsor", "s", "--arms", "A:1",
               "--blinded", user=PHARM, code=1)
    site.fails("kittype", "add", "NO-SUCH-TRIAL", "K", "--name", "n", "--units", "3",
               "--storage", "2..8", user=PHARM, code=1)
    site.fails("location", "add", "T3", "--range", "2..8", user=TECH, code=1)  # not allowed
    assert len(site.json("trial", "list")) == 1


# ---- a receipt from manifest to confirmation ----

def test_receipt_scan_confirm_and_blinding(site):
    kits = standard_kits()
    arm_of = {k[0]: k[4] for k in kits}
    out = site.receive(manifest(kits)).stdout
    assert out.startswith(f"Received shipment SH-001: 10 kits at {FRIDGE}, awaiting checks and "
                          "confirmation")
    received = site.kits("--trial", TRIAL)
    assert set(received) == set(arm_of)
    assert {k["status"] for k in received.values()} == {"received"}
    assert all(k["dispensable"] == 0 for k in received.values())
    shipment = site.json("shipments", "--trial", TRIAL, user=TECH)
    assert [(s["number"], s["direction"], s["status"], s["kits"]) for s in shipment] == \
        [("SH-001", "in", "receiving", 10)]

    scans = [
        "K0001",
        "K0002",
        gs1("K0003", LOT, separator="<GS>"),       # typed escape for the GS byte
        gs1("K0004", "LX999"),                     # the pack's lot differs from the manifest
        "K0005",
        "K0002",                                   # scanned twice
        "K9999",                                   # not on the manifest
        gs1("K0006", LOT, separator="\\x1d"),
        "K0007",
        "K0008\r",                                 # a CRLF line end
    ]
    proc = site.scan(scans)
    lines = proc.stdout.splitlines()
    assert lines[0] == "checked 1/10: K0001 ok"
    assert lines[2] == "checked 3/10: K0003 ok"
    assert lines[3].startswith("checked 4/10: K0004") and "LX999" in lines[3]
    assert all(len(re.findall(r"K\d{4}", line)) == 1 for line in lines[:10]), lines  # kit once
    assert re.match(r"checked 5/10: K0002 .*(already|again|repeat)", lines[5])
    assert re.match(r"checked 5/10: K9999 ", lines[6])
    assert lines[9] == "checked 8/10: K0008 ok"
    assert "8 of 10 kits checked" in proc.stdout and "1 repeated" in proc.stdout
    assert "1 mismatched" in proc.stdout and "1 extra" in proc.stdout
    assert proc.stderr == ""

    site.fails("receive", "confirm", "SH-001", user=TECH, code=1)  # pharmacists only
    out = site.run("receive", "confirm", "SH-001", user=PHARM).stdout
    assert "e-signed by phil" in out
    assert "7 available, 1 quarantined, 0 damaged, 2 missing" in out
    assert "1 extra kit not on the manifest" in out
    confirm = [e for e in site.log() if e["action"] == "shipment.confirm"]
    assert len(confirm) == 1 and confirm[0]["esig_user"] == PHARM
    assert confirm[0]["esig_meaning"] == "receipt confirmed"
    site.fails("receive", "confirm", "SH-001", user=PHARM, code=1)  # only once
    site.fails("receive", "scan", "SH-001", user=TECH, code=1, input="K0009\n")

    status = {n: k["status"] for n, k in site.kits("--trial", TRIAL).items()}
    assert status["K0004"] == "quarantined"
    assert status["K0009"] == status["K0010"] == "missing"
    assert [n for n, s in status.items() if s == "available"] == \
        ["K0001", "K0002", "K0003", "K0005", "K0006", "K0007", "K0008"]

    found = site.json("receive", "discrepancies", "SH-001", user=TECH)
    kinds = sorted((d["kind"], d["kit_number"]) for d in found)
    assert kinds == [("extra", "K9999"), ("lot_mismatch", "K0004"), ("missing", "K0009"),
                     ("missing", "K0010")]
    assert all(d["recorded_by"] and d["shipment"] == "SH-001" for d in found)
    csv_out = site.run("receive", "discrepancies", "SH-001", "--csv", user=TECH).stdout
    assert csv_out.startswith("kit_number,kind,detail,recorded,recorded_by,shipment\r\n")

    # Blinding: the technician sees "(blinded)", the unblinded pharmacist the arms.
    as_tech = site.json("kits", user=TECH)
    assert len(as_tech) == 10 and {k["arm"] for k in as_tech} == {"(blinded)"}
    site.run("kits", "--trial", TRIAL, user=TECH)
    site.run("kits", "--csv", user=TECH)
    site.run("kit", "history", TRIAL, "K0001", user=TECH)
    site.run("kit", "show", TRIAL, "K0001", user=TECH)
    site.run("kit", "show", gs1("K0002", LOT), "--json", user=TECH)
    site.run("kits", "--shipment", "SH-001", "--csv", user=TECH)
    site.run("receive", "status", "SH-001", user=TECH)
    site.run("shipments", user=TECH)
    site.run("location", "list", user=TECH)
    site.run("kittype", "list", TRIAL, user=TECH)
    as_pharm = site.kits("--trial", TRIAL, user=PHARM)
    assert {n: k["arm"] for n, k in as_pharm.items()} == arm_of
    site.assert_technician_never_saw_an_arm()
    site.verify("--key", site.vkey())


def test_manifest_from_stdin_with_excursion_and_date(site):
    kits = standard_kits(4)
    arrived = (date.today() - timedelta(days=2)).isoformat()
    out = site.run("receive", TRIAL, "--shipment", "SH-007", "--manifest", "-", "--location",
                   FRIDGE2, "--excursion", "--date", arrived, user=TECH,
                   input=manifest(kits)).stdout
    assert "Received shipment SH-007: 4 kits at FRIDGE-2" in out and "quarantined" in out
    shipment = site.json("shipments")[0]
    assert shipment["date_received"].startswith(arrived) and shipment["origin"] is None
    site.scan([k[0] for k in kits], shipment="SH-007")
    out = site.run("receive", "confirm", "SH-007", user=PHARM).stdout
    assert "0 available, 4 quarantined, 0 damaged, 0 missing" in out
    assert {k["location"] for k in site.kits().values()} == {FRIDGE2}


def test_a_shipment_registered_hours_after_it_arrived(site):
    """--date with a time: the kits' history begins when the shipment arrived; a time of day
    that is none, or in the future, is refused by the library naming the field."""
    kits = standard_kits(2)
    arrived = (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:00Z")
    site.run("receive", TRIAL, "--shipment", "SH-008", "--manifest", "-", "--location", FRIDGE,
             "--date", arrived, user=TECH, input=manifest(kits))
    darf = site.run("report", "darf", TRIAL, "--csv", user=PHARM).stdout
    received = [line for line in darf.splitlines() if ",received," in line]
    assert len(received) == 2 and all(line.startswith(arrived) for line in received), darf
    err = site.fails("receive", TRIAL, "--shipment", "SH-009", "--manifest", "-", "--location",
                     FRIDGE, "--date", arrived[:11] + "25:00Z", user=TECH,
                     input=manifest(kits)).stderr
    assert "date received: '%s25:00Z' is not a time of day" % arrived[:11] in err
    later = (datetime.now(timezone.utc) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%MZ")
    err = site.fails("receive", TRIAL, "--shipment", "SH-009", "--manifest", "-", "--location",
                     FRIDGE, "--date", later, user=TECH, input=manifest(kits)).stderr
    assert "date received: %s is in the future" % later in err


def test_unchecked_present_and_damaged(site):
    site.receive(manifest(standard_kits(5)))
    site.scan(["K0001"], flags=["--damaged"])
    out = site.run("receive", "confirm", "SH-001", "--unchecked-present", user=PHARM).stdout
    assert "4 available, 0 quarantined, 1 damaged, 0 missing" in out
    assert site.kits()["K0001"]["status"] == "damaged"
    kinds = [d["kind"] for d in site.json("receive", "discrepancies", "SH-001")]
    assert kinds == ["damaged"]


def test_bad_barcodes_are_reported_and_the_rest_is_scanned(site):
    site.receive(manifest(standard_kits(4)))
    bad_check_digit = gs1("K0002", LOT).replace(GTIN, GTIN[:-1] + str((int(GTIN[-1]) + 1) % 10))
    bad_date = gs1("K0003", LOT, expiry="2027-13-01")
    proc = site.scan(["K0001", bad_check_digit, "", bad_date, "K0004"], expect=1)
    err = proc.stderr.splitlines()
    assert err[0].startswith("ctm: line 2: ") and "01" in err[0]
    assert err[1].startswith("ctm: line 4: ") and "17" in err[1]
    assert err[-1].startswith("ctm: 2 lines could not be read")
    assert len(err) == 3
    assert "checked 1/4: K0001 ok" in proc.stdout and "checked 2/4: K0004 ok" in proc.stdout
    assert "2 of 4 kits checked" in proc.stdout
    # Those scans were kept although the command failed.
    proc = site.scan(["K0002", "K0003"])
    assert "checked 4/4: K0003 ok" in proc.stdout
    site.verify("--key", site.vkey())  # failed actions inside a batch leave no trace


def test_scan_of_an_unknown_shipment_fails_once(site):
    proc = site.fails("receive", "scan", "NOPE", user=TECH, input="K0001\nK0002\n", code=1)
    assert "NOPE" in proc.stderr


def test_long_scan_session_is_batched_and_verifies(site):
    n = 450
    kits = standard_kits(n, lot_split=n)
    site.receive(manifest(kits))
    proc = site.scan([k[0] for k in kits])
    assert proc.stdout.splitlines()[-2] == f"checked {n}/{n}: K{n:04d} ok"
    scans = [e for e in site.log() if e["action"] == "shipment.scan"]
    assert len(scans) == n
    out = site.run("receive", "confirm", "SH-001", user=PHARM).stdout
    assert f"{n} available" in out
    site.verify("--key", site.vkey())


def test_live_line_on_a_terminal(site):
    """stdout on a terminal, scans from a pipe: one line updated in place."""
    site.receive(manifest(standard_kits(3)))
    env = site.env()
    env.update(CTM_USER=TECH, CTM_PASSWORD=TECH_PW)
    master, slave = os.openpty()
    proc = subprocess.Popen([base.CLI, "receive", "scan", "SH-001"], env=env, cwd=site.dir,
                            stdin=subprocess.PIPE, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    _, err = proc.communicate(b"K0001\nK0002\nK0002\nK0003\n", timeout=60)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert proc.returncode == 0, err
    text = shown.decode()
    assert "\rchecked 1/3: K0001 ok\x1b[K" in text
    assert "\rchecked 2/3: K0002 ok\x1b[K\r" in text   # overwritten by the next scan
    repeat = re.search(r"\rchecked 2/3: K0002 [^\r\n]*\x1b\[K\r?\n", text)
    assert repeat, text                                # a repeat stays on the screen
    assert "3 of 3 kits checked" in text


# ---- malformed manifests are refused whole ----

def good_lines():
    return [",".join(k) for k in standard_kits(4)]


MALFORMED = {
    "missing column": ("kit_number,kit_type,expiry,arm\n"
                       + "\n".join(f"K000{i},{KIT_TYPE},{EXPIRY},ACTIVE" for i in range(1, 4)),
                       [r"line 1", r"lot"]),
    "bad date": ("kit_number,kit_type,lot,expiry,arm,gtin\n" + "\n".join(good_lines()[:2])
                 + f"\nK0003,{KIT_TYPE},{LOT},2027-02-30,PLACEBO,{GTIN}\n",
                 [r"line 4", r"expiry"]),
    "duplicate kit": ("kit_number,kit_type,lot,expiry,arm,gtin\n" + "\n".join(good_lines())
                      + f"\nK0002,{KIT_TYPE},{LOT},{EXPIRY},ACTIVE,{GTIN}\n",
                      [r"line 6", r"kit_number"]),
    "unknown kit type": ("kit_number,kit_type,lot,expiry,arm,gtin\n" + good_lines()[0]
                         + f"\nK0002,NOPE,{LOT},{EXPIRY},ACTIVE,{GTIN}\n",
                         [r"line 3", r"kit_type"]),
    "arm not in trial": ("kit_number,kit_type,lot,expiry,arm,gtin\n" + good_lines()[0]
                         + f"\nK0002,{KIT_TYPE},{LOT},{EXPIRY},GHOST,{GTIN}\n",
                         [r"line 3", r"arm"]),
    "binary junk": (b"kit_number,kit_type,lot,expiry,arm,gtin\n"
                    + good_lines()[0].encode() + b"\n\x00\xff\xfe\x1b[2J\x80junk,\x01\n",
                    [r"line 3"]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_manifest_is_refused_whole(site, case):
    text, expected = MALFORMED[case]
    proc = site.receive(text, expect=None)
    assert proc.returncode == 1 and proc.stdout == "", proc
    err = proc.stderr.splitlines()
    assert len(err) == 1 and err[0].startswith("ctm: manifest"), proc.stderr
    for pattern in expected:
        assert re.search(pattern, err[0]), (pattern, err[0])
    assert "\x1b" not in proc.stderr
    assert site.json("kits", user=TECH) == []
    assert site.json("shipments", user=TECH) == []
    site.assert_technician_never_saw_an_arm()
    # The shipment number was not used up.
    site.receive(manifest(standard_kits(2)))


def test_manifest_kit_already_in_trial_and_missing_file(site):
    site.receive(manifest(standard_kits(3)))
    proc = site.receive(manifest(standard_kits(4)), shipment="SH-002", expect=1)
    assert "line 2" in proc.stderr and "kit_number" in proc.stderr and "K0001" in proc.stderr
    assert len(site.json("kits")) == 3
    site.fails("receive", TRIAL, "--shipment", "SH-003", "--manifest", "absent.csv",
               "--location", FRIDGE, user=TECH, code=1)
    site.fails("receive", TRIAL, "--shipment", "SH-001", "--manifest", "manifest.csv",
               "--location", FRIDGE, user=TECH, code=1)  # shipment number taken
    site.fails("receive", TRIAL, "--shipment", "SH-004", "--manifest", "manifest.csv",
               "--location", "NOWHERE", user=TECH, code=1)


# ---- stock after the receipt ----

@pytest.fixture
def stocked(site):
    """A confirmed receipt of 10 kits: K0001-K0006 of LOT, K0007-K0010 of LOT2, all available."""
    site.receive(manifest(standard_kits()))
    site.scan([k[0] for k in standard_kits()])
    site.run("receive", "confirm", "SH-001", user=PHARM)
    return site


def test_kits_filters(stocked):
    assert len(stocked.kits("--lot", LOT2)) == 4
    assert len(stocked.kits("--status", "available", "--location", FRIDGE)) == 10
    assert stocked.kits("--status", "quarantined") == {}
    expiring = (date.fromisoformat(EXPIRY) - date.today()).days
    assert len(stocked.kits("--expiring", str(expiring + 1))) == 10
    assert stocked.kits("--expiring", str(max(expiring - 40, 0))) == {}
    table = stocked.run("kits", "--trial", TRIAL).stdout.splitlines()
    assert table[0].split()[:2] == ["trial", "kit_number"] and len(table) == 12


def test_expiry_extend_by_lot_and_by_kit(stocked):
    out = stocked.run("expiry", "extend", TRIAL, "--to", "2028-06-30", "--reference",
                      "Acme letter 2026-117", "--lot", LOT, user=PHARM).stdout
    assert "e-signed by phil" in out
    kits = stocked.kits()
    assert {kits[f"K{i:04d}"]["expiry"] for i in range(1, 7)} == {"2028-06-30"}
    assert kits["K0007"]["expiry"] == EXPIRY
    stocked.run("expiry", "extend", TRIAL, "--to", "2027-12-31", "--reference", "Acme 118",
                "K0007", "K0008", user=PHARM)
    kits = stocked.kits()
    assert kits["K0007"]["expiry"] == kits["K0008"]["expiry"] == "2027-12-31"
    assert kits["K0009"]["expiry"] == EXPIRY
    entries = [e for e in stocked.log() if e["action"] == "expiry.extend"]
    assert len(entries) == 2 and all(e["esig_user"] == PHARM for e in entries)
    assert {e["esig_meaning"] for e in entries} == {"expiry extended"}
    assert "Acme letter 2026-117" in json.dumps(entries[0])  # the sponsor's reference is kept
    stocked.fails("expiry", "extend", TRIAL, "--to", "2026-01-01", "--reference", "R", "K0009",
                  user=PHARM, code=1)  # earlier than the current expiry
    stocked.fails("expiry", "extend", TRIAL, "--to", "2029-01-01", "--reference", "R", "K0009",
                  user=TECH, code=1)   # pharmacists only
    assert stocked.kits()["K0009"]["expiry"] == EXPIRY


def test_transfer_and_history(stocked):
    out = stocked.run("transfer", TRIAL, "--to", FRIDGE2, "--reason", "fridge 1 defrost",
                      "K0001", "K0002", user=TECH).stdout
    assert out.strip() == f"Moved 2 kits of trial {TRIAL} to {FRIDGE2}."
    kits = stocked.kits()
    assert kits["K0001"]["location"] == kits["K0002"]["location"] == FRIDGE2
    assert kits["K0003"]["location"] == FRIDGE
    history = stocked.json("kit", "history", TRIAL, "K0001", user=TECH)
    assert [h["location"] for h in history] == [FRIDGE, FRIDGE2]
    assert history[0]["until"] is not None and history[1]["until"] is None
    locations = {loc["name"]: loc["kits"] for loc in stocked.json("location", "list")}
    assert locations[FRIDGE] == 8 and locations[FRIDGE2] == 2
    stocked.fails("transfer", TRIAL, "--to", "NOWHERE", "K0003", user=TECH, code=1)
    stocked.fails("transfer", TRIAL, "--to", FRIDGE2, "K0003", "K7777", user=TECH, code=1)
    assert stocked.kits()["K0003"]["location"] == FRIDGE  # nothing half-done
    stocked.assert_technician_never_saw_an_arm()


def test_transfer_out(stocked):
    out = stocked.run("transfer", "out", TRIAL, "--site", "Hospital-B", "--shipment", "OUT-01",
                      "--reason", "site B ran out", "K0009", "K0010", user=PHARM).stdout
    assert "in transit" in out
    kits = stocked.kits()
    assert kits["K0009"]["status"] == kits["K0010"]["status"] == "in_transit"
    out_shipment = [s for s in stocked.json("shipments") if s["number"] == "OUT-01"]
    assert len(out_shipment) == 1
    assert out_shipment[0]["direction"] == "out" and out_shipment[0]["destination"] == "Hospital-B"
    stocked.fails("transfer", TRIAL, "--to", FRIDGE2, "K0009", user=PHARM, code=1)  # not on site
    stocked.fails("transfer", "out", TRIAL, "--site", "Hospital-C", "--shipment", "OUT-02",
                  "K0008", user=TECH, code=1)  # pharmacists only


def test_kit_status_quarantine_and_release(stocked):
    out = stocked.run("kit", "status", TRIAL, "K0005", "quarantined", "--reason",
                      "dropped on the floor", user=TECH).stdout
    assert out.strip() == f"Kit K0005 of trial {TRIAL} is now quarantined."
    kit = stocked.kits()["K0005"]
    assert kit["status"] == "quarantined" and kit["dispensable"] == 0
    stocked.fails("kit", "status", TRIAL, "K0005", "available", "--reason", "fine",
                  user=TECH, code=1)  # release is for pharmacists
    stocked.run("kit", "status", TRIAL, "K0005", "available", "--reason",
                "sponsor released, ref Acme-Q-12", user=PHARM)
    assert stocked.kits()["K0005"]["status"] == "available"
    stocked.fails("kit", "status", TRIAL, "K0005", "destroyed", "--reason", "x",
                  user=PHARM, code=1)  # not by hand
    entries = [e for e in stocked.log() if e["action"] == "kit.status"]
    assert [e["reason"] for e in entries] == ["dropped on the floor",
                                              "sponsor released, ref Acme-Q-12"]


def test_audit_log_blinds_kit_arms_for_the_technician(stocked):
    # The arm codes of the protocol (trial.add) are not secret; which kit has which arm is.
    def kit_arms_in_log(user):
        seen = set()
        for entry in stocked.json("audit", "log", user=user):
            for change in json.loads(entry["changes"] or "[]"):
                if change["table"] == "kits" and "arm" in change["columns"]:
                    seen |= {v for v in change["columns"]["arm"] if v is not None}
        return seen

    assert kit_arms_in_log(TECH) == {"(blinded)"}
    assert kit_arms_in_log(PHARM) == set(ARMS)


def test_audit_verify_passes_then_catches_a_status_edit(stocked):
    stocked.run("transfer", TRIAL, "--to", FRIDGE2, "K0001", user=TECH)
    stocked.run("kit", "status", TRIAL, "K0002", "quarantined", "--reason", "leaking",
                user=PHARM)
    stocked.run("transfer", "out", TRIAL, "--site", "Hospital-B", "--shipment", "OUT-01",
                "K0003", user=PHARM)
    vkey = stocked.vkey()
    stocked.verify("--key", vkey)
    stocked.sql("UPDATE kits SET status = 'available' WHERE kit_number = 'K0002'")
    proc = stocked.fails("audit", "verify", "--key", vkey, user=None, password=None, code=1)
    assert "kits" in proc.stderr


def test_bulk_supply_of_an_open_trial(site):
    site.run("trial", "add", "OPEN-7", "--title", "Open study", "--sponsor", "S",
             "--arms", "ACTIVE:1", user=PHARM)
    site.run("kittype", "add", "OPEN-7", "BOX", "--name", "Drug Y", "--units", "100",
             "--storage", "15..25", user=PHARM)
    out = site.run("receive", "bulk", "OPEN-7", "--shipment", "B-1", "--kittype", "BOX",
                   "--lot", "LB1", "--expiry", "2027-12-31", "--units", "400",
                   "--location", FRIDGE2, user=PHARM).stdout
    assert "400 units of lot LB1" in out and "e-signed by " + PHARM in out
    site.run("receive", "bulk", "OPEN-7", "--shipment", "B-2", "--kittype", "BOX",
             "--lot", "LB1", "--expiry", "2027-12-31", "--units", "100",
             "--location", FRIDGE, user=PHARM)
    lots = {row["lot"]: row for row in site.json("lots", "OPEN-7", user=TECH)}
    assert lots["LB1"]["bulk_units"] == 500 and lots["LB1"]["kits"] == 0
    # blinded trials take numbered kits only; technicians may not receive bulk supply
    err = site.run("receive", "bulk", TRIAL, "--shipment", "B-3", "--kittype", KIT_TYPE,
                   "--lot", "LB2", "--expiry", "2027-12-31", "--units", "5",
                   "--location", FRIDGE, user=PHARM, expect=1).stderr
    assert "numbered kits" in err and err.count("\n") == 1
    site.run("receive", "bulk", "OPEN-7", "--shipment", "B-4", "--kittype", "BOX",
             "--lot", "LB3", "--expiry", "2027-12-31", "--units", "5",
             "--location", FRIDGE, user=TECH, expect=1)
    assert site.run("audit", "verify").returncode == 0


def test_csv_neutralises_spreadsheet_formulas(site):
    """Text cells a spreadsheet would run as formulas get a leading quote; numbers stay numbers."""
    site.run("location", "add", "SHELF-9", "--range", "-20..-5", "--kind", '=HYPERLINK("x")',
             user=PHARM)
    site.run("location", "add", "SHELF-10", "--range", "15..25", "--kind", "@SUM(A1)",
             user=PHARM)
    site.run("user", "add", "pat", "--role", "monitor", "--name", "+1+1 Pat",
             new_password="pat-pass-12345")
    text = site.run("location", "list", "--csv", user=TECH).stdout
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(text, newline=""))}
    assert rows["SHELF-9"]["kind"] == '\'=HYPERLINK("x")'
    assert rows["SHELF-10"]["kind"] == "'@SUM(A1)"
    assert rows[FRIDGE]["kind"] == "fridge"
    # negative temperatures are numbers, not text: written as they are
    assert float(rows["SHELF-9"]["min"]) == -20 and float(rows["FREEZER-1"]["max"]) == -15
    users = {r["user"]: r for r in csv.DictReader(io.StringIO(
        site.run("user", "list", "--csv").stdout, newline=""))}
    assert users["pat"]["printed_name"] == "'+1+1 Pat"
    # a kit number beginning with "-" is text: quoted, while units stay a number
    kits = [("-5", KIT_TYPE, LOT, EXPIRY, ARMS[0], GTIN), ("K0006", KIT_TYPE, LOT, EXPIRY,
                                                             ARMS[1], GTIN)]
    site.receive(manifest(kits), shipment="SH-CSV")
    out = site.run("kits", "--csv", user=TECH).stdout
    listed = {r["kit_number"]: r for r in csv.DictReader(io.StringIO(out, newline=""))}
    assert "'-5" in listed and listed["'-5"]["units"] == "30"
    # JSON stays exact
    kinds = {r["name"]: r["kind"] for r in site.json("location", "list", user=TECH)}
    assert kinds["SHELF-9"] == '=HYPERLINK("x")'
    assert "-5" in site.kits()


# ---- one kit, scans wherever a kit is taken, receipt status, undoing and voiding ----

def test_kit_show_by_number_and_by_scan(stocked):
    shown = stocked.json("kit", "show", TRIAL, "K0003", user=PHARM)
    assert shown["kit_number"] == "K0003" and shown["trial"] == TRIAL
    assert shown["kit_type"] == KIT_TYPE and shown["lot"] == LOT and shown["expiry"] == EXPIRY
    assert shown["status"] == "available" and shown["location"] == FRIDGE
    assert shown["shipment"] == "SH-001" and shown["checked"] == "ok"
    assert shown["arm"] in ARMS and shown["dispensable"] == 1
    assert [h["location"] for h in shown["history"]] == [FRIDGE]
    # the same kit by a scan of its pack, without the trial, raw GS byte or typed <GS>
    for scan in (gs1("K0003", LOT), gs1("K0003", LOT, separator="<GS>"),
                 f"(01){GTIN}(21)K0003"):
        again = stocked.json("kit", "show", scan, user=PHARM)
        assert again == shown
    # the blinded technician sees the same kit with its arm blinded, everywhere
    as_tech = stocked.json("kit", "show", TRIAL, "K0003", user=TECH)
    assert as_tech["arm"] == "(blinded)"
    assert {k: v for k, v in as_tech.items() if k != "arm"} == \
        {k: v for k, v in shown.items() if k != "arm"}
    table = stocked.run("kit", "show", gs1("K0004", LOT), user=TECH).stdout
    assert re.search(r"^kit_number +K0004$", table, re.M) and "history:" in table
    stocked.assert_technician_never_saw_an_arm()
    # unknown kits and unreadable scans fail with the reason
    err = stocked.run("kit", "show", TRIAL, "K7777", user=TECH, expect=1).stderr
    assert "K7777" in err and err.count("\n") == 1
    err = stocked.run("kit", "show", f"(01){GTIN}(21)K7777", user=TECH, expect=1).stderr
    assert "K7777" in err and "not in" in err
    err = stocked.run("kit", "show", f"(01){GTIN}(10)L1", user=TECH, expect=1).stderr
    assert "(21)" in err


def test_every_kit_command_takes_a_scan(stocked):
    scan = gs1("K0005", LOT, separator="<GS>")
    stocked.run("kit", "status", TRIAL, scan, "quarantined", "--reason", "dropped", user=TECH)
    assert stocked.kits()["K0005"]["status"] == "quarantined"
    entry = [e for e in stocked.log() if e["action"] == "kit.status"][-1]
    assert dict(json.loads(entry["params"]))["kit"] == "K0005"   # the kit, not the barcode
    stocked.run("transfer", TRIAL, "--to", FRIDGE2, gs1("K0006", LOT), "K0007", user=TECH)
    kits = stocked.kits()
    assert kits["K0006"]["location"] == kits["K0007"]["location"] == FRIDGE2
    history = stocked.json("kit", "history", gs1("K0006", LOT), user=TECH)
    assert [h["location"] for h in history] == [FRIDGE, FRIDGE2]
    # a scan and the number of the same kit are one kit
    err = stocked.run("transfer", TRIAL, "--to", FRIDGE, "K0006", gs1("K0006", LOT),
                      user=TECH, expect=1).stderr
    assert "named twice" in err
    stocked.run("expiry", "extend", TRIAL, "--to", "2028-03-31", "--reference", "Acme 9",
                gs1("K0008", LOT2), user=PHARM)
    assert stocked.kits()["K0008"]["expiry"] == "2028-03-31"
    stocked.run("transfer", "out", TRIAL, "--site", "Site B", "--shipment", "OUT-1",
                gs1("K0009", LOT2), user=PHARM)
    assert stocked.kits()["K0009"]["status"] == "in_transit"
    stocked.verify("--key", stocked.vkey())


def test_kits_by_shipment_and_receive_status(site):
    site.receive(manifest(standard_kits(4)), shipment="SH-A")
    site.receive(manifest(standard_kits(3, prefix="M")), shipment="SH-B")
    assert set(site.kits("--shipment", "SH-A")) == {"K0001", "K0002", "K0003", "K0004"}
    assert set(site.kits("--shipment", "SH-B", "--lot", LOT)) == {"M0001", "M0002", "M0003"}
    err = site.run("kits", "--shipment", "SH-NONE", user=TECH, expect=1).stderr
    assert "SH-NONE" in err
    site.scan(["K0001", gs1("K0002", "LX1"), "K9999"], shipment="SH-A")
    site.scan(["K0003"], shipment="SH-A", flags=("--damaged",))
    status = site.json("receive", "status", "SH-A", user=TECH)
    assert status == {"shipment": "SH-A", "trial": TRIAL, "status": "receiving", "kits": 4,
                      "unchecked": 1, "checked": 3, "ok": 1, "mismatched": 1, "damaged": 1,
                      "extra": 1, "discrepancies": 3}
    table = site.run("receive", "status", "SH-A", user=TECH).stdout
    assert re.search(r"^unchecked +1$", table, re.M)
    site.run("receive", "status", "SH-NONE", user=TECH, expect=1)
    site.assert_technician_never_saw_an_arm()


def test_unscan_undoes_a_wrong_scan(site):
    site.receive(manifest(standard_kits(4)))
    site.scan(["K0001", gs1("K0002", "LX1"), "K9999"])
    site.scan(["K0003"], flags=("--damaged",))
    site.run("receive", "unscan", "SH-001", "K0002", user=TECH, expect=2)   # reason required
    for kit in ("K0002", gs1("K0003", LOT), "K9999"):
        site.run("receive", "unscan", "SH-001", kit, "--reason", "wrong pack", user=TECH)
    status = site.json("receive", "status", "SH-001", user=TECH)
    assert (status["checked"], status["unchecked"], status["discrepancies"]) == (1, 3, 0)
    assert site.json("receive", "discrepancies", "SH-001", user=TECH) == []
    entries = [e for e in site.log() if e["action"] == "shipment.unscan"]
    assert [dict(json.loads(e["params"]))["was"] for e in entries] == \
        ["mismatch", "damaged", "extra"]
    assert {e["reason"] for e in entries} == {"wrong pack"}
    # nothing left to undo, or never there
    err = site.run("receive", "unscan", "SH-001", "K0004", "--reason", "r", user=TECH,
                   expect=1).stderr
    assert "not scanned" in err
    site.run("receive", "unscan", "SH-001", "K7777", "--reason", "r", user=TECH, expect=1)
    # the kit scanned again now counts as it should
    site.scan(["K0002"])
    assert site.json("receive", "status", "SH-001", user=TECH)["ok"] == 2
    site.run("receive", "confirm", "SH-001", user=PHARM)
    site.run("receive", "unscan", "SH-001", "K0001", "--reason", "r", user=TECH, expect=1)
    site.assert_technician_never_saw_an_arm()
    site.verify("--key", site.vkey())


def test_void_a_shipment_registered_by_mistake(site):
    site.receive(manifest(standard_kits(4)))
    site.scan(["K0001", "K9999"])
    site.run("transfer", TRIAL, "--to", FRIDGE2, "K0002", user=TECH)
    site.run("receive", "void", "SH-001", "--reason", "wrong trial", user=TECH, expect=1)
    out = site.run("receive", "void", "SH-001", "--reason", "wrong trial", user=PHARM).stdout
    assert "Voided shipment SH-001" in out and "4 kits" in out and "e-signed by phil" in out
    assert site.kits() == {}
    assert [s["number"] for s in site.json("shipments", user=TECH)] == []
    assert site.json("lots", user=TECH) == []
    entry = [e for e in site.log() if e["action"] == "shipment.void"][-1]
    assert entry["esig_user"] == PHARM and entry["esig_meaning"] == "shipment voided"
    assert entry["reason"] == "wrong trial"
    site.verify("--key", site.vkey())
    # the number is free again: the right manifest is registered and confirmed
    site.receive(manifest(standard_kits(2)))
    site.scan(["K0001", "K0002"])
    site.run("receive", "confirm", "SH-001", user=PHARM)
    err = site.run("receive", "void", "SH-001", "--reason", "late", user=PHARM, expect=1).stderr
    assert "confirmed" in err
    site.run("receive", "void", "SH-NONE", "--reason", "r", user=PHARM, expect=1)
    site.verify("--key", site.vkey())


def test_receive_scan_checks_the_shipment_before_reading(site):
    # a wrong number fails at once, before a line is read, and says so
    proc = site.run("receive", "scan", "SH-NONE", user=TECH, expect=1, input="K0001\nK0002\n")
    assert "SH-NONE" in proc.stderr and proc.stdout == ""
    site.receive(manifest(standard_kits(2)))
    site.scan(["K0001", "K0002"])
    site.run("receive", "confirm", "SH-001", user=PHARM)
    proc = site.run("receive", "scan", "SH-001", user=TECH, expect=1, input="K0001\n")
    assert "confirmed" in proc.stderr and "nothing was read" in proc.stderr
    assert proc.stdout == ""
    # an unreadable line: the others are kept, a summary is printed, the exit status is 1
    site.receive(manifest(standard_kits(3, prefix="M")), shipment="SH-002")
    proc = site.run("receive", "scan", "SH-002", user=TECH, expect=1,
                    input=f"M0001\n(01){GTIN}(21)\nM0002\n")
    assert "2 of 3 kits checked" in proc.stdout and "1 unreadable" in proc.stdout
    assert "line 2" in proc.stderr
