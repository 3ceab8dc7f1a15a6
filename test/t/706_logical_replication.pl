# Logical replication: a publisher (wal_level = logical) and a subscriber, both with keel
# and their own copy of the master key, the subscriber's schema from a schema-only dump
# of the publisher. Published: a chain kept in the rows, one kept beside its table, a
# chained table partitioned by time (publish_via_partition_root), an encrypted column,
# an updated_at table, and keel's chain state and key tables. Proves the claims of
# docs/scale_out.md, "Logical replication": rows arrive with their in-row chain columns,
# keel's triggers (ordinary, not ENABLE ALWAYS) fire neither on the initial copy nor on
# apply, the chains verify on the subscriber (also against the publisher's digest, which
# names the publisher's database), the incarnation stays per database, ciphertexts
# arrive byte for byte and decrypt there, updated_at keeps the published values, each
# side's own partitions receive the rows, and a local insert on the subscriber forks the
# chain (the publisher's next link then conflicts and stops the subscription).
use strict;
use warnings;
use lib "$ENV{KEEL_SRC}/test/perl";
use KeelTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pub = keel_node('publisher', allows_streaming => 'logical');
$pub->start;
my $sub = keel_node('subscriber');
$sub->start;

$pub->safe_psql('postgres', q{
    CREATE EXTENSION keel;
    SELECT keel.create_key('lr_k');
    CREATE TABLE events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind text NOT NULL, payload jsonb NOT NULL DEFAULT '{}',
        previous_hash varchar(64), signature varchar(64));
    SELECT keel.enable_audit_chain('events', 'previous_hash', 'signature');
    CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text);
    SELECT keel.enable_audit_chain('notes', sub_chains => 3);
    CREATE TABLE metrics (at timestamptz NOT NULL, id bigint NOT NULL, v int, PRIMARY KEY (at, id))
        PARTITION BY RANGE (at);
    SELECT count(*) FROM keel.partition_by_time('metrics', 'month', premake => 2, start_back => 2);
    SELECT keel.enable_audit_chain('metrics');
    CREATE TABLE secrets (id int PRIMARY KEY, secret text, config jsonb);
    SELECT keel.encrypt_column('secrets', 'secret', 'lr_k', '{id}');
    SELECT keel.encrypt_column('secrets', 'config', 'lr_k', '{id}');
    CREATE TABLE docs (id int PRIMARY KEY, body text, updated_at timestamptz);
    SELECT keel.enable_updated_at('docs');
    INSERT INTO events (kind, payload) SELECT 'before', jsonb_build_object('g', g) FROM generate_series(1, 200) g;
    INSERT INTO notes (body) SELECT 'n' || g FROM generate_series(1, 100) g;
    -- the oldest rows first (20, two months back: retired later), then 200 of the last 20 days
    INSERT INTO metrics SELECT date_trunc('month', now()) - interval '2 months' + interval '1 day', g, g
      FROM generate_series(2001, 2020) g;
    INSERT INTO metrics SELECT now() - (g % 20) * interval '1 day', g, g FROM generate_series(1, 200) g;
    INSERT INTO secrets SELECT g, 'secret ' || g, jsonb_build_object('pw', 'pw' || g) FROM generate_series(1, 100) g;
    INSERT INTO docs (id, body) SELECT g, 'doc ' || g FROM generate_series(1, 50) g;
    UPDATE docs SET body = body || ' (edited)' WHERE id <= 10;
});

# The subscriber's schema: a schema-only dump of the publisher (tables, partitions,
# keel's triggers; CREATE EXTENSION makes the subscriber's own incarnation; keel's
# configuration tables are data and come through the subscription).
my $dump = $pub->basedir . '/schema.sql';
command_ok(['pg_dump', '--schema-only', '--no-publications', '--no-subscriptions',
            '-d', $pub->connstr('postgres'), '-f', $dump], 'schema-only dump of the publisher');
$sub->command_ok(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $sub->connstr('postgres'), '-f', $dump],
    'schema restored on the subscriber');
