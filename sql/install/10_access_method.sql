
-- ---------------------------------------------------------------------------
-- Table access method
-- ---------------------------------------------------------------------------

CREATE FUNCTION stream.stream_heap_handler(internal)
RETURNS table_am_handler
AS 'MODULE_PATHNAME', 'stream_heap_handler'
LANGUAGE C STRICT;

CREATE ACCESS METHOD stream_heap TYPE TABLE HANDLER stream.stream_heap_handler;

COMMENT ON ACCESS METHOD stream_heap IS
'heap storage for stream tables: refuses UPDATE, DELETE and TRUNCATE, and places each transaction''s rows at or after the end of the table';

