# The key store through pg_dump (issue 3), into a FRESH cluster given the same key file:
#  - custom and plain dumps restore without errors; the data keys (two versions, one
#    destroyed) and the key check come along; every standalone ciphertext (bytea, text,
#    jsonb shapes, with and without AAD, both live key versions) decrypts to the same
#    plaintext; encrypted-column rows (text, varchar, jsonb, bytea, AAD bound to
#    identifying columns, a hostile table name) are byte-identical to the source;
#  - a data-only dump (COPY, and --inserts) replayed into the restored database, where
#    the encryption triggers are live, stores every ciphertext unchanged: nothing is
#    encrypted twice, and it all decrypts;
#  - the restored database keeps working: new rows encrypt, rotate_key works.
# (The all-engine-features and all-blueprints dumps are test/t/702_dump_restore.pl.)
use strict;
use warnings;
use lib "$ENV{KEEL_SRC}/test/perl";
use KeelTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $src = keel_node('dump_src');
$src->start;
$src->safe_psql('postgres', 'CREATE DATABASE app');
$src->safe_psql('app', q{
    CREATE EXTENSION keel;
    SELECT keel.create_key('dk');
    SELECT keel.create_key('dk_mac', 'hmac');
    CREATE TABLE vals (id int PRIMARY KEY, b bytea, t text, j jsonb, ta text, v int);
    INSERT INTO vals SELECT g, keel.encrypt(sha256(int4send(g)), 'dk'), keel.encrypt_text('text ' || g, 'dk'),
                            keel.encrypt_jsonb(jsonb_build_object('g', g, 'k', repeat('x', g)), 'dk'),
                            keel.encrypt_text('aad ' || g, 'dk', int4send(g)), 1
      FROM generate_series(1, 30) g;
    SELECT keel.rotate_key('dk');
    INSERT INTO vals SELECT g, keel.encrypt(sha256(int4send(g)), 'dk'), keel.encrypt_text('text ' || g, 'dk'),
                            keel.encrypt_jsonb(jsonb_build_object('g', g, 'k', repeat('x', g)), 'dk'),
                            keel.encrypt_text('aad ' || g, 'dk', int4send(g)), 2
      FROM generate_series(31, 60) g;
    SELECT keel.rotate_key('dk');
    SELECT keel.create_key('dk_shredded');
    SELECT keel.rotate_key('dk_shredded');
    SELECT keel.destroy_key('dk_shredded', 1);
    CREATE TABLE "Secret; table" (id int PRIMARY KEY, owner text NOT NULL, token text, short varchar(200),
                                  cfg jsonb, blob bytea);
    SELECT keel.encrypt_column('"Secret; table"', 'token', 'dk', '{id,owner}');
    SELECT keel.encrypt_column('"Secret; table"', 'short', 'dk', '{id}');
    SELECT keel.encrypt_column('"Secret; table"', 'cfg', 'dk');
    SELECT keel.encrypt_column('"Secret; table"', 'blob', 'dk', '{owner}');
    INSERT INTO "Secret; table" SELECT g, 'o' || g, 'tok-' || md5(g::text), 's' || g,
                                       jsonb_build_object('pw', md5(g::text)), sha256(int4send(g))
      FROM generate_series(1, 100) g;
});

my $decrypt_vals = q{
    SELECT md5(string_agg(format('%s|%s|%s|%s|%s', id, encode(keel.decrypt(b), 'hex'), keel.decrypt_text(t),
                                 keel.decrypt_jsonb(j), keel.decrypt_text(ta, int4send(id))), E'\n' ORDER BY id))
      FROM vals};
my $raw_sql = q{
    SELECT (SELECT md5(string_agg(format('%s|%s|%s|%s|%s', id, encode(b, 'hex'), t, j, ta), E'\n' ORDER BY id)) FROM vals)
           || ' ' ||
           (SELECT md5(string_agg(format('%s|%s|%s|%s|%s', id, token, short, cfg, encode(blob, 'hex')), E'\n' ORDER BY id))
              FROM "Secret; table")};
my $keys_sql = q{SELECT string_agg(format('%s|%s|%s|%s|%s', key_id, name, version, state, md5(wrapped_key)), ',' ORDER BY key_id, version)
                   FROM keel.data_keys};
my $expect_plain = $src->safe_psql('app', $decrypt_vals);
my $expect_column = encrypted_columns_decrypt($src, 'app');
my $expect_raw = $src->safe_psql('app', $raw_sql);
my $expect_keys = $src->safe_psql('app', $keys_sql);
my $expect_check = $src->safe_psql('app', 'SELECT md5(string_agg(k::text, \',\')) FROM keel.key_check k');
like($expect_column, qr/token:100:/, 'source: the encrypted columns decrypt');
is($src->safe_psql('app', q{SELECT count(*) FROM "Secret; table" WHERE token LIKE 'tok-%' OR short LIKE 's%'}), '0',
   'source: no plaintext stored');

