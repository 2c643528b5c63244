"""Tests of the excursion commands of `ctm`, driving the real binary: a fridge's logger file that
shows two hours above range records an excursion and quarantines the kits in the fridge; the
sponsor's decision, e-signed by a pharmacist, releases them (available again) or rejects them
(pending destruction), for the whole excursion or kit by kit, a release never freeing a kit
another excursion holds; the report comes as text, CSV and JSON; a shipment's logger
(`receive --logger`, `receive logger`) does the same for its kits on confirmation; a location's
alarm delay decides what counts.

A kit's stay in a fridge starts when its shipment is registered, and the library has no clock to
set, so the fridge's readings are written from the next ten minutes on: the excursion starts an
hour after that and ends three hours after it.
"""
import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from test_stock_cli import (ADMIN, ADMIN_PW, ARMS, EXPIRY, FRIDGE, FRIDGE2, KIT_TYPE, LOT,
                            PHARM, PHARM_PW, TECH, TECH_PW, TRIAL, GTIN, Site, manifest)

SERIAL = "1000654399"
REFERENCE = "SPONSOR-1"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("excursion-template"))
    site.run("init", "--site", "Trial Pharmacy", "--admin", ADMIN, "--name", "Ada Admin",
             user=None, password=ADMIN_PW)
    site.run("user", "add", PHARM, "--role", "pharmacist", "--unblinded", "--name", "Phil Pharma",
             new_password=PHARM_PW)
    site.run("user", "add", TECH, "--role", "technician", "--name", "Tess Tech",
             new_password=TECH_PW)
    site.run("trial", "add", TRIAL, "--title", "Drug X versus placebo", "--sponsor", "Acme",
             "--blinded", "--arms", f"{ARMS[0]}:1,{ARMS[1]}:1", user=PHARM)
    site.run("kittype", "add", TRIAL, KIT_TYPE, "--name", "Drug X 10 mg or placebo", "--units",
             "30", "--storage", "2..8", "--budget", "1440@15", user=PHARM)
    site.run("location", "add", FRIDGE, "--range", "2..8", "--kind", "fridge", user=PHARM)
    site.run("location", "add", FRIDGE2, "--range", "2..8", "--kind", "fridge", user=PHARM)
    return site


@pytest.fixture
def site(template, tmp_path):
    return template.copy(tmp_path)


def kits_of(prefix, n):
    return [(f"{prefix}{i}", KIT_TYPE, LOT, EXPIRY, ARMS[i % 2], GTIN) for i in range(1, n + 1)]


def stock(site, shipment, kits, location=FRIDGE):
    """Kits received at location and confirmed: available there."""
    (site.dir / f"{shipment}.csv").write_text(manifest(kits))
    site.run("receive", TRIAL, "--shipment", shipment, "--manifest", f"{shipment}.csv",
             "--location", location, user=PHARM)
    site.run("receive", "confirm", shipment, "--unchecked-present", user=PHARM)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def soon():
    """The next ten minutes' mark after the kits were put in the fridge."""
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    return now + timedelta(minutes=10 + (10 - now.minute % 10))


def readings(start, out_temps=(11.0, 12.5) + (12.0,) * 10):
    """Every 10 minutes for 4 hours from start: 5.0 C, then from start + 1 h one reading per
    out_temps (above 2..8: two hours for the default 12), then 5.0 C again."""
    temps = [5.0] * 6 + list(out_temps) + [5.0] * (25 - 6 - len(out_temps))
    return [(start + timedelta(minutes=10 * i), t) for i, t in enumerate(temps)]


