#!/usr/bin/env bash
# The Debian package test (issue 16), as root on Debian 12, run by
# test/run_all.sh:
#   1. `make deb` builds postgresql-15-wix-admin (pg_buildext), whose name,
#      version, Depends and files are checked, and lintian must report no
#      error or warning beyond the known ones listed below;
#   2. the files of `make install` are set aside, the package is installed
#      with apt (which resolves its Depends) and must own what PostgreSQL loads;
#   3. a new cluster (pg_virtualenv, wix_admin preloaded) runs CREATE EXTENSION
#      and the demo (test/demo.sql) against the bundled emulator; the output
#      must equal test/demo.expected, and the background launcher must run;
#   4. always, even on failure: the package is purged and the set-aside files
#      are put back, so the machine is as before.
# It installs into the machine's PostgreSQL: where other sessions share it,
# run it under their lock, e.g. `flock /tmp/wix_pg.lock test/test_package.sh`.
# WIX_PACKAGE_DEB=path skips the build and tests that .deb (no lintian).
# WIX_UPDATE_EXPECTED=1 writes test/demo.expected from this run (review it).
# Ends with "test_package: ok" or "test_package: FAILED: <reason>", exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

fail() { echo "test_package: FAILED: $*" >&2; exit 1; }
step() { echo "-- $*"; }
[ "$(id -u)" = 0 ] || fail "run as root (it installs a package)"

