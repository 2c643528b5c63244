#!/usr/bin/env bash
# Install what is missing, build, and run every test suite of libctm:
#   unit (Check, in fork and no-fork mode), python (pytest), cli (pytest driving ctm), abi,
#   then the unit and abi suites again built with clang under AddressSanitizer and
#   UndefinedBehaviorSanitizer, and a short run of each libFuzzer target.
# Ends with one line: "N passed, N failed" over every test case of every suite.
#   scripts/test.sh [--quick]    --quick: skip the sanitizer build and the fuzz runs
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
quick=0
[ "${1:-}" = "--quick" ] && quick=1

"$root/scripts/install-deps.sh" || exit 1
"$root/scripts/build.sh" || { echo "0 passed, 1 failed"; exit 1; }

logs=$(mktemp -d /tmp/ctm-test-logs.XXXXXX)
status=0

run() { # name, then the command; its meson JSON log is copied to $logs/name.json
  local name=$1; shift
  echo "== $name"
  "$@" || status=1
}

run "all suites" meson test -C build --print-errorlogs --no-rebuild
cp build/meson-logs/testlog.json "$logs/main.json" 2>/dev/null
run "unit suites, no-fork mode" meson test -C build --setup nofork --suite unit --print-errorlogs --no-rebuild
cp build/meson-logs/testlog-nofork.json "$logs/nofork.json" 2>/dev/null

fuzz_results=()
if [ $quick -eq 0 ]; then
  if [ ! -f build-asan/build.ninja ]; then
    CC=clang CXX=clang++ meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined \
      -Db_lundef=false -Dpython=false -Dfuzz=true -Dc_args=-fno-sanitize-recover=all >/dev/null \
      || { echo "sanitizer build: configure failed"; status=1; }
  fi
  if ninja -C build-asan >/dev/null; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    run "unit + abi suites under ASan+UBSan (clang)" meson test -C build-asan --suite unit --suite abi --print-errorlogs --no-rebuild
    cp build-asan/meson-logs/testlog.json "$logs/asan.json" 2>/dev/null
    for f in build-asan/tests/fuzz/fuzz_*; do
      [ -x "$f" ] || continue
      echo "== $(basename "$f"): 15 s of fuzzing"
      corpus=$(mktemp -d)
      if "$f" -max_total_time=15 -rss_limit_mb=2048 "$corpus" >"$logs/$(basename "$f").log" 2>&1; then
        fuzz_results+=("pass")
      else
        fuzz_results+=("fail"); status=1; tail -30 "$logs/$(basename "$f").log"
      fi
      rm -rf "$corpus"
    done
  else
    echo "sanitizer build failed"; status=1
  fi
fi

/usr/bin/python3 - "$logs" "${fuzz_results[@]}" <<'PY'
import json, pathlib, re, sys
logs = pathlib.Path(sys.argv[1])
passed = failed = 0
for f in sorted(logs.glob("*.json")):
    for line in f.read_text().splitlines():
        t = json.loads(line)
        out = t.get("stdout", "") or ""
        check = re.findall(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)", out)
        pyt = re.search(r"=+ (.*) in [0-9.]+s", out) or re.search(r"^(\d+ (?:passed|failed).*) in [0-9.]+s", out, re.M)
        if check:
            n, fl, er = map(int, check[-1])
            passed += n - fl - er
            failed += fl + er
        elif pyt:
            s = pyt.group(1)
            p = re.search(r"(\d+) passed", s); x = re.search(r"(\d+) failed", s); e = re.search(r"(\d+) error", s)
            passed += int(p.group(1)) if p else 0
            failed += (int(x.group(1)) if x else 0) + (int(e.group(1)) if e else 0)
        elif t.get("result") == "OK":
            passed += 1
        else:
            failed += 1
        if t.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL") and not (check or pyt):
            pass
        elif t.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL") and failed == 0:
            failed += 1  # a suite that failed without naming a failing case
for r in sys.argv[2:]:
    passed += r == "pass"
    failed += r == "fail"
print(f"{passed} passed, {failed} failed")
PY
rm -rf "$logs"
exit $status
