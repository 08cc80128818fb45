#!/usr/bin/env bash
# The body of run_all.sh, run inside pg_virtualenv (PGHOST/PGPORT/PGUSER set):
# starts the emulators, runs pg_regress and the Python suites, prints a total.
# With arguments, runs only those: "regress" and/or test/test_*.py files, e.g.
#   pg_virtualenv -t -v 15 -o shared_preload_libraries=wix_admin \
#       bash test/run_in_cluster.sh regress test/test_pushdown.py
set -uo pipefail
cd "$(dirname "$0")/.."
source test/lib.sh
trap stop_emulators EXIT

start_emulator WIX_EMULATOR_URL --catalog V3 || exit 1
start_emulator WIX_EMULATOR_V1_URL --catalog V1 || exit 1
start_emulator WIX_EMULATOR_BIG_URL --orders 5000 --members 5 --products 5 --bookings 5 || exit 1
start_emulator WIX_EMULATOR_BIG_V1_URL --catalog V1 --products 10150 --orders 5 --members 5 --bookings 5 || exit 1

# run_all.sh counts the tests it ran before (test/test_package.sh)
passed=${WIX_PASSED_BEFORE:-0}
failed=${WIX_FAILED_BEFORE:-0}

if [ $# -gt 0 ]; then selected=" $* "; else selected=" regress $(echo test/test_*.py) "; fi
wanted() { [[ "$selected" == *" $1 "* ]]; }

if wanted regress; then
  echo "== pg_regress"
  make -s installcheck | tee regress.log
  # one count per regression file: "test x ... ok" (PG 15) or TAP "ok 1 - x"
  ok=$(grep -cE '\.\.\. ok|^ok [0-9]+ ' regress.log || true)
  bad=$(grep -cE '\.\.\. FAILED|^not ok [0-9]+ ' regress.log || true)
  [ "$ok" -gt 0 ] || bad=$((bad + 1))
  passed=$((passed + ok))
  failed=$((failed + bad))
  if [ "$bad" -gt 0 ] && [ -f regression.diffs ]; then head -200 regression.diffs; fi
  rm -f regress.log
fi

for suite in test/test_*.py; do
  wanted "$suite" || continue
  echo "== $suite"
  out=$(mktemp)
  python3 "$suite" 2>&1 | tee "$out"
  # unittest prints "Ran N tests" and "OK" or "FAILED (failures=F, errors=E)"
  ran=$(sed -n 's/^Ran \([0-9]*\) tests\?.*/\1/p' "$out" | tail -n 1)
  bad=$(awk -F'[=,)]' '/^FAILED \(/ { for (i = 2; i <= NF; i += 2) n += $i } END { print n + 0 }' "$out")
  ran=${ran:-0}; bad=${bad:-0}
  if [ "$ran" -eq 0 ]; then bad=1; fi
  passed=$((passed + ran - bad))
  failed=$((failed + bad))
  rm -f "$out"
done

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
