# No secret in the logs (issue 3, "used as documented"): with every statement logged,
# DEBUG5 server messages, verbose error fields and pg_stat_statements tracking every
# statement, exercise every key, encryption, column, password and API-key function,
# including failing calls (wrong AAD, tampered and non-keel values, a reader without
# keel_decrypt, unknown and wrong-purpose keys, a too-narrow column, a CHECK violation on a
# row with an encrypted column, a master key command that fails after printing the key,
# rewrap to a second master key), then search the server log and pg_stat_statements for:
#  - both master keys (hex in either case, base64);
#  - every plaintext of an encrypted column, every password and every issued API key
#    (all made inside the server from seeds, so the client never sends them as literals:
#    the documentation says a client's own literals are logged like any value);
#  - any run of 64 hexadecimal characters or more (a data key, a master key, a hash).
use strict;
use warnings;
use lib "$ENV{KEEL_SRC}/test/perl";
use KeelTest;
use Digest::MD5 qw(md5_hex);
use MIME::Base64;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = keel_node('logs');
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'keel,pg_stat_statements'
pg_stat_statements.track = all
pg_stat_statements.track_utility = on
log_statement = 'all'
log_min_messages = debug5
log_min_error_statement = debug5
log_error_verbosity = verbose
log_parameter_max_length = -1
log_parameter_max_length_on_error = -1
log_connections = on
log_duration = on
});
$node->start;
my $key1_file = $node->basedir . '/master.key';
my $key2_file = $node->basedir . '/master2.key';
my $key2_hex = join('', map { sprintf '%02x', int(rand(256)) } 1 .. 32);
open my $fh, '>', $key2_file or die;
print $fh "$key2_hex\n";
close $fh;
chmod 0600, $key2_file;
my $key1_hex = slurp_file($key1_file);
chomp $key1_hex;
like($key1_hex, qr/^[0-9a-f]{64}$/i, 'the suite master key is 64 hex characters');

my $N = 20;
my $setup = qq{
    CREATE EXTENSION pg_stat_statements;
    CREATE EXTENSION keel;
    CREATE ROLE reader LOGIN;
    CREATE ROLE app LOGIN;
    -- plaintexts made in the server from seeds: the test knows them, no statement carries them
    CREATE TABLE fixture AS
      SELECT g, 'tok-' || md5('tok' || g) AS tok, 'pw-' || md5('pw' || g) AS pw,
             jsonb_build_object('conn', 'cfg-' || md5('cfg' || g)) AS cfg,
             convert_to('blob-' || md5('blob' || g), 'UTF8') AS blob
        FROM generate_series(1, $N) g;
    SELECT keel.create_key('logkey');
    SELECT keel.create_key('logmac', 'hmac');
    SELECT name, purpose, version, state FROM keel.keys;
    CREATE TABLE secrets (id int PRIMARY KEY, owner text NOT NULL, token text, short varchar(100),
                          cfg jsonb, blob bytea, n int CHECK (n >= 0));
    INSERT INTO secrets (id, owner, token) SELECT g, 'o' || g, tok FROM fixture WHERE g <= 5;  -- before encryption
    SELECT keel.encrypt_column('secrets', 'token', 'logkey', '{id,owner}');
    SELECT keel.encrypt_column('secrets', 'short', 'logkey', '{id}');
    SELECT keel.encrypt_column('secrets', 'cfg', 'logkey');
    SELECT keel.encrypt_column('secrets', 'blob', 'logkey', '{owner}');
    SELECT keel.create_decrypted_view('secrets');
    SELECT keel.decrypt_column_sql('secrets', 'token');
    GRANT SELECT, INSERT, UPDATE ON secrets TO app, reader;
    GRANT SELECT ON secrets_decrypted, fixture TO app, reader;
    GRANT keel_decrypt TO reader;
    CREATE TABLE users (id int PRIMARY KEY, password_hash varchar(255));
    CREATE TABLE api_keys (id serial PRIMARY KEY, api_key text, key_prefix varchar(10), key_hash varchar(64));
    CREATE TABLE sessions (id int PRIMARY KEY, token_hash varchar(64));
};
$node->safe_psql('postgres', $setup);
$node->safe_psql('postgres', 'CALL keel.reencrypt(\'secrets\', \'token\', batch_size => 2)');

