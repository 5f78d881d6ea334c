# pg_streaming: PGXS build
MODULE_big = pg_streaming
OBJS = \
	src/pg_streaming.o \
	src/common/settings.o \
	src/common/names.o \
	src/common/notes.o \
	src/common/snapshot.o \
	src/common/errors.o \
	src/common/plans.o \
	src/common/events.o \
	src/common/phases.o \
	src/storage/stream_am.o \
	src/storage/stream_table.o \
	src/storage/guard.o \
	src/storage/placement.o \
	src/storage/runs.o \
	src/storage/retention.o \
	src/storage/shard_moves.o \
	src/storage/shards.o \
	src/source/offsets.o \
	src/source/predicate.o \
	src/source/file_source.o \
	src/analyze/query_analyze.o \
	src/analyze/join_shape.o \
	src/analyze/join_rewrite.o \
	src/exec/batch.o \
	src/exec/dead_letters.o \
	src/exec/restored.o \
	src/catalog/catalog.o \
	src/catalog/catalog_version.o \
	src/catalog/query_catalog.o \
	src/catalog/checkpoint.o \
	src/catalog/query_view.o \
	src/catalog/query_tables.o \
	src/catalog/stream_catalog.o \
	src/catalog/retention_catalog.o \
	src/catalog/dead_letter_catalog.o \
	src/catalog/file_source_catalog.o \
	src/catalog/distributed_catalog.o \
	src/catalog/dead_letter_delivery.o \
	src/catalog/shard_move_catalog.o \
	src/catalog/query_shards.o \
	src/catalog/merge_catalog.o \
	src/state/agg_shape.o \
	src/state/agg_funcs.o \
	src/state/agg_state.o \
	src/state/agg_target.o \
	src/state/agg_plans.o \
	src/state/agg_exec.o \
	src/state/agg_merge.o \
	src/state/agg_chain.o \
	src/state/window.o \
	src/state/dedup.o \
	src/state/join.o \
	src/api/dead_letters_api.o \
	src/api/queries.o \
	src/api/start.o \
	src/api/alter.o \
	src/api/management.o \
	src/api/serving.o \
	src/api/file_sources.o \
	src/api/merge.o \
	src/api/shard_queries.o \
	src/api/distributed.o \
	src/api/query_shards.o \
	src/bgw/shared.o \
	src/bgw/launcher.o \
	src/bgw/scheduler.o \
	src/bgw/worker.o

EXTENSION = pg_streaming
EXTVERSION = 0.11
# the install script of the newest version is built from sql/install/;
# older versions' scripts and the upgrade chain are kept as written in
# sql/versions/.  Regression inputs are sql/*.sql, their expected output
# expected/*.out (pg_regress's default places); isolation specs and their
# expected output are under test/, TAP tests in test/t.
DATA_built = pg_streaming--$(EXTVERSION).sql
# a built script of an earlier version left at the top is never installed
EXTRA_CLEAN = $(wildcard pg_streaming--*.sql)
DATA = sql/versions/pg_streaming--0.1.sql sql/versions/pg_streaming--0.1--0.2.sql \
	sql/versions/pg_streaming--0.2--0.3.sql sql/versions/pg_streaming--0.3--0.4.sql \
	sql/versions/pg_streaming--0.4--0.5.sql sql/versions/pg_streaming--0.5--0.6.sql \
	sql/versions/pg_streaming--0.6--0.7.sql sql/versions/pg_streaming--0.7--0.8.sql \
	sql/versions/pg_streaming--0.8--0.9.sql sql/versions/pg_streaming--0.9--0.10.sql \
	sql/versions/pg_streaming--0.10--0.11.sql
PGFILEDESC = "pg_streaming - structured streaming in PostgreSQL"

PG_CPPFLAGS = -I$(srcdir)/src -Werror=implicit-function-declaration -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
REGRESS = stream_tables queries refusals joins_refusals identifiers security ddl_guards rewrite_replay indexes stamps stamps_placeholder stamps_not_null backfill retention retention_hold aggregation agg_differential agg_unchanged agg_state_scan agg_target_write windows event_time event_time_stats batch_member watermarks_arg progress_operators memory living_queries window_forms strangers joins joins_differential joins_more joins_chain joins_chain_counts joins_security joins_memory joins_owner joins_progress chains agg_over_agg files_source layers_pipeline alter_watermark events dead_letters checkpoint_orphans upgrade catalog_version shard_queries batch_plans first_batch agg_batch_rows stream_tid_ranges batch_exists commit_rows state_bytes
REGRESS_OPTS = --load-extension=pg_streaming

ISOLATION = late_commit concurrent_writers concurrent_processing ownership_locks query_row_lock starting_latest index_build_inval \
	retention_plan_run retention_open_writer retention_stopped_query retention_row_lock complete_readers upsert_target rename_batch \
	rename_cancel joins_one_event joins_out_of_order joins_concurrent_batches joins_long_writer events_notify agg_one_range drop_owned_batch \
	minute_row_edit
ISOLATION_OPTS = --inputdir=$(srcdir)/test --load-extension=pg_streaming

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

pg_streaming--$(EXTVERSION).sql: $(sort $(wildcard $(srcdir)/sql/install/*.sql))
	cat $^ > $@
