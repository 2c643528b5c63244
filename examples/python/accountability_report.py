#!/usr/bin/python3
"""The drug accountability record (DARF-style log) of a trial, per product, for the site file or
the monitor: every receipt (+), dispensing (-), return (noted, never added back) and every kit
leaving the stock, with the running balance in kits and units, the lot and who recorded it.

    accountability_report.py DATABASE TRIAL [--kit-type CODE] [--csv OUT.csv] [--html OUT.html]
                             [--user NAME]

The password is asked on the terminal, or taken from $CTM_PASSWORD; the user from --user or
$CTM_USER.  Any logged-in user may read it: the log shows no arm.  Uses Debian's python3-pandas
with the ctm package.

Prints one block per product (kit type): its lines in time order and its closing balance;
--csv writes every line; --html writes libctm's own printable page of the report (ctm report
darf), whose header names the signed ledger checkpoint it was drawn from, so the printout can be
tied to the audit log (docs/reports.md).
"""
import argparse
import getpass
import os
import sys

import ctm

SHOWN = ["date", "event", "lot", "kit", "subject", "quantity", "quantity_units", "balance",
         "balance_units", "returned_units", "recorder"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("database")
    ap.add_argument("trial")
    ap.add_argument("--kit-type")
    ap.add_argument("--csv", metavar="OUT.csv")
    ap.add_argument("--html", metavar="OUT.html")
    ap.add_argument("--user", default=os.environ.get("CTM_USER"))
    args = ap.parse_args(argv)
    if not args.user:
        ap.error("give --user or set $CTM_USER")
    password = os.environ.get("CTM_PASSWORD") or getpass.getpass("password for %s: " % args.user)
    try:
        with ctm.open(args.database, user=args.user, password=password, readonly=True) as db:
            df = db.darf(args.trial, args.kit_type).to_pandas()
            if args.html:
                page = db.report_render("darf", args.trial, "html", kit_type=args.kit_type)
                with open(args.html, "w", encoding="utf-8") as f:
                    f.write(page)
    except ctm.Error as e:
        print("accountability_report.py: %s" % e, file=sys.stderr)
        return 2
    if df.empty:
        print("No accountability lines in trial %s yet." % args.trial)
        return 0
    for kit_type, lines in df.groupby("kit_type", sort=True):
        first = lines.iloc[0]
        print("%s: %s (%s)" % (kit_type, first["product"], first["dose"] or "dose not given"))
        print(lines[SHOWN].to_string(index=False))
        last = lines.iloc[-1]
        print("balance: %d kits, %d units\n" % (last["balance"], last["balance_units"]))
    if args.csv:
        df.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
