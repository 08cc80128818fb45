# wix_admin: PGXS build.  `make && make install`, then `make installcheck`
# (test/run_all.sh sets up PostgreSQL and the emulator for the regression run).

MODULE_big = wix_admin
OBJS = \
	src/admin.o \
	src/catalog.o \
	src/connection.o \
	src/convert.o \
	src/deparse.o \
	src/http.o \
	src/jsonb_text.o \
	src/option.o \
	src/queue.o \
	src/request.o \
	src/wix_fdw.o \
	src/worker.o

EXTENSION = wix_admin
DATA = sql/wix_admin--0.1.sql

REGRESS = server_options read_path pushdown admin queue

PG_CPPFLAGS = -Isrc $(shell pkg-config --cflags libcurl json-c)
SHLIB_LINK = $(shell pkg-config --libs libcurl json-c)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track headers
$(OBJS): src/wix_admin.h src/wix_http.h

# -- valgrind-check (issue 5): the regression suite under valgrind memcheck;
# on demand, not in CI.  See test/valgrind.sh.
.PHONY: valgrind-check
valgrind-check:
	test/valgrind.sh
