#!/usr/bin/env bash
# Configure (once) and build libctm in ./build with Debian's python3 for the bindings.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=debugoptimized >/dev/null
fi
ninja -C build >/dev/null
