-- Living with queries: stream.alter_query keeps the checkpoint; update mode
-- without aggregation upserts into a keyed target; foreach_batch calls a
-- procedure once per batch; what a query reads is protected as a view's;
-- stream.queries shows lag, rates and blocks at a cost that does not grow
-- with the backlog.  Everything runs as an unprivileged role.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
CREATE ROLE regress_live_owner LOGIN;
CREATE ROLE regress_live_other LOGIN;
GRANT CREATE ON SCHEMA public TO regress_live_owner, regress_live_other;
SET ROLE regress_live_owner;

CREATE TABLE clicks (id int PRIMARY KEY, user_id int, url text, ms int);
CREATE INDEX ON clicks (user_id);
SELECT stream.create_stream('clicks');
CREATE TABLE users (user_id int PRIMARY KEY, name text);
INSERT INTO users VALUES (1, 'ann'), (2, 'bob'), (3, 'cy');

-- ---------------------------------------------------------------------------
-- alter_query: trigger, cap and text change in place; the checkpoint stays
-- ---------------------------------------------------------------------------
INSERT INTO clicks SELECT g, g % 3 + 1, '/p/' || g, g * 10 FROM generate_series(1, 20) g;
SELECT stream.start_query('slow', 'SELECT id, url, ms FROM clicks WHERE ms >= 100', 'slow_clicks',
                          trigger => '10 seconds') > 0 AS started;
CALL stream.process_all_available('slow');
SELECT count(*) AS before_alter FROM slow_clicks;
SELECT stream.alter_query('slow', query => 'SELECT id, url, ms FROM clicks WHERE ms >= 150',
                          trigger => '2 seconds', max_rows_per_batch => 5);
SELECT trigger, max_rows_per_batch, query, altered_at IS NOT NULL AS altered,
       last_batch_id FROM stream.queries WHERE name = 'slow';
-- twelve writers' transactions
SELECT format('INSERT INTO clicks VALUES (%s, %s, %L, %s)', g, g % 3 + 1, '/p/' || g, g * 10)
  FROM generate_series(21, 32) g \gexec
CALL stream.process_all_available('slow');
-- the rows processed before keep the old filter, the new ones get the new;
-- nothing is read twice, the cap holds
SELECT count(*) AS rows, count(DISTINCT id) AS ids,
       count(*) FILTER (WHERE id <= 20) AS old_rows,
       count(*) FILTER (WHERE id > 20) AS new_rows FROM slow_clicks;
SELECT max(input_rows) AS largest_batch FROM stream.progress
 WHERE query = 'slow' AND batch_id > 1;
-- a projection the target accepts, a join with an ordinary table; 0 lifts the cap
ALTER TABLE slow_clicks ADD COLUMN name text;
SELECT stream.alter_query('slow', query => $$SELECT c.id, c.url, c.ms, u.name
                                              FROM clicks c JOIN users u USING (user_id)$$,
                          max_rows_per_batch => 0);
INSERT INTO clicks VALUES (33, 1, '/q', 1);
CALL stream.process_all_available('slow');
SELECT id, url, ms, name FROM slow_clicks WHERE id = 33;
SELECT max_rows_per_batch FROM stream.queries WHERE name = 'slow';

-- refused, each with its reason, and nothing changes
CREATE TABLE other_stream (id int, url text, ms int);
SELECT stream.create_stream('other_stream');
SELECT stream.alter_query('slow');
SELECT stream.alter_query('slow', trigger => 'sometimes');
SELECT stream.alter_query('slow', max_rows_per_batch => -1);
SELECT stream.alter_query('slow', query => 'SELECT id, url, ms FROM other_stream');
SELECT stream.alter_query('slow', query => 'SELECT id, url, ms, 1 AS extra FROM clicks');
SELECT stream.alter_query('slow', query => 'SELECT user_id AS id, count(*) AS ms FROM clicks GROUP BY user_id');
SELECT stream.alter_query('slow', query => 'SELECT id FROM clicks ORDER BY id');
SELECT stream.alter_query('missing', trigger => '1 second');
SELECT trigger, max_rows_per_batch, query FROM stream.queries WHERE name = 'slow';

