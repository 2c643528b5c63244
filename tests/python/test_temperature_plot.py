"""examples/python/temperature_plot.py draws a location's readings to a PNG: run as a user would,
on a site file with a logger file imported (a SQLite file on either back end's run: the script
takes a database path)."""
import os
import pathlib
import subprocess

import ctm

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python" / "temperature_plot.py"


def test_draws_the_readings_to_a_png(tmp_path):
    path = str(tmp_path / "site.db")
    with ctm.init(path, "Plot Pharmacy", "admin", "admin-password-1") as db:
        db.user_add("tom", "technician", "tom-password-12")
        db.location_add("FRIDGE-1", (2, 8), kind="fridge")
        db.location_add("FRIDGE-2", (2, 8), kind="fridge")
    logger = tmp_path / "fridge.csv"
    logger.write_text("".join("2026-06-01T%02d:%02d:00Z,%.1f\n" % (h, m, 9.5 if h == 11 else 4.5)
                              for h in range(10, 13) for m in range(0, 60, 10)))
    with ctm.open(path, user="tom", password="tom-password-12") as db:
        db.temp_import("FRIDGE-1", logger)
    env = dict(os.environ, CTM_PASSWORD="tom-password-12")
    out = tmp_path / "fridge.png"
    run = subprocess.run(["/usr/bin/python3", str(SCRIPT), path, "FRIDGE-1", str(out),
                          "--user", "tom", "--from", "2026-06-01"],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("%s: FRIDGE-1: 18 readings, MKT " % out)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000
    # a location without readings draws nothing and says so
    run = subprocess.run(["/usr/bin/python3", str(SCRIPT), path, "FRIDGE-2",
                          str(tmp_path / "none.png"), "--user", "tom"],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 1 and "no readings" in run.stderr
    assert not (tmp_path / "none.png").exists()
