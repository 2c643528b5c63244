"""examples/python/temperature_plot.py draws a location's readings and its recorded excursions to
a PNG: run as a user would, on a site file with logger files imported (a SQLite file on either
back end's run: the script takes a database path).  The script prints a line per excursion it
shaded."""
import os
import pathlib
import subprocess

import ctm

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python" / "temperature_plot.py"
FRIDGE_TAG = (pathlib.Path(__file__).resolve().parents[1] / "data" / "loggers"
              / "fridgetag2-sample.txt")


def test_draws_the_readings_to_a_png(tmp_path):
    path = str(tmp_path / "site.db")
    with ctm.init(path, "Plot Pharmacy", "admin", "admin-password-1") as db:
        db.user_add("tom", "technician", "tom-password-12")
        db.location_add("FRIDGE-1", (2, 8), kind="fridge")
        db.location_add("FRIDGE-2", (2, 8), kind="fridge")
        db.location_add("FRIDGE-3", (2, 8), kind="fridge")
    logger = tmp_path / "fridge.csv"
    logger.write_text("".join("2026-06-01T%02d:%02d:00Z,%.1f\n" % (h, m, 9.5 if h == 11 else 4.5)
                              for h in range(10, 13) for m in range(0, 60, 10)))
    with ctm.open(path, user="tom", password="tom-password-12") as db:
        # 11:00-11:50 above 8 C: excursion 1, high, 11:00 to the reading back in range at 12:00
        assert db.temp_import("FRIDGE-1", logger)["excursions"] == 1
        # a Fridge-tag's days: 95 minutes above range on 5 March, 12 below on 7 March (UTC+1)
        assert db.temp_import("FRIDGE-3", FRIDGE_TAG)["excursions"] == 2
    env = dict(os.environ, CTM_PASSWORD="tom-password-12")

    def plot(location, out, *bounds):
        return subprocess.run(["/usr/bin/python3", str(SCRIPT), path, location, str(out),
                               "--user", "tom"] + list(bounds),
                              env=env, capture_output=True, text=True)

    out = tmp_path / "fridge.png"
    run = plot("FRIDGE-1", out, "--from", "2026-06-01")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("%s: FRIDGE-1: 18 readings, MKT " % out)
    assert run.stdout.splitlines()[1:] == [
        "  excursion 1: high 2026-06-01T11:00Z to 2026-06-01T12:00Z, 60 minutes, open"]
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000
    # an excursion that meets the period is drawn, one that ended before it is not
    run = plot("FRIDGE-1", tmp_path / "late.png", "--from", "2026-06-01T11:50Z")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[1:] == [
        "  excursion 1: high 2026-06-01T11:00Z to 2026-06-01T12:00Z, 60 minutes, open"]
    run = plot("FRIDGE-1", tmp_path / "later.png", "--from", "2026-06-01T12:10Z")
    assert run.returncode == 0, run.stderr
    assert run.stdout.endswith(": FRIDGE-1: 5 readings, MKT 4.50 C, 0 excursions (UTC)\n")
    # a daily-summary logger: no readings, its days with alarm minutes drawn as bands
    run = plot("FRIDGE-3", tmp_path / "fridgetag.png")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "%s: FRIDGE-3: 0 readings, 2 excursions (UTC)" % (tmp_path / "fridgetag.png"),
        "  excursion 2: high (daily) 2024-03-04T23:00Z to 2024-03-05T23:00Z, 95 minutes, open",
        "  excursion 3: low (daily) 2024-03-06T23:00Z to 2024-03-07T23:00Z, 12 minutes, open"]
    assert (tmp_path / "fridgetag.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a location without readings draws nothing and says so
    run = plot("FRIDGE-2", tmp_path / "none.png")
    assert run.returncode == 1 and "no readings" in run.stderr
    assert not (tmp_path / "none.png").exists()
    run = plot("FRIDGE-3", tmp_path / "none.png", "--from", "2024-03-08")
    assert run.returncode == 1 and "no readings" in run.stderr
