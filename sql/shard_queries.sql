-- A shard query of a distributed query runs on a node of a Citus cluster:
-- in a database without Citus it is refused, and nothing is created
CREATE TABLE sq_ev (tenant int, v int);
SELECT stream.create_stream('sq_ev');
CREATE TABLE sq_plain (tenant int, v int);
CREATE TABLE sq_out (tenant int, v int);
SELECT stream._start_shard_query('dq', 'dq_s1', 'SELECT tenant, v FROM sq_ev', 'public',
                                 'sq_ev', 'sq_out', '{"public.sq_ev": "public.sq_ev"}', '{}');
SELECT stream._start_shard_query('dq', 'dq_s2', 'SELECT tenant, v FROM sq_plain', 'public',
                                 'sq_plain', 'sq_out', '{}', '{}');
SELECT count(*) AS queries FROM stream.query_defs WHERE name LIKE 'dq%';
SELECT relid::regclass FROM stream.streams WHERE relid IN ('sq_ev'::regclass, 'sq_plain'::regclass);
DROP TABLE sq_ev, sq_plain, sq_out;