my @ok = (
    # the three shapes, with and without AAD
    q{CREATE TABLE vals AS SELECT g, keel.encrypt(blob, 'logkey') AS b, keel.encrypt_text(tok, 'logkey') AS t,
             keel.encrypt_jsonb(cfg, 'logkey') AS j, keel.encrypt_text(pw, 'logkey', int4send(g)) AS ta FROM fixture},
    q{SELECT count(*) FROM vals v JOIN fixture f USING (g)
       WHERE keel.decrypt(v.b) = f.blob AND keel.decrypt_text(v.t) = f.tok AND keel.decrypt_jsonb(v.j) = f.cfg
         AND keel.decrypt_text(v.ta, int4send(g)) = f.pw},
    # the column, written and read as documented
    q{INSERT INTO secrets SELECT g, 'o' || g, tok, left(tok, 10), cfg, blob, g FROM fixture WHERE g > 5},
    q{UPDATE secrets s SET token = f.tok, owner = 'p' || s.id FROM fixture f WHERE f.g = s.id AND s.id <= 3},
    q{SELECT count(*) FROM secrets_decrypted d JOIN fixture f ON f.g = d.id WHERE d.token = f.tok},
    q{SELECT keel.column_aad('public.secrets.token', 1, 'o1') IS NOT NULL},
    q{SELECT keel.rotate_key('logkey')},
    q{CALL keel.reencrypt('secrets', 'token', batch_size => 7)},
    q{CALL keel.reencrypt('secrets', 'cfg')},
    q{SELECT keel.rotate_key('logkey')},
    q{SELECT keel.create_key('shred')},
    q{SELECT keel.rotate_key('shred')},
    q{SELECT keel.destroy_key('shred', 1)},
    q{SELECT keel.rotate_key('logmac')},
    # passwords, API keys, tokens
    q{INSERT INTO users SELECT g, keel.hash_password(pw) FROM fixture WHERE g <= 3},
    q{SELECT keel.verify_password(f.pw, u.password_hash), keel.verify_password('x' || f.pw, u.password_hash),
             keel.password_needs_rehash(u.password_hash) FROM users u JOIN fixture f ON f.g = u.id},
    q{INSERT INTO api_keys (api_key, key_prefix, key_hash) SELECT * FROM keel.issue_api_key('sk')},
    q{INSERT INTO api_keys (api_key, key_prefix, key_hash) SELECT * FROM keel.issue_api_key('pk')},
    q{SELECT count(*) FROM api_keys WHERE key_hash = keel.hash_api_key(api_key)},
    q{INSERT INTO sessions SELECT g, keel.hash_token(tok) FROM fixture},
    # a new master key: rewrap, then the configuration points at it
    q{SELECT keel.rewrap_keys('} . $key2_file . q{')},
);
for my $sql (@ok) {
    my ($ret, $out, $err) = $node->psql('postgres', $sql);
    is($ret, 0, "runs: " . substr($sql =~ s/\s+/ /gr, 0, 70)) or diag($err);
}
$node->append_conf('postgresql.conf', "keel.master_key_file = '$key2_file'");
$node->reload;
$node->poll_query_until('postgres', "SELECT current_setting('keel.master_key_file') = '$key2_file'");
is($node->safe_psql('postgres', q{SELECT count(*) FROM secrets_decrypted d JOIN fixture f ON f.g = d.id WHERE d.token = f.tok}),
   $N, 'after the rewrap every row decrypts under the new master key');

