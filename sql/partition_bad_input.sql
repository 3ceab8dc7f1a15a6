-- keel.partition_by_time / keel.run_maintenance / maintenance tasks: bad input gets a
-- clear ERROR with a fitting SQLSTATE and writes nothing.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE SCHEMA partition_bad_input_test;
SET search_path = partition_bad_input_test, public;
\set SHOW_CONTEXT never

CREATE TABLE plain (t timestamptz);
CREATE TABLE by_list (k text, t timestamptz) PARTITION BY LIST (k);
CREATE TABLE by_hash (id int, t timestamptz) PARTITION BY HASH (id);
CREATE TABLE by_int (n int) PARTITION BY RANGE (n);
CREATE TABLE by_text (s text) PARTITION BY RANGE (s);
CREATE TABLE by_expr (t timestamp) PARTITION BY RANGE (date_trunc('day', t));
CREATE TABLE by_two (a date, b date) PARTITION BY RANGE (a, b);
CREATE TABLE good (t timestamptz NOT NULL) PARTITION BY RANGE (t);
CREATE VIEW a_view AS SELECT 1 AS x;

-- not partitioned
SELECT * FROM keel.partition_by_time('plain');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.partition_by_time('a_view');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- list and hash
SELECT * FROM keel.partition_by_time('by_list');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.partition_by_time('by_hash');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- key of the wrong type, an expression, two columns
SELECT * FROM keel.partition_by_time('by_int');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.partition_by_time('by_text');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.partition_by_time('by_expr');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.partition_by_time('by_two');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a table that does not exist
SELECT * FROM keel.partition_by_time('no_such_table');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- options
SELECT * FROM keel.partition_by_time('good', 'fortnight');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.partition_by_time('good', premake => -1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.partition_by_time('good', start_back => 5000);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.partition_by_time('good', retention_mode => 'archive');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.partition_by_time(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.partition_by_time('good', premake => NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- retention shorter than one interval
SELECT * FROM keel.partition_by_time('good', 'month', retention => '20 days');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.partition_by_time('good', 'week', retention => '6 days 23 hours');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.partition_by_time('good', 'year', retention => '11 months');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM keel.partition_by_time('good', 'day', retention => '-1 day');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- nothing was written by any of the above
SELECT count(*) AS registered FROM keel.partition_config
 WHERE parent::oid IN (SELECT oid FROM pg_class WHERE relnamespace = 'partition_bad_input_test'::regnamespace);
SELECT count(*) AS partitions FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent
 WHERE c.relnamespace = 'partition_bad_input_test'::regnamespace;

-- run_maintenance on a table that is not registered
SELECT * FROM keel.run_maintenance('good');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- partition boundaries past the year 9999 are refused
CREATE TABLE far (d date NOT NULL) PARTITION BY RANGE (d);
SELECT * FROM keel.partition_by_time('far', 'year', premake => 1, default_partition => false,
                                     as_of => '9999-06-01 00:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS registered FROM keel.partition_config WHERE parent::oid = 'far'::regclass;

-- not the owner
CREATE ROLE keel_part_stranger;
GRANT USAGE ON SCHEMA partition_bad_input_test TO keel_part_stranger;
GRANT EXECUTE ON FUNCTION keel.partition_by_time(regclass, text, integer, interval, text, boolean, integer, timestamptz)
   TO keel_part_stranger;
SET ROLE keel_part_stranger;
SELECT * FROM keel.partition_by_time('good');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- and without EXECUTE: admin functions are not for everyone
SELECT * FROM keel.run_maintenance();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE EXECUTE ON FUNCTION keel.partition_by_time(regclass, text, integer, interval, text, boolean, integer, timestamptz)
  FROM keel_part_stranger;

-- maintenance tasks of the wrong shape
CREATE FUNCTION wrong_args(int) RETURNS bigint LANGUAGE sql AS 'SELECT 1::bigint';
CREATE FUNCTION wrong_result(timestamptz) RETURNS int LANGUAGE sql AS 'SELECT 1';
SELECT keel.register_maintenance_task('bad', 'wrong_args(int)');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.register_maintenance_task('bad', 'wrong_result(timestamptz)');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.register_maintenance_task('', 'wrong_result(timestamptz)');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT keel.register_maintenance_task('bad', 'no_such_function(timestamptz)');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS tasks FROM keel.maintenance_task WHERE name = 'bad';

-- a bad keel.maintenance_now
SET keel.maintenance_now = 'not a time';
SELECT * FROM keel.run_maintenance();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET keel.maintenance_now;
SET keel.maintenance_nowz = 'x';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

SET client_min_messages = warning;
DROP SCHEMA partition_bad_input_test CASCADE;
RESET client_min_messages;
DROP ROLE keel_part_stranger;