is($sub->safe_psql('postgres', q{
    SELECT (SELECT count(*) FROM keel.audit_chain) + (SELECT count(*) FROM keel.audit_link)
         + (SELECT count(*) FROM keel.data_keys) + (SELECT count(*) FROM keel.key_check)}),
    '0', 'the subscriber starts with no chain or key state');

# keel's triggers are ordinary ones ('O'): the apply worker (session_replication_role =
# replica) skips them.
is($pub->safe_psql('postgres', q{
    SELECT count(*) FILTER (WHERE tgenabled <> 'O') || '/' || count(*) FROM pg_trigger
     WHERE NOT tgisinternal AND tgrelid IN ('events'::regclass, 'notes'::regclass, 'metrics'::regclass,
                                            'secrets'::regclass, 'docs'::regclass)}),
    '0/12', 'keel triggers on the published tables are all ordinary (none ALWAYS or REPLICA)');

$pub->safe_psql('postgres', q{
    CREATE PUBLICATION keel_pub FOR TABLE events, notes, metrics, secrets, docs,
        keel.audit_chain, keel.audit_link, keel.audit_checkpoint,
        keel.data_keys, keel.key_check, keel.encrypted_columns
        WITH (publish_via_partition_root = true);
});
# Every published table has a primary key: UPDATE and DELETE replicate (key rotation,
# link deletion at retention).
is($pub->safe_psql('postgres', q{
    SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))
           || '/' || count(*)
      FROM pg_publication_tables t JOIN pg_class c ON c.oid = format('%I.%I', t.schemaname, t.tablename)::regclass
     WHERE t.pubname = 'keel_pub'}),
    '0/11', 'every published table has a primary key');
my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres', qq{
    CREATE SUBSCRIPTION keel_sub CONNECTION '$connstr' PUBLICATION keel_pub WITH (disable_on_error = true);
});

