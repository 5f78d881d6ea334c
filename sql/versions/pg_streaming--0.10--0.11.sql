/*
 * pg_streaming 0.10 -> 0.11: the checkpoint and progress tables whose rows
 * belong to a batch's offsets lose their foreign keys to
 * stream.checkpoint_offsets.  A key was checked for every row a batch
 * writes (its commit, progress and operator rows, its watermarks and a
 * join's side rows), and every few batches the removal of old offsets
 * cascaded into the six tables; the statements that remove offsets now
 * remove those rows themselves.
 */

\echo Use "ALTER EXTENSION pg_streaming UPDATE TO '0.11'" to load this file. \quit

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT k.conrelid::regclass AS tab, k.conname
          FROM pg_catalog.pg_constraint k
         WHERE k.contype = 'f'
           AND k.confrelid = 'stream.checkpoint_offsets'::regclass
           AND k.conrelid IN ('stream.checkpoint_commits'::regclass,
                              'stream.progress_log'::regclass,
                              'stream.checkpoint_watermarks'::regclass,
                              'stream.checkpoint_sides'::regclass,
                              'stream.progress_side_log'::regclass,
                              'stream.progress_operator_log'::regclass)
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', c.tab, c.conname);
    END LOOP;
END
$$;

COMMENT ON TABLE stream.checkpoint_offsets IS
'write-ahead offsets: one row per planned batch, committed before the batch runs; the batch''s rows of the other checkpoint and progress tables are removed with it';
