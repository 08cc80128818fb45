# wix_admin: PGXS build.  `make && make install`, then `make installcheck`
# (test/run_all.sh sets up PostgreSQL and the emulator for the regression run).
# Sources are picked up by folder: src/ (start-up), src/client, src/fdw,
# src/actions, src/queue; one header per subsystem in src/include.

MODULE_big = wix_admin
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/*/*.c)))

EXTENSION = wix_admin
# the version, from the control file (the User-Agent, packages, dist)
EXTVERSION := $(shell sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" $(EXTENSION).control)
DATA = sql/wix_admin--0.1.sql sql/wix_admin--0.2.sql sql/wix_admin--0.3.sql \
       sql/wix_admin--0.1--0.2.sql sql/wix_admin--0.2--0.3.sql

REGRESS = server_options read_path pushdown admin actions queue

PG_CPPFLAGS = -Isrc/include -DWIX_ADMIN_VERSION='"$(EXTVERSION)"' $(shell pkg-config --cflags libcurl json-c)
SHLIB_LINK = $(shell pkg-config --libs libcurl json-c)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track headers, nor the version (the User-Agent) in the
# control file
$(OBJS): $(wildcard src/include/*.h) $(EXTENSION).control

# -- valgrind-check (issue 5): the regression suite under valgrind memcheck;
# on demand, not in CI.  See test/valgrind.sh.
.PHONY: valgrind-check
valgrind-check:
	test/valgrind.sh

# -- Packaging (issue 16); see README "Packaging".  Artefacts go to build/
# (git-ignored).  The version comes from wix_admin.control; check-version
# fails when debian/changelog or META.json say otherwise.
PKG_DIR = build
DEB_SRC = $(PKG_DIR)/deb/wix-admin-$(EXTVERSION)
# dpkg-buildpackage must not see this make's flags or jobserver
DEB_ENV = env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES

.PHONY: check-version deb dist
check-version:
	@python3 test/check_versions.py $(DATA)

# make deb: build/deb/postgresql-15-wix-admin_<version>_amd64.deb from
# the working tree (tracked and untracked, not ignored, files), with
# dpkg-buildpackage -us -uc -b on a copy (pg_buildext, debian/pgversions).
deb: check-version
	rm -rf $(PKG_DIR)/deb
	mkdir -p $(DEB_SRC)
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git ls-files -z --cached --others --exclude-standard | \
	    xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' sh | \
	    tar --null -T - -cf - ; \
	else \
	  tar --exclude=./$(PKG_DIR) --exclude=./.git --exclude='*.o' --exclude='*.bc' --exclude='*.so' -cf - . ; \
	fi | tar -xf - -C $(DEB_SRC)
	cd $(DEB_SRC) && $(DEB_ENV) dpkg-buildpackage -us -uc -b -jauto
	@ls -1 $(PKG_DIR)/deb/*.deb

# make dist: build/wix_admin-<PGXN version>.tar.gz from git HEAD (committed
# files only), the release tarball for PGXN, META.json at its top.
dist: check-version
	@if [ -n "$$(git status --porcelain --untracked-files=no)" ]; then \
	  echo "make dist: uncommitted changes are not in the tarball (it is HEAD)" >&2; fi
	mkdir -p $(PKG_DIR)
	v=$$(python3 -c 'import json; print(json.load(open("META.json"))["version"])') && \
	git archive --format=tar.gz --prefix=$(EXTENSION)-$$v/ \
	  -o $(PKG_DIR)/$(EXTENSION)-$$v.tar.gz HEAD && \
	ls -1 $(PKG_DIR)/$(EXTENSION)-$$v.tar.gz
