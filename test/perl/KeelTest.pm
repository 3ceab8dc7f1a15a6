# Helpers shared by keel's TAP tests (test/t/*.pl): a cluster with keel preloaded and
# its own 0600 copy of the master key, and small checks used by several tests.
package KeelTest;
use strict;
use warnings;
use Exporter 'import';
use File::Copy;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(keel_node keel_give_key chains_verify encrypted_columns_decrypt table_counts);

# Copies $ENV{KEEL_MASTER_KEY} next to the node's data directory (outside it, so a base
# backup does not carry it: a standby gets its own copy, as in production) and points
# keel.master_key_file at the copy.
sub keel_give_key {
    my ($node) = @_;
    my $src = $ENV{KEEL_MASTER_KEY} or die "KEEL_MASTER_KEY is not set";
    my $dst = $node->basedir . '/master.key';
    copy($src, $dst) or die "copying $src: $!";
    chmod 0600, $dst;
    $node->append_conf('postgresql.conf', "keel.master_key_file = '$dst'");
    return $dst;
}

# A new node with keel preloaded and a key; %init goes to init (e.g. allows_streaming).
sub keel_node {
    my ($name, %init) = @_;
    my $node = PostgreSQL::Test::Cluster->new($name);
    $node->init(%init);
    $node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'keel'
max_worker_processes = 16
log_min_messages = warning
});
    keel_give_key($node);
    return $node;
}

# Every chain in the database verifies: returns the number of chains checked and
# reports each that does not (ok, rows checked, first bad position).
sub chains_verify {
    my ($node, $db, $label) = @_;
    my $out = $node->safe_psql($db, q{
        SELECT c.table_name::text || '|' || CASE WHEN v.ok THEN 't' ELSE 'f' END || '|' || v.rows_checked || '|' ||
               coalesce(v.first_bad_position::text, '') || '|' || coalesce(v.detail, '')
          FROM keel.audit_chain c, LATERAL keel.verify_audit_chain(c.table_name) v
         ORDER BY 1});
    my $n = 0;
    for my $line (split /\n/, $out) {
        my ($tbl, $ok, $rows, $bad, $detail) = split /\|/, $line, 5;
        ok($ok eq 't', "$label: chain $tbl verifies ($rows rows)")
          or diag("first bad position $bad: $detail");
        $n++;
    }
    return $n;
}


# configured with).  Returns "column:count:md5 of the plaintexts" lines, to compare
# across nodes.
sub encrypted_columns_decrypt {
    my ($node, $db) = @_;
    # built in one query and run in a second: works on a read-only standby too
    my $sql = $node->safe_psql($db, q{
        SELECT string_agg(format(
                   'SELECT %L || '':'' || count(*) || '':'' || '
                   'coalesce(md5(string_agg((%s)::text, '','' ORDER BY (%s)::text)), '''') '
                   'FROM %s t WHERE t.%I IS NOT NULL',
                   e.tbl::text || '.' || e.col, keel.decrypt_column_sql(e.tbl, e.col),
                   keel.decrypt_column_sql(e.tbl, e.col), e.tbl, e.col),
               ' UNION ALL ' ORDER BY e.tbl::text, e.col)
          FROM keel.encrypted_columns e});
    return '' if $sql eq '';
    return $node->safe_psql($db, "SELECT * FROM ($sql) x(line) ORDER BY 1");
}

# "table:count" lines for every ordinary or partitioned table in the given schemas.
sub table_counts {
    my ($node, $db, @schemas) = @_;
    my $list = join(',', map { "'$_'" } @schemas);
    my $sql = $node->safe_psql($db, qq{
        SELECT string_agg(format('SELECT %L || '':'' || count(*) FROM %s',
                                 c.oid::regclass::text, c.oid::regclass),
                          ' UNION ALL ' ORDER BY c.oid::regclass::text)
          FROM pg_class c
         WHERE c.relnamespace::regnamespace::text IN ($list)
           AND c.relkind IN ('r', 'p') AND NOT c.relispartition});
    return '' if $sql eq '';
    return $node->safe_psql($db, "SELECT * FROM ($sql) x(line) ORDER BY 1");
}

1;
