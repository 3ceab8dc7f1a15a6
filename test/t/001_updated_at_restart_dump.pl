# updated_at survives a restart and a pg_dump/pg_restore round trip: the trigger is
# carried, restored timestamps are not rewritten, and it keeps working afterwards.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'keel'");
$node->start;

$node->safe_psql('postgres', q{
    CREATE EXTENSION keel;
    CREATE TABLE "Users; x" (id int PRIMARY KEY, email text, updated_at timestamptz);
    INSERT INTO "Users; x" SELECT g, 'u' || g, '2001-02-03 04:05:06+00' FROM generate_series(1, 100) g;
    SELECT keel.enable_updated_at('"Users; x"');
    UPDATE "Users; x" SET email = email || '!' WHERE id <= 10;
});
is($node->safe_psql('postgres',
    q{SELECT count(*) FROM "Users; x" WHERE updated_at > '2001-02-03 04:05:06+00'}),
    '10', 'ten rows touched before restart');

$node->restart;
$node->safe_psql('postgres', q{UPDATE "Users; x" SET email = email || '?' WHERE id BETWEEN 11 AND 15});
is($node->safe_psql('postgres',
    q{SELECT count(*) FROM "Users; x" WHERE updated_at > '2001-02-03 04:05:06+00'}),
    '15', 'trigger works after restart');

my $before = $node->safe_psql('postgres', q{SELECT md5(string_agg(id || ':' || email || ':' || updated_at, ',' ORDER BY id)) FROM "Users; x"});
my $dump = $node->basedir . '/dump.custom';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ], 'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore');

is($node->safe_psql('restored', q{SELECT md5(string_agg(id || ':' || email || ':' || updated_at, ',' ORDER BY id)) FROM "Users; x"}),
    $before, 'restored rows identical, timestamps not rewritten by the restore');
is($node->safe_psql('restored', q{SELECT count(*) FROM pg_trigger WHERE tgrelid = '"Users; x"'::regclass AND tgname = 'keel_touch_updated_at'}),
    '1', 'trigger carried by the dump');
$node->safe_psql('restored', q{UPDATE "Users; x" SET email = 'z' WHERE id = 100});
is($node->safe_psql('restored', q{SELECT updated_at > '2001-02-03 04:05:06+00' FROM "Users; x" WHERE id = 100}),
    't', 'trigger works in the restored database');

$node->stop;
done_testing();
