#!/usr/bin/env python3
"""The extension's version is written in a few places; this checks they agree.

wix_admin.control (default_version) is the source.  A version bump also edits:
  * debian/changelog   a new top entry "wix-admin (<version>) unstable; ..."
                       (native package: no Debian revision; dch -v <version>)
  * META.json          "version" and provides.wix_admin.version, as a
                       three-part semantic version (PGXN requires it: 0.2 -> 0.2.0)
  * the Makefile's DATA must list sql/wix_admin--<version>.sql
Run by `make check-version`, `make deb`, `make dist` and test/test_package.sh.
Usage: check_versions.py [DATA...]   (DATA: the Makefile's list, optional)
"""
import json
import os
import re
import sys

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
errors = []


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


m = re.search(r"^default_version\s*=\s*'([^']+)'", read("wix_admin.control"), re.M)
if not m:
    sys.exit("check_versions: no default_version in wix_admin.control")
version = m.group(1)
parts = version.split(".")
if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 3:
    sys.exit("check_versions: default_version %r is not N[.N[.N]]" % version)
semver = ".".join(parts + ["0"] * (3 - len(parts)))

m = re.match(r"^(\S+) \(([^)]+)\)", read("debian/changelog"))
if not m:
    errors.append("debian/changelog: cannot read the top entry")
else:
    source, debver = m.groups()
    # a native package (debian/ is ours): the version itself, or with a
    # +suffix for a packaging-only change (0.1+1)
    upstream = re.split(r"[+~]", re.sub(r"^\d+:", "", debver))[0]
    if source != "wix-admin":
        errors.append("debian/changelog: source %r, want wix-admin" % source)
    if upstream != version or "-" in debver:
        errors.append("debian/changelog: version %s, want %s" % (debver, version))

meta = json.loads(read("META.json"))
for key in ("name", "abstract", "version", "maintainer", "license", "provides",
            "prereqs", "resources", "meta-spec"):
    if key not in meta:
        errors.append("META.json: no %r" % key)
if meta.get("version") != semver:
    errors.append("META.json: version %r, want %r" % (meta.get("version"), semver))
ext = meta.get("provides", {}).get("wix_admin", {})
if ext.get("version") != semver:
    errors.append("META.json: provides.wix_admin.version %r, want %r"
                  % (ext.get("version"), semver))
for key in ("file", "docfile"):
    if ext.get(key) and not os.path.exists(ext[key]):
        errors.append("META.json: provides.wix_admin.%s %s does not exist" % (key, ext[key]))

script = "sql/wix_admin--%s.sql" % version
if not os.path.exists(script):
    errors.append("%s does not exist" % script)
data = sys.argv[1:]
if data and script not in data:
    errors.append("Makefile: DATA does not list %s" % script)

if errors:
    print("Version mismatch (wix_admin.control says %s):" % version, file=sys.stderr)
    for e in errors:
        print("  " + e, file=sys.stderr)
    sys.exit(1)
print("wix_admin %s (PGXN %s, Debian %s): control, debian/changelog, META.json agree"
      % (version, semver, debver))