def write_logtag(path, rows, serial=SERIAL):
    """A LogTag Analyzer export of rows (UTC times, read with --tz UTC)."""
    lines = [f"Serial #,{serial}", "Product Name,TRIX-8", "Reading interval,00:10:00",
             "Temperature unit,°C", "Date format,DD/MM/YYYY", "",
             "No.,Date,Time,Temperature (°C)"]
    for i, (t, temp) in enumerate(rows, 1):
        lines.append(f"{i},{t.strftime('%d/%m/%Y')},{t.strftime('%H:%M:%S')},{temp}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_csv(path, rows):
    path.write_text("".join(f"{iso(t)},{temp}\n" for t, temp in rows))


def tech(site, *args, expect=0):
    return site.run(*args, user=TECH, expect=expect)


def pharm(site, *args, expect=0):
    return site.run(*args, user=PHARM, expect=expect)


def import_fridge(site, name="fridge.txt", location=FRIDGE, *extra):
    """The fridge's LogTag file with its two hours above range, imported by the technician."""
    start = soon()
    write_logtag(site.dir / name, readings(start))
    return start, tech(site, "temp", "import", location, name, "--tz", "UTC", *extra)


def statuses(site):
    return {n: k["status"] for n, k in site.kits("--trial", TRIAL).items()}


# ---- help and usage ----

COMMANDS = ("location alarm", "excursions", "excursion show", "excursion decide",
            "excursion report", "receive logger")


def test_help_lists_and_documents_every_command(tmp_path):
    nobody = Site(tmp_path)
    overview = nobody.run("help", db=False, user=None, password=None).stdout
    for command in COMMANDS:
        assert f"\n  {command} " in overview, command
        via_help = nobody.run("help", *command.split(), db=False, user=None, password=None).stdout
        via_flag = nobody.run(*command.split(), "--help", db=False, user=None,
                              password=None).stdout
        assert via_help == via_flag and via_help.startswith(f"usage: ctm {command} ")
    group = nobody.run("help", "excursion", db=False, user=None, password=None).stdout
    for command in ("excursion show", "excursion decide", "excursion report"):
        assert f"ctm {command} " in group
    receive = nobody.run("receive", "--help", db=False, user=None, password=None).stdout
    assert "[--logger FILE [--logger-format F] [--logger-tz ZONE]" in receive
    assert "'ctm receive logger'" in receive


@pytest.mark.parametrize("args, words", [
    (["excursion", "decide", "1", "--reference", "R"], "--release or --reject"),
    (["excursion", "decide", "1", "--release", "--reject", "--reference", "R"], "exclude"),
    (["excursion", "decide", "1", "--release"], "--reference"),
    (["excursion", "decide", "one", "--release", "--reference", "R"], "ID"),
    (["excursion", "decide", "1", "K1", "--release", "--reference", "R"], "--kit"),
    (["excursion", "report", "1", "--format", "pdf"], "text, csv or json"),
    (["excursion", "show", "x"], "ID"),
    (["excursion", "show"], "ID"),
    (["excursions", "--json", "--csv"], "--json"),
    (["location", "alarm", FRIDGE, "--delay", "1441", "--max-gap", "60"], "0 to 1440"),
    (["location", "alarm", FRIDGE, "--delay", "30", "--max-gap", "0"], "1 to 10080"),
    (["location", "alarm", FRIDGE, "--delay", "30"], "--max-gap"),
    (["receive", "logger", "SH-1"], "FILE"),
    (["receive", TRIAL, "--shipment", "S", "--manifest", "m.csv", "--location", FRIDGE,
      "--logger-tz", "UTC"], "--logger-tz without --logger"),
    (["excursion"], "excursion"),
])
def test_usage_errors_exit_2_before_any_login(tmp_path, args, words):
    site = Site(tmp_path)
    proc = site.fails(*args, code=2, password=None)
    assert words in proc.stderr, proc.stderr


# ---- a fridge's excursion, released ----

def test_fridge_excursion_quarantines_and_a_release_makes_kits_available(site):
    stock(site, "SH-1", kits_of("K", 2))
    stock(site, "SH-2", kits_of("M", 1), location=FRIDGE2)
    start, proc = import_fridge(site)
    assert proc.stdout.endswith("1 excursion recorded, 2 kits quarantined: see 'ctm excursions"
                                " --open'\n"), proc.stdout
    assert f"serial {SERIAL}" in proc.stdout
    # the kits in that fridge are quarantined, the other fridge's kit is not
    assert statuses(site) == {"K1": "quarantined", "K2": "quarantined", "M1": "available"}

    listed = site.json("excursions", "--open", user=TECH)
    assert len(listed) == 1
    e = listed[0]
    number = e["excursion"]
    assert (e["location"], e["shipment"], e["kind"], e["daily"], e["ongoing"]) == (
        FRIDGE, None, "high", 0, 0)
    assert (e["start"], e["end"], e["minutes"]) == (
        iso(start + timedelta(hours=1)), iso(start + timedelta(hours=3)), 120)
    assert (e["min"], e["max"], e["range_min"], e["range_max"], e["delay_minutes"]) == (
        11.0, 12.5, 2.0, 8.0, 30)
    assert (e["status"], e["kits"], e["quarantined"], e["reference"]) == ("open", 2, 2, None)

    table = tech(site, "excursions", "--open").stdout.splitlines()
    assert table[0].split() == ["excursion", "place", "kind", "start", "end", "minutes", "min",
                                "max", "status", "kits", "quarantined"]
    assert table[2].split() == [str(number), FRIDGE, "high", e["start"], e["end"], "120", "11.0",
                                "12.5", "open", "2", "2"]
    assert len(table) == 3
    assert tech(site, "excursions", FRIDGE2).stdout.count("\n") == 2  # header and rule only
    rows = list(csv.DictReader(io.StringIO(tech(site, "excursions", "--csv").stdout)))
    assert [(r["excursion"], r["location"], r["status"]) for r in rows] == [
        (str(number), FRIDGE, "open")]

    # a technician may not decide
    denied = site.fails("excursion", "decide", str(number), "--release", "--reference",
                        REFERENCE, user=TECH, code=1)
    assert "not allowed" in denied.stderr
    assert statuses(site)["K1"] == "quarantined"

    out = pharm(site, "excursion", "decide", str(number), "--release", "--reference",
                REFERENCE).stdout
    assert out == (f"Released excursion {number} on the sponsor's reference {REFERENCE}, "
                   f"e-signed by {PHARM}.\n"
                   f"  kit K1 of trial {TRIAL}: released, now available\n"
                   f"  kit K2 of trial {TRIAL}: released, now available\n")
    assert statuses(site) == {"K1": "available", "K2": "available", "M1": "available"}
    assert site.json("excursions", "--open") == []
    assert tech(site, "excursions", "--open").stdout.count("\n") == 2
    decided = site.json("excursions")[0]
    assert (decided["status"], decided["reference"], decided["decided_by"]) == (
        "released", REFERENCE, PHARM)

    shown = site.json("excursion", "show", str(number), user=TECH)
    assert shown["excursion"]["excursion"] == number
    assert shown["excursion"]["status"] == "released"
    assert [(k["kit_number"], k["status_was"], k["quarantined"], k["status"], k["decision"],
             k["reference"]) for k in shown["kits"]] == [
        ("K1", "available", 1, "available", "released", REFERENCE),
        ("K2", "available", 1, "available", "released", REFERENCE)]
    text = tech(site, "excursion", "show", str(number)).stdout
    assert "\nkits:\n" in text and "released" in text and FRIDGE in text

    again = site.fails("excursion", "decide", str(number), "--reject", "--reference", "X",
                       user=PHARM, code=1)
    assert "released already" in again.stderr
    log = site.json("audit", "log", "--action", "excursion.*")
    assert [entry["action"] for entry in log] == ["excursion.release"]
    site.assert_technician_never_saw_an_arm()
    assert "OK" in site.verify().stdout


# ---- rejection, whole and kit by kit ----

def test_reject_whole_excursion_sends_kits_to_pending_destruction(site):
    stock(site, "SH-1", kits_of("K", 1))
    _, proc = import_fridge(site, "fridge.txt", FRIDGE, "--json")
    result = json.loads(proc.stdout)
    assert (result["excursions"], result["quarantined"], result["serial"]) == (1, 1, SERIAL)
    number = site.json("excursions", "--open")[0]["excursion"]
    out = pharm(site, "excursion", "decide", str(number), "--reject", "--reference",
                "SPONSOR-2").stdout
    assert out.startswith(f"Rejected excursion {number} on the sponsor's reference SPONSOR-2, "
                          f"e-signed by {PHARM}.\n")
    assert "kit K1 of trial" in out and "rejected, now pending_destruction" in out
    assert statuses(site) == {"K1": "pending_destruction"}
    assert site.json("excursions")[0]["status"] == "rejected"
    assert "OK" in site.verify().stdout


def test_kit_by_kit_decisions(site):
    stock(site, "SH-1", kits_of("K", 3))
    import_fridge(site)
    number = str(site.json("excursions", "--open")[0]["excursion"])
    out = pharm(site, "excursion", "decide", number, "--reject", "--reference", "SPONSOR-3",
                "--kit", "K1").stdout
    assert out == (f"Rejected 1 kit of excursion {number} on the sponsor's reference SPONSOR-3, "
                   f"e-signed by {PHARM}.\n"
                   f"  kit K1 of trial {TRIAL}: rejected, now pending_destruction\n"
                   f"2 kits of excursion {number} still to decide.\n")
    assert statuses(site) == {"K1": "pending_destruction", "K2": "quarantined",
                              "K3": "quarantined"}
    still = site.json("excursions", "--open")
    assert [(e["excursion"], e["status"]) for e in still] == [(int(number), "open")]
    # a kit decided already is refused, naming it
    twice = site.fails("excursion", "decide", number, "--release", "--reference", "SPONSOR-3",
                       "--kit", "K1", user=PHARM, code=1)
    assert "K1" in twice.stderr
    out = pharm(site, "excursion", "decide", number, "--release", "--reference", "SPONSOR-4",
                "--kit", "K2", "K3").stdout
    # what this decision did: K1, rejected before, is not repeated
    assert out == (f"Released 2 kits of excursion {number} on the sponsor's reference SPONSOR-4, "
                   f"e-signed by {PHARM}.\n"
                   f"  kit K2 of trial {TRIAL}: released, now available\n"
                   f"  kit K3 of trial {TRIAL}: released, now available\n")
    assert statuses(site) == {"K1": "pending_destruction", "K2": "available", "K3": "available"}
    assert site.json("excursions", "--open") == []
    assert site.json("excursions")[0]["status"] == "decided"
    kits = site.json("excursion", "show", number)["kits"]
    assert [(k["kit_number"], k["decision"], k["reference"]) for k in kits] == [
        ("K1", "rejected", "SPONSOR-3"), ("K2", "released", "SPONSOR-4"),
        ("K3", "released", "SPONSOR-4")]
    assert "OK" in site.verify().stdout


# ---- the report ----

def test_report_in_three_formats(site):
    stock(site, "SH-1", kits_of("K", 2))
    import_fridge(site)
    number = str(site.json("excursions")[0]["excursion"])
    pharm(site, "excursion", "decide", number, "--release", "--reference", REFERENCE)

    text = tech(site, "excursion", "report", number).stdout
    for word in (FRIDGE, SERIAL, REFERENCE, "K1", "K2", "Phil Pharma", "excursion released"):
        assert word in text, word
    assert tech(site, "excursion", "report", number, "--format", "text").stdout == text

    report = json.loads(tech(site, "excursion", "report", number, "--format", "json").stdout)
    flat = json.dumps(report)
    for word in (FRIDGE, SERIAL, REFERENCE, "K1", "K2"):
        assert word in flat, word

    rows = list(csv.reader(io.StringIO(tech(site, "excursion", "report", number, "--format",
                                            "csv").stdout)))
    assert len(rows) == 3, rows
    header = rows[0]
    kit_column = header.index("kit_kit_number")
    assert sorted(r[kit_column] for r in rows[1:]) == ["K1", "K2"]
    assert all(len(r) == len(header) for r in rows)

    # --output writes the same text to a file and says so
    out = tech(site, "excursion", "report", number, "--format", "csv", "--output",
               "report.csv").stdout
    assert out == f"Wrote the csv report of excursion {number} to report.csv.\n"
    written = (site.dir / "report.csv").read_text()
    assert list(csv.reader(io.StringIO(written))) == rows
    missing = site.fails("excursion", "report", "999", user=TECH, code=1)
    assert "999" in missing.stderr
    site.assert_technician_never_saw_an_arm()


# ---- a location's alarm settings ----

def test_location_alarm_delay_decides_what_counts(site):
    stock(site, "SH-1", kits_of("K", 1))
    denied = site.fails("location", "alarm", FRIDGE, "--delay", "180", "--max-gap", "60",
                        user=TECH, code=1)
    assert "not allowed" in denied.stderr
    out = pharm(site, "location", "alarm", FRIDGE, "--delay", "180", "--max-gap", "60").stdout
    assert out == (f"Location {FRIDGE}: 180 minutes out of range make an excursion; a gap of "
                   "more than 60 minutes between readings is one of unknown temperature.  From "
                   "the next import on.\n")
    alarms = {loc["name"]: (loc["alarm_delay_minutes"], loc["max_gap_minutes"])
              for loc in site.json("location", "list", user=TECH)}
    assert alarms == {FRIDGE: (180, 60), FRIDGE2: (30, 60)}
    _, proc = import_fridge(site, "fridge.txt", FRIDGE, "--json")
    result = json.loads(proc.stdout)
    assert (result["excursions"], result["quarantined"]) == (0, 0)
    assert site.json("excursions") == []
    assert statuses(site) == {"K1": "available"}
    site.fails("location", "alarm", "FREEZER-9", "--delay", "0", "--max-gap", "60", user=PHARM,
               code=1)


# ---- a shipment's logger ----

def test_shipment_logger_quarantines_on_confirmation(site):
    # registered with its logger file: two hours above range in transit, in the past
    start = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)
    write_csv(site.dir / "transit.csv", readings(start))
    (site.dir / "sh-a.csv").write_text(manifest(kits_of("A", 2)))
    out = site.run("receive", TRIAL, "--shipment", "SH-A", "--manifest", "sh-a.csv",
                   "--location", FRIDGE, "--logger", "transit.csv", "--logger-tz", "UTC",
                   user=PHARM).stdout
    assert out.endswith("Logger file transit.csv imported: 1 excursion in transit, the kits will "
                        "be quarantined on confirmation: see 'ctm excursions --open'.\n"), out
    e = site.json("excursions", "--open")[0]
    assert (e["location"], e["shipment"], e["kind"], e["minutes"], e["delay_minutes"]) == (
        None, "SH-A", "high", 120, 0)
    table = tech(site, "excursions").stdout.splitlines()
    assert table[2].split()[1:4] == ["shipment", "SH-A", "high"]
    pharm(site, "receive", "confirm", "SH-A", "--unchecked-present")
    assert statuses(site) == {"A1": "quarantined", "A2": "quarantined"}

    # its logger file imported on its own, before the receipt is confirmed
    (site.dir / "sh-b.csv").write_text(manifest(kits_of("B", 1)))
    pharm(site, "receive", TRIAL, "--shipment", "SH-B", "--manifest", "sh-b.csv",
          "--location", FRIDGE)
    write_csv(site.dir / "transit-b.csv", readings(start + timedelta(days=1)))
    out = tech(site, "receive", "logger", "SH-B", "transit-b.csv").stdout
    assert out.startswith("imported transit-b.csv for shipment SH-B: 25 readings"), out
    assert out.endswith("1 excursion recorded, 1 kit to be quarantined on confirmation: see "
                        "'ctm excursions --open'\n"), out
    pharm(site, "receive", "confirm", "SH-B", "--unchecked-present")
    assert statuses(site)["B1"] == "quarantined"
    late = site.fails("receive", "logger", "SH-B", "transit.csv", user=TECH, code=1)
    assert "confirmed" in late.stderr

    number = str(site.json("excursions", "--open")[-1]["excursion"])
    pharm(site, "excursion", "decide", number, "--release", "--reference", REFERENCE)
    assert statuses(site) == {"A1": "available", "A2": "available", "B1": "quarantined"}
    # a logger file that cannot be read registers nothing: the receipt and its logger are one
    (site.dir / "sh-d.csv").write_text(manifest(kits_of("D", 1)))
    (site.dir / "bad.csv").write_text("2026-11-30T06:00:00Z,4.5\n2026-11-30T06:10:00Z,warm\n")
    bad = site.fails("receive", TRIAL, "--shipment", "SH-D", "--manifest", "sh-d.csv",
                     "--location", FRIDGE, "--logger", "bad.csv", user=PHARM, code=1)
    assert "line 2" in bad.stderr and "warm" in bad.stderr
    assert "SH-D" not in [sh["number"] for sh in site.json("shipments")]
    # a shipment's logger without time out of range
    (site.dir / "sh-c.csv").write_text(manifest(kits_of("C", 1)))
    write_csv(site.dir / "cool.csv", readings(start, out_temps=()))
    out = pharm(site, "receive", TRIAL, "--shipment", "SH-C", "--manifest", "sh-c.csv",
                "--location", FRIDGE, "--logger", "cool.csv").stdout
    assert out.endswith("Logger file cool.csv imported: no time out of range in transit.\n")
    site.assert_technician_never_saw_an_arm()
    assert "OK" in site.verify().stdout


def test_a_release_leaves_kits_another_excursion_holds_in_quarantine(site):
    stock(site, "SH-1", kits_of("K", 1))
    start = soon()
    temps = [5.0] * 6 + [12.0] * 6 + [5.0] * 3 + [12.0] * 6 + [5.0] * 4
    write_logtag(site.dir / "twice.txt",
                 [(start + timedelta(minutes=10 * i), t) for i, t in enumerate(temps)])
    out = tech(site, "temp", "import", FRIDGE, "twice.txt", "--tz", "UTC").stdout
    assert out.endswith("2 excursions recorded, 1 kit quarantined: see 'ctm excursions --open'\n")
    second, first = [e["excursion"] for e in site.json("excursions", "--open")]
    out = pharm(site, "excursion", "decide", str(first), "--release", "--reference",
                REFERENCE).stdout
    assert out.endswith(f"  kit K1 of trial {TRIAL}: released, now quarantined\n"), out
    assert statuses(site) == {"K1": "quarantined"}
    out = pharm(site, "excursion", "decide", str(second), "--release", "--reference",
                REFERENCE).stdout
    assert out.endswith(f"  kit K1 of trial {TRIAL}: released, now available\n"), out
    assert statuses(site) == {"K1": "available"}