pgver=15
pkg=postgresql-$pgver-wix-admin
pkglibdir=$(/usr/lib/postgresql/$pgver/bin/pg_config --pkglibdir)
extdir=$(/usr/lib/postgresql/$pgver/bin/pg_config --sharedir)/extension
version=$(sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" wix_admin.control)
data=$(make -s --no-print-directory -f Makefile -f <(echo 'print-data: ; @echo $(DATA)') print-data)
python3 test/check_versions.py $data

work=$(mktemp -d /tmp/wix_package_test.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM   # so that the EXIT trap (the clean-up) runs

# -- 1. build and inspect ------------------------------------------------------
if [ -n "${WIX_PACKAGE_DEB:-}" ]; then
  deb=$WIX_PACKAGE_DEB
else
  step "make deb"
  start=$SECONDS
  make -s deb >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log"; fail "make deb"; }
  echo "   built in $((SECONDS - start)) s"
  deb=$(ls build/deb/${pkg}_*_amd64.deb)
fi
[ -f "$deb" ] || fail "no package $deb"
echo "   $deb"

field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = "$pkg" ] || fail "package name $(field Package), want $pkg"
debver=$(field Version)
[ "${debver%%[+~]*}" = "$version" ] || fail "package version $debver, want $version"
[ "$(basename "$deb")" = "${pkg}_${debver}_amd64.deb" ] || fail "file name $(basename "$deb")"
depends=$(field Depends)
echo "   Depends: $depends"
for dep in "postgresql-$pgver" libcurl4 libjson-c5 libc6; do
  [[ ", $depends," == *", $dep "* || ", $depends," == *", $dep,"* ]] ||
    fail "Depends lacks $dep"
done

dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./|/|' >"$work/files"
want=("$pkglibdir/wix_admin.so" "$extdir/wix_admin.control"
      "/usr/share/doc/$pkg/copyright")
for f in $data; do want+=("$extdir/$(basename "$f")"); done
for f in "${want[@]}"; do
  grep -qxF "$f" "$work/files" || fail "the package lacks $f"
done
# no file outside PostgreSQL's directories and the package's doc directory
if grep -vE "^($pkglibdir|$extdir|/usr/share/doc/$pkg)/" "$work/files" >"$work/stray"; then
  cat "$work/stray"; fail "files outside PostgreSQL's directories"
fi

if [ -z "${WIX_PACKAGE_DEB:-}" ]; then
  step "lintian"
  # Known, and left as they are (README, "Packaging"): bogus-mail-host*, the
  # placeholder maintainer address wix-admin@localhost
  known=bogus-mail-host,bogus-mail-host-in-debian-changelog
  changes=$(ls build/deb/wix-admin_*_amd64.changes)
  lintian --suppress-tags "$known" "$changes" >"$work/lintian" 2>&1 || true
  grep -v '^running with root privileges' "$work/lintian" || true
  if grep -qE '^[EW]: ' "$work/lintian"; then fail "lintian errors or warnings"; fi
fi

# -- 2. install ----------------------------------------------------------------
ext_files() {   # what `make install` puts into the machine's PostgreSQL 15
  local f
  for f in "$pkglibdir/wix_admin.so" "$pkglibdir/bitcode/wix_admin.index.bc" \
           "$pkglibdir/bitcode/wix_admin" "$extdir"/wix_admin.control "$extdir"/wix_admin--*.sql; do
    [ -e "$f" ] && echo "$f"
  done
  return 0
}
restore() {
  set +e
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed; then
    echo "-- dpkg -P $pkg"
    dpkg -P "$pkg" >"$work/purge.log" 2>&1 || cat "$work/purge.log"
  fi
  if [ -s "$work/saved.tar" ]; then
    echo "-- putting back the files of make install"
    tar -xpf "$work/saved.tar" -C / || echo "test_package: could not restore $work/saved.tar" >&2
  fi
  rm -rf "$work"
}
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed; then
  fail "$pkg is installed already: purge it first (dpkg -P $pkg)"
fi
trap restore EXIT
step "setting aside the files of make install"
ext_files | sed 's|^/||' >"$work/saved.list"
if [ -s "$work/saved.list" ]; then
  tar -cpf "$work/saved.tar" -C / -T "$work/saved.list"
  ext_files | xargs -r rm -rf
fi
[ -z "$(ext_files)" ] || fail "could not remove the make install files"

step "apt-get install $deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  -o DPkg::Lock::Timeout=300 "$(realpath "$deb")" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "the package does not install"; }
for f in "$pkglibdir/wix_admin.so" "$extdir/wix_admin.control"; do
  owner=$(dpkg -S "$f" 2>/dev/null | cut -d: -f1)
  [ "$owner" = "$pkg" ] || fail "$f belongs to '${owner:-no package}', want $pkg"
done

# -- 3. a new cluster, the extension and the demo --------------------------------
step "pg_virtualenv: CREATE EXTENSION and the demo against the emulator"
cat >"$work/in_cluster.sh" <<'EOF'
set -euo pipefail
out=$1
source test/lib.sh
trap stop_emulators EXIT
start_emulator WIX_BASE_URL --orders 250
export WIX_SITE_ID=5e2f6a3b-1c4d-4e5f-8a9b-0c1d2e3f4a5b
export WIX_CLIENT_ID=wix-emulator-app WIX_CLIENT_SECRET=wix-emulator-secret
unset WIX_API_KEY
psql -X -v ON_ERROR_STOP=1 -q -f test/demo.sql >"$out" 2>"$out.err"
# the background launcher of the preloaded library
for _ in $(seq 1 50); do
  n=$(psql -X -At -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'wix_admin launcher'")
  [ "$n" = 1 ] && break
  sleep 0.2
done
echo "== wix_admin launcher running: $n" >>"$out"
psql -X -At -v ON_ERROR_STOP=1 >>"$out" 2>>"$out.err" <<'SQL'
SELECT '== extension ' || extname || ' ' || extversion FROM pg_extension WHERE extname = 'wix_admin';
SELECT '== shared_preload_libraries = ' || current_setting('shared_preload_libraries');
SQL
EOF
PGTZ=UTC pg_virtualenv -t -v $pgver -o shared_preload_libraries=wix_admin \
    bash "$work/in_cluster.sh" "$work/demo.out" >"$work/cluster.log" 2>&1 || {
  cat "$work/cluster.log"; [ -f "$work/demo.out.err" ] && cat "$work/demo.out.err"
  fail "the cluster run"
}
sed -i "s/^== extension wix_admin $version\$/== extension wix_admin <version>/" "$work/demo.out"

if [ "${WIX_UPDATE_EXPECTED:-}" = 1 ]; then
  cp "$work/demo.out" test/demo.expected
  echo "   wrote test/demo.expected"
elif ! diff -u test/demo.expected "$work/demo.out" >"$work/demo.diff"; then
  cat "$work/demo.diff"
  [ -s "$work/demo.out.err" ] && { echo "stderr:"; cat "$work/demo.out.err"; }
  fail "the demo's output differs from test/demo.expected"
fi
echo "   the demo's output is test/demo.expected ($(wc -l <"$work/demo.out") lines)"

trap - EXIT
restore
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed; then
  fail "$pkg is still installed"
fi
echo "test_package: ok"
