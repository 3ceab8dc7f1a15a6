# The master key file across restarts (issue 3):
#  (a) after a restart with the same key file, every shape decrypts (bytea, text and
#      jsonb values, with and without AAD, two key versions) and so does an encrypted
#      column (through keel.decrypt_column_sql), and the column keeps encrypting;
#  (b) a key file holding another key gives "master key does not match the key store"
#      (F0000) at the first use (decrypt, encrypt, a write to an encrypted column,
#      create_key), with no partial write; a missing, unreadable (0000), group-readable
#      (0640), other-readable (0604) or malformed key file, and no key at all, each give
#      their own clear F0000 ERROR; the server never crashes (same postmaster, no
#      backend terminated by a signal, a session opened before the bad settings is still
#      alive), and the right key file makes everything work again.
use strict;
use warnings;
use lib "$ENV{KEEL_SRC}/test/perl";
use KeelTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = keel_node('keys');
$node->start;
my $good = $node->basedir . '/master.key';

$node->safe_psql('postgres', q{
    CREATE EXTENSION keel;
    SELECT keel.create_key('k_restart');
    CREATE TABLE vals (id int PRIMARY KEY, b bytea, t text, j jsonb, ta text);
    INSERT INTO vals VALUES
      (1, keel.encrypt('\x00ff10'::bytea, 'k_restart'),
          keel.encrypt_text('text one', 'k_restart'),
          keel.encrypt_jsonb('{"a": 1, "s": "x"}', 'k_restart'),
          keel.encrypt_text('with aad', 'k_restart', '\x0102'::bytea));
    SELECT keel.rotate_key('k_restart');
    INSERT INTO vals VALUES
      (2, keel.encrypt('\x'::bytea, 'k_restart'),
          keel.encrypt_text('text two é', 'k_restart'),
          keel.encrypt_jsonb('[1, {"b": null}]', 'k_restart'),
          keel.encrypt_text('', 'k_restart', '\x03'::bytea));
    CREATE TABLE secrets (id int PRIMARY KEY, owner text NOT NULL, token text, cfg jsonb, blob bytea);
    SELECT keel.encrypt_column('secrets', 'token', 'k_restart', '{id,owner}');
    SELECT keel.encrypt_column('secrets', 'cfg', 'k_restart', '{id}');
    SELECT keel.encrypt_column('secrets', 'blob', 'k_restart');
    SELECT keel.create_decrypted_view('secrets');
    INSERT INTO secrets SELECT g, 'o' || g, 'tok-' || g, jsonb_build_object('pw', g), int4send(g)
      FROM generate_series(1, 20) g;
});

my $decrypt_vals = q{
    SELECT string_agg(format('%s|%s|%s|%s|%s', id, encode(keel.decrypt(b), 'hex'), keel.decrypt_text(t),
                             keel.decrypt_jsonb(j), keel.decrypt_text(ta, CASE id WHEN 1 THEN '\x0102'::bytea
                                                                                   ELSE '\x03'::bytea END)),
                      E'\n' ORDER BY id) FROM vals};
my $expect_vals = qq{1|00ff10|text one|{"a": 1, "s": "x"}|with aad\n2||text two é|[1, {"b": null}]|};
is($node->safe_psql('postgres', $decrypt_vals), $expect_vals, 'before restart: every shape decrypts');
my $column = encrypted_columns_decrypt($node, 'postgres');
like($column, qr/secrets\.token:20:/, 'before restart: the encrypted column decrypts');
my $raw_before = $node->safe_psql('postgres', q{SELECT md5(string_agg(token || cfg::text || encode(blob, 'hex'), ',' ORDER BY id)) FROM secrets});
is($node->safe_psql('postgres', q{SELECT count(*) FROM secrets WHERE token LIKE 'tok-%' OR blob = int4send(id)}),
   '0', 'the column holds no plaintext');

