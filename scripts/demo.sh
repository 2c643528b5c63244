#!/usr/bin/env bash
# The libctm demo: install what is missing, build, and run a pharmacy day, in the order of its
# hours, on an embedded SQLite file; verify the audit log and print the accounts to go on with.
#   scripts/demo.sh [DIR]      DIR holds the database (default: a new directory under /tmp)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"

dir=${1:-$(mktemp -d /tmp/ctm-demo.XXXXXX)}
mkdir -p "$dir"
export CTM_DB="$dir/pharmacy.db"
if [ -e "$CTM_DB" ]; then
  echo "demo: $CTM_DB exists already; give an empty directory" >&2
  exit 1
fi
export LD_LIBRARY_PATH="$root/build/libctm${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ctm() { "$root/build/examples/cli/ctm" "$@"; }
step() { printf '\n== %s\n' "$*"; }

# Passwords come from the environment here only because the demo runs unattended; at the
# counter, ctm asks for them without echo.  The last lines print them, to go on by hand.
admin_pw='admin-demo-pass' petra_pw='pharm-demo-pass' tomas_pw='tech-demo-pass1'
maria_pw='moni-demo-pass1' petra_new_pw='pharm-demo-pass2'

step "08:00  the site is set up by its administrator"
CTM_NEW_PASSWORD="$admin_pw" ctm init --site "University Hospital Trial Pharmacy" \
  --admin admin --name "Astrid Admin"

export CTM_USER=admin CTM_PASSWORD="$admin_pw"
step "08:05  staff accounts"
CTM_NEW_PASSWORD="$petra_pw" ctm user add petra --role pharmacist --unblinded --name "Petra Lind"
CTM_NEW_PASSWORD="$tomas_pw" ctm user add tomas --role technician --name "Tomas Berg"
CTM_NEW_PASSWORD="$maria_pw" ctm user add maria --role monitor --name "Maria Monitor"
ctm user list

step "08:10  the monitor keeps the site's verifier key and today's first checkpoint"
ctm audit pubkey > "$dir/site.vkey"
ctm audit checkpoint > "$dir/checkpoint-morning.txt"
cat "$dir/site.vkey"

step "09:00  the pharmacist sets up a blinded trial, its product and the fridges"
export CTM_USER=petra CTM_PASSWORD="$petra_pw"
ctm trial add EU-CT-2026-500123-01 --title "Drug X versus placebo in heart failure" \
  --sponsor "Nordic Cardio AB" --blinded --arms ACTIVE:1,PLACEBO:1
ctm kittype add EU-CT-2026-500123-01 DX10 --name "Drug X 10 mg or placebo" --units 30 \
  --storage 2..8 --dnd-days 30 --dose-form tablet --strength "10 mg" --budget 1440@15
ctm location add FRIDGE-1 --range 2..8 --kind fridge
ctm location add FRIDGE-2 --range 2..8 --kind fridge

step "09:30  a technician mistypes a password (recorded), then records a note"
if CTM_USER=tomas CTM_PASSWORD='wrong-password' ctm audit note "fridge 2 checked" 2>&1; then
  echo "demo: a wrong password was accepted" >&2; exit 1
fi
CTM_USER=tomas CTM_PASSWORD="$tomas_pw" ctm audit note "fridge 2 checked: 5.1 C at 09:30"

step "10:15  shipment SH-0042 arrives from the depot: registered from its manifest"
cat > "$dir/SH-0042.csv" <<'CSV'
kit_number,kit_type,lot,expiry,arm,gtin
K1001,DX10,NE76571,2027-04-30,ACTIVE,05909990329717
K1002,DX10,NE76571,2027-04-30,PLACEBO,05909990329717
K1003,DX10,NE76571,2027-04-30,PLACEBO,05909990329717
K1004,DX10,NE76571,2027-04-30,ACTIVE,05909990329717
K1005,DX10,NE76580,2027-06-30,ACTIVE,05909990329717
K1006,DX10,NE76580,2027-06-30,PLACEBO,05909990329717
CSV
ctm receive EU-CT-2026-500123-01 --shipment SH-0042 --manifest "$dir/SH-0042.csv" \
  --location FRIDGE-1 --origin "Depot Uppsala"

step "10:20  the technician checks the kits at the counter with the barcode scanner"
# one scan per line: GS1 DataMatrix strings (<GS> is the scanner's separator) or typed numbers;
# K1004's pack carries another lot than the manifest says, and K9999 is not on the manifest
CTM_USER=tomas CTM_PASSWORD="$tomas_pw" ctm receive scan SH-0042 <<'SCANS' || true
]d2010590999032971721K1001<GS>10NE76571<GS>17270430
]d2010590999032971721K1002<GS>10NE76571<GS>17270430
K1003
]d2010590999032971721K1004<GS>10NE99999<GS>17270430
K1005
K9999
SCANS