my $dst = keel_node('dump_dst');    # a fresh cluster with its own copy of the same key file
$dst->start;

sub run_cmd {    # returns (ok, stderr)
    my @cmd = @_;
    my ($out, $err) = ('', '');
    my $ok = IPC::Run::run(\@cmd, '>', \$out, '2>', \$err);
    return ($ok, $err);
}

for my $format ('custom', 'plain') {
    my $db = "app_$format";
    my $file = $src->basedir . "/app.$format";
    $src->command_ok([ 'pg_dump', $format eq 'custom' ? '-Fc' : '-Fp', '-f', $file, '-d', $src->connstr('app') ],
        "pg_dump $format");
    $dst->safe_psql('postgres', "CREATE DATABASE $db");
    my ($ok, $err) = run_cmd($format eq 'custom'
        ? ('pg_restore', '-d', $dst->connstr($db), $file)
        : ('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=0', '-d', $dst->connstr($db), '-f', $file));
    my @errors = ($err =~ /(ERROR:.*)/g);
    is(scalar(@errors), 0, "$format: restore without errors") or diag(join("\n", @errors));
    is($dst->safe_psql($db, $keys_sql), $expect_keys, "$format: data keys restored (ids, versions, states, wrapped bytes)");
    is($dst->safe_psql($db, 'SELECT md5(string_agg(k::text, \',\')) FROM keel.key_check k'), $expect_check,
       "$format: key check restored");
    is($dst->safe_psql($db, $raw_sql), $expect_raw, "$format: every ciphertext restored byte for byte");
    is($dst->safe_psql($db, $decrypt_vals), $expect_plain, "$format: every standalone ciphertext decrypts (both key versions)");
    is(encrypted_columns_decrypt($dst, $db), $expect_column, "$format: every encrypted column decrypts to the same plaintexts");
    my (undef, undef, $shredded) = $dst->psql($db, q{SELECT keel.decrypt_text(keel.encrypt_text('x', 'dk_shredded'))});
    is($shredded, '', "$format: the live version of a partly destroyed key works");
}

# Data-only replays into app_custom, whose encryption triggers are live: COPY and INSERTs
# of ciphertext must be stored unchanged (no double encryption).
my $db = 'app_custom';
for my $mode ('copy', 'inserts') {
    my $file = $src->basedir . "/data_only.$mode.sql";
    $src->command_ok([ 'pg_dump', '-a', '-t', '"Secret; table"', ($mode eq 'inserts' ? ('--inserts') : ()),
                       '-f', $file, '-d', $src->connstr('app') ], "pg_dump data-only ($mode)");
    $dst->safe_psql($db, 'TRUNCATE "Secret; table"');
    is($dst->safe_psql($db, q{SELECT count(*) FROM pg_trigger WHERE tgrelid = '"Secret; table"'::regclass AND tgenabled = 'O'}),
       '4', "$mode: the four encryption triggers are live");
    my ($ok, $err) = run_cmd('psql', '-X', '-q', '-d', $dst->connstr($db), '-f', $file);
    my @errors = ($err =~ /(ERROR:.*)/g);
    is(scalar(@errors), 0, "$mode: replay without errors") or diag(join("\n", @errors));
    is($dst->safe_psql($db, 'SELECT count(*) FROM "Secret; table"'), '100', "$mode: every row replayed");
    is($dst->safe_psql($db, $raw_sql), $expect_raw, "$mode: ciphertexts replayed through the trigger are stored unchanged");
    is(encrypted_columns_decrypt($dst, $db), $expect_column, "$mode: and they decrypt");
}

# The restored database keeps working.
is($dst->safe_psql($db, q{
    INSERT INTO "Secret; table" VALUES (101, 'o101', 'tok-new', 's101', '{"pw": 1}', '\x01');
    SELECT version FROM keel.rotate_key('dk');
    INSERT INTO vals VALUES (61, NULL, keel.encrypt_text('after restore', 'dk'));
    SELECT keel.decrypt_text(t) FROM vals WHERE id = 61}), "4\nafter restore", 'restored: rotate and encrypt work');
like(encrypted_columns_decrypt($dst, $db), qr/token:101:/, 'restored: new column rows encrypt and decrypt');
is($dst->safe_psql($db, q{SELECT count(*) FROM "Secret; table" WHERE token LIKE 'tok-%'}), '0', 'restored: no plaintext stored');

$src->stop;
$dst->stop;
done_testing();
