#!/usr/bin/python3
"""Reconcile a trial's stock as a monitor does at a visit: the balance equation per kit type and
lot (now, or as of a past day), the kits that break it, and optionally the monitor's e-signed
sign-off.

    reconcile.py DATABASE TRIAL [--as-of YYYY-MM-DD] [--csv OUT.csv] [--sign-off COMMENT]
                 [--user NAME]

The password is asked on the terminal, or taken from $CTM_PASSWORD; the user from --user or
$CTM_USER.  Any logged-in user may read the reconciliation (it is per kit type and lot, never
per arm); --sign-off needs a monitor and writes one e-signed entry (signoff.reconciliation).
Uses Debian's python3-pandas with the ctm package.

Prints the rows (received, then the kits in each status, then units dispensed, returned,
consumed and lost), the total, whether it balances and, when it does not, each kit that breaks
it with the reason (libctm's ctm_reconciliation_breaks, docs/reconciliation.md).  Exits 0 when
it balances, 1 when it does not (handy in a script), 2 on an error.
"""
import argparse
import getpass
import os
import sys

import ctm

KITS = ["kit_type", "lot", "received", "available", "quarantined", "dispensed", "returned",
        "pending_destruction", "destroyed", "returned_to_sponsor", "damaged", "missing", "lost",
        "expired"]
UNITS = ["kit_type", "lot", "dispensed_units", "with_subjects_units", "returned_units",
         "consumed_units", "lost_units", "uncounted_units"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("database")
    ap.add_argument("trial")
    ap.add_argument("--as-of", metavar="YYYY-MM-DD")
    ap.add_argument("--csv", metavar="OUT.csv")
    ap.add_argument("--sign-off", metavar="COMMENT")
    ap.add_argument("--user", default=os.environ.get("CTM_USER"))
    args = ap.parse_args(argv)
    if not args.user:
        ap.error("give --user or set $CTM_USER")
    password = os.environ.get("CTM_PASSWORD") or getpass.getpass("password for %s: " % args.user)
    try:
        with ctm.open(args.database, user=args.user, password=password,
                      readonly=args.sign_off is None) as db:
            df = db.reconciliation(args.trial, as_of=args.as_of).to_pandas()
            breaks = db.reconciliation_breaks(args.trial, as_of=args.as_of).to_pandas()
            if args.sign_off is not None:
                db.signoff_reconciliation(args.trial, as_of=args.as_of, comment=args.sign_off)
    except ctm.Error as e:
        print("reconcile.py: %s" % e, file=sys.stderr)
        return 2
    df = df.fillna({"kit_type": "total", "lot": ""})
    when = "as of %s" % args.as_of if args.as_of else "now"
    print("Reconciliation of %s, %s" % (args.trial, when))
    print("\nKits")
    print(df[KITS].to_string(index=False))
    print("\nUnits (dispensed = with subjects + returned + consumed + lost + uncounted)")
    print(df[UNITS].to_string(index=False))
    balanced = bool(df["balanced"].iloc[-1])
    print("\n%s" % ("Balanced." if balanced else "Does NOT balance: %d kit(s)" % len(breaks)))
    if len(breaks):
        print(breaks.to_string(index=False))
    if args.csv:
        df.to_csv(args.csv, index=False)
    if args.sign_off is not None:
        print("Signed off (e-signed, signoff.reconciliation).")
    return 0 if balanced else 1


if __name__ == "__main__":
    sys.exit(main())