-- a streaming aggregation keeps its state: filters, HAVING and the select
-- list over its groups may change, its keys and aggregates may not
SELECT stream.start_query('per_user', 'SELECT user_id, count(*) AS n, sum(ms) AS total FROM clicks GROUP BY user_id',
                          'per_user', output_mode => 'update') > 0 AS started;
CALL stream.process_all_available('per_user');
SELECT stream.alter_query('per_user', query => $$SELECT user_id, count(*) AS n, sum(ms) AS total
                                                  FROM clicks WHERE url LIKE '/p/%' GROUP BY user_id
                                                  HAVING count(*) > 0$$);
INSERT INTO clicks VALUES (34, 2, '/p/34', 340), (35, 2, '/x', 350);
CALL stream.process_all_available('per_user');
SELECT * FROM per_user ORDER BY user_id;
SELECT stream.alter_query('per_user', query => 'SELECT user_id, count(*) AS n, sum(id) AS total FROM clicks GROUP BY user_id');
SELECT stream.alter_query('per_user', query => 'SELECT url AS user_id, count(*) AS n, sum(ms) AS total FROM clicks GROUP BY url');
SELECT stream.alter_query('per_user', query => 'SELECT user_id, id AS n, ms AS total FROM clicks');
SELECT query FROM stream.queries WHERE name = 'per_user';

-- only the owner (or a member) may alter a query, and no one may make it
-- read what its owner may not
RESET ROLE;
CREATE TABLE secrets (user_id int, secret text);
SET ROLE regress_live_other;
SELECT stream.alter_query('slow', trigger => '1 second');
RESET ROLE;
GRANT regress_live_owner TO regress_live_other;
SET ROLE regress_live_other;
SELECT stream.alter_query('slow', query => $$SELECT c.id, c.url, c.ms, s.secret AS name
                                             FROM clicks c JOIN secrets s USING (user_id)$$);
RESET ROLE;
REVOKE regress_live_owner FROM regress_live_other;
DROP TABLE secrets;
SET ROLE regress_live_owner;

-- ---------------------------------------------------------------------------
-- Keyed targets: update mode without aggregation upserts
-- ---------------------------------------------------------------------------
-- by the target's primary key: replays and restarts never fail on a key
CREATE TABLE last_click (user_id int PRIMARY KEY, id int, url text);
SELECT stream.start_query('last', 'SELECT user_id, id, url FROM clicks', 'last_click',
                          output_mode => 'update') > 0 AS started;
SELECT key FROM stream.queries WHERE name = 'last';
CALL stream.process_all_available('last');
-- of a batch's rows for one key, the one read last is written
SELECT * FROM last_click ORDER BY user_id;
INSERT INTO clicks VALUES (36, 1, '/new', 1), (37, 3, '/newer', 1);
INSERT INTO clicks VALUES (38, 1, '/newest', 1);
CALL stream.process_all_available('last');
SELECT * FROM last_click ORDER BY user_id;

-- a query without aggregation in update mode stays one
SELECT stream.alter_query('last', query => 'SELECT user_id, count(*) AS id FROM clicks GROUP BY user_id');

-- by key => '{...}' into a created target, which gets the unique key; NULL
-- is a key like any other
SELECT stream.start_query('by_url', 'SELECT url, id FROM clicks', 'by_url',
                          output_mode => 'update', key => '{url}') > 0 AS started;
\d by_url
INSERT INTO clicks VALUES (39, 1, NULL, 1), (40, 2, NULL, 2), (41, 3, '/p/1', 3);
CALL stream.process_all_available('by_url');
SELECT * FROM by_url WHERE url IS NULL OR url = '/p/1' ORDER BY url NULLS FIRST;
SELECT count(*) = count(DISTINCT url) + 1 AS one_row_per_key FROM by_url;

-- a batch that fails changes nothing; its replay upserts each key once
CREATE FUNCTION refuse_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.url = '/fail' AND NOT EXISTS (SELECT 1 FROM failed_once) THEN
        INSERT INTO failed_once VALUES (true);
        RAISE EXCEPTION 'refused once';
    END IF;
    RETURN NEW;
