#!/bin/sh
# The ABI of the built libctm against the baseline of the last release (tests/abi/libctm.abi):
# additions pass, anything that breaks an existing caller fails.  After a release that adds
# symbols, refresh the baseline with:
#   abidw --headers-dir libctm/include --no-corpus-path --out-file tests/abi/libctm.abi build/libctm/libctm.so.1.0.0
set -u
baseline=$1
lib=$2
headers=$3
abidiff --headers-dir2 "$headers" "$baseline" "$lib"
rc=$?
# abidiff's status is a bit field: 1 error, 2 usage, 4 ABI changed, 8 incompatible change
if [ $((rc & 3)) -ne 0 ]; then
  echo "abidiff could not compare (status $rc)"
  exit 1
fi
if [ $((rc & 8)) -ne 0 ]; then
  echo "incompatible ABI change against $baseline"
  exit 1
fi
[ $((rc & 4)) -ne 0 ] && echo "compatible additions to the ABI (refresh the baseline at release)"
echo "ok: no incompatible change against the baseline"
exit 0
