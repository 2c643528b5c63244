#!/usr/bin/python3
"""Draw a storage location's temperature readings with its allowed band, the time out of range
shaded, to a PNG, for a deviation report or the monitor's file.

    temperature_plot.py DATABASE LOCATION OUT.png [--from WHEN] [--to WHEN] [--user NAME]

The password is asked on the terminal, or taken from $CTM_PASSWORD; the user from --user or
$CTM_USER.  WHEN is UTC, ISO 8601 (2026-06-01, 2026-06-01T14:30Z).  Uses Debian's
python3-matplotlib and python3-pandas with the ctm package; any logged-in user may draw it
(temperatures are not secret).
"""
import argparse
import getpass
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

import ctm  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("database")
    p.add_argument("location")
    p.add_argument("out")
    p.add_argument("--from", dest="start")
    p.add_argument("--to", dest="end")
    p.add_argument("--user", default=os.environ.get("CTM_USER"))
    a = p.parse_args(argv)
    if not a.user:
        p.error("give --user or set CTM_USER")
    password = os.environ.get("CTM_PASSWORD") or getpass.getpass("password for %s: " % a.user)
    with ctm.open(a.database, user=a.user, password=password) as db:
        band = next((l for l in db.locations() if l["name"] == a.location), None)
        if band is None:
            print("temperature_plot: no location %s" % a.location, file=sys.stderr)
            return 1
        df = db.temp_list(a.location, a.start, a.end).to_pandas()
        mkt = db.temp_mkt(a.location, a.start, a.end)
    if df.empty:
        print("temperature_plot: %s has no readings in the period" % a.location, file=sys.stderr)
        return 1
    lo, hi = float(band["min"]), float(band["max"])
    temp = df["temp"].astype(float)
    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    ax.axhspan(lo, hi, color="tab:green", alpha=0.12, label="allowed %g..%g C" % (lo, hi))
    ax.plot(df["time"], temp, color="tab:blue", linewidth=1, label="readings")
    out = (temp > hi) | (temp < lo)
    ax.fill_between(df["time"], temp.min() - 1, temp.max() + 1, where=out, step="post",
                    color="tab:red", alpha=0.25, label="out of range")
    ax.set_ylim(min(lo, temp.min()) - 1, max(hi, temp.max()) + 1)
    ax.set_ylabel("C")
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    title = "%s: %d readings, MKT %.2f C (UTC)" % (a.location, len(df), mkt["mkt"])
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    fig.tight_layout()
    fig.savefig(a.out)
    print("%s: %s" % (a.out, title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
