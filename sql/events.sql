-- Batch events: a query sends a NOTIFY per committed or failed batch once
-- its owner turns events on with stream.alter_query(name, events => true),
-- on a channel of its own with a random name that only the members of the
-- owner see (stream.queries), so that a stranger cannot LISTEN to it; each
-- time events are turned on the channel is new.  (A listening session's
-- payloads are shown by the isolation test events_notify, and a failed
-- batch's by the TAP test 037_events_worker.)
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;

CREATE ROLE regress_ev_owner LOGIN;
CREATE ROLE regress_ev_member LOGIN IN ROLE regress_ev_owner;
CREATE ROLE regress_ev_stranger LOGIN;
GRANT CREATE ON SCHEMA public TO regress_ev_owner;

SET ROLE regress_ev_owner;
CREATE TABLE ev (id int);
SELECT stream.create_stream('ev');
SELECT stream.start_query('ev_q', 'SELECT id FROM ev', 'ev_out', trigger => '1 hour') > 0 AS started;
-- off by default: no channel, nothing is sent
SELECT events_channel FROM stream.queries WHERE name = 'ev_q';
SELECT stream.alter_query('ev_q', events => true);
SELECT events_channel ~ '^stream_events_[0-9a-f]{32}$' AS random_channel,
       octet_length(events_channel) < 64 AS fits_a_channel_name
  FROM stream.queries WHERE name = 'ev_q';
CREATE TEMP TABLE channels AS SELECT events_channel FROM stream.queries WHERE name = 'ev_q';
-- turned on again: a new channel, the old one hears nothing more
SELECT stream.alter_query('ev_q', events => true);
SELECT q.events_channel <> c.events_channel AS new_channel
  FROM stream.queries q, channels c WHERE q.name = 'ev_q';
-- a batch with events on runs as before
INSERT INTO ev VALUES (1), (2);
CALL stream.process_all_available('ev_q');
SELECT count(*) FROM ev_out;

-- a member of the owner sees the channel; a stranger sees neither the
-- query nor its channel, cannot read the catalog, and cannot change events
SET ROLE regress_ev_member;
SELECT events_channel IS NOT NULL AS member_sees_channel FROM stream.queries WHERE name = 'ev_q';
SET ROLE regress_ev_stranger;
SELECT count(*) AS stranger_sees FROM stream.queries WHERE name = 'ev_q';
SELECT events_channel FROM stream.query_defs;
SELECT stream.alter_query('ev_q', events => true);
SELECT stream.alter_query('ev_q', events => false);

-- off again: no channel
SET ROLE regress_ev_owner;
SELECT stream.alter_query('ev_q', events => false);
SELECT events_channel FROM stream.queries WHERE name = 'ev_q';
-- events together with another change, in one call
SELECT stream.alter_query('ev_q', trigger => '2 hours', events => true);
SELECT trigger, events_channel IS NOT NULL AS events_on FROM stream.queries WHERE name = 'ev_q';

RESET ROLE;
SELECT stream.drop_query('ev_q');
DROP TABLE ev, ev_out, channels;
REVOKE CREATE ON SCHEMA public FROM regress_ev_owner;
DROP ROLE regress_ev_member, regress_ev_stranger, regress_ev_owner;
