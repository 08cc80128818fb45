#!/usr/bin/env bash
# Runs the pg_regress suite (make installcheck) against a throw-away
# PostgreSQL whose every process runs under valgrind memcheck, then reads the
# valgrind logs: any invalid access, use of uninitialised memory or definite
# leak with a wix_admin.so frame fails the run.  Errors elsewhere (PostgreSQL,
# libraries) are counted and shown, not failed: test/valgrind.supp holds the
# known false positives.
#
#   test/valgrind.sh                  # the whole REGRESS list of the Makefile
#   test/valgrind.sh read_path admin  # some of its tests
#   make valgrind-check               # the same as the first
#   EXTRA='python3 test/test_memory.py' test/valgrind.sh   # and the fault paths
#
# VG_LEAK_KINDS=all shows every leak kind in the logs (only definite ones fail).
# Needs valgrind, the extension built and installed (make && make install),
# python3 for the emulators.  Runs as root (the cluster runs as postgres) or as
# a user who may run initdb.  On demand, not in CI: it takes minutes.
# Note: without a PostgreSQL built with USE_VALGRIND, memory contexts are not
# instrumented, so a pfree'd palloc chunk read again goes unnoticed; malloc'd
# memory (libcurl, json-c) is fully checked.  Keeps the logs on failure (path
# printed) or with KEEP=1.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
source test/lib.sh

command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
bindir=$(pg_config --bindir)
libdir=$(pg_config --pkglibdir)
[ -f "$libdir/wix_admin.so" ] || { echo "wix_admin is not installed: make && make install" >&2; exit 2; }

work=$(mktemp -d /tmp/wix_valgrind.XXXXXX)
chmod 755 "$work"
mkdir -p "$work/vg"
if [ "$(id -u)" = 0 ]; then
  chown -R postgres "$work"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pg_pid=""

cleanup() {
  if [ -n "$pg_pid" ]; then
    as_pg "$bindir/pg_ctl" -D "$work/data" -m fast -w -t 300 stop >/dev/null 2>&1 || true
    wait "$pg_pid" 2>/dev/null || true
  fi
  stop_emulators
}
trap cleanup EXIT

echo "== initdb in $work"
as_pg "$bindir/initdb" -D "$work/data" -A trust -U postgres --no-sync >"$work/initdb.log" 2>&1 ||
  { cat "$work/initdb.log"; exit 2; }

echo "== postgres under valgrind on port $port (slow to start)"
as_pg valgrind --quiet --tool=memcheck --trace-children=yes \
  --leak-check=full --show-leak-kinds="${VG_LEAK_KINDS:-definite}" --errors-for-leak-kinds=definite \
  --num-callers=40 --error-limit=no --read-inline-info=yes --fullpath-after= \
  --suppressions="$repo/test/valgrind.supp" --gen-suppressions=all \
  --log-file="$work/vg/%p.log" \
  "$bindir/postgres" -D "$work/data" -p "$port" -k "$work" -c listen_addresses=127.0.0.1 \
  -c max_connections=20 -c shared_buffers=16MB -c huge_pages=off -c fsync=off \
  -c statement_timeout=0 -c log_min_messages=warning \
  >"$work/postgres.log" 2>&1 &
pg_pid=$!
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres
unset PGPASSWORD PGSERVICE PGCLUSTER 2>/dev/null || true
for _ in $(seq 1 600); do
  "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" && break
  kill -0 "$pg_pid" 2>/dev/null || { echo "postgres did not start:"; cat "$work/postgres.log"; exit 2; }
  sleep 0.5
done
"$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" || { echo "postgres did not start in time"; exit 2; }

start_emulator WIX_EMULATOR_URL --catalog V3 || exit 2
start_emulator WIX_EMULATOR_V1_URL --catalog V1 || exit 2

tests=""
if [ $# -gt 0 ]; then tests="REGRESS=$*"; fi
echo "== make installcheck $tests"
regress_rc=0
# shellcheck disable=SC2086
make -s installcheck $tests || regress_rc=$?
[ "$regress_rc" -eq 0 ] || head -100 regression.diffs 2>/dev/null
# EXTRA="python3 test/test_memory.py": more to run under valgrind (the fault
# paths); its outcome is shown, only valgrind's verdict counts (timing
# assertions cannot hold under valgrind).
if [ -n "${EXTRA:-}" ]; then
  echo "== $EXTRA"
  bash -c "$EXTRA" || echo "(EXTRA failed under valgrind: rc $?)"
fi

echo "== stopping postgres (leak checks run as the processes exit)"
as_pg "$bindir/pg_ctl" -D "$work/data" -m fast -w -t 600 stop >/dev/null 2>&1
wait "$pg_pid" 2>/dev/null
pg_pid=""
stop_emulators

# Each valgrind report is a run of "==PID== " lines ended by a bare one; a
# frame in wix_admin is one in wix_admin.so or in one of its src/**/*.c files.
ours_files=$(cd src && ls *.c */*.c | xargs -n1 basename | sed 's/\.c$//' | paste -sd'|')
python3 - "$work/vg" "$ours_files" <<'EOF'
import glob, os, re, sys

ours_rx = re.compile(r"wix_admin\.so|/src/(?:\w+/)?(%s)\.c:\d+" % sys.argv[2])
kinds = re.compile(r"Invalid (read|write|free)|Mismatched free|uninitialised|"
                   r"Conditional jump|definitely lost|Source and destination overlap|"
                   r"fishy|invalid file descriptor|Syscall param")
ours, others = [], []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.log"))):
    block = []
    for line in open(path, errors="replace").read().splitlines() + ["==0== "]:
        m = re.match(r"^==\d+== ?(.*)$", line)
        if not m:
            continue                    # generated suppressions, other output
        text = m.group(1)
        if text.strip():
            block.append(text)
            continue
        if block and kinds.search(block[0]):
            (ours if any(ours_rx.search(l) for l in block) else others).append(
                (os.path.basename(path), block))
        block = []

def show(items, limit):
    for name, block in items[:limit]:
        print("--- %s" % name)
        print("\n".join(block[:40]))

print("valgrind: %d report(s) in wix_admin code, %d elsewhere" % (len(ours), len(others)))
if others:
    print("(elsewhere, the first ones; add true false positives to test/valgrind.supp)")
    show(others, 5)
if ours:
    print("== reports in wix_admin code")
    show(ours, 50)
sys.exit(1 if ours else 0)
EOF
vg_rc=$?

if [ "$regress_rc" -ne 0 ] || [ "$vg_rc" -ne 0 ] || [ "${KEEP:-0}" = 1 ]; then
  echo "logs kept in $work (valgrind: $work/vg)"
  trap - EXIT
  stop_emulators
else
  rm -rf "$work"
fi
if [ "$regress_rc" -ne 0 ]; then echo "valgrind-check: regression tests FAILED"; exit 1; fi
if [ "$vg_rc" -ne 0 ]; then echo "valgrind-check: FAILED"; exit 1; fi
echo "valgrind-check: clean"