# Failing calls: each must fail, and its message must not carry a secret.
my @fail = (
    [ 'postgres', q{SELECT keel.decrypt_text(tok) FROM fixture} ],                        # plaintext, not ciphertext
    [ 'postgres', q{SELECT keel.decrypt_jsonb(cfg) FROM fixture} ],
    [ 'postgres', q{SELECT keel.decrypt(blob) FROM fixture} ],
    [ 'postgres', q{SELECT keel.decrypt_text(ta) FROM vals} ],                           # AAD missing
    [ 'postgres', q{SELECT keel.decrypt_text(ta, '\x00'::bytea) FROM vals} ],            # wrong AAD
    [ 'postgres', q{SELECT keel.decrypt(overlay(b placing '\xff'::bytea from 30)) FROM vals} ],  # tampered
    [ 'postgres', q{SELECT keel.decrypt(substr(b, 1, 30)) FROM vals} ],                  # truncated
    [ 'postgres', q{SELECT keel.decrypt_jsonb(t::jsonb) FROM vals} ],
    [ 'postgres', q{SELECT keel.decrypt_text('keel1:' || translate(encode(b, 'base64'), E'\n', '')) FROM vals} ],  # wrong shape
    [ 'postgres', q{SELECT keel.decrypt_text(keel.encrypt_text(tok, 'logkey'), int4send(g)) FROM fixture} ],
    [ 'postgres', q{SELECT keel.encrypt_text(tok, 'nokey') FROM fixture} ],
    [ 'postgres', q{SELECT keel.encrypt_text(tok, 'logmac') FROM fixture} ],
    [ 'postgres', q{UPDATE secrets SET token = (SELECT token FROM secrets WHERE id = 2) WHERE id = 1} ],  # copied ciphertext
    [ 'postgres', q{INSERT INTO secrets (id, owner, short) SELECT 100 + g, 'x', repeat(tok, 1) FROM fixture} ],  # too narrow
    [ 'postgres', q{INSERT INTO secrets SELECT 200 + g, 'x', tok, NULL, cfg, blob, -1 FROM fixture} ],  # CHECK violation
    [ 'postgres', q{INSERT INTO secrets SELECT g, 'x', tok, NULL, cfg, blob, 1 FROM fixture} ],  # duplicate key
    [ 'postgres', q{SELECT keel.verify_password(pw, tok) FROM fixture} ],                  # malformed hash
    [ 'postgres', q{SELECT keel.verify_password(pw, '$2b$10$' || tok) FROM fixture} ],     # bcrypt
    [ 'postgres', q{SELECT keel.password_needs_rehash(pw) FROM fixture} ],
    [ 'postgres', q{SELECT keel.issue_api_key(tok) FROM fixture} ],                        # bad prefix
    [ 'postgres', q{SELECT keel.rewrap_keys('/nonexistent/key')} ],
    [ 'postgres', q{SELECT keel.destroy_key('logkey', 3)} ],                              # the active version
    [ 'reader',   q{SELECT keel.decrypt_text(token) FROM secrets} ],                     # AAD missing
    [ 'app',      q{SELECT * FROM secrets_decrypted} ],                                  # no keel_decrypt
    [ 'app',      q{SELECT keel.decrypt_text(t) FROM (SELECT keel.encrypt_text(tok, 'logkey') t FROM fixture) x} ],
    [ 'app',      q{SELECT keel.create_key('appkey')} ],
    [ 'app',      q{SELECT * FROM keel.data_keys} ],
    [ 'app',      q{SET keel.master_key_file = '/tmp/x'} ],
    [ 'app',      q{SHOW keel.master_key_file} ],
);
for my $case (@fail) {
    my ($user, $sql) = @$case;
    my ($ret, $out, $err) = $node->psql('postgres', $sql, extra_params => [ '-U', $user ]);
    isnt($ret, 0, "fails as $user: " . substr($sql =~ s/\s+/ /gr, 0, 60)) or diag($out);
}
# Back to master key 1 (rewrap, then the configuration).
$node->safe_psql('postgres', q{SELECT keel.rewrap_keys('} . $key1_file . q{')});
$node->append_conf('postgresql.conf', "keel.master_key_file = '$key1_file'");
$node->reload;
$node->poll_query_until('postgres', "SELECT current_setting('keel.master_key_file') = '$key1_file'");