step "10:30  the pharmacist confirms the receipt with her e-signature"
ctm receive confirm SH-0042
ctm receive discrepancies SH-0042

step "10:35  stock as the pharmacist (unblinded) and as the technician (blinded) sees it"
ctm kits --trial EU-CT-2026-500123-01
CTM_USER=tomas CTM_PASSWORD="$tomas_pw" ctm kits --trial EU-CT-2026-500123-01

step "11:00  the pharmacist records the sponsor's phone instruction with her e-signature"
CTM_USER=petra CTM_PASSWORD="$petra_pw" \
  ctm audit note "Sponsor call: the next shipment, SH-0043, is delayed to Thursday" --sign "recorded instruction"

step "13:00  fridge 1 is to be defrosted: two kits move to fridge 2"
ctm transfer EU-CT-2026-500123-01 --to FRIDGE-2 --reason "fridge 1 defrosting" K1001 K1002
ctm kit history EU-CT-2026-500123-01 K1001

step "13:10  before the defrost, the technician imports fridge 1's logger file (Swedish local time)"
# the logger's export since 07:00: a reading every 10 minutes, the door opened at 12:20
{
  echo "time;temperature"
  for i in $(seq 0 35); do
    h=$((7 + i / 6)) m=$((i % 6 * 10))
    t="4,$((i % 7 + 1))"
    [ "$i" -eq 32 ] && t="6,9"
    printf '%s %02d:%02d;%s\n' "$(date -u +%Y-%m-%d)" "$h" "$m" "$t"
  done
} > "$dir/fridge-1-logger.csv"
CTM_USER=tomas CTM_PASSWORD="$tomas_pw" ctm temp import FRIDGE-1 "$dir/fridge-1-logger.csv" --tz Europe/Stockholm
CTM_USER=tomas CTM_PASSWORD="$tomas_pw" ctm temp import FRIDGE-1 "$dir/fridge-1-logger.csv" --tz Europe/Stockholm
ctm temp list FRIDGE-1 --from "$(date -u +%Y-%m-%d)T11:00Z"

step "14:00  account changes: the technician moves to the ward team"
export CTM_USER=admin CTM_PASSWORD="$admin_pw"
ctm user role tomas --role investigator --reason "joined the ward team as study nurse"

step "14:30  the pharmacist sets the visit schedule and generates the randomization list"
export CTM_USER=petra CTM_PASSWORD="$petra_pw"
ctm visit add EU-CT-2026-500123-01 V1 --day 0 --window -0..+2 --kits DX10:1
ctm visit add EU-CT-2026-500123-01 V2 --day 28 --window -3..+3 --kits DX10:1 --from previous
ctm random generate EU-CT-2026-500123-01 --size 20 --blocks 2,4 --strata "sex=M,F"

step "14:45  the study nurse (blinded) enrols two subjects and randomizes them"
CTM_USER=tomas CTM_PASSWORD="$tomas_pw" ctm subject add EU-CT-2026-500123-01 S-001 --strata sex=F
CTM_USER=tomas CTM_PASSWORD="$tomas_pw" ctm subject add EU-CT-2026-500123-01 S-002
if CTM_USER=tomas CTM_PASSWORD="$tomas_pw" ctm randomize EU-CT-2026-500123-01 S-002 2>&1; then
  echo "demo: a subject was randomized without its stratum" >&2; exit 1
fi
CTM_USER=tomas CTM_PASSWORD="$tomas_pw" ctm subject strata EU-CT-2026-500123-01 S-002 sex=M
CTM_USER=tomas CTM_PASSWORD="$tomas_pw" ctm randomize EU-CT-2026-500123-01 S-001
CTM_USER=tomas CTM_PASSWORD="$tomas_pw" ctm randomize EU-CT-2026-500123-01 S-002

step "14:50  the subjects as the nurse (blinded) and as the pharmacist (unblinded) see them"
CTM_USER=tomas CTM_PASSWORD="$tomas_pw" ctm subject list EU-CT-2026-500123-01
ctm subject list EU-CT-2026-500123-01

step "15:00  the pharmacist dispenses S-001's first visit: a kit chosen at random, scanned, e-signed"
kit=$(ctm dispense assign EU-CT-2026-500123-01 S-001 --visit V1 --json |
      sed -n 's/.*"kit_number": *"\([^"]*\)".*/\1/p')
echo "kit chosen for S-001: $kit"
ctm dispense confirm EU-CT-2026-500123-01 S-001 --scan "$kit"
if ctm dispense assign EU-CT-2026-500123-01 S-001 --visit V2 2>&1; then
  echo "demo: a visit was dispensed outside its window" >&2; exit 1