# Initial synchronisation done and apply caught up; dies at once when an error has
# disabled the subscription (disable_on_error) instead of waiting for a timeout.
sub caught_up {
    my $enabled = q{SELECT subenabled FROM pg_subscription WHERE subname = 'keel_sub'};
    $sub->poll_query_until('postgres', qq{
        SELECT count(*) = 0 OR NOT ($enabled) FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')})
      or die 'initial table synchronisation did not finish';
    my $lsn = $pub->lsn('insert');
    my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
    while (time < $deadline) {
        $sub->safe_psql('postgres', $enabled) eq 't' or die 'the subscription was disabled by an error';
        return if $pub->safe_psql('postgres', qq{
            SELECT '$lsn' <= replay_lsn FROM pg_stat_replication WHERE application_name = 'keel_sub'}) eq 't';
        select(undef, undef, undef, 0.1);
    }
    die 'the subscriber did not catch up';
}
caught_up();

# The subscriber keeps its own partitioning: more months ahead than the publisher.
$sub->safe_psql('postgres', q{SELECT count(*) FROM keel.partition_by_time('metrics', 'month', premake => 8, start_back => 2)});

# The publisher keeps writing, streamed through apply.
$pub->safe_psql('postgres', q{
    INSERT INTO events (kind) SELECT 'after' FROM generate_series(1, 300);
    INSERT INTO notes (body) SELECT 'm' || g FROM generate_series(1, 100) g;
    -- five months ahead: the publisher's default partition, a monthly one on the subscriber
    INSERT INTO metrics SELECT date_trunc('month', now()) + interval '5 months 3 days', g, g FROM generate_series(1001, 1010) g;
    INSERT INTO metrics SELECT now() - interval '1 day', g, g FROM generate_series(1011, 1100) g;
    SELECT keel.rotate_key('lr_k');
    UPDATE secrets SET secret = 'rotated ' || id WHERE id <= 30;
    INSERT INTO secrets SELECT g, 'secret ' || g, NULL FROM generate_series(101, 150) g;
    UPDATE docs SET body = body || ' (again)' WHERE id BETWEEN 5 AND 20;
    INSERT INTO docs (id, body) VALUES (51, 'late');
});
caught_up();

# Same contents, row for row and byte for byte, on both sides.
my %contents = (
    events   => q{SELECT md5(string_agg(t::text, '|' ORDER BY id)) || ':' || count(*) FROM events t},
    notes    => q{SELECT md5(string_agg(t::text, '|' ORDER BY id)) || ':' || count(*) FROM notes t},
    metrics  => q{SELECT md5(string_agg(t::text, '|' ORDER BY id)) || ':' || count(*) FROM metrics t},
    secrets  => q{SELECT md5(string_agg(t::text, '|' ORDER BY id)) || ':' || count(*) FROM secrets t},
    docs     => q{SELECT md5(string_agg(t::text, '|' ORDER BY id)) || ':' || count(*) FROM docs t},
    links    => q{SELECT md5(string_agg(t::text, '|' ORDER BY chain_id, sub, pos)) || ':' || count(*) FROM keel.audit_link t},
    chains   => q{SELECT md5(string_agg(t::text, '|' ORDER BY chain_id)) || ':' || count(*) FROM keel.audit_chain t},
    keys     => q{SELECT md5(string_agg(t::text, '|' ORDER BY key_id, version)) || ':' || count(*) FROM keel.data_keys t},
);
for my $what (sort keys %contents) {
    my $p = $pub->safe_psql('postgres', $contents{$what});
    is($sub->safe_psql('postgres', $contents{$what}), $p, "$what identical on the subscriber ($p)");
}
is($sub->safe_psql('postgres', q{SELECT count(*) FROM events WHERE signature IS NOT NULL AND previous_hash IS NOT NULL}),
    '500', 'every replicated event carries its in-row previous_hash and signature');
# Had a chain trigger fired on apply, it would have re-chained the row (another link at
# the next position, new in-row columns) or refused it: one link per row, none extra.
is($sub->safe_psql('postgres', q{
    SELECT (SELECT count(*) FROM keel.audit_link) - (SELECT count(*) FROM events)
         - (SELECT count(*) FROM notes) - (SELECT count(*) FROM metrics)}),
    '0', 'no link made on the subscriber: exactly one per replicated row');
is($sub->safe_psql('postgres', q{
    SELECT (SELECT is_called FROM keel.audit_chain_id_seq)::text || '/' || (SELECT is_called FROM keel.data_key_id_seq)::text}),
    'false/false', "the subscriber's chain and key id sequences were never used (not replicated)");

is(chains_verify($sub, 'postgres', 'subscriber'), 3, 'subscriber verified all three chains');

# The subscriber's own partitions receive the rows.
is($pub->safe_psql('postgres', q{SELECT count(*) FROM metrics_default}), '10',
    "publisher: the far rows are in its default partition");
is($sub->safe_psql('postgres', q{
    SELECT count(*) FILTER (WHERE tableoid = 'metrics_default'::regclass) || '/' || count(*)
      FROM metrics WHERE id BETWEEN 1001 AND 1010}),
    '0/10', "subscriber: the same rows in a monthly partition it made itself");
my $parts = q{SELECT count(*) FROM pg_inherits WHERE inhparent = 'metrics'::regclass};
cmp_ok($sub->safe_psql('postgres', $parts), '>', $pub->safe_psql('postgres', $parts),
    'the subscriber has more partitions than the publisher');

# The incarnation is per database; the publisher's digest names the publisher and
# verifies on the subscriber (the same chain: same salt, heads and HMAC key).
my $inc = q{SELECT replace(incarnation::text, '-', '') FROM keel.database_incarnation};
my $sysid = q{SELECT lpad(to_hex(system_identifier), 16, '0') FROM pg_control_system()};
isnt($sub->safe_psql('postgres', $inc), $pub->safe_psql('postgres', $inc),
    'the subscriber keeps its own database incarnation');
is($pub->safe_psql('postgres', q{
    SELECT count(*) FROM pg_publication_tables WHERE schemaname = 'keel' AND tablename = 'database_incarnation'}),
    '0', 'keel.database_incarnation is not published');
# FOR ALL TABLES would publish it (and keel's per-database configuration): name tables.
$pub->safe_psql('postgres', q{CREATE PUBLICATION all_tables FOR ALL TABLES});
is($pub->safe_psql('postgres', q{
    SELECT count(*) FROM pg_publication_tables WHERE pubname = 'all_tables' AND schemaname = 'keel'
       AND tablename IN ('database_incarnation', 'partition_config', 'maintenance_task')}),
    '3', 'a FOR ALL TABLES publication would include keel.database_incarnation and keel configuration');
$pub->safe_psql('postgres', q{DROP PUBLICATION all_tables});
for my $tbl ('events', 'notes', 'metrics') {
    my $digest = $pub->safe_psql('postgres', qq{SELECT keel.audit_chain_digest('$tbl')});
    my ($hex) = $digest =~ /^keel-digest-v1:([0-9a-f]+)$/ or die "odd digest $digest";
    is(substr($hex, 16, 16) . '/' . substr($hex, 40, 32),
       $pub->safe_psql('postgres', $sysid) . '/' . $pub->safe_psql('postgres', $inc),
       "$tbl: the publisher's digest names the publisher's system and incarnation");
    is($sub->safe_psql('postgres', qq{SELECT ok FROM keel.verify_audit_chain('$tbl', '$digest')}), 't',
        "$tbl: the publisher's digest verifies on the subscriber");
    my $sdigest = $sub->safe_psql('postgres', qq{SELECT keel.audit_chain_digest('$tbl')});
    isnt($sdigest, $digest, "$tbl: the subscriber's own digest names the subscriber");
    is($pub->safe_psql('postgres', qq{SELECT ok FROM keel.verify_audit_chain('$tbl', '$sdigest')}), 't',
        "$tbl: and verifies on the publisher");
}
my $old_digest = $pub->safe_psql('postgres', q{SELECT keel.audit_chain_digest('events')});

# Ciphertexts: byte for byte (compared above), not encrypted twice, decryptable with the
# replicated key tables and the subscriber's own copy of the master key.
my $dec_pub = encrypted_columns_decrypt($pub, 'postgres');
like($dec_pub, qr/^secrets\.secret:150:/m, 'publisher decrypts 150 secrets');
is(encrypted_columns_decrypt($sub, 'postgres'), $dec_pub, 'subscriber decrypts to the same plaintexts');
is($sub->safe_psql('postgres', q{
    SELECT keel.decrypt_text(secret, keel.column_aad('public.secrets.secret', id)) FROM secrets WHERE id = 7}),
    'rotated 7', 'a value encrypted with the rotated key version decrypts on the subscriber');
my ($ret, $out, $err) = $sub->psql('postgres', q{
    SET keel.master_key_file = '/nonexistent/master.key';
    SELECT keel.decrypt_text(secret, keel.column_aad('public.secrets.secret', id)) FROM secrets LIMIT 1});
like($err, qr/master/i, 'without a master key the subscriber refuses to decrypt, naming the master key');

# updated_at: the published values are kept (the trigger would have set the apply time).
is($sub->safe_psql('postgres', q{SELECT count(*) FROM docs WHERE updated_at IS NOT NULL}), '20',
    'updated_at as set on the publisher (20 rows updated there)');

# Retention of a chained partitioned table: the publisher retires its oldest partition
# (checkpoint written, links deleted: both replicated; the DROP is not). Until the
# subscriber drops the same partition its chain reports the rows as unlinked; it drops
# it through keel's retention path, which finds the replicated checkpoint.
my $retired = $pub->safe_psql('postgres', q{
    SELECT string_agg(object, ',' ORDER BY object)
      FROM keel.partition_by_time('metrics', 'month', premake => 2, start_back => 2, retention => '1 month')
     WHERE action = 'dropped'});
like($retired, qr/^public\.metrics_\w+$/, "publisher retired its oldest partition ($retired)");
is($pub->safe_psql('postgres', q{SELECT ok FROM keel.verify_audit_chain('metrics')}), 't',
    'publisher: the chain verifies from its checkpoint');
caught_up();
is($sub->safe_psql('postgres', q{SELECT count(*) FROM keel.audit_checkpoint}), '1',
    "the publisher's checkpoint reached the subscriber");
is($sub->safe_psql('postgres', q{SELECT ok::text || ' ' || break_kind FROM keel.verify_audit_chain('metrics')}),
    'false row inserted', 'subscriber still holding the retired rows: they are unlinked, verification fails');
($ret, $out, $err) = $sub->psql('postgres', qq{DROP TABLE $retired});
like($err, qr/cannot drop partition/, "a plain DROP of it is refused on the subscriber by keel's DDL guard");
$sub->safe_psql('postgres', qq{
    BEGIN;
    SELECT keel.audit_chain_retire_partition('metrics', '$retired');
    DROP TABLE $retired;
    COMMIT;});
is($sub->safe_psql('postgres', q{SELECT count(*) FROM keel.audit_checkpoint}), '1',
    "keel's retention path recognises the replicated checkpoint there: drop permitted, nothing recorded");
is($sub->safe_psql('postgres', q{SELECT ok FROM keel.verify_audit_chain('metrics')}), 't',
    'after dropping the same partition the subscriber verifies from the replicated checkpoint');
my $mdigest = $pub->safe_psql('postgres', q{SELECT keel.audit_chain_digest('metrics')});
is($sub->safe_psql('postgres', qq{SELECT ok FROM keel.verify_audit_chain('metrics', '$mdigest')}), 't',
    "and the publisher's digest after retirement verifies there");

# More apply after the checks, then a local write on the subscriber: it fires the chain
# trigger there and forks the chain.
$pub->safe_psql('postgres', q{INSERT INTO events (kind) SELECT 'late' FROM generate_series(1, 50)});
caught_up();
is($sub->safe_psql('postgres', qq{SELECT ok FROM keel.verify_audit_chain('events', '$old_digest')}), 't',
    'an older publisher digest still verifies on the subscriber after more apply');
$sub->safe_psql('postgres', q{
    INSERT INTO events (id, kind) OVERRIDING SYSTEM VALUE VALUES (1000000, 'written on the subscriber')});
is($sub->safe_psql('postgres', q{SELECT signature IS NOT NULL FROM events WHERE id = 1000000}), 't',
    'a local insert on the subscriber is chained there (its trigger fires)');
is($sub->safe_psql('postgres', q{SELECT ok FROM keel.verify_audit_chain('events')}), 't',
    "the subscriber's chain verifies on its own");
my $log_offset = -s $sub->logfile;
$pub->safe_psql('postgres', q{INSERT INTO events (kind) VALUES ('after the fork')});
$sub->wait_for_log(qr/duplicate key value violates unique constraint "audit_link_pkey"/, $log_offset);
$sub->poll_query_until('postgres', q{SELECT NOT subenabled FROM pg_subscription WHERE subname = 'keel_sub'})
  or die 'the subscription was not disabled';
pass("the publisher's next link conflicts with the subscriber's (same position): the subscription stops");
my $head = q{SELECT encode(link_hash, 'hex') FROM keel.audit_link
              WHERE chain_id = keel._audit_chain_id('events') ORDER BY pos DESC LIMIT 1};
isnt($sub->safe_psql('postgres', $head), $pub->safe_psql('postgres', $head),
    'the two heads differ at the same position: the chain has forked');
my $new_digest = $pub->safe_psql('postgres', q{SELECT keel.audit_chain_digest('events')});
is($sub->safe_psql('postgres', qq{SELECT ok FROM keel.verify_audit_chain('events', '$new_digest')}), 'f',
    "the publisher's new digest does not verify on the forked subscriber");

note(sprintf('logical replication: %s rows on the subscriber at the fork (%s links), 3 chains, '
    . '%s secrets, partitions publisher/subscriber %s/%s, %d s',
    $sub->safe_psql('postgres', q{SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM notes)
        + (SELECT count(*) FROM metrics) + (SELECT count(*) FROM secrets) + (SELECT count(*) FROM docs)}),
    $sub->safe_psql('postgres', q{SELECT count(*) FROM keel.audit_link}),
    $sub->safe_psql('postgres', q{SELECT count(*) FROM secrets}),
    $pub->safe_psql('postgres', $parts), $sub->safe_psql('postgres', $parts), time - $^T));

$sub->stop;
$pub->stop;
done_testing();
