# keel's audit chain hands a sub-chain over at pre-commit: the next writer links at once
# and, at its own commit, waits for the transaction it follows.  A prepared transaction
# (PREPARE TRANSACTION hands over like a commit) holds that state open, so the waits can
# be watched: the follower's COMMIT waits for COMMIT PREPARED and fails with 40001 after
# ROLLBACK PREPARED; a writer that has to read the head from the table (its shared copy
# is gone) first waits for the prepared writer, so it never links past a pending link.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('handover');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'keel'");
$node->append_conf('postgresql.conf', "keel.master_key_file = '$ENV{KEEL_MASTER_KEY}'");
$node->append_conf('postgresql.conf', "max_prepared_transactions = 4");
$node->start;

$node->safe_psql('postgres', q{
    CREATE EXTENSION keel;
    CREATE TABLE ev (note text, previous_hash text, signature text);
    SELECT keel.enable_audit_chain('ev', 'previous_hash', 'signature');
});

sub chain {
    return $node->safe_psql('postgres', q{
        SELECT string_agg(l.pos || ':' || t.note, ',' ORDER BY l.pos)
          FROM keel.audit_link l JOIN ev t ON keel._audit_row_digest(l.chain_id, t) = l.row_digest
         WHERE l.chain_id = keel._audit_chain_id('ev')});
}
sub verifies {
    return $node->safe_psql('postgres', q{SELECT ok FROM keel.verify_audit_chain('ev')});
}
sub prepare_one {
    my ($note, $gid) = @_;
    $node->safe_psql('postgres', "BEGIN; INSERT INTO ev (note) VALUES ('$note'); PREPARE TRANSACTION '$gid';");
}

my $bg = $node->background_psql('postgres', on_error_stop => 0);

# 1. The follower links while its predecessor is prepared; its COMMIT waits for it.
prepare_one('p1', 'g1');
$bg->query_safe("BEGIN; INSERT INTO ev (note) VALUES ('f1');");
$bg->query_until(qr/sent/, "\\echo sent\nCOMMIT;\n");
ok($node->poll_query_until('postgres', q{
    SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted)}),
    'the follower links at once and its COMMIT waits for the prepared predecessor');
$node->safe_psql('postgres', "COMMIT PREPARED 'g1'");
$bg->query_safe('SELECT 1');
is(chain(), '1:p1,2:f1', 'after COMMIT PREPARED the follower commits, right after it');
is(verifies(), 't', 'the chain verifies');

# 2. The predecessor rolls back after handing over: the follower fails with 40001.
prepare_one('p2', 'g2');
$bg->query_safe("BEGIN; INSERT INTO ev (note) VALUES ('f2');");
$bg->query_until(qr/sent/, "\\echo sent\nCOMMIT;\n");
ok($node->poll_query_until('postgres', q{
    SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted)}),
    'the second follower waits too');
$node->safe_psql('postgres', "ROLLBACK PREPARED 'g2'");
$bg->query('SELECT 1');
like($bg->{stderr}, qr/could not commit: the transaction before this one in an audit chain rolled back/,
    'after ROLLBACK PREPARED the follower fails');
$bg->{stderr} = '';
is(chain(), '1:p1,2:f1', 'neither of them left a trace');
$node->safe_psql('postgres', "INSERT INTO ev (note) VALUES ('n3')");
is(chain(), '1:p1,2:f1,3:n3', 'the next writer links to the true head');
is(verifies(), 't', 'the chain verifies');

# 3. A writer whose shared head is gone (its savepoint rolled back) reads the table only
#    after the prepared writer has finished.
prepare_one('p4', 'g4');
$bg->query_safe("BEGIN; SAVEPOINT s; INSERT INTO ev (note) VALUES ('undone'); ROLLBACK TO SAVEPOINT s;");
$bg->query_until(qr/sent/, "\\echo sent\nINSERT INTO ev (note) VALUES ('f4');\n");
ok($node->poll_query_until('postgres', q{
    SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 108 AND NOT granted)}),
    'the table reader waits for the prepared writer');
$node->safe_psql('postgres', "COMMIT PREPARED 'g4'");
$bg->query_safe('COMMIT');
is(chain(), '1:p1,2:f1,3:n3,4:p4,5:f4', 'it then links after the prepared writer (no fork)');
is(verifies(), 't', 'the chain verifies');

# 4. After a restart (no shared head) the table is the head.
$bg->quit;
$node->restart;
$node->safe_psql('postgres', "INSERT INTO ev (note) VALUES ('r6')");
is(chain(), '1:p1,2:f1,3:n3,4:p4,5:f4,6:r6', 'after a restart the chain continues from the table');
is(verifies(), 't', 'the chain verifies');

$node->stop;
done_testing();