# ------------------------------------------------------------------ (a) restart
$node->restart;
is($node->safe_psql('postgres', $decrypt_vals), $expect_vals, 'after restart: every shape decrypts');
is(encrypted_columns_decrypt($node, 'postgres'), $column, 'after restart: the encrypted column decrypts to the same plaintexts');
is($node->safe_psql('postgres', q{SELECT md5(string_agg(token || cfg::text || encode(blob, 'hex'), ',' ORDER BY id)) FROM secrets}),
   $raw_before, 'after restart: the stored ciphertexts are unchanged');
is($node->safe_psql('postgres', q{
    INSERT INTO secrets VALUES (21, 'o21', 'tok-21', '{"pw": 21}', '\x15');
    SELECT token FROM secrets_decrypted WHERE id = 21}),
   'tok-21', 'after restart: the column keeps encrypting');

# ------------------------------------------------------------------ (b) bad key files

sub key_file {    # name, content, mode
    my ($name, $content, $mode) = @_;
    my $path = $node->basedir . "/$name";
    open my $fh, '>', $path or die "$path: $!";
    print $fh $content;
    close $fh;
    chmod $mode, $path;
    return $path;
}

sub use_key_setting {    # value of keel.master_key_file, restart or reload
    my ($value, $restart) = @_;
    $node->append_conf('postgresql.conf', "keel.master_key_file = '$value'");
    if ($restart) {
        $node->restart;
    } else {
        $node->reload;
        # the reload reaches backends at their next command; a new session reads it at start
        $node->poll_query_until('postgres', "SELECT current_setting('keel.master_key_file') = '$value'");
    }
}

# Runs SQL expected to fail; returns stderr.
sub fails {
    my ($sql) = @_;
    my ($ret, $out, $err) = $node->psql('postgres', $sql);
    return $ret == 0 ? "(succeeded: $out)" : $err;
}

my $other_hex = join('', map { sprintf '%02x', int(rand(256)) } 1 .. 32);
my $other = key_file('other.key', "$other_hex\n", 0600);
use_key_setting($other, 1);    # a restart with the wrong key, as after a botched restore
my $keys_before = $node->safe_psql('postgres', 'SELECT count(*) FROM keel.data_keys');
for my $case (
    [ 'decrypt_text',       q{SELECT keel.decrypt_text(t) FROM vals WHERE id = 1} ],
    [ 'decrypt (bytea)',    q{SELECT keel.decrypt(b) FROM vals WHERE id = 2} ],
    [ 'encrypt_jsonb',      q{SELECT keel.encrypt_jsonb('{}', 'k_restart')} ],
    [ 'column write',       q{INSERT INTO secrets VALUES (30, 'o30', 'tok-30', NULL, NULL)} ],
    [ 'column read',        q{SELECT token FROM secrets_decrypted WHERE id = 1} ],
    [ 'create_key',         q{SELECT keel.create_key('k_wrong')} ],
    [ 'rotate_key',         q{SELECT keel.rotate_key('k_restart')} ])
{
    my $err = fails($case->[1]);
    like($err, qr/ERROR:  master key does not match the key store/, "wrong key, $case->[0]: clear ERROR at first use");
}
my (undef, undef, $verbose) = $node->psql('postgres', q{\set VERBOSITY verbose
    SELECT keel.decrypt_text(t) FROM vals WHERE id = 1});
like($verbose, qr/ERROR:  F0000: master key does not match the key store/, 'wrong key: SQLSTATE F0000');
like($verbose, qr/HINT:  Configure the master key this database was created with/, 'wrong key: the hint says what to do');
unlike($verbose, qr/\Q$other_hex\E/, 'wrong key: the message does not show the key');
is($node->safe_psql('postgres', 'SELECT count(*) FROM keel.data_keys'), $keys_before, 'wrong key: no key row written');
is($node->safe_psql('postgres', 'SELECT count(*) FROM secrets'), '21', 'wrong key: no row written');

