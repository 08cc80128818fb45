# wix_admin: PGXS build.  `make && make install`, then `make installcheck`
# (test/run_all.sh sets up PostgreSQL and the emulator for the regression run).
# Sources are picked up by folder: src/ (start-up), src/client, src/fdw,
# src/actions, src/queue; one header per subsystem in src/include.

MODULE_big = wix_admin
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/*/*.c)))

EXTENSION = wix_admin
DATA = sql/wix_admin--0.1.sql sql/wix_admin--0.2.sql sql/wix_admin--0.1--0.2.sql

REGRESS = server_options read_path pushdown admin actions queue

PG_CPPFLAGS = -Isrc/include $(shell pkg-config --cflags libcurl json-c)
SHLIB_LINK = $(shell pkg-config --libs libcurl json-c)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track headers
$(OBJS): $(wildcard src/include/*.h)

# -- valgrind-check (issue 5): the regression suite under valgrind memcheck;
# on demand, not in CI.  See test/valgrind.sh.
.PHONY: valgrind-check
valgrind-check:
	test/valgrind.sh
