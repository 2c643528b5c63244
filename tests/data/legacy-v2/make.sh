#!/bin/sh
# Builds tests/data/legacy-v2/site.db with the ctm CLI of the build given as $1.
set -eu
CTM=$1
export CTM_DB=site.db
CTM_NEW_PASSWORD=alice-password-1 $CTM init --site "Legacy Site" --admin alice --name "Alice Admin"
export CTM_USER=alice CTM_PASSWORD=alice-password-1
CTM_NEW_PASSWORD=petra-password-1 $CTM user add petra --role pharmacist --unblinded --name "Petra Lind"
CTM_NEW_PASSWORD=tom-password-12 $CTM user add tom --role technician --name "Tom Tech"
export CTM_USER=petra CTM_PASSWORD=petra-password-1
$CTM trial add BLIND-1 --title "Drug X vs placebo" --sponsor "Nordic Cardio AB" --blinded --arms ACTIVE:1,PLACEBO:1
$CTM kittype add BLIND-1 DX10 --name "Drug X 10 mg or placebo" --units 30 --storage 2..8
$CTM location add FRIDGE-1 --range 2..8 --kind fridge
cat > SH-1.csv <<CSV
kit_number,kit_type,lot,expiry,arm
K001,DX10,L1,2028-06-30,ACTIVE
K002,DX10,L1,2028-06-30,PLACEBO
K003,DX10,L1,2028-06-30,PLACEBO
K004,DX10,L1,2028-06-30,ACTIVE
K005,DX10,L1,2028-06-30,PLACEBO
K006,DX10,L1,2028-06-30,ACTIVE
K007,DX10,L1,2028-06-30,ACTIVE
K008,DX10,L1,2028-06-30,PLACEBO
CSV
$CTM receive BLIND-1 --shipment SH-1 --manifest SH-1.csv --location FRIDGE-1 --date 2026-11-30
printf 'K001\nK002\nK003\nK004\nK005\nK006\nK007\nK008\n' | $CTM receive scan SH-1
$CTM receive confirm SH-1
# one self-contained file: no -wal beside it
sqlite3 site.db "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;" >/dev/null
rm -f SH-1.csv