END $$;
CREATE TABLE failed_once (done boolean);
CREATE TRIGGER refuse_once BEFORE INSERT OR UPDATE ON by_url
    FOR EACH ROW EXECUTE FUNCTION refuse_once();
INSERT INTO clicks VALUES (42, 1, '/fail', 1), (43, 1, '/p/2', 1);
CALL stream.process_all_available('by_url');
SELECT url, id FROM by_url WHERE url IN ('/fail', '/p/2') ORDER BY url;
SELECT count(*) AS failed_flag_rows FROM failed_once;
SELECT stream.resume_query('by_url');
INSERT INTO failed_once VALUES (true);
CALL stream.process_all_available('by_url');
SELECT url, id FROM by_url WHERE url IN ('/fail', '/p/2') ORDER BY url;
-- every key of the stream, once, with its last row
CREATE VIEW last_per_url AS SELECT DISTINCT ON (url) url, id FROM clicks ORDER BY url, id DESC;
SELECT count(*) AS differing FROM (
    (SELECT * FROM last_per_url EXCEPT SELECT url, id FROM by_url)
    UNION ALL
    (SELECT url, id FROM by_url EXCEPT SELECT * FROM last_per_url)) d;
DROP VIEW last_per_url;

-- refused
SELECT stream.start_query('k1', 'SELECT url, id FROM clicks', 'k1', output_mode => 'update', key => '{nope}');
SELECT stream.start_query('k2', 'SELECT url, id FROM clicks', 'k2', output_mode => 'update', key => '{url, url}');
SELECT stream.start_query('k3', 'SELECT url, id FROM clicks', 'k3', key => '{url}');
SELECT stream.start_query('k4', 'SELECT url, count(*) AS n FROM clicks GROUP BY url', 'k4',
                          output_mode => 'update', key => '{url}');
SELECT stream.start_query('k5', 'SELECT url, id FROM clicks', 'k5', output_mode => 'update', key => '{}');
SELECT stream.start_query('k6', $$SELECT point(id, id) AS p, id FROM clicks$$, 'k6',
                          output_mode => 'update', key => '{p}');
CREATE TABLE unkeyed (url text, id int);
SELECT stream.start_query('k7', 'SELECT url, id FROM clicks', 'unkeyed', output_mode => 'update', key => '{url}');
CREATE TABLE pk_elsewhere (code int PRIMARY KEY, url text);
SELECT stream.start_query('k8', 'SELECT url FROM clicks', 'pk_elsewhere', output_mode => 'update');
CREATE TABLE typed_key (url varchar UNIQUE NULLS NOT DISTINCT, id int);
SELECT stream.start_query('k9', 'SELECT url, id FROM clicks', 'typed_key', output_mode => 'update', key => '{url}');
SELECT count(*) AS left_behind FROM pg_class
 WHERE relname IN ('k1', 'k2', 'k3', 'k4', 'k5', 'k6') AND relnamespace = 'public'::regnamespace;
SELECT count(*) AS queries FROM stream.queries WHERE name LIKE 'k_';

-- ---------------------------------------------------------------------------
-- foreach_batch: a procedure called once per batch, in the batch's
-- transaction, as the owner, reading the batch's rows
-- ---------------------------------------------------------------------------
CREATE TABLE outbox (batch_id bigint, id int, url text, who name);
CREATE TABLE deliver_fail (fail boolean);
CREATE PROCEDURE deliver(batch_id bigint) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox SELECT batch_id, b.id, b.url, current_user FROM stream_batch.sink b;
    IF EXISTS (SELECT 1 FROM deliver_fail WHERE fail) THEN
        RAISE EXCEPTION 'the outside system is down';
    END IF;
    PERFORM set_config('work_mem', '1234kB', false);
END $$;
SELECT stream.start_query('sink', 'SELECT id, url FROM clicks WHERE id > 40', foreach_batch => 'deliver',
                          trigger => '1 hour') > 0 AS started;
