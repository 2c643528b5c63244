#!/bin/sh
# Builds tests/data/legacy-v9 (site.db, site.db.key, darf.csv) with the libctm checkout given as
# $1, built in its ./build (commit d017da4, schema version 9): that checkout's demo day, then one
# kit found again, and the DARF log that libctm drew of it.
set -eu
SRC=$(cd "$1" && pwd)
OUT=$(pwd)
rm -rf "$OUT/day"
bash "$SRC/scripts/demo.sh" "$OUT/day" >/dev/null
export LD_LIBRARY_PATH="$SRC/build/libctm" CTM_DB="$OUT/day/pharmacy.db"
export CTM_USER=petra CTM_PASSWORD=pharm-demo-pass2
CTM="$SRC/build/examples/cli/ctm"
$CTM kit status EU-CT-2026-500123-01 K1006 available --reason "found behind fridge 2" >/dev/null
$CTM report darf EU-CT-2026-500123-01 --csv > "$OUT/darf.csv"
# one self-contained file: no -wal beside it
sqlite3 "$OUT/day/pharmacy.db" "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;" >/dev/null
mv "$OUT/day/pharmacy.db" "$OUT/site.db"
mv "$OUT/day/pharmacy.db.key" "$OUT/site.db.key"
cat "$OUT/day/site.vkey"
rm -rf "$OUT/day"