my $start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
# A session opened now must survive everything below (a crash would end it).  With the
# right key it caches the data keys; a reload to the wrong key must flush that cache.
use_key_setting($good, 0);
my $bg = $node->background_psql('postgres', on_error_stop => 0);
my $bg_pid = $bg->query_safe('SELECT pg_backend_pid()');
is($bg->query_safe('SELECT keel.decrypt_text(t) FROM vals WHERE id = 1'), 'text one', 'right key (reload): a session decrypts');
use_key_setting($other, 0);
$bg->query('SELECT keel.decrypt_text(t) FROM vals WHERE id = 1');
like($bg->{stderr}, qr/master key does not match/, 'a session with cached keys refuses once the setting names the wrong key');

my $empty_key = key_file('short.key', "abc\n", 0600);
my $bad_hex = key_file('nothex.key', ('zz' x 32) . "\n", 0600);
my $long = key_file('long.key', ('ab' x 33) . "\n", 0600);
my $unreadable = key_file('unreadable.key', "$other_hex\n", 0000);
my $group = key_file('group.key', "$other_hex\n", 0640);
my $world = key_file('world.key', "$other_hex\n", 0604);
my $dir = $node->basedir . '/keydir';
mkdir $dir, 0700;
for my $case (
    [ 'missing file',    $node->basedir . '/nope.key', qr/ERROR:  could not open master key file ".*nope\.key": No such file or directory/ ],
    [ 'unreadable 0000', $unreadable, qr/ERROR:  could not open master key file ".*unreadable\.key": Permission denied/ ],
    [ 'group-readable',  $group,      qr/ERROR:  master key file ".*group\.key" is accessible by group or others\n.*DETAIL:  Its permissions are 0640/s ],
    [ 'other-readable',  $world,      qr/ERROR:  master key file ".*world\.key" is accessible by group or others/ ],
    [ 'a directory',     $dir,        qr/ERROR:  master key file ".*keydir" is not a regular file/ ],
    [ 'too short',       $empty_key,  qr/ERROR:  master key file ".*short\.key" does not hold a 256-bit key/ ],
    [ 'not hex',         $bad_hex,    qr/ERROR:  master key file ".*nothex\.key" does not hold a 256-bit key/ ],
    [ 'too long',        $long,       qr/ERROR:  master key file ".*long\.key" does not hold a 256-bit key/ ],
    [ 'not set',         '',          qr/ERROR:  keel.master_key_file is not set/ ])
{
    my ($what, $path, $re) = @$case;
    use_key_setting($path, 0);
    my $err = fails(q{SELECT keel.decrypt_text(t) FROM vals WHERE id = 1});
    like($err, $re, "$what: clear ERROR on decrypt");
    $err = fails(q{INSERT INTO secrets VALUES (31, 'o31', 'tok-31', NULL, NULL)});
    like($err, $re, "$what: clear ERROR on an encrypted-column write");
    unlike($err, qr/\Q$other_hex\E/, "$what: the key is not in the message");
    is($node->safe_psql('postgres', 'SELECT count(*) FROM secrets'), '21', "$what: nothing written");
}

is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $start_time, 'the postmaster never restarted');
ok(!$node->log_contains(qr/terminated by signal|was terminated|server process .* exited with exit code [^0]/),
   'no backend crashed');
is($bg->query('SELECT pg_backend_pid()'), $bg_pid, 'the session opened before the bad settings is still alive');
$bg->quit;

# Back to the right key: everything works again, in a new session and after a restart.
use_key_setting($good, 0);
is($node->safe_psql('postgres', $decrypt_vals), $expect_vals, 'right key again (reload): every shape decrypts');
$node->restart;
is($node->safe_psql('postgres', $decrypt_vals), $expect_vals, 'right key again (restart): every shape decrypts');
like(encrypted_columns_decrypt($node, 'postgres'), qr/secrets\.token:21:/, 'all 21 column rows decrypt');

$node->stop;
done_testing();
