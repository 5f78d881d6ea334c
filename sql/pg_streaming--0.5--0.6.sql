/*
 * pg_streaming 0.5 -> 0.6: no silent loss, no silent starvation.  A
 * checkpoint knows the history it was written in and a query refuses to
 * run on another's; queries that cannot be served say so; retention never
 * waits on a row lock; strangers cannot pin, exhaust or break what is not
 * theirs.
 */

\echo Use "ALTER EXTENSION pg_streaming UPDATE TO '0.6'" to load this file. \quit
