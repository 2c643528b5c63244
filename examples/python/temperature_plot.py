#!/usr/bin/python3
"""Draw a storage location's temperature readings with its allowed band and its recorded
excursions shaded, to a PNG, for a deviation report or the monitor's file.

    temperature_plot.py DATABASE LOCATION OUT.png [--from WHEN] [--to WHEN] [--user NAME]

The password is asked on the terminal, or taken from $CTM_PASSWORD; the user from --user or
$CTM_USER.  WHEN is UTC, ISO 8601 (2026-06-01, 2026-06-01T14:30Z); a date alone covers its
whole day.  Uses Debian's python3-matplotlib and python3-pandas with the ctm package; any
logged-in user may draw it (temperatures and excursions are not secret).

The excursions are those libctm recorded for the location (ctm.Database.excursions) that meet
the plotted period: high ones red, low ones blue, mixed ones purple, unknown ones (a gap in the
logger's record) grey, each labelled with its number; a daily one (a Fridge-tag day with alarm
minutes, at times unknown within the day) is a hatched band over its day, with the day's lowest
and highest temperature marked.  Readings out of the range are marked too, so that a short
run below the location's alarm delay still shows.  A location with recorded excursions but no
readings (a daily-summary logger) is drawn with its excursions only.  After the PNG is written,
one line per excursion drawn is printed.
"""
import argparse
import datetime
import getpass
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

import ctm  # noqa: E402

COLOURS = {"high": "tab:red", "low": "tab:blue", "mixed": "tab:purple", "unknown": "tab:grey"}
UTC = datetime.timezone.utc


def bound(text, end=False):
    """--from/--to as an aware UTC datetime; a date alone is its day's start (end: its end)."""
    if text is None:
        return None
    if len(text) == 10:
        day = datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)
        return day + datetime.timedelta(days=1) if end else day
    when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def in_period(excursions, lo, hi):
    """The excursions that meet [lo, hi] (None: open), oldest first."""
    return sorted((e for e in excursions if (lo is None or e["end"] >= lo)
                   and (hi is None or e["start"] <= hi)), key=lambda e: e["start"])


def shade(ax, excursions, lo, hi):
    """One span per excursion, coloured by kind, labelled with its number in the middle of the
    part of it within [lo, hi] (None: open)."""
    labelled = set()
    for e in excursions:
        start = max(e["start"], lo) if lo is not None else e["start"]
        end = min(e["end"], hi) if hi is not None else e["end"]
        colour = COLOURS.get(e["kind"], "tab:grey")
        kind = "%s (daily)" % e["kind"] if e["daily"] else e["kind"]
        label = None if kind in labelled else "excursion: %s" % kind
        labelled.add(kind)
        ax.axvspan(start, end, color=colour, alpha=0.15 if e["daily"] else 0.25,
                   hatch="//" if e["daily"] else None, label=label)
        middle = start + (end - start) / 2
        if e["daily"] and e["min_time"] is not None and e["max_time"] is not None:
            ax.plot([e["min_time"], e["max_time"]], [e["min"], e["max"]], "x", color=colour,
                    label=None if "day" in labelled else "a day's min and max")
            labelled.add("day")
        ax.text(middle, 0.98, "#%d" % e["excursion"], transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize="small", color=colour, clip_on=True)


def describe(e):
    """One line for the terminal: what was shaded."""
    return "  excursion %d: %s%s %s to %s, %d minutes, %s" % (
        e["excursion"], e["kind"], " (daily)" if e["daily"] else "",
        e["start"].strftime("%Y-%m-%dT%H:%MZ"), e["end"].strftime("%Y-%m-%dT%H:%MZ"),
        e["minutes"], e["status"])


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
    try:
        lo, hi = bound(a.start), bound(a.end, end=True)
    except ValueError as exc:
        p.error("--from/--to: %s" % exc)
    password = os.environ.get("CTM_PASSWORD") or getpass.getpass("password for %s: " % a.user)
    with ctm.open(a.database, user=a.user, password=password) as db:
        band = next((l for l in db.locations() if l["name"] == a.location), None)
        if band is None:
            print("temperature_plot: no location %s" % a.location, file=sys.stderr)
            return 1
        df = db.temp_list(a.location, a.start, a.end).to_pandas()
        mkt = db.temp_mkt(a.location, a.start, a.end)
        excursions = db.excursions(a.location).fetchall()
    if not df.empty:  # the plotted period: the readings', within the bounds asked for
        lo, hi = df["time"].iloc[0].to_pydatetime(), df["time"].iloc[-1].to_pydatetime()
    shown = in_period(excursions, lo, hi)
    if df.empty and not shown:
        print("temperature_plot: %s has no readings and no excursions in the period"
              % a.location, file=sys.stderr)
        return 1
    lo_c, hi_c = float(band["min"]), float(band["max"])
    temp = df["temp"].astype(float)
    extremes = [e[k] for e in shown for k in ("min", "max") if e[k] is not None]
    if not df.empty:
        extremes += [temp.min(), temp.max()]
    low, high = min([lo_c] + extremes) - 1, max([hi_c] + extremes) + 1
    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    ax.axhspan(lo_c, hi_c, color="tab:green", alpha=0.12, label="allowed %g..%g C" % (lo_c, hi_c))
    if df.empty:  # the excursions' span, within the bounds asked for
        lo = max(lo, shown[0]["start"]) if lo is not None else shown[0]["start"]
        last = max(e["end"] for e in shown)
        hi = min(hi, last) if hi is not None else last
    shade(ax, shown, lo, hi)
    if not df.empty:
        ax.plot(df["time"], temp, color="tab:blue", linewidth=1, label="readings")
        out = (temp > hi_c) | (temp < lo_c)
        if out.any():
            ax.plot(df["time"][out], temp[out], "o", color="tab:red", markersize=3,
                    label="readings out of range")
    if lo < hi:  # one reading alone: matplotlib chooses
        ax.set_xlim(lo, hi)
    ax.set_ylim(low, high)
    ax.set_ylabel("C")
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    title = "%s: %d readings" % (a.location, len(df))
    if mkt["mkt"] is not None:
        title += ", MKT %.2f C" % mkt["mkt"]
    title += ", %d excursion%s (UTC)" % (len(shown), "" if len(shown) == 1 else "s")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    fig.tight_layout()
    fig.savefig(a.out)
    print("%s: %s" % (a.out, title))
    for e in shown:
        print(describe(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
