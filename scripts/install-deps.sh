#!/usr/bin/env bash
# Install what libctm needs on Debian 12, and nothing when it is all there already.
#   scripts/install-deps.sh            build + test dependencies
# apt-get runs as root, or through sudo when the caller is not root.
set -euo pipefail

packages=(
  # build
  gcc g++ pkg-config meson ninja-build libsqlite3-dev libsodium-dev swig python3-dev
  # the PostgreSQL back end (libpq), and the server the tests start throw-away clusters of
  libpq-dev postgresql postgresql-common
  # tests: unit (Check), Python and CLI suites, sanitizers and fuzzing, ABI checks
  check python3-pytest clang libclang-rt-14-dev valgrind abigail-tools binutils
  # the zoneinfo files the time zone tests read (tests/unit/test_tz.c)
  tzdata
  # the independent ledger verifier (examples/python/verify_ledger.py) and Python reports
  python3-cryptography python3-pandas python3-matplotlib
  # the property tests (hypothesis); printable reports rendered to PDF by headless Chromium and
  # read back (pdftotext)
  python3-hypothesis chromium poppler-utils
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