SELECT target, foreach_batch FROM stream.queries WHERE name = 'sink';
\d stream_batch.sink
SET work_mem = '4MB';
CALL stream.process_all_available('sink');
SELECT current_setting('work_mem') AS work_mem_after;
SELECT batch_id, count(*), min(id), max(id), min(who) AS who FROM outbox GROUP BY batch_id ORDER BY batch_id;
-- the table holds the last batch's rows only
INSERT INTO clicks VALUES (44, 2, '/s', 1);
CALL stream.process_all_available('sink');
SELECT * FROM stream_batch.sink;
-- a procedure that fails fails the batch: nothing is delivered; the replay
-- delivers each row once, with the same batch id
INSERT INTO deliver_fail VALUES (true);
INSERT INTO clicks VALUES (45, 2, '/t', 1), (46, 3, '/u', 1);
CALL stream.process_all_available('sink');
SELECT status, last_error FROM stream.queries WHERE name = 'sink';
SELECT count(*) AS delivered_45 FROM outbox WHERE id = 45;
DELETE FROM deliver_fail;
SELECT stream.resume_query('sink');
CALL stream.process_all_available('sink');
SELECT batch_id, id FROM outbox WHERE id >= 44 ORDER BY id;
SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM outbox;
-- an aggregation: each batch's table holds the groups it changed
CREATE TABLE changed_groups (batch_id bigint, user_id int, n bigint);
CREATE PROCEDURE note_groups(batch_id bigint) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO changed_groups SELECT batch_id, user_id, n FROM stream_batch.group_sink;
END $$;
SELECT stream.start_query('group_sink', 'SELECT user_id, count(*) AS n FROM clicks GROUP BY user_id',
                          output_mode => 'update', foreach_batch => 'note_groups') > 0 AS started;
CALL stream.process_all_available('group_sink');
INSERT INTO clicks VALUES (47, 3, '/v', 1);
CALL stream.process_all_available('group_sink');
SELECT * FROM changed_groups ORDER BY batch_id, user_id;

-- refused
SELECT stream.start_query('f1', 'SELECT id FROM clicks', 'f1_out', foreach_batch => 'deliver');
SELECT stream.start_query('f2', 'SELECT id FROM clicks', foreach_batch => 'no_such_proc');
CREATE FUNCTION not_a_proc(batch_id bigint) RETURNS void LANGUAGE sql AS '';
SELECT stream.start_query('f3', 'SELECT id FROM clicks', foreach_batch => 'not_a_proc');
SELECT stream.start_query('f4', 'SELECT id FROM clicks');
SELECT stream.start_query('f5', 'SELECT url, id FROM clicks', output_mode => 'update', key => '{url}',
                          foreach_batch => 'deliver');
RESET ROLE;
CREATE PROCEDURE private_proc(batch_id bigint) LANGUAGE plpgsql AS $$ BEGIN END $$;
REVOKE EXECUTE ON PROCEDURE private_proc(bigint) FROM PUBLIC;
SET ROLE regress_live_owner;
SELECT stream.start_query('f6', 'SELECT id FROM clicks', foreach_batch => 'private_proc');
SELECT count(*) AS batch_tables FROM pg_class WHERE relnamespace = 'stream_batch'::regnamespace;

-- ---------------------------------------------------------------------------
-- What a query reads is protected as a view's
-- ---------------------------------------------------------------------------
ALTER TABLE clicks DROP COLUMN url;
ALTER TABLE clicks ALTER COLUMN ms TYPE bigint;
DROP TABLE users;
ALTER TABLE users DROP COLUMN name;
-- a column no query reads goes, and renames are followed
ALTER TABLE clicks ADD COLUMN spare int;
ALTER TABLE clicks DROP COLUMN spare;
ALTER TABLE users RENAME COLUMN name TO full_name;
ALTER TABLE users RENAME TO people;
SELECT query FROM stream.queries WHERE name = 'slow';
INSERT INTO clicks VALUES (48, 1, '/w', 1);
CALL stream.process_all_available('slow');
SELECT id, name FROM slow_clicks WHERE id = 48;
-- CASCADE drops the queries that read it
DROP TABLE people CASCADE;
SELECT name FROM stream.queries ORDER BY name;

