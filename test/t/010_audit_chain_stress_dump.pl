# keel's audit chain under a pgbench storm (several clients, a third of the
# transactions rolled back on purpose) verifies clean with no fork and no gap, in the
# default mode and in the scaling mode; then a pg_dump/pg_restore round trip keeps
# every row's canonical hash (the restored chain verifies, also against a digest made
# before the dump) while the restored database is a new incarnation.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('chain');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'keel'");
$node->append_conf('postgresql.conf', "keel.master_key_file = '$ENV{KEEL_MASTER_KEY}'");
$node->append_conf('postgresql.conf', "max_connections = 30");
$node->start;

$node->safe_psql('postgres', q{
    CREATE EXTENSION keel;
    CREATE TABLE ev (id bigserial PRIMARY KEY, n int, at timestamptz DEFAULT now(),
                     payload jsonb DEFAULT '{"k": [1, 2.50, "x"]}', previous_hash varchar(64), signature varchar(64));
    SELECT keel.enable_audit_chain('ev', 'previous_hash', 'signature');
    CREATE TABLE "side; table" (n int, t text DEFAULT 'x', d date DEFAULT '2024-01-01');
    SELECT keel.enable_audit_chain('"side; table"', sub_chains => 4);
});

my $script = $node->basedir . '/chain.sql';
open(my $fh, '>', $script) or die;
print $fh <<'SQL';
\set r random(1, 9)
BEGIN;
INSERT INTO ev (n) VALUES (:r);
INSERT INTO "side; table" (n) VALUES (:r);
\if :r <= 3
ROLLBACK;
\else
COMMIT;
\endif
SQL
close($fh);

$node->command_ok(
    [ 'pgbench', '-n', '-c', '6', '-j', '3', '-T', '8', '-f', $script, '-d', $node->connstr('postgres') ],
    'pgbench: 6 clients inserting, a third of the transactions rolled back');

my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM ev');
cmp_ok($rows, '>', 100, "pgbench committed rows ($rows)");
is($node->safe_psql('postgres', q{SELECT ok, rows_checked = (SELECT count(*) FROM ev) FROM keel.verify_audit_chain('ev')}),
    't|t', 'the chain verifies clean after the storm');
is($node->safe_psql('postgres', q{
    SET min_parallel_table_scan_size = 0; SET max_parallel_maintenance_workers = 2;
    SELECT ok, rows_checked = (SELECT count(*) FROM ev) FROM keel.verify_audit_chain('ev')}),
    't|t', 'the parallel verification pass agrees');
is($node->safe_psql('postgres', q{SELECT ok FROM keel.verify_audit_chain('"side; table"')}),
    't', 'the 4-sub-chain table verifies clean after the storm');
# no gap and no fork: positions of each sub-chain are exactly 1..n, one link per row
is($node->safe_psql('postgres', q{
    SELECT bool_and(n = max_pos)
      FROM (SELECT chain_id, sub, count(*) AS n, max(pos) AS max_pos FROM keel.audit_link GROUP BY 1, 2) s}),
    't', 'every sub-chain is gap-free');
is($node->safe_psql('postgres', q{
    SELECT (SELECT count(*) FROM keel.audit_link WHERE chain_id = keel._audit_chain_id('ev')) = (SELECT count(*) FROM ev)
       AND (SELECT count(DISTINCT previous_hash) FROM ev) = (SELECT count(*) FROM ev)}),
    't', 'one link per committed row and no two rows share a predecessor (no fork)');
cmp_ok($node->safe_psql('postgres', q{
    SELECT count(DISTINCT sub) FROM keel.audit_link WHERE chain_id = keel._audit_chain_id('"side; table"')}),
    '>', 1, 'concurrent writers spread over several sub-chains');

my $digest = $node->safe_psql('postgres', q{SELECT keel.audit_chain_digest('ev')});
like($digest, qr/^keel-digest-v1:[0-9a-f]+$/, 'digest made before the dump');

my $dump = $node->basedir . '/chain.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ], 'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore');

is($node->safe_psql('restored', q{SELECT ok, rows_checked FROM keel.verify_audit_chain('ev')}),
    "t|$rows", 'restored chain verifies: every canonical row hash survived the round trip');
is($node->safe_psql('restored', qq{SELECT ok FROM keel.verify_audit_chain('ev', '$digest')}),
    't', 'the digest made before the dump verifies the restored chain');
is($node->safe_psql('restored', q{SELECT ok FROM keel.verify_audit_chain('"side; table"')}),
    't', 'restored side-table chain verifies');
isnt($node->safe_psql('restored', q{SELECT incarnation FROM keel.database_incarnation}),
    $node->safe_psql('postgres', q{SELECT incarnation FROM keel.database_incarnation}),
    'the restored database is a new incarnation');
# the restored table keeps chaining and stays append-only
$node->safe_psql('restored', q{INSERT INTO ev (n) VALUES (42)});
is($node->safe_psql('restored', q{SELECT ok, rows_checked FROM keel.verify_audit_chain('ev')}),
    't|' . ($rows + 1), 'the restored chain grows and verifies');
my ($ret, $out, $err) = $node->psql('restored', 'DELETE FROM ev');
like($err, qr/append-only audit chain/, 'the restored table is append-only');

$node->stop;
done_testing();
