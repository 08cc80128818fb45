#!/usr/bin/env bash
# wix_admin demo: installs what is missing (Debian 12, as root), builds and
# installs the extension, starts a throw-away PostgreSQL cluster and shows
# real rows from the four Wix tables.
#
# Against the bundled emulator (default):   ./demo.sh
# Against a real site:
#   WIX_SITE_ID=... WIX_API_KEY=... ./demo.sh
#   WIX_SITE_ID=... WIX_CLIENT_ID=... WIX_CLIENT_SECRET=... ./demo.sh
set -euo pipefail
cd "$(dirname "$0")"

test/install_deps.sh
make -s >/dev/null
make -s install >/dev/null

exec pg_virtualenv -t -v 15 bash -c '
set -euo pipefail
source test/lib.sh
trap stop_emulators EXIT
if [ -z "${WIX_SITE_ID:-}" ]; then
  echo "No WIX_SITE_ID given: using the bundled Wix API emulator."
  start_emulator WIX_BASE_URL --orders 250
  export WIX_SITE_ID=5e2f6a3b-1c4d-4e5f-8a9b-0c1d2e3f4a5b
  export WIX_CLIENT_ID=wix-emulator-app WIX_CLIENT_SECRET=wix-emulator-secret
fi
export WIX_BASE_URL=${WIX_BASE_URL:-https://www.wixapis.com}
psql -X -v ON_ERROR_STOP=1 -q -f test/demo.sql
'