-- ---------------------------------------------------------------------------
-- stream.queries: id, lag, rates, blocks; the backlog is estimated beyond
-- the first blocks, stream.pending_rows() counts it
-- ---------------------------------------------------------------------------
SELECT name, id > 0 AS has_id, lag_seconds >= 0 AS lag_known,
       input_rows_per_second > 0 AS input_rate, processed_rows_per_second > 0 AS processed_rate,
       last_batch_blocks_read > 0 AS read_blocks, pending_rows
  FROM stream.queries WHERE name = 'last';
INSERT INTO clicks SELECT g, 1, repeat('x', 100), 1 FROM generate_series(1000, 20999) g;
SELECT stream.pending_rows('last') AS exact;
SELECT pending_rows BETWEEN 16000 AND 24000 AS estimate_close, lag_seconds > 0 AS lagging
  FROM stream.queries WHERE name = 'last';
CALL stream.process_all_available('last');
SELECT pending_rows, stream.pending_rows('last') AS exact FROM stream.queries WHERE name = 'last';
SELECT stream.pending_rows('missing');
SET ROLE regress_live_other;
SELECT stream.pending_rows('last');
SELECT count(*) AS others_seen FROM stream.queries;
SELECT count(*) AS others_history FROM stream.progress_history;
SET ROLE regress_live_owner;
-- progress by the minute
SELECT query, sum(batches) > 0 AS batches, sum(input_rows) >= 20000 AS rows
  FROM stream.progress_history WHERE query = 'last' GROUP BY query;
SET pg_streaming.progress_history_minutes = 0;
INSERT INTO clicks VALUES (21000, 1, '/y', 1);
SELECT sum(batches) AS before FROM stream.progress_history WHERE query = 'last' \gset
CALL stream.process_all_available('last');
SELECT sum(batches) = :before AS not_kept FROM stream.progress_history WHERE query = 'last';
RESET pg_streaming.progress_history_minutes;

-- ---------------------------------------------------------------------------
-- The query's view: built from the owner's analysis, no literal in it
-- ---------------------------------------------------------------------------
RESET ROLE;
CREATE SCHEMA regress_live_owner AUTHORIZATION regress_live_owner;
SET ROLE regress_live_owner;
CREATE TABLE regress_live_owner.events (id int, secret text, ts timestamptz);
SELECT stream.create_stream('regress_live_owner.events');
RESET ROLE;
-- another role's table of the same name, earlier on nobody's path but public
CREATE TABLE public.events (id int, secret text, ts timestamptz);
SET ROLE regress_live_owner;
SHOW search_path;
SELECT stream.start_query('mine', $$SELECT id, secret FROM events WHERE secret <> 'hunter2'$$,
                          'mine_out') > 0 AS started;
-- what any role sees of it
SELECT definition, definition LIKE '%hunter2%' AS shows_literal
  FROM pg_views WHERE schemaname = 'stream_query' AND viewname = 'mine';
RESET ROLE;
-- reading the view (here as a superuser) runs nothing of the query's
SELECT count(*) AS view_rows FROM stream_query.mine;
DROP TABLE public.events;
SET ROLE regress_live_owner;

