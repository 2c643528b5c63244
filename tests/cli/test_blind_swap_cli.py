"""Two sites that differ only in which arm each kit has: a blinded user must see the same.

The same manifests are received at both sites, with every kit's arm swapped at the second
(ACTIVE and PLACEBO, codes of different lengths), and the same receipt and stock work is done
there.  Everything a blinded technician can then look at (kit views, listings with every filter
and format, receipt status and discrepancies, the audit log with every filter, its summaries and
JSON, proofs, error messages) must be the same at both sites once the values that differ between
any two sites (times, keys, hashes) are masked.  A difference is an arm shown through a value, a
length, a column width, a count, an order or a message.
"""
import re

import test_stock_cli as stock
from test_stock_cli import ARMS, FRIDGE, FRIDGE2, GTIN, KIT_TYPE, LOT, PHARM, TECH, TRIAL
from test_stock_cli import stock_template  # noqa: F401  (the fixture)

SWAP = {ARMS[0]: ARMS[1], ARMS[1]: ARMS[0]}
LOT9 = "L2409"


def pack(kit, lot=LOT, expiry=stock.EXPIRY):
    return stock.gs1(kit, lot, expiry, separator="<GS>")


def kits(prefix, arms, swapped):
    return [(f"{prefix}{i:03d}", KIT_TYPE, LOT, stock.EXPIRY,
             SWAP[arm] if swapped else arm, GTIN) for i, arm in enumerate(arms, 1)]


def build(template, directory, swapped):
    site = template.copy(directory)
    a, p = ARMS
    site.receive(stock.manifest(kits("A", [a, p, a, a, p, p], swapped)), "SH-A", user=PHARM,
                 name="a.csv")
    site.receive(stock.manifest(kits("B", [p, a, p, a], swapped)), "SH-B", user=PHARM,
                 name="b.csv")
    site.receive(stock.manifest(kits("C", [a, p], swapped)), "SH-C", user=PHARM, name="c.csv")
    site.scan([pack("A001"), pack("A002", lot=LOT9), "A003", pack("X999"),
               pack("A005", expiry="2028-01-31")], "SH-A")
    site.scan([pack("A006")], "SH-A", flags=("--damaged",))
    site.scan(["B001", "B002", "A004"], "SH-B")
    site.scan(["C001", "C002"], "SH-C")
    site.run("receive", "unscan", "SH-A", "X999", "--reason", "another shipment", user=TECH)
    site.run("receive", "unscan", "SH-A", pack("A003"), "--reason", "scanned twice", user=TECH)
    site.run("receive", "void", "SH-C", "--reason", "wrong trial", user=PHARM)
    site.run("receive", "confirm", "SH-A", user=PHARM)
    site.run("transfer", TRIAL, "--to", FRIDGE2, "--reason", "space", "A001", pack("A002"),
             user=PHARM)
    site.run("kit", "status", TRIAL, "A005", "available", "--reason", "sponsor released",
             user=PHARM)
    site.run("transfer", "out", TRIAL, "--site", "Other", "--shipment", "OUT-1", "A001",
             user=PHARM)
    return site


VIEWS = [("kit", "show", k) + fmt for k in ("A001", "A002", "A003", "A006", "B001", "B003")
         for fmt in ((), ("--json",))]
VIEWS += [("kit", "show", pack("A005")), ("kit", "history", "A002"), ("lots",), ("shipments",)]
for fmt in ((), ("--csv",), ("--json",)):
    VIEWS += [("kits",) + f + fmt for f in ((), ("--trial", TRIAL), ("--status", "available"),
                                            ("--status", "received"), ("--location", FRIDGE),
                                            ("--location", FRIDGE2), ("--lot", LOT),
                                            ("--expiring", "5000"), ("--shipment", "SH-A"),
                                            ("--shipment", "SH-B"))]
    VIEWS += [("receive", "discrepancies") + s + fmt for s in ((), ("SH-A",), ("SH-B",))]
    VIEWS += [("audit", "log") + f + fmt
              for f in ((), ("--trial", TRIAL), ("--kit", "A001"), ("--kit", "A002"),
                        ("--kit", pack("A003")), ("--kit", "B002"), ("--action", "shipment.*"),
                        ("--action", "kit.status"), ("--by", TECH), ("--last", "4"),
                        ("--since", "2000-01-01", "--until", "2100-01-01", "--trial", TRIAL))]
VIEWS += [("receive", "status", s) + fmt for s in ("SH-A", "SH-B") for fmt in ((), ("--json",))]
VIEWS += [("audit", "checkpoint"), ("audit", "verify")]
# Refusals a blinded user may meet.
VIEWS += [("receive", "unscan", "SH-B", "B003", "--reason", "r"),
          ("transfer", TRIAL, "--to", FRIDGE, "A003"), ("kit", "status", TRIAL, "A001",
                                                       "available", "--reason", "r"),
          ("kits", "--shipment", "SH-C"), ("kit", "show", "C001"), ("audit", "log", "--kit", "C001")]

MASKS = [
    (re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z"), "TIME"),
    (re.compile(r"\b\d{16}\b"), "MICROS"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "HEX"),
    (re.compile(r"[A-Za-z0-9+/]{40,}={0,2}"), "B64"),
    (re.compile(r"\+[0-9a-f]{8}\+"), "+KEYID+"),
]


def masked(text):
    for pattern, repl in MASKS:
        text = pattern.sub(repl, text)
    return text


def seen(site, args):
    proc = site.run(*args, user=TECH, expect=None)
    return masked(f"exit {proc.returncode}\n{proc.stdout}{proc.stderr}")


def test_a_blinded_user_sees_the_same_whatever_the_arms(stock_template, tmp_path):  # noqa: F811
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    sites = [build(stock_template, first, False), build(stock_template, second, True)]
    # The sites do differ, and an unblinded reader sees it.
    assert sites[0].run("kits", user=PHARM).stdout != sites[1].run("kits", user=PHARM).stdout
    size = len(sites[0].json("audit", "log", user=TECH))
    views = VIEWS + [("audit", "prove", str(seq)) for seq in range(size)]
    for args in views:
        assert seen(sites[0], args) == seen(sites[1], args), args
