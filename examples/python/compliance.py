#!/usr/bin/python3
"""Compliance per subject and visit of a trial, from the kits the subjects brought back: a
table for the monitor, the subjects to talk to first, and optionally a chart.

    compliance.py DATABASE TRIAL [--subject SCREENING] [--csv OUT.csv] [--plot OUT.png]
                  [--user NAME]

The password is asked on the terminal, or taken from $CTM_PASSWORD; the user from --user or
$CTM_USER.  Any logged-in user may run it: compliance shows no arm.  Uses Debian's
python3-pandas (and python3-matplotlib for --plot) with the ctm package.

Compliance = (units dispensed - units returned) / units prescribed for the period (libctm's
ctm_compliance, docs/returns.md).  The script prints every row, then the rows flagged "low" or
"high" against the trial's limits and the visits with no figure yet (not returned, lost, not
counted), so that nothing flagged is hidden; --csv writes the whole table; --plot draws each
subject's compliance per visit against the limits.  Exits 0, or 1 when a row is flagged low or
high (handy in a monitoring script).
"""
import argparse
import getpass
import os
import sys

import ctm

COLUMNS = ["screening", "visit", "kit_type", "dispensed_on", "units_dispensed", "units_returned",
           "kits_lost", "kits_out", "days", "prescribed_units", "consumed_units",
           "compliance_pct", "flag"]


def plot(df, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    shown = df.dropna(subset=["compliance_pct"])
    for screening, rows in shown.groupby("screening"):
        ax.plot(rows["visit"], rows["compliance_pct"], marker="o", label=screening)
    if len(df):
        ax.axhspan(df["low_pct"].iloc[0], df["high_pct"].iloc[0], color="tab:green", alpha=0.12,
                   label="limits")
    ax.set_ylabel("compliance (%)")
    ax.set_xlabel("visit")
    ax.set_title("Compliance per subject and visit")
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("database")
    ap.add_argument("trial")
    ap.add_argument("--subject")
    ap.add_argument("--csv", metavar="OUT.csv")
    ap.add_argument("--plot", metavar="OUT.png")
    ap.add_argument("--user", default=os.environ.get("CTM_USER"))
    args = ap.parse_args(argv)
    if not args.user:
        ap.error("give --user or set $CTM_USER")
    password = os.environ.get("CTM_PASSWORD") or getpass.getpass("password for %s: " % args.user)
    try:
        with ctm.open(args.database, user=args.user, password=password, readonly=True) as db:
            df = db.compliance(args.trial, args.subject).to_pandas()
    except ctm.Error as e:
        print("compliance.py: %s" % e, file=sys.stderr)
        return 2
    if df.empty:
        print("No dispensing in trial %s yet." % args.trial)
        return 0
    with __import__("pandas").option_context("display.width", 200, "display.max_columns", 20):
        print(df[COLUMNS].to_string(index=False))
        flagged = df[df["flag"].isin(["low", "high"])]
        pending = df[df["flag"].isin(["not returned", "lost", "not counted"])]
        limits = (df["low_pct"].iloc[0], df["high_pct"].iloc[0])
        print("\nOutside %d-%d %%: %d" % (limits[0], limits[1], len(flagged)))
        if len(flagged):
            print(flagged[["screening", "visit", "compliance_pct", "flag"]].to_string(index=False))
        print("No figure yet: %d" % len(pending))
        if len(pending):
            print(pending[["screening", "visit", "flag"]].to_string(index=False))
    if args.csv:
        df.to_csv(args.csv, index=False)
    if args.plot:
        plot(df, args.plot)
    return 1 if len(flagged) else 0


if __name__ == "__main__":
    sys.exit(main())