# A master key command that prints the key and then fails: its output is ignored and not logged.
$node->append_conf('postgresql.conf', "keel.master_key_file = ''\nkeel.master_key_command = 'cat $key1_file; exit 3'\n");
$node->reload;
$node->poll_query_until('postgres', "SELECT current_setting('keel.master_key_command') <> ''");
my (undef, undef, $cmd_err) = $node->psql('postgres', q{SELECT keel.decrypt_text(t) FROM vals WHERE g = 2});
like($cmd_err, qr/keel.master_key_command failed/, 'a failing key command is reported');
$node->append_conf('postgresql.conf', "keel.master_key_command = 'cat $key1_file'\n");
$node->reload;
$node->poll_query_until('postgres', "SELECT current_setting('keel.master_key_command') = 'cat $key1_file'");
is($node->safe_psql('postgres', q{SELECT keel.decrypt_text(t) = tok FROM vals JOIN fixture USING (g) WHERE g = 2}), 't',
   'the key command works');
is($node->safe_psql('postgres', 'SELECT count(*) FROM keel.keys'), '7', 'seven key versions (one destroyed)');

# ------------------------------------------------------------------ what to look for
my @secrets;
push @secrets, [ 'master key 1', $key1_hex ], [ 'master key 2', $key2_hex ];
for my $hex ($key1_hex, $key2_hex) {
    my $b64 = encode_base64(pack('H*', $hex), '');
    push @secrets, [ 'master key (base64)', $b64 ], [ 'master key (base64, unpadded)', substr($b64, 0, 40) ];
}
for my $g (1 .. $N) {
    push @secrets, [ "token plaintext $g", md5_hex("tok$g") ], [ "password $g", md5_hex("pw$g") ],
      [ "config plaintext $g", md5_hex("cfg$g") ], [ "blob plaintext $g", md5_hex("blob$g") ],
      [ "blob plaintext $g (hex)", unpack('H*', 'blob-' . md5_hex("blob$g")) ];
}
for my $k (split /\n/, $node->safe_psql('postgres', 'SELECT api_key FROM api_keys')) {
    push @secrets, [ 'issued API key', $k ], [ 'issued API key (random part)', substr($k, 3) ];
}
is(scalar(grep { $_->[0] eq 'issued API key' } @secrets), 2, 'two API keys issued');

# Positive control: a value the server itself writes to the log is found by the search.
$node->safe_psql('postgres', q{DO $$ BEGIN RAISE LOG 'control %', md5('control'); END $$});
my $control = md5_hex('control');

my $pgss = $node->safe_psql('postgres', 'SELECT string_agg(query, E\'\n;;\n\') FROM pg_stat_statements');
ok(length($pgss) > 2000, 'pg_stat_statements holds the statements (' . length($pgss) . ' characters)');
like($pgss, qr/keel\.encrypt_column/, 'pg_stat_statements saw the keel calls');
$node->stop;    # flush the log
my $log = slurp_file($node->logfile);
ok(length($log) > 100_000, 'the server log is verbose (' . length($log) . ' characters)');
like($log, qr/statement: .*keel\.rewrap_keys/, 'the log holds the statements');
like($log, qr/ERROR:  22P02: value is not keel ciphertext/, 'the log holds the errors, verbose');
like($log, qr/keel.master_key_command failed/, 'the log holds the key command failure');

ok(index($log, $control) >= 0, 'the search finds a value the server logged (positive control)');
for my $where ([ 'server log', $log ], [ 'pg_stat_statements', $pgss ]) {
    my ($name, $text) = @$where;
    my @found = grep { index(lc $text, lc $_->[1]) >= 0 } @secrets;
    is(scalar(@found), 0, "$name: no secret (" . scalar(@secrets) . ' searched)')
      or diag(join("\n", map { "found $_->[0]" } @found[0 .. ($#found < 9 ? $#found : 9)]));
    my @hex = ($text =~ /([0-9a-fA-F]{64,})/g);
    is(scalar(@hex), 0, "$name: no run of 64 or more hexadecimal characters") or diag(join("\n", @hex[0 .. ($#hex < 4 ? $#hex : 4)]));
}
done_testing();
