#!/usr/bin/env bash
# On demand, not in CI: builds and tests wix_admin against every PostgreSQL
# release it supports (15, 17, 18), as root.  For each version it
#   1. builds the server from Debian's source package (postgresql-15 from
#      bookworm, -18 from sid) into $WIX_PG_CACHE/<version> (default
#      /var/cache/wix_admin-pg), once: later runs reuse it;
#   2. builds wix_admin against that pg_config in a scratch copy of this tree
#      (a compiler warning counts as one failure) and installs it there;
#   3. runs test/run_in_cluster.sh inside pg_virtualenv of that version, in a
#      private mount namespace where /usr/lib/postgresql/<version> is the cached
#      server, so pg_virtualenv and pg_ctlcluster work as in CI;
# and prints one line per version, e.g. "PG 17.7: 120 passed, 0 failed".
#
# The versions in $WIX_PG_PACKAGED (default 17) are Debian's own binary
# packages instead, installed once into a debootstrap root of their suite,
# $WIX_PG_CACHE/root-<suite> (17: trixie), where steps 2 and 3 then run
# chrooted (in a private mount namespace with /proc and /dev): deb.debian.org
# serves trixie's postgresql-17 binaries but answers 404 for the source files
# its Sources index lists, and the binaries need trixie's glibc.  The choice is
# made up front, not as a fallback when a download fails, so that a version is
# always tested on the same kind of build.
#
#   test/pg_matrix.sh                          every suite on 15, 17 and 18
#   WIX_PG_VERSIONS="17 18" test/pg_matrix.sh regress test/test_queue.py
#
# The machine's own apt sources and its /usr/lib/postgresql/15 stay untouched:
# the Debian sources are read through a sources file in the cache, and a root
# has sources of its own.
set -uo pipefail
cd "$(dirname "$0")/.."

cache=${WIX_PG_CACHE:-/var/cache/wix_admin-pg}
versions=${WIX_PG_VERSIONS:-15 17 18}
packaged=" ${WIX_PG_PACKAGED:-17} "
work=$(mktemp -d -t wix_pg_matrix.XXXXXX)
trap 'rm -rf "$work"' EXIT

debian_suite() {
  case $1 in
    15) echo bookworm ;;
    17) echo trixie ;;
    18) echo sid ;;
    *) return 1 ;;
  esac
}

