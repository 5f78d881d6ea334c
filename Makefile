# pg_streaming: PGXS build
MODULE_big = pg_streaming
OBJS = \
	src/pg_streaming.o \
	src/stream_am.o \
	src/stream_table.o \
	src/offsets.o \
	src/query_analyze.o \
	src/batch.o \
	src/queries.o \
	src/catalog.o \
	src/management.o \
	src/shared.o \
	src/launcher.o \
	src/scheduler.o \
	src/worker.o

EXTENSION = pg_streaming
EXTVERSION = 0.2
# the install script of the newest version is built from sql/install/;
# older versions' scripts and the upgrade chain are kept as written
DATA_built = pg_streaming--$(EXTVERSION).sql
DATA = sql/pg_streaming--0.1.sql sql/pg_streaming--0.1--0.2.sql
PGFILEDESC = "pg_streaming - structured streaming in PostgreSQL"

PG_CPPFLAGS = -I$(srcdir)/src -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

REGRESS = stream_tables queries refusals identifiers
REGRESS_OPTS = --inputdir=$(srcdir)/test --load-extension=pg_streaming

ISOLATION = late_commit concurrent_writers concurrent_processing
ISOLATION_OPTS = --inputdir=$(srcdir)/test --load-extension=pg_streaming

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

pg_streaming--$(EXTVERSION).sql: $(sort $(wildcard $(srcdir)/sql/install/*.sql))
	cat $^ > $@
