#!/usr/bin/env bash
# Install what is missing, build, and run every test suite of libctm:
#   unit (Check), python (pytest), cli (pytest driving ctm), abi, and the same on PostgreSQL
#   (seam, server, unit-pg, cli-pg, python-pg) inside a throw-away cluster (pg_virtualenv),
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
  local name=$1 t0=$SECONDS; shift
  echo "== $name"
  "$@" || status=1
  echo "== $name: $((SECONDS - t0)) s"
}

# Every suite in one meson run, so that the two back ends' suites share the cores: inside a
# throw-away PostgreSQL cluster (pg_virtualenv, from postgresql-common), the suites that need a
# server (seam, server, unit-pg, cli-pg, python-pg) run on it; CTM_TEST_PG_CLUSTER names the
# cluster, which test_server restarts mid-run.  Without pg_virtualenv they skip, and CI fails.
if [ -x /usr/bin/pg_virtualenv ] && grep -q CTM_HAVE_POSTGRES build/compile_commands.json; then
  run "all suites, on SQLite and on PostgreSQL (pg_virtualenv)" \
    env CTM_TEST_PG_CLUSTER=15/regress pg_virtualenv -v 15 \
    meson test -C build --print-errorlogs --no-rebuild
else
  run "all suites, on SQLite only" meson test -C build --print-errorlogs --no-rebuild
  echo "PostgreSQL suites skipped: no pg_virtualenv or no PostgreSQL back end in the build"; status=1
fi
cp build/meson-logs/testlog.json "$logs/main.json" 2>/dev/null

fuzz_results=()
if [ $quick -eq 0 ]; then
  if [ ! -f build-asan/build.ninja ]; then
    CC=clang CXX=clang++ meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined \
      -Db_lundef=false -Dpython=false -Dfuzz=true -Dc_args=-fno-sanitize-recover=all >/dev/null \
      || { echo "sanitizer build: configure failed"; status=1; }
  fi
  if ninja -C build-asan >/dev/null; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    # in no-fork mode: every test of a suite in one process, so that state one test leaves behind
    # (a leak, a stale handle) meets the next
    run "unit + abi suites under ASan+UBSan (clang), no-fork mode" \
      meson test -C build-asan --setup nofork --suite unit --suite abi --print-errorlogs --no-rebuild
    cp build-asan/meson-logs/testlog.json "$logs/asan.json" 2>/dev/null
    # two targets at a time (one per core), 10 s each; a target's log is shown when it fails
    fuzz_one() {
      local f=$1 corpus; corpus=$(mktemp -d)
      "$f" -max_total_time=10 -rss_limit_mb=2048 "$corpus" >"$logs/$(basename "$f").log" 2>&1
      local rc=$?; rm -rf "$corpus"; return $rc
    }
    targets=(); for f in build-asan/tests/fuzz/fuzz_*; do
      [ -f "$f" ] && [ -x "$f" ] && targets+=("$f")
    done
    t0=$SECONDS
    for ((i = 0; i < ${#targets[@]}; i += 2)); do
      pids=()
      for f in "${targets[@]:i:2}"; do
        echo "== $(basename "$f"): 10 s of fuzzing"
        fuzz_one "$f" & pids+=("$!:$f")
      done
      for pf in "${pids[@]}"; do
        if wait "${pf%%:*}"; then
          fuzz_results+=("pass")
        else
          f=${pf#*:}; fuzz_results+=("fail"); status=1
          echo "== $(basename "$f") failed:"; tail -30 "$logs/$(basename "$f").log"
        fi
      done
    done
    echo "== fuzzing: $((SECONDS - t0)) s"
  else
    echo "sanitizer build failed"; status=1
  fi
fi

/usr/bin/python3 - "$logs" "${fuzz_results[@]}" <<'PY'
# Count test cases, not suites: Check prints "Checks: N, Failures: F, Errors: E", pytest
# "N passed, F failed, E error in Ts"; any other test counts once by its result.
import json, pathlib, re, sys
passed = failed = 0
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    for line in f.read_text().splitlines():
        if not line.strip():
            continue
        t = json.loads(line)
        if t.get("result") == "SKIP":
            continue  # a suite that needs a server, outside pg_virtualenv: run again inside it
        out = t.get("stdout") or ""
        ok = t.get("result") in ("OK", "EXPECTEDFAIL")
        check = re.findall(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)", out)
        summary = re.findall(r"^=*\s*((?:\d+ \w+(?:, )?)+) in [0-9.]+s", out, re.M)
        p = x = 0
        if check:
            n, fl, er = map(int, check[-1])
            p, x = n - fl - er, fl + er
        elif summary:
            counts = dict((k, int(v)) for v, k in re.findall(r"(\d+) (\w+)", summary[-1]))
            p = counts.get("passed", 0)
            x = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
        else:
            p, x = (1, 0) if ok else (0, 1)
        if not ok and x == 0:
            x = 1  # the suite failed without naming a failing case (crash, timeout)
        passed += p
        failed += x
for r in sys.argv[2:]:
    passed += r == "pass"
    failed += r == "fail"
print(f"{passed} passed, {failed} failed")
PY
rm -rf "$logs"
exit $status
