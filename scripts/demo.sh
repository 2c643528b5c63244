#!/usr/bin/env bash
# The libctm demo: install what is missing, build, and run a pharmacy day on an embedded SQLite
# file, ending with a verified audit log.
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
# counter, ctm asks for them without echo.
step "08:00  the site is set up by its administrator"
CTM_NEW_PASSWORD='admin-demo-pass' ctm init --site "University Hospital Trial Pharmacy" \
  --admin admin --name "Astrid Admin"

export CTM_USER=admin CTM_PASSWORD='admin-demo-pass'
step "08:05  staff accounts"
CTM_NEW_PASSWORD='pharm-demo-pass' ctm user add petra --role pharmacist --unblinded --name "Petra Lind"
CTM_NEW_PASSWORD='tech-demo-pass1' ctm user add tomas --role technician --name "Tomas Berg"
CTM_NEW_PASSWORD='moni-demo-pass1' ctm user add maria --role monitor --name "Maria Monitor"
ctm user list

step "08:10  the monitor keeps the site's verifier key and today's first checkpoint"
ctm audit pubkey > "$dir/site.vkey"
ctm audit checkpoint > "$dir/checkpoint-morning.txt"
cat "$dir/site.vkey"

step "09:30  a technician mistypes a password (recorded), then records a note"
if CTM_USER=tomas CTM_PASSWORD='wrong-password' ctm audit note "fridge 2 checked" 2>&1; then
  echo "demo: a wrong password was accepted" >&2; exit 1
fi
CTM_USER=tomas CTM_PASSWORD='tech-demo-pass1' ctm audit note "fridge 2 checked: 5.1 C at 09:30"

step "11:00  the pharmacist records the sponsor's phone instruction with her e-signature"
CTM_USER=petra CTM_PASSWORD='pharm-demo-pass' \
  ctm audit note "Sponsor call: shipment SH-0042 delayed to Thursday" --sign "recorded instruction"

step "14:00  account changes: the technician moves to the ward team"
ctm user role tomas --role investigator --reason "joined the ward team as study nurse"

step "16:30  the pharmacist changes her password"
CTM_USER=petra CTM_PASSWORD='pharm-demo-pass' CTM_NEW_PASSWORD='pharm-demo-pass2' ctm user passwd

step "17:00  the day's audit trail"
ctm audit log
ctm audit prove 3

step "17:05  end of day: verify with the key and checkpoint kept outside the database"
ctm audit verify --key-file "$dir/site.vkey" --checkpoint "$dir/checkpoint-morning.txt"
echo
echo "demo database: $CTM_DB (key file $CTM_DB.key)"