-- an operator of the owner's, earlier on the query's path than pg_catalog's,
-- never runs with the extension's rights when a rename rewrites the text
CREATE TABLE op_calls (who name, superuser boolean);
CREATE FUNCTION regress_live_owner.int8eq_spy(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.op_calls SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user;
    RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR regress_live_owner.= (LEFTARG = bigint, RIGHTARG = bigint,
                                      FUNCTION = regress_live_owner.int8eq_spy);
SET search_path = regress_live_owner, pg_catalog, public;
-- a deduplicating query keeps its deduplicated columns, and its event-time
-- column keeps its name (the query outputs it under that name)
SELECT stream.start_query('dd', 'SELECT id, ts FROM events', 'public.dd_out',
                          event_time => 'ts', watermark => '1 minute', deduplicate => '{id}') > 0 AS started;
SELECT stream.alter_query('dd', query => 'SELECT id + 1 AS id, ts FROM events');
SELECT stream.alter_query('dd', query => $$SELECT id, ts FROM events WHERE secret <> 'x'$$);
ALTER TABLE events RENAME COLUMN ts TO event_ts;
SELECT stream.drop_query('dd');
DROP TABLE public.dd_out;
SELECT stream.start_query('spied', $$SELECT stream.tumble(ts, '1 minute') AS minute, count(*) AS n
                                     FROM events GROUP BY 1$$, 'public.spied_out',
                          output_mode => 'update', event_time => 'ts', watermark => '1 minute') > 0 AS started;
ALTER TABLE events RENAME COLUMN ts TO event_ts;
RESET search_path;
SELECT count(*) FILTER (WHERE superuser) AS calls_as_superuser FROM op_calls;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_live_owner';
-- the text follows, and so does the event-time column
SELECT query, event_time FROM stream.queries WHERE name = 'spied';
INSERT INTO regress_live_owner.events VALUES (1, 's', '2026-01-01 00:00'), (1, 's', '2026-01-01 00:00:10');
CALL stream.process_all_available('spied');
SELECT * FROM spied_out;
-- moving the stream to another schema is followed too
RESET ROLE;
CREATE SCHEMA regress_live_moved AUTHORIZATION regress_live_owner;
SET ROLE regress_live_owner;
ALTER TABLE regress_live_owner.events SET SCHEMA regress_live_moved;
SELECT name, query FROM stream.queries WHERE name IN ('mine', 'spied') ORDER BY name;
INSERT INTO regress_live_moved.events VALUES (2, 's', '2026-01-01 00:01');
CALL stream.process_all_available('mine');
SELECT * FROM mine_out ORDER BY id;

-- a query's text is read with standard_conforming_strings on
SET standard_conforming_strings = off;
SELECT stream.start_query('old_strings', 'SELECT id FROM regress_live_moved.events', 'old_out');
SELECT stream.alter_query('mine', query => 'SELECT id, secret FROM regress_live_moved.events');
RESET standard_conforming_strings;

-- dropping a column with CASCADE drops the queries that read it; a
-- foreach_batch procedure cannot be dropped under its query
CREATE PROCEDURE note_nothing(batch_id bigint) LANGUAGE plpgsql AS $$ BEGIN END $$;
SELECT stream.start_query('noting', 'SELECT id FROM regress_live_moved.events',
                          foreach_batch => 'note_nothing') > 0 AS started;
DROP PROCEDURE note_nothing(bigint);
ALTER TABLE regress_live_moved.events DROP COLUMN secret CASCADE;
SELECT name FROM stream.queries WHERE name IN ('mine', 'spied', 'noting') ORDER BY name;
DROP PROCEDURE note_nothing(bigint) CASCADE;
SELECT name FROM stream.queries WHERE name IN ('mine', 'spied', 'noting') ORDER BY name;
RESET ROLE;
SELECT stream.drop_stream('regress_live_moved.events', cascade => true);
DROP TABLE regress_live_moved.events, mine_out, spied_out, op_calls;
DROP SCHEMA regress_live_owner CASCADE;
DROP SCHEMA regress_live_moved;

-- ---------------------------------------------------------------------------
-- What batches run is what the owner's analysis bound; renames of every kind
-- ---------------------------------------------------------------------------
SET ROLE regress_live_owner;
CREATE TABLE taps (id int, ms int, mood text);
SELECT stream.create_stream('taps');
CREATE FUNCTION per_second(numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT $1 / 1000';
CREATE TYPE feeling AS ENUM ('calm', 'angry');
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
SELECT stream.start_query('scaled', $$SELECT id, per_second(ms) AS s, mood::feeling = 'angry' AS cross,
                                             ms::positive AS p FROM taps$$,
                          'scaled_out') > 0 AS started;
-- another role adds an overload that an unqualified call would now pick
RESET ROLE;
CREATE TABLE overload_calls (who name);
GRANT INSERT ON overload_calls TO PUBLIC;
CREATE FUNCTION public.per_second(int) RETURNS numeric LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO public.overload_calls VALUES (current_user);
    RETURN -1;
END $$;
SET ROLE regress_live_owner;
INSERT INTO taps VALUES (1, 2000, 'angry');
CALL stream.process_all_available('scaled');
SELECT * FROM scaled_out;
RESET ROLE;
SELECT count(*) AS overload_calls FROM overload_calls;
DROP FUNCTION public.per_second(int);
DROP TABLE overload_calls;
SET ROLE regress_live_owner;
-- renames of a function, an enum label, a domain, a type and a table
-- the query reads are followed; a rename of nothing (or of a missing
-- object) is only the command's own error
ALTER FUNCTION per_second(numeric) RENAME TO per_second_ms;
ALTER TYPE feeling RENAME VALUE 'angry' TO 'furious';
ALTER DOMAIN positive RENAME TO strictly_positive;
ALTER TYPE feeling RENAME TO emotion;
ALTER ROUTINE per_second_ms(numeric) RENAME TO ms_per_second;
ALTER TYPE no_such_type RENAME TO other;
ALTER DOMAIN no_such_domain RENAME TO other;
ALTER FUNCTION no_such_function(int) RENAME TO other;
ALTER TYPE no_such_type SET SCHEMA public;
SELECT query FROM stream.queries WHERE name = 'scaled';
INSERT INTO taps VALUES (2, 3000, 'furious');
CALL stream.process_all_available('scaled');
SELECT * FROM scaled_out ORDER BY id;
-- a column renamed on a parent table is renamed below it too: followed
CREATE TABLE parent_t (id int, a text, b text);
CREATE TABLE child_t () INHERITS (parent_t);
SELECT stream.start_query('child_reader', 'SELECT s.id, c.a FROM taps s JOIN child_t c USING (id)',
                          'child_out') > 0 AS started;
ALTER TABLE parent_t RENAME COLUMN a TO a_old;
ALTER TABLE parent_t RENAME COLUMN b TO a;
SELECT query FROM stream.queries WHERE name = 'child_reader';
INSERT INTO child_t VALUES (3, 'A', 'B');
INSERT INTO taps VALUES (3, 1000, 'calm');
CALL stream.process_all_available('child_reader');
SELECT * FROM child_out;
-- a temporary function would go with the session
CREATE FUNCTION pg_temp.tf(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1';
SELECT stream.start_query('temp_user', 'SELECT pg_temp.tf(id) AS id FROM taps', 'temp_out');
SELECT count(*) AS temp_query FROM stream.queries WHERE name = 'temp_user';
RESET ROLE;
SELECT stream.drop_stream('taps', cascade => true);
DROP TABLE taps, scaled_out, child_out, child_t, parent_t;
DROP FUNCTION ms_per_second(numeric);
DROP TYPE emotion;
DROP DOMAIN strictly_positive;

-- ---------------------------------------------------------------------------
-- Calls the query did not make when it started are refused; renames carried
-- over to other objects, inside savepoints, and by owners of what another
-- role's query reads
-- ---------------------------------------------------------------------------
SET ROLE regress_live_owner;
CREATE TABLE arrs (id int, arr int[], hues text);
SELECT stream.create_stream('arrs');
CREATE TYPE hue AS ENUM ('red', 'green');
SELECT stream.start_query('arr_q', $$SELECT id, array_length(arr, 1) AS n,
                                           hues::hue[] @> '{red}'::hue[] AS has_red FROM arrs$$,
                          'arr_out', trigger => '1 hour') > 0 AS started;
INSERT INTO arrs VALUES (1, '{1,2,3}', '{red}');
CALL stream.process_all_available('arr_q');
-- changing only the trigger keeps the text as written
SELECT stream.alter_query('arr_q', trigger => '2 hours');
SELECT query FROM stream.queries WHERE name = 'arr_q';
-- another role's closer match for a built-in's polymorphic arguments
RESET ROLE;
CREATE TABLE overload_calls (who name);
GRANT INSERT ON overload_calls TO PUBLIC;
CREATE FUNCTION public.array_length(int[], int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.overload_calls VALUES (current_user);
    RETURN -1;
END $$;
SET ROLE regress_live_owner;
INSERT INTO arrs VALUES (2, '{1}', '{green}');
\c
SET client_min_messages = warning;
SET ROLE regress_live_owner;
CALL stream.process_all_available('arr_q');
RESET ROLE;
SELECT count(*) AS overload_calls FROM overload_calls;
DROP FUNCTION public.array_length(int[], int);
DROP TABLE overload_calls;
SET ROLE regress_live_owner;
SELECT stream.resume_query('arr_q');
CALL stream.process_all_available('arr_q');
SELECT * FROM arr_out ORDER BY id;
-- a type renamed renames its array type: followed
ALTER TYPE hue RENAME TO colour;
-- a rename that fails inside a savepoint leaves nothing behind
BEGIN;
SAVEPOINT s;
ALTER TABLE arrs RENAME TO arr_out;
ROLLBACK TO s;
ALTER TABLE arrs RENAME TO arrays;
COMMIT;
SELECT query FROM stream.queries WHERE name = 'arr_q';
INSERT INTO arrays VALUES (3, '{1,2}', '{red,green}');
CALL stream.process_all_available('arr_q');
SELECT * FROM arr_out ORDER BY id;
-- a query whose owner can no longer analyze it does not stop a rename
RESET ROLE;
CREATE SCHEMA regress_live_lookup;
CREATE TABLE regress_live_lookup.codes (id int, code text);
GRANT USAGE ON SCHEMA regress_live_lookup TO regress_live_owner;
GRANT SELECT ON regress_live_lookup.codes TO regress_live_owner;
SET ROLE regress_live_owner;
SELECT stream.start_query('coded', 'SELECT a.id, c.code FROM arrays a JOIN regress_live_lookup.codes c USING (id)',
                          'coded_out', trigger => '1 hour') > 0 AS started;
RESET ROLE;
REVOKE USAGE ON SCHEMA regress_live_lookup FROM regress_live_owner;
ALTER TABLE regress_live_lookup.codes RENAME TO codes_v2;
SELECT relname FROM pg_class WHERE relnamespace = 'regress_live_lookup'::regnamespace;
-- an extension moved to another schema moves its members: followed
CREATE EXTENSION citext;
CREATE SCHEMA regress_live_ext;
GRANT USAGE ON SCHEMA regress_live_ext TO regress_live_owner;
SET ROLE regress_live_owner;
CREATE TABLE words_s (w text);
SELECT stream.create_stream('words_s');
SELECT stream.start_query('ci', $$SELECT w::citext AS w, w::citext = 'HELLO' AS hello FROM words_s$$,
                          'ci_out', trigger => '1 hour') > 0 AS started;
RESET ROLE;
ALTER EXTENSION citext SET SCHEMA regress_live_ext;
SELECT query FROM stream.queries WHERE name = 'ci';
INSERT INTO words_s VALUES ('hello'), ('bye');
CALL stream.process_all_available('ci');
SELECT w::text, hello FROM ci_out ORDER BY 1;
SELECT stream.drop_stream('words_s', cascade => true);
DROP TABLE words_s, ci_out;
DROP EXTENSION citext;
DROP SCHEMA regress_live_ext;
SELECT stream.drop_stream('arrays', cascade => true);
DROP TABLE arrays, arr_out, coded_out;
DROP SCHEMA regress_live_lookup CASCADE;
DROP TYPE colour;

RESET ROLE;
SELECT stream.drop_stream('clicks', cascade => true);
SELECT stream.drop_stream('other_stream', cascade => true);
SELECT count(*) AS views_left FROM pg_class WHERE relnamespace = 'stream_query'::regnamespace;
SELECT count(*) AS batch_tables_left FROM pg_class WHERE relnamespace = 'stream_batch'::regnamespace;
DROP TABLE clicks, other_stream, slow_clicks, per_user, last_click, by_url, failed_once, unkeyed,
    pk_elsewhere, typed_key, outbox, deliver_fail, changed_groups;
DROP FUNCTION refuse_once(), not_a_proc(bigint);
DROP PROCEDURE deliver(bigint), note_groups(bigint), private_proc(bigint);
DROP OWNED BY regress_live_owner, regress_live_other;
DROP ROLE regress_live_owner;
DROP ROLE regress_live_other;
