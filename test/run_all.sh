#!/usr/bin/env bash
# Runs every wix_admin test on a fresh Debian 12 machine, as root:
# installs missing packages, builds the extension, tests its Debian package
# (test/test_package.sh), installs the extension, then runs the suites inside
# a throw-away PostgreSQL cluster (pg_virtualenv) against emulators it starts
# on loopback.  Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

test/install_deps.sh
make -s clean >/dev/null
make -s 2>&1 | { grep -v '^$' || true; }

# The Debian package (about 40 s): builds it, installs it in place of the files
# of make install, runs the demo in its own cluster, purges it and puts the
# files back.  Counted as one test in the total below.
echo "== test/test_package.sh"
if bash test/test_package.sh; then
  export WIX_PASSED_BEFORE=1 WIX_FAILED_BEFORE=0
else
  export WIX_PASSED_BEFORE=0 WIX_FAILED_BEFORE=1
fi

make -s install >/dev/null
# shared_preload_libraries: the background worker delivering deferred actions
exec pg_virtualenv -v 15 -o shared_preload_libraries=wix_admin bash test/run_in_cluster.sh
