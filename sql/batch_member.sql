-- The batch predicate of catalog 0.10 takes the batch's boundaries packed
-- in one bytea, which anybody may pass: one of the wrong length is refused,
-- never read past its end.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
CREATE ROLE regress_member_caller;
SET ROLE regress_member_caller;
SELECT stream._batch_member('1'::xid8, '(0,1)'::tid, '\x00'::bytea);
SELECT stream._batch_member('1'::xid8, '(0,1)'::tid, decode(repeat('00', 56), 'hex'));
-- a header that counts one running transaction, without it
SELECT stream._batch_member('1'::xid8, '(0,1)'::tid,
                            decode(repeat('00', 48) || '01000000' || '00000000', 'hex'));
-- a header that counts more transactions than memory can hold
SELECT stream._batch_member('1'::xid8, '(0,1)'::tid,
                            decode(repeat('00', 48) || 'ffffffff' || 'ffffffff', 'hex'));
-- a well-formed one: lo's xmax 1, hi's xmax 1000, nothing running, no
-- splits; transaction 5 is in the batch, 1000 is not
SELECT stream._batch_member('5'::xid8, '(0,1)'::tid,
                            decode('0100000000000000' || 'e803000000000000' || '0100000000000000'
                                   || repeat('00', 16) || repeat('00', 16), 'hex')) AS five,
       stream._batch_member('1000'::xid8, '(0,1)'::tid,
                            decode('0100000000000000' || 'e803000000000000' || '0100000000000000'
                                   || repeat('00', 16) || repeat('00', 16), 'hex')) AS thousand;
RESET ROLE;
DROP ROLE regress_member_caller;
