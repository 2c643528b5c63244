#!/bin/sh
# The library exports exactly the symbols named in the version script, and ctm.h declares them all.
set -eu
lib=$1
map=$2
header=$(dirname "$map")/../include/ctm.h
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | grep -v '^CTM_1' | sort -u)
listed=$(sed -n 's/^ *\(ctm_[a-z0-9_]*\);$/\1/p' "$map" | sort -u)
declared=$(tr '\n' ' ' < "$header" | grep -oE 'CTM_API[^;]*\(' | grep -oE 'ctm_[a-z0-9_]+\($' | tr -d '(' | sort -u)
status=0
if [ "$exported" != "$listed" ]; then
  echo "exported symbols differ from $map:"
  diff -u /dev/fd/3 /dev/fd/4 3<<E1 4<<E2 || true
$listed
E1
$exported
E2
  status=1
fi
if [ "$declared" != "$listed" ]; then
  echo "functions declared CTM_API in ctm.h differ from $map:"
  diff -u /dev/fd/3 /dev/fd/4 3<<E1 4<<E2 || true
$listed
E1
$declared
E2
  status=1
fi
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
if [ "$soname" != "libctm.so.1" ]; then
  echo "SONAME is '$soname', expected libctm.so.1"
  status=1
fi
[ $status -eq 0 ] && echo "ok: $(echo "$listed" | wc -l) symbols, SONAME $soname"
exit $status
