#!/usr/bin/env bash
# Installs the Debian packages wix_admin needs to build, test and demo,
# skipping those already present.  Run as root on Debian 12.
set -euo pipefail

packages=(
  postgresql-15 postgresql-server-dev-15 postgresql-common
  libcurl4-openssl-dev libjson-c-dev pkg-config make gcc
  python3 curl ca-certificates
  # make deb and test/test_package.sh: pg_buildext, dpkg-buildpackage, lintian
  postgresql-server-dev-all debhelper dpkg-dev lintian git
)
if [ "${WIX_ADMIN_WITH_VALGRIND:-}" = 1 ]; then
  packages+=(valgrind)
fi
# test/pg_matrix.sh builds PostgreSQL servers from source, or installs
# Debian's packages of one into a debootstrap root
if [ "${WIX_ADMIN_WITH_PG_BUILD:-}" = 1 ]; then
  packages+=(bison flex liblz4-dev zlib1g-dev dpkg-dev debootstrap)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
