"""Tests of `ctm audit log` with filters and readable changes, and of --user meaning the login in
every command, driving the real binary on the stock site of test_stock_cli."""
import json
import re

import pytest

import test_stock_cli as stock
from test_stock_cli import site, stock_template  # noqa: F401 (fixtures)

PHARM, TECH, TRIAL = stock.PHARM, stock.TECH, stock.TRIAL


def log(site, *filters, user=PHARM):
    return site.json("audit", "log", *filters, user=user)


def seqs(entries):
    return [e["seq"] for e in entries]


def receive_and_work(site):
    """Ten kits received, three scanned, confirmed, one quarantined, and a note."""
    site.receive(stock.manifest(stock.standard_kits(10)))
    site.scan(["K0001", "K0002", "K0003"])
    site.run("receive", "confirm", "SH-001", "--unchecked-present", user=PHARM)
    site.run("kit", "status", TRIAL, "K0003", "quarantined", "--reason", "dropped", user=PHARM)
    site.run("audit", "note", "fridge checked", user=TECH)


# ---- --user is who you are ----

def test_user_given_as_a_filter_never_logs_in_as_that_user(site):
    before = len(log(site))
    for _ in range(6):  # more than the failures that lock an account
        proc = site.run("audit", "log", "--user", TECH, user=PHARM, expect=2)
        assert proc.stdout == ""
        assert "no login was tried" in proc.stderr and "--by" in proc.stderr
        assert len(proc.stderr.splitlines()) == 1
    after = log(site)
    assert len(after) == before, "a login was attempted"
    assert not [e for e in after if e["action"] == "auth.failed"]
    users = {u["user"]: u for u in site.json("user", "list")}
    assert users[TECH]["failed_logins"] == 0 and users[TECH]["disabled"] == 0
    site.run("audit", "note", "still here", user=TECH)
    # the same user as $CTM_USER, or --user with its own password, is a login as always
    site.run("audit", "log", "--user", PHARM, "--last", "1", user=PHARM)
    site.run("audit", "log", "--user", TECH, "--last", "1", user=None, password=stock.TECH_PW)


def test_help_says_user_is_the_login_everywhere(tmp_path):
    nobody = stock.Site(tmp_path)
    overview = nobody.run("help", db=False, user=None, password=None).stdout
    assert re.search(r"--user NAME +who you are: the user every command logs in as, never a "
                     r"filter", overview)
    commands = re.findall(r"^  ([a-z]+(?: [a-z]+)?) {2,}\S", overview.split("Commands:")[1], re.M)
    assert "audit log" in commands and len(commands) > 20
    for command in commands:
        text = nobody.run("help", *command.split(), db=False, user=None, password=None).stdout
        usage = text.splitlines()[0]
        assert "--user" not in usage, f"{command} gives --user a meaning of its own"
        if "--db PATH" in text:
            assert "--user NAME, who you are: your login, never a filter" in text, command
    audit = nobody.run("help", "audit", "log", db=False, user=None, password=None).stdout
    for option in ("--by USER", "--action NAME", "--since WHEN", "--until WHEN", "--trial T",
                   "--kit KIT", "--last N"):
        assert option in audit


# ---- filters ----

