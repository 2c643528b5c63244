#!/bin/sh
# check_installed.sh BUILDDIR PREFIX LIBDIR
# Installs the build into a scratch DESTDIR and checks what lets an installed ctm start under any
# prefix without LD_LIBRARY_PATH: the library is installed in LIBDIR, and ctm and the Python
# module carry LIBDIR as their run path (none when LIBDIR is a system directory).
set -eu
build=$1 prefix=$2 libdir=$3
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
case "$libdir" in
  /usr/lib | /usr/lib64 | /usr/lib/x86_64-linux-gnu) expected= ;;
  *) expected=$libdir ;;
esac
status=0
if [ ! -e "$dest$libdir/libctm.so.1" ]; then
  echo "libctm.so.1 is not installed in $libdir"
  status=1
fi
for f in "$dest$prefix/bin/ctm" $(find "$dest" -name '__ctm*.so'); do
  runpath=$(readelf -d "$f" | sed -n 's/.*(R[UN]*PATH).*\[\(.*\)\]/\1/p')
  if [ "$runpath" != "$expected" ]; then
    echo "${f#"$dest"}: run path '$runpath', expected '$expected'"
    status=1
  else
    echo "${f#"$dest"}: run path '$runpath'"
  fi
done
exit $status
