# keel's background worker: idle with no databases configured; after a reload
# (SIGHUP) it maintains the databases it is told about, without any explicit call,
# surviving a database that does not exist and one without keel; it runs the
# maintenance tasks; it is visible by name in pg_stat_activity; it comes back after a
# crash; and it stops cleanly.  The clock is keel.maintenance_now, never today.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'keel'
keel.maintenance_interval = 1
restart_after_crash = on
});
$node->start;

sub partitions {
    my ($db) = @_;
    return $node->safe_psql($db, q{
        SELECT string_agg(c.relname, ',' ORDER BY c.relname)
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = '"Audit; Events"'::regclass});
}

ok($node->poll_query_until('postgres',
    q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'keel maintenance launcher'}),
   'the launcher shows in pg_stat_activity by name');

$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', q{
    CREATE EXTENSION keel;
    CREATE TABLE "Audit; Events" (id bigint, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at);
    SELECT count(*) FROM keel.partition_by_time('"Audit; Events"', premake => 1, default_partition => false,
                                                as_of => '2026-01-10 00:00+00');
    CREATE TABLE task_log (as_of timestamptz);
    CREATE FUNCTION log_task(as_of timestamptz) RETURNS bigint LANGUAGE sql
        AS $$ INSERT INTO task_log VALUES (as_of); SELECT 1::bigint $$;
    SELECT keel.register_maintenance_task('log', 'log_task(timestamptz)');
});
is(partitions('app'), 'Audit; Events_2026_01,Audit; Events_2026_02', 'registration made January and February');

# With no database configured the worker does nothing: the clock moves, nothing is made.
$node->safe_psql('postgres', q{ALTER SYSTEM SET keel.maintenance_now = '2030-06-15 00:00+00'});
$node->reload;
sleep 3;
is(partitions('app'), 'Audit; Events_2026_01,Audit; Events_2026_02', 'idle without keel.maintenance_databases');
is($node->safe_psql('app', 'SELECT count(*) FROM task_log'), '0', 'no task ran while idle');

# SIGHUP with databases: a missing one and one without keel come first; app is still served.
$node->safe_psql('postgres', q{ALTER SYSTEM SET keel.maintenance_databases = 'no_such_db, postgres, app'});
$node->reload;
ok($node->poll_query_until('app',
    q{SELECT count(*) = 2 FROM pg_class WHERE relname IN ('Audit; Events_2030_06', 'Audit; Events_2030_07')}),
   'the worker made June and July 2030 by itself, past a bad database');
ok($node->poll_query_until('app', q{SELECT count(*) > 0 FROM task_log WHERE as_of = '2030-06-15 00:00+00'}),
   'the worker ran the maintenance task with its clock');
my $log = slurp_file($node->logfile);
like($log, qr/database "no_such_db" does not exist/, 'the missing database was logged');
like($log, qr/extension keel is not installed in database "postgres"/, 'the database without keel was logged');

# Settings are re-read on SIGHUP: a new clock, new partitions.
$node->safe_psql('postgres', q{ALTER SYSTEM SET keel.maintenance_now = '2031-01-10 00:00+00'});
$node->reload;
ok($node->poll_query_until('app',
    q{SELECT count(*) = 2 FROM pg_class WHERE relname IN ('Audit; Events_2031_01', 'Audit; Events_2031_02')}),
   'after SIGHUP the worker follows the new setting');

# A crash of the launcher: the postmaster restarts the cluster and the launcher.
my $pid = $node->safe_psql('postgres',
    q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'keel maintenance launcher'});
ok($pid =~ /^\d+$/, 'launcher pid found');
kill 'KILL', $pid;
ok($node->poll_query_until('postgres',
    qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'keel maintenance launcher' AND pid <> $pid}),
   'the launcher is back after a crash');
$node->safe_psql('postgres', q{ALTER SYSTEM SET keel.maintenance_now = '2032-03-10 00:00+00'});
$node->reload;
ok($node->poll_query_until('app',
    q{SELECT count(*) = 2 FROM pg_class WHERE relname IN ('Audit; Events_2032_03', 'Audit; Events_2032_04')}),
   'and it maintains again');
is($node->safe_psql('app', q{SELECT count(*) FROM keel.partition_config}), '1', 'registration intact');

# SIGTERM (fast shutdown) stops it cleanly.
$node->stop('fast');
like(slurp_file($node->logfile), qr/keel maintenance launcher shutting down/, 'clean stop on SIGTERM');

done_testing();
