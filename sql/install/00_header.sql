/*
 * pg_streaming install script, built by the Makefile from the files of
 * sql/install in name order.  Objects come grouped by kind, in dependency order: the
 * table access method, the catalog tables, the functions, the views over
 * them, the event triggers that guard stream tables, and the privileges.
 * Every change here needs the same change in an upgrade script
 * sql/versions/pg_streaming--A--B.sql.
 */

\echo Use "CREATE EXTENSION pg_streaming" to load this file. \quit
