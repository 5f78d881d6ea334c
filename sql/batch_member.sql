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
-- Row by row in one statement, as a batch's scan calls it: the verdict on
-- a transaction is kept from the row before, but never for a split one,
-- whose rows are in the batch before its split block only, whatever came
-- before them.  Boundaries: lo's xmax 1, hi's xmax 1000, 9 running in hi,
-- 7 split by hi at block 2; part (b) none.
SELECT n, x, t, stream._batch_member(x::text::xid8, t,
         decode('0100000000000000' || 'e803000000000000' || '0100000000000000'
                || '0000000000000000' || '0700000000000000'
                || '00000000' || '02000000' || '01000000' || '00000000'
                || '0900000000000000', 'hex')) AS member
  FROM (VALUES (1, 5, '(0,1)'::tid), (2, 5, '(0,2)'), (3, 7, '(1,1)'), (4, 7, '(3,1)'),
               (5, 7, '(1,2)'), (6, 7, '(2,1)'), (7, 5, '(3,2)'), (8, 9, '(0,3)'),
               (9, 9, '(0,4)'), (10, 7, '(0,5)'), (11, 1000, '(0,6)'), (12, 5, '(4,1)'))
       AS r(n, x, t)
 ORDER BY n;
RESET ROLE;
DROP ROLE regress_member_caller;
