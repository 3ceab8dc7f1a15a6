# Huge values: every keel function that takes a value, fed $KEEL_HUGE_MB (default 16 in
# CI, to stay within a minute; RELIABILITY.md records a 128 MB run)
# megabytes, either works (and round-trips exactly) or fails with a clear ERROR; the
# server never restarts (same postmaster start time, same backend for the session).
# KEEL_HUGE_LIMIT=1 adds values near PostgreSQL's 1 GB limit (slow: a few minutes), each
# a clear ERROR with SQLSTATE 54000 naming the limit (or, just under it, working).
use strict;
use warnings;
use lib "$ENV{KEEL_SRC}/test/perl";
use KeelTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $MB = $ENV{KEEL_HUGE_MB} // 16;
my $n  = $MB * 1024 * 1024;

my $node = keel_node('huge');
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION keel;
    SELECT keel.create_key('huge_k');
    CREATE TABLE chained (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text,
                          previous_hash varchar(64), signature varchar(64));
    SELECT keel.enable_audit_chain('chained', 'previous_hash', 'signature');
    CREATE TABLE sealed (id int PRIMARY KEY, body text, blob bytea, updated_at timestamptz);
    SELECT keel.encrypt_column('sealed', 'body', 'huge_k', '{id}');
    SELECT keel.encrypt_column('sealed', 'blob', 'huge_k', '{id}');
    SELECT keel.enable_updated_at('sealed');
    SELECT keel.create_decrypted_view('sealed');
});
my $start = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