def test_filters_select_and_combine(site):
    receive_and_work(site)
    everything = log(site)
    by_tech = log(site, "--by", TECH)
    assert by_tech and all(e["user"] == TECH for e in by_tech)
    assert seqs(by_tech) == [e["seq"] for e in everything if e["user"] == TECH]
    shipments = log(site, "--action", "shipment.*")
    assert [e["action"] for e in shipments] == ["shipment.receive"] + ["shipment.scan"] * 3 + [
        "shipment.confirm"]
    assert seqs(log(site, "--action", "shipment.scan", "--by", TECH)) == seqs(shipments[1:4])
    assert log(site, "--action", "shipment.scan", "--by", PHARM) == []

    kit3 = log(site, "--kit", "K0003")
    assert [e["action"] for e in kit3] == ["shipment.receive", "shipment.scan",
                                           "shipment.confirm", "kit.status"]
    assert [e["action"] for e in log(site, "--kit", "K0007")] == ["shipment.receive",
                                                                  "shipment.confirm"]
    about_trial = log(site, "--trial", TRIAL)
    assert "audit.note" not in [e["action"] for e in about_trial]
    assert "location.add" not in [e["action"] for e in about_trial]
    newest = log(site, "--trial", TRIAL, "--last", "2")
    assert seqs(newest) == seqs(about_trial)[-2:]

    # time: both bounds include what they name, at the precision written
    confirm = next(e for e in everything if e["action"] == "shipment.confirm")
    since = log(site, "--since", confirm["time"])
    assert seqs(since) == [e["seq"] for e in everything if e["seq"] >= confirm["seq"]]
    until = log(site, "--until", confirm["time"], "--since", confirm["time"])
    assert seqs(until) == [confirm["seq"]]
    today = confirm["time"][:10]
    assert len(log(site, "--since", today, "--until", today)) >= 6
    assert log(site, "--until", "2000-01-01") == []
    table = site.run("audit", "log", "--until", "2000-01-01", user=PHARM).stdout
    assert table == "No entries match.\n"


@pytest.mark.parametrize("args, code, words", [
    (["--last", "2", "--limit", "1"], 2, "--last and --limit exclude each other"),
    (["--last", "two"], 2, "--last"),
    (["--since", "yesterday"], 1, "since: 'yesterday' is not an ISO 8601 date"),
    (["--until", "2026-11-31"], 1, "until: 2026-11-31 is not a calendar date"),
    (["--action", "kit status"], 1, "action:"),
    (["--trial", "NO-SUCH"], 1, "trial: no trial 'NO-SUCH'"),
    (["--kit", "K9999"], 1, "kit: no kit 'K9999'"),
])
def test_bad_filters_fail_naming_them(site, args, code, words):
    proc = site.fails("audit", "log", *args, code=code, user=PHARM)
    assert words in proc.stderr


# ---- readable changes ----

def test_long_change_lists_are_counted_in_the_table_full_in_json(site):
    site.receive(stock.manifest(stock.standard_kits(12)))
    table = site.run("audit", "log", "--action", "shipment.receive", user=PHARM).stdout
    assert re.search(r"^  changes  shipments: 1 inserted; lots: 2 inserted; kits: 12 inserted;"
                     r" kit_events: 12 inserted; darf_lines: 12 inserted$", table, re.M), table
    assert "kit_number" not in table
    entry, = log(site, "--action", "shipment.receive")
    rows = json.loads(entry["changes"])
    assert len([r for r in rows if r["table"] == "kits"]) == 12
    assert entry["changes_summary"] == ("shipments: 1 inserted; lots: 2 inserted; kits: 12 inserted;"
                                        " kit_events: 12 inserted; darf_lines: 12 inserted")


def test_short_change_lists_show_each_row_and_hide_arms_from_the_blinded(site):
    site.receive(stock.manifest(stock.standard_kits(1)))
    site.run("receive", "confirm", "SH-001", "--unchecked-present", user=PHARM)
    site.run("kit", "status", TRIAL, "K0001", "quarantined", "--reason", "dropped", user=PHARM)
    table = site.run("audit", "log", "--kit", "K0001", user=TECH).stdout
    assert re.search(r"^  changes  kits id=1 updated: status available -> quarantined$", table,
                     re.M), table
    receipt = table.split("\n\n")[0]
    lines = re.search(r"^  changes  (.*(?:\n {11}.*)*)", receipt, re.M).group(1).split("\n")
    assert len(lines) == 5 and lines[2].strip().startswith("kits id=1 inserted: ")
    assert lines[3].strip().startswith("kit_events id=1 inserted: kit_id=1, status=received, ")
    assert lines[4].strip().startswith("darf_lines id=1 inserted: kit_type_id=1, kit_id=1,"
                                       " status=received, ")
    assert "arm=(blinded)" in lines[2]
    unblinded = site.run("audit", "log", "--kit", "K0001", user=PHARM).stdout
    assert "arm=" + stock.ARMS[1] in unblinded
    site.assert_technician_never_saw_an_arm()