# fetch_source VERSION DIR: the upstream tarball of Debian's postgresql-VERSION
# (from its suite's source index, read through a sources file of our own),
# unpacked into DIR/postgresql-<x.y>; prints that directory.
fetch_source() {
  local v=$1 dir=$2 apt=$cache/apt/$1
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
       "http://deb.debian.org/debian $(debian_suite "$v") main" >"$apt/sources.list"
  local opts=(-q -o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=/dev/null
              -o "Dir::State::lists=$apt/lists" -o "Dir::Cache=$apt/cache"
              -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" update >&2 &&
    (cd "$dir" && apt-get "${opts[@]}" source --download-only "postgresql-$v") >&2 &&
    tar -xf "$dir"/postgresql-"$v"_*.orig.tar.* -C "$dir" &&
    ls -d "$dir"/postgresql-"$v".*/
}

# build_server VERSION: $cache/VERSION holds a complete server build
# (marked by .complete); builds it when it does not.  Without docs, readline,
# ICU or LLVM; with lz4 and zlib, as Debian's packages.
build_server() {
  local v=$1 prefix=$cache/$1
  [ -f "$prefix/.complete" ] && return 0
  echo "== PostgreSQL $v: building into $prefix (once; about 5 minutes)"
  rm -rf "$prefix"
  local dir="$work/server-$v" src log="$cache/build-$v.log"
  mkdir -p "$dir"
  src=$(fetch_source "$v" "$dir") || { echo "could not fetch postgresql-$v" >&2; return 1; }
  if ! (cd "$src" &&
        ./configure --prefix="$prefix" --without-readline --without-icu --without-llvm \
                    --with-lz4 &&
        make -j"$(nproc)" && make install) >"$log" 2>&1; then
    echo "building PostgreSQL $v failed, see $log" >&2
    return 1
  fi
  touch "$prefix/.complete"
  rm -rf "$dir"
}

# in_root ROOT COMMAND...: COMMAND chrooted into ROOT, in a private mount
# namespace where ROOT has /proc, /dev (with /dev/pts and /dev/shm) and, at
# /mnt, this run's scratch directory; the mounts end with the namespace.
in_root() {
  unshare --mount --propagation private bash -c '
    root=$1 mnt=$2; shift 2
    mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" &&
      mount --bind "$mnt" "$root/mnt" || exit 1
    exec chroot "$root" "$@"' _ "$1" "$work" "${@:2}"
}

# build_root VERSION: $cache/root-<suite> is a debootstrap root of VERSION's
# Debian suite with its postgresql-VERSION packages (marked by .complete);
# makes it when it is not.  No service starts there (policy-rc.d).
build_root() {
  local v=$1 suite; suite=$(debian_suite "$1")
  local root=$cache/root-$suite log=$cache/root-$suite.log
  [ -f "$root/.complete" ] && return 0
  echo "== PostgreSQL $v: Debian's packages into $root (once; a few minutes)"
  rm -rf --one-file-system "$root"
  if ! { unshare --mount --propagation private \
           debootstrap --variant=minbase "$suite" "$root" http://deb.debian.org/debian &&
         printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" &&
         chmod +x "$root/usr/sbin/policy-rc.d" &&
         in_root "$root" apt-get -q update &&
         in_root "$root" env DEBIAN_FRONTEND=noninteractive \
           apt-get -q install -y --no-install-recommends \
           "postgresql-$v" "postgresql-server-dev-$v" postgresql-common \
           libcurl4-openssl-dev libjson-c-dev pkg-config make gcc python3 curl &&
         in_root "$root" apt-get clean; } >"$log" 2>&1; then
    echo "making the $suite root failed, see $log" >&2
    return 1
  fi
  touch "$root/.complete"
}

# report LINE: prints the line now and again in the summary at the end
report() {
  echo "$1"
  echo "$1" >>"$work/summary"
}

# run_version VERSION [suites...]: prints "PG <x.y>: N passed, N failed".
run_version() {
  local v=$1; shift
  # in: the command prefix that runs a command where the server is (nothing,
  # or in_root); build: the scratch copy of the tree, as seen there
  local in=() build=$work/wix_admin-$v pg_config=$cache/$v/bin/pg_config root=
  if [[ $packaged == *" $v "* ]]; then
    root=$cache/root-$(debian_suite "$v")
    in=(in_root "$root")
    build=/mnt/wix_admin-$v
    pg_config=/usr/lib/postgresql/$v/bin/pg_config
  fi
  (
    flock 9
    if [ -n "$root" ]; then build_root "$v"; else build_server "$v"; fi
  ) 9>"$cache/$v.lock" || { report "PG $v: 0 passed, 1 failed (no server)"; return 1; }
  local release; release=$("${in[@]}" "$pg_config" --version | awk '{ print $2 }')

  # wix_admin, built in a copy of the tree (the checkout's objects stay as they are)
  mkdir -p "$work/wix_admin-$v"
  git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - |
    tar -xf - -C "$work/wix_admin-$v"
  local mk=("${in[@]}" make -s -C "$build" PG_CONFIG="$pg_config")
  local out=$work/make-$v.log warnings
  if ! "${mk[@]}" >"$out" 2>&1 || ! "${mk[@]}" install >>"$out" 2>&1; then
    cat "$out"
    report "PG $release: 0 passed, 1 failed (wix_admin does not build)"
    return 1
  fi
  warnings=$(grep -c 'warning:' "$out")
  [ "$warnings" -eq 0 ] || cat "$out"

  # the suites: in the root, or with /usr/lib/postgresql/$v (pg_virtualenv's
  # and pg_ctlcluster's only place for a server) bound to the cached build in
  # a mount namespace
  local log=$work/run-$v.log
  if [ -n "$root" ]; then
    in_root "$root" pg_virtualenv -t -v "$v" -o shared_preload_libraries=wix_admin \
      bash "$build/test/run_in_cluster.sh" "$@"
  else
    mkdir -p "$work/bin-root/$v"
    unshare --mount --propagation private bash -c '
      v=$3
      mount --bind "$1" /usr/lib/postgresql && mount --bind "$2" "/usr/lib/postgresql/$v" || exit 1
      shift 3
      PATH=/usr/lib/postgresql/$v/bin:$PATH
      exec pg_virtualenv -t -v "$v" -o shared_preload_libraries=wix_admin \
        bash "$@"' _ "$work/bin-root" "$cache/$v" "$v" "$build/test/run_in_cluster.sh" "$@"
  fi 2>&1 | tee "$log"
  local total passed failed
  total=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
  passed=$(echo "$total" | awk '{ print $1 + 0 }')
  failed=$(echo "$total" | awk '{ print $3 + 0 }')
  [ -n "$total" ] || failed=$((failed + 1))
  failed=$((failed + (warnings > 0)))
  report "PG $release: $passed passed, $failed failed$([ "$warnings" -eq 0 ] ||
                                                      echo " ($warnings compiler warnings)")"
  [ "$failed" -eq 0 ]
}

WIX_ADMIN_WITH_PG_BUILD=1 test/install_deps.sh || exit 1
mkdir -p "$cache"
status=0
for v in $versions; do
  debian_suite "$v" >/dev/null || { echo "unsupported version: $v" >&2; exit 2; }
  echo "=== PostgreSQL $v"
  run_version "$v" "$@" || status=1
done
echo
cat "$work/summary" 2>/dev/null
exit $status
