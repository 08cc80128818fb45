#!/usr/bin/env bash
# Runs every wix_admin test on a fresh Debian 12 machine, as root:
# installs missing packages, builds and installs the extension, then runs the
# suites inside a throw-away PostgreSQL cluster (pg_virtualenv) against
# emulators it starts on loopback.  Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

test/install_deps.sh
make -s clean >/dev/null
make -s 2>&1 | { grep -v '^$' || true; }
make -s install >/dev/null
# shared_preload_libraries: the background worker delivering deferred actions
exec pg_virtualenv -v 15 -o shared_preload_libraries=wix_admin bash test/run_in_cluster.sh
