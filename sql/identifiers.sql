-- Identifiers with quotes, spaces and capitals, in every place a name goes.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;

CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema"."Sensor ""Readings""" ("Id" int, "the value" float8, "select" text);
SELECT stream.create_stream('"My Schema"."Sensor ""Readings"""');
INSERT INTO "My Schema"."Sensor ""Readings""" VALUES (1, 1.5, 'x'), (2, 2.5, 'y');
CREATE TABLE "Lookup Table" ("Id" int, "Label ""quoted""" text);
INSERT INTO "Lookup Table" VALUES (1, 'one');

SELECT stream.start_query(
    name => 'Query "with" quotes; and spaces',
    query => $$SELECT r."Id", r."the value" * 2 AS "Doubled Value", r."select",
                      l."Label ""quoted""" AS "label"
               FROM "My Schema"."Sensor ""Readings""" r
               LEFT JOIN "Lookup Table" l ON l."Id" = r."Id"$$,
    target => '"My Schema"."Out ""Table"""') > 0 AS started;
\d "My Schema"."Out ""Table"""
CALL stream.process_all_available('Query "with" quotes; and spaces');
INSERT INTO "My Schema"."Sensor ""Readings""" VALUES (3, 3.5, 'z');
CALL stream.process_all_available('Query "with" quotes; and spaces');
SELECT * FROM "My Schema"."Out ""Table""" ORDER BY "Id";
SELECT name, stream, target FROM stream.queries;

-- the query keeps the search_path it was started with
CREATE SCHEMA other;
CREATE TABLE other.plain_events (n int);
SELECT stream.create_stream('other.plain_events');
SET search_path = other, public;
SELECT stream.start_query('pathed', 'SELECT n FROM plain_events', 'pathed_out') > 0 AS started;
RESET search_path;
INSERT INTO other.plain_events VALUES (42);
CALL stream.process_all_available('pathed');
SELECT * FROM other.pathed_out;

SELECT stream.drop_query(name) FROM stream.queries ORDER BY name;
DROP SCHEMA "My Schema", other CASCADE;
DROP TABLE "Lookup Table";