# Each case runs in one session that first notes its backend pid; 'ok' cases must print
# t, 'error' cases must fail with the given SQLSTATE, 'either' may do both.
my @cases = (
    [ 'encrypt/decrypt bytea', 'ok',
      "SELECT keel.decrypt(keel.encrypt(v, 'huge_k')) = v FROM (SELECT convert_to(repeat('b', $n), 'UTF8') v) s" ],
    [ 'encrypt_text/decrypt_text', 'ok',
      "SELECT keel.decrypt_text(keel.encrypt_text(v, 'huge_k', 'aad'), 'aad') = v FROM (SELECT repeat('t', $n) v) s" ],
    [ 'encrypt_jsonb/decrypt_jsonb', 'ok',
      "SELECT keel.decrypt_jsonb(keel.encrypt_jsonb(v, 'huge_k')) = v FROM (SELECT jsonb_build_object('k', repeat('j', $n)) v) s" ],
    [ 'hash_password/verify_password', 'ok',
      "SELECT keel.verify_password(v, keel.hash_password(v)) FROM (SELECT repeat('p', $n) v) s" ],
    [ 'hash_api_key', 'ok', "SELECT length(keel.hash_api_key(repeat('a', $n))) = 64" ],
    [ 'hash_token', 'ok', "SELECT length(keel.hash_token(repeat('a', $n))) = 64" ],
    # keel.cjk_parser takes up to 32 MB of text (core::kMaxCjkTextBytes), then 54000
    [ 'to_tsvector keel.chinese', ($n <= 32 * 1024 * 1024 ? 'ok' : '54000'),
      "SELECT length(to_tsvector('keel.chinese', repeat('数据库 hello ', $n / 16))) > 0" ],
    [ 'to_tsvector keel.chinese over its 32 MB limit', '54000',
      "SELECT length(to_tsvector('keel.chinese', repeat('数据库 hello ', 3 * 1024 * 1024))) > 0" ],
    [ 'create_key with a huge name', '22023', "SELECT keel.create_key(repeat('k', $n)) IS NOT NULL" ],
    # names are never echoed whole (the 'error' cases check the message stays short)
    [ 'create_key with a 10 MB name', '22023',
      "SELECT keel.create_key(repeat('k', 10 * 1024 * 1024)) IS NOT NULL" ],
    [ 'create_key with a 10 MB purpose', '22023',
      "SELECT keel.create_key('huge_p', repeat('p', 10 * 1024 * 1024)) IS NOT NULL" ],
    [ 'rotate_key with a 9 MB name of CJK characters', '42704', "SELECT keel.rotate_key(repeat('数', 3 * 1024 * 1024)) IS NOT NULL" ],
    [ 'encrypt with a 10 MB key name', '42704',
      "SELECT keel.encrypt('\\x00'::bytea, repeat('n', 10 * 1024 * 1024)) IS NOT NULL" ],
    [ 'partition_by_time with a 10 MB interval', '22023',
      "CREATE TABLE pt (t timestamptz) PARTITION BY RANGE (t);
       SELECT count(*) FROM keel.partition_by_time('pt', repeat('m', 10 * 1024 * 1024))" ],
    [ 'chained row', 'ok',
      "INSERT INTO chained (body) VALUES (repeat('c', $n)); SELECT ok FROM keel.verify_audit_chain('chained')" ],
    [ 'encrypted columns and updated_at', 'ok',
      "INSERT INTO sealed (id, body, blob) VALUES (1, repeat('s', $n), convert_to(repeat('z', $n), 'UTF8'));
       UPDATE sealed SET body = repeat('s', $n) || '!' WHERE id = 1;
       SELECT body = repeat('s', $n) || '!' AND blob = convert_to(repeat('z', $n), 'UTF8')
              AND updated_at IS NOT NULL FROM sealed_decrypted WHERE id = 1" ],
);
if ($ENV{KEEL_HUGE_LIMIT}) {
    push @cases,
      [ 'encrypt_text of 800 MB (base64 would pass 1 GB)', '54000',
        "SELECT length(keel.encrypt_text(repeat('x', 800 * 1024 * 1024), 'huge_k')) > 0" ],
      [ 'encrypt_text of 768 MB (the most text ciphertext holds)', 'ok',
        "SELECT length(keel.encrypt_text(repeat('x', 805306319), 'huge_k')) = 1073741818" ],
      [ 'encrypt bytea just under 1 GB (the ciphertext would pass it)', '54000',
        "SELECT octet_length(keel.encrypt(convert_to(repeat('x', 1073741800), 'UTF8'), 'huge_k')) > 0" ],
      [ 'encrypt_jsonb of 210 MB (base64 would pass jsonb\'s 256 MB string limit)', '54000',
        "SELECT keel.encrypt_jsonb(jsonb_build_object('k', repeat('j', 210 * 1024 * 1024)), 'huge_k') IS NOT NULL" ],
      [ 'encrypted text column of 800 MB', '54000',
        "INSERT INTO sealed (id, body) VALUES (2, repeat('s', 800 * 1024 * 1024))" ];
}

for my $c (@cases) {
    my ($label, $want, $sql) = @$c;
    my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY default\nSELECT pg_backend_pid();\n$sql;\n\\echo sqlstate=:LAST_ERROR_SQLSTATE\nSELECT pg_backend_pid();",
        extra_params => [ '-v', 'ON_ERROR_STOP=0' ]);
    my @pids = ($out =~ /^(\d+)$/mg);
    my ($state) = $err =~ /ERROR:\s+(\S.{0,100})/;
    # the session went on after the statement: its last query ran in the same backend
    ok(@pids == 2 && $pids[0] == $pids[1], "$MB MB, $label: the backend survived");
    if ($want eq 'ok') {
        like($out, qr/^t$/m, "$MB MB, $label: works and round-trips") or diag($err);
    } elsif ($want eq 'either') {
        ok($out =~ /^t$/m || $err =~ /ERROR:/, "$MB MB, $label: works or fails cleanly")
          and note("$label: " . ($out =~ /^t$/m ? 'worked' : 'ERROR ' . ($state // '')));
    } else {
        like($out, qr/^sqlstate=$want$/m, "$MB MB, $label: ERROR $want") or diag($err);
        # a clear message: it names the problem without echoing the huge value or name
        ok(length($err) < 4000, "$MB MB, $label: the message is short (" . length($err) . " bytes)");
        note("$label: $state");
    }
}
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $start, 'the server never restarted');
is($node->safe_psql('postgres', q{SELECT count(*) FROM keel.keys WHERE length(name) > 63}), '0',
    'no key with a huge name was created');
note("huge values: " . scalar(@cases) . " cases of $MB MB");
$node->stop;
done_testing();
