# Streaming replication: a standby with its own copy of the key file verifies the audit
# chain and decrypts what the primary wrote, while the primary keeps writing; without a
# key it refuses clearly; after promotion, inserts extend the same chain, which still
# verifies (also against a digest taken on the old primary), and new secrets encrypt.
use strict;
use warnings;
use lib "$ENV{KEEL_SRC}/test/perl";
use KeelTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = keel_node('primary', allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
    CREATE EXTENSION keel;
    SELECT keel.create_key('standby_k');
    CREATE TABLE events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind text NOT NULL, payload jsonb NOT NULL DEFAULT '{}',
        previous_hash varchar(64), signature varchar(64));
    SELECT keel.enable_audit_chain('events', 'previous_hash', 'signature');
    -- a second chain, kept beside its table, with four sub-chains
    CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text);
    SELECT keel.enable_audit_chain('notes', sub_chains => 4);
    CREATE TABLE secrets (id int PRIMARY KEY, secret text, config jsonb);
    SELECT keel.encrypt_column('secrets', 'secret', 'standby_k', '{id}');
    SELECT keel.encrypt_column('secrets', 'config', 'standby_k', '{id}');
    INSERT INTO events (kind, payload) SELECT 'before backup', jsonb_build_object('g', g) FROM generate_series(1, 200) g;
    INSERT INTO notes (body) SELECT 'n' || g FROM generate_series(1, 100) g;
    INSERT INTO secrets SELECT g, 'secret ' || g, jsonb_build_object('password', 'pw' || g) FROM generate_series(1, 100) g;
});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
# Its own key: a copy of the master key beside its data directory (the base backup
# carried the primary's setting, which this line overrides).
keel_give_key($standby);
ok(!-e $standby->data_dir . '/master.key', 'the base backup carried no key file');
$standby->start;

# The primary keeps writing after the backup.
$primary->safe_psql('postgres', q{
    INSERT INTO events (kind) SELECT 'after backup' FROM generate_series(1, 300);
    INSERT INTO notes (body) SELECT 'm' || g FROM generate_series(1, 100) g;
    UPDATE secrets SET secret = 'rotated ' || id WHERE id <= 50;
    INSERT INTO secrets SELECT g, 'secret ' || g, NULL FROM generate_series(101, 150) g;
});
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'standby is in recovery');
is(chains_verify($standby, 'postgres', 'standby'), 2, 'standby verified both chains');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM events'), '500', 'standby has every event');
my $dec_primary = encrypted_columns_decrypt($primary, 'postgres');
my $dec_standby = encrypted_columns_decrypt($standby, 'postgres');
like($dec_standby, qr/^secrets\.secret:150:/m, 'standby decrypts all 150 secrets');
is($dec_standby, $dec_primary, 'standby decrypts to the same plaintexts as the primary');
my $digest = $primary->safe_psql('postgres', q{SELECT keel.audit_chain_digest('events')});
is($standby->safe_psql('postgres', qq{SELECT ok FROM keel.verify_audit_chain('events', '$digest')}),
    't', "standby's chain contains the primary's digest");
{
    my ($pret, $pout, $perr) = $standby->psql('postgres', qq{
        SET min_parallel_table_scan_size = 0; SET max_parallel_maintenance_workers = 2;
        SET client_min_messages = debug1;
        SELECT ok FROM keel.verify_audit_chain('events', '$digest')});
    is($pout, 't', 'the parallel verification pass verifies on a hot standby too');
    like($perr, qr/verified in one parallel pass/, '... and it was the parallel pass that answered');
}

# Without the key the standby refuses with the key store's error, not garbage.
my ($ret, $out, $err) = $standby->psql('postgres', q{
    SET keel.master_key_file = '/nonexistent/master.key';
    SELECT keel.decrypt_text(secret, keel.column_aad('public.secrets.secret', id)) FROM secrets LIMIT 1});
isnt($ret, 0, 'standby without its key file cannot decrypt');
like($err, qr/master/i, 'and says the master key is the problem');

# Writes on a standby are refused as usual (the chain cannot fork there).
($ret, $out, $err) = $standby->psql('postgres', q{INSERT INTO events (kind) VALUES ('on standby')});
like($err, qr/read-only transaction/, 'standby refuses chained inserts');

# Failover: the standby is promoted, the old primary stopped; writes continue the chain.
$primary->stop;
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die 'promotion did not finish';
$standby->safe_psql('postgres', q{
    INSERT INTO events (kind) SELECT 'after promotion' FROM generate_series(1, 100);
    INSERT INTO notes (body) SELECT 'p' || g FROM generate_series(1, 50) g;
    INSERT INTO secrets VALUES (151, 'written after promotion', '{"password": "new"}');
    UPDATE secrets SET secret = 'changed after promotion' WHERE id = 1;
});
is(chains_verify($standby, 'postgres', 'promoted'), 2, 'promoted node verified both chains');
is($standby->safe_psql('postgres', qq{SELECT ok FROM keel.verify_audit_chain('events', '$digest')}),
    't', "promoted node's chain extends the old primary's (digest)");
is($standby->safe_psql('postgres', q{SELECT rows_checked FROM keel.verify_audit_chain('events')}),
    '600', 'the chain covers the rows of both primaries');
like(encrypted_columns_decrypt($standby, 'postgres'), qr/^secrets\.secret:151:/m,
    'every secret decrypts after promotion, the new ones too');
is($standby->safe_psql('postgres', q{
    SELECT keel.decrypt_text(secret, keel.column_aad('public.secrets.secret', id)) FROM secrets WHERE id = 1}),
    'changed after promotion', 'an update after promotion decrypts');

$standby->stop;
done_testing();