fi

step "15:05  and S-002's first visit; the dispensings so far (no arm shown)"
kit=$(ctm dispense assign EU-CT-2026-500123-01 S-002 --visit V1 --json |
      sed -n 's/.*"kit_number": *"\([^"]*\)".*/\1/p')
ctm dispense confirm EU-CT-2026-500123-01 S-002 --scan "$kit"
kit_s002=$kit
ctm dispensations EU-CT-2026-500123-01

step "15:30  an emergency: the study nurse (investigator) breaks S-002's code"
CTM_USER=tomas CTM_PASSWORD="$tomas_pw" \
  ctm codebreak EU-CT-2026-500123-01 S-002 --reason "anaphylaxis; the treating physician asks"

step "16:00  fridge 2 alarmed: its door was left ajar; the pharmacist imports its logger"
# the logger's export of the last three hours, a reading every 10 minutes, 40 minutes above 8 C
# until the door was closed.  The demo's day runs in seconds, so the kits moved there "at 13:00"
# came just before the door was closed: they are affected, with hardly any time out of range.
now=$(date -u +%s)
{
  echo "time,temperature"
  for i in $(seq 18 -1 0); do
    t=4.8
    [ "$i" -ge 1 ] && [ "$i" -le 4 ] && t="9.$((5 - i))"
    echo "$(date -u -d "@$((now - i * 600))" +%Y-%m-%dT%H:%M:%SZ),$t"
  done
} > "$dir/fridge-2-logger.csv"
ctm temp import FRIDGE-2 "$dir/fridge-2-logger.csv"
ctm excursions --open
ctm excursion show 1
ctm kits --trial EU-CT-2026-500123-01 --location FRIDGE-2

step "16:15  the sponsor's temperature team releases the kits; the pharmacist records it, e-signed"
ctm excursion decide 1 --release --reference "SPONSOR-TE-2026-0117"
ctm excursion report 1
ctm kits --trial EU-CT-2026-500123-01 --location FRIDGE-2

step "16:20  S-002 stops treatment: the kit comes back with 29 tablets; it never returns to stock"
ctm return EU-CT-2026-500123-01 "$kit_s002" --units 29 --condition "opened, one tablet taken"
ctm compliance EU-CT-2026-500123-01
ctm kit status EU-CT-2026-500123-01 "$kit_s002" pending_destruction \
  --reason "returned by subject S-002; to be destroyed on site"

step "16:30  the pharmacist changes her password"
CTM_USER=petra CTM_PASSWORD="$petra_pw" CTM_NEW_PASSWORD="$petra_new_pw" ctm user passwd
export CTM_PASSWORD="$petra_new_pw"

step "16:40  S-002's kit is destroyed on site; the monitor witnesses it with her own password"
CTM_WITNESS_PASSWORD="$maria_pw" ctm destroy EU-CT-2026-500123-01 --method incineration \
  --certificate DC-2026-0001 --witness maria "$kit_s002"
ctm destructions EU-CT-2026-500123-01

step "16:45  every kit accounted for: the reconciliation balances (ctm reconcile exits 1 if not)"
ctm reconcile EU-CT-2026-500123-01
ctm report subjects EU-CT-2026-500123-01 --csv

step "16:50  the monitor signs the reconciliation off and witnesses the day's checkpoint"
CTM_USER=maria CTM_PASSWORD="$maria_pw" ctm signoff EU-CT-2026-500123-01 --reconciliation \
  --comment "monitoring visit: accountability reviewed"
ctm audit witness-key --name maria-witness --out "$dir/maria-witness.key"
CTM_USER=maria CTM_PASSWORD="$maria_pw" ctm audit witness --key-file "$dir/maria-witness.key" \
  --state "$dir/maria-witness-state" --site-vkey "$(cat "$dir/site.vkey")"

step "17:00  the audit trail since the receipt was confirmed"
ctm audit log --last 12
ctm audit prove 3

step "17:05  end of day: verify with the key and checkpoint kept outside the database"
ctm audit verify --key-file "$dir/site.vkey" --checkpoint "$dir/checkpoint-morning.txt"

step "the demo database, to go on by hand"
echo "database  $CTM_DB (site key file $CTM_DB.key, verifier key $dir/site.vkey)"
echo
printf '%-8s %-13s %s\n' user role password \
  admin admin "$admin_pw" \
  petra pharmacist "$petra_new_pw" \
  tomas investigator "$tomas_pw" \
  maria monitor "$maria_pw"
echo
echo "for example:"
echo "  export LD_LIBRARY_PATH=$root/build/libctm CTM_DB=$CTM_DB CTM_USER=petra"
echo "  $root/build/examples/cli/ctm kits --trial EU-CT-2026-500123-01"
