# Dump and restore, into a fresh cluster with its own copy of the master key, by pg_dump
# in custom and in plain format, of two databases:
#  - "engine": keel with application tables using every engine feature (an audit chain
#    in the rows and one beside its table, encrypted text/jsonb/bytea columns, a table
#    partitioned by time with maintenance run, updated_at);
#  - "app": all five blueprints with data (their encrypted columns, an audit chain on
#    each blueprint's audit table, time partitions).
# Checked: the restore runs without errors, identical row counts and contents, every
# chain verifies (also against a digest taken before the dump), every ciphertext
# decrypts to the same plaintext and is restored byte for byte, and the restored
# database keeps working (new rows chain and encrypt).
use strict;
use warnings;
use lib "$ENV{KEEL_SRC}/test/perl";
use KeelTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my @SCHEMAS = ('cr', 'tp', 'al', 'ast', 'ce');
my $src = keel_node('source');
$src->start;
$src->safe_psql('postgres', q{CREATE DATABASE app});
$src->safe_psql('postgres', q{CREATE DATABASE engine});
$src->safe_psql('engine', q{
    CREATE EXTENSION keel;
    SELECT keel.create_key('engine_k');
    CREATE SCHEMA e;
    CREATE TABLE e.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind text NOT NULL,
                           payload jsonb, previous_hash varchar(64), signature varchar(64));
    SELECT keel.enable_audit_chain('e.events', 'previous_hash', 'signature');
    CREATE TABLE e."Notes; x" (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text);
    SELECT keel.enable_audit_chain('e."Notes; x"', sub_chains => 3);
    CREATE TABLE e.secrets (id int PRIMARY KEY, owner text NOT NULL, token text, config jsonb, blob bytea,
                            updated_at timestamptz);
    SELECT keel.encrypt_column('e.secrets', 'token', 'engine_k', '{id,owner}');
    SELECT keel.encrypt_column('e.secrets', 'config', 'engine_k', '{id}');
    SELECT keel.encrypt_column('e.secrets', 'blob', 'engine_k');
    SELECT keel.enable_updated_at('e.secrets');
    CREATE TABLE e.metrics (at timestamptz NOT NULL, v int) PARTITION BY RANGE (at);
    SELECT count(*) FROM keel.partition_by_time('e.metrics', 'month', premake => 2, start_back => 3);
    INSERT INTO e.events (kind, payload) SELECT 'k' || g, jsonb_build_object('g', g) FROM generate_series(1, 500) g;
    INSERT INTO e."Notes; x" (body) SELECT 'note ' || g FROM generate_series(1, 300) g;
    INSERT INTO e.secrets SELECT g, 'owner' || g, 'tok-' || md5(g::text), jsonb_build_object('pw', g), '\xdeadbeef'
      FROM generate_series(1, 200) g;
    SELECT keel.rotate_key('engine_k');
    UPDATE e.secrets SET token = 'rotated-' || id WHERE id <= 50;
    INSERT INTO e.metrics SELECT now() - (g % 80) * interval '1 day', g FROM generate_series(1, 1000) g;
});
$src->safe_psql('app', q{
    CREATE EXTENSION keel;
    CREATE SCHEMA cr;  CREATE EXTENSION keel_coderunner SCHEMA cr;
    CREATE SCHEMA tp;  CREATE EXTENSION keel_terminalpp SCHEMA tp;
    CREATE SCHEMA al;  CREATE EXTENSION keel_agentlink SCHEMA al;
    CREATE SCHEMA ast; CREATE EXTENSION keel_agentstudio SCHEMA ast;
    CREATE SCHEMA ce;  CREATE EXTENSION keel_cozyengine SCHEMA ce;
});
# Each blueprint's audit table is chained (by the blueprint when it does so itself).
$src->safe_psql('app', q{
    DO $$
    DECLARE t regclass;
    BEGIN
        FOREACH t IN ARRAY ARRAY['tp.audit_logs', 'ce.audit_events']::regclass[] LOOP
            IF NOT EXISTS (SELECT 1 FROM keel.audit_chain c WHERE c.table_name::regclass = t) THEN
                PERFORM keel.enable_audit_chain(t);
            END IF;
        END LOOP;
    END $$;
});

# Data in every blueprint, a few hundred rows each.
$src->safe_psql('app', q{
    -- CodeRunner
    INSERT INTO cr.users (email, password_hash) SELECT 'u' || g || '@cr.example', 'h' FROM generate_series(1, 50) g;
    INSERT INTO cr.projects (user_id, name) SELECT id, 'project of ' || email FROM cr.users;
    INSERT INTO cr.deployments (project_id, db_connection_info)
    SELECT id, jsonb_build_object('host', 'db-' || name, 'password', md5(name)) FROM cr.projects;
    -- Terminal++
    INSERT INTO tp.users (email, username) SELECT 'u' || g || '@tp.example', 'user' || g FROM generate_series(1, 50) g;
    INSERT INTO tp.sandboxes (user_id, name) SELECT id, 'box of ' || username FROM tp.users;
    INSERT INTO tp.secrets (user_id, sandbox_id, name, encrypted_value)
    SELECT s.user_id, s.id, 'API_KEY', 'sk-live-' || md5(s.name) FROM tp.sandboxes s;
    INSERT INTO tp.github_connections (user_id, github_user_id, username, access_token_hash, refresh_token_hash, scope)
    SELECT id, row_number() OVER (ORDER BY id), username, 'gho_' || md5(username), 'ghr_' || md5(email), 'repo' FROM tp.users;
    INSERT INTO tp.audit_logs (user_id, action, resource_type, details)
    SELECT id, 'login', 'user', jsonb_build_object('n', g) FROM tp.users, generate_series(1, 4) g;
    -- AgentLink
    INSERT INTO al.users (email, password_hash, user_type) SELECT 'u' || g || '@al.example', 'h', 'creator' FROM generate_series(1, 50) g;
    INSERT INTO al.agents (creator_id, name, price_per_call, config_encrypted, config_iv)
    SELECT id, 'agent of ' || email, 0.001, convert_to('{"model": "m", "key": "' || md5(email) || '"}', 'UTF8'), '\x0102'
      FROM al.users;
    -- agent studio
    INSERT INTO ast.users (username, email, password_hash) SELECT 'user' || g, 'u' || g || '@as.example', 'h' FROM generate_series(1, 50) g;
    INSERT INTO ast.sessions (user_id, title) SELECT id, 'session of ' || username FROM ast.users;
    INSERT INTO ast.runs (session_id, user_id, task) SELECT id, user_id, 'task ' || title FROM ast.sessions;
    -- CozyEngine
    INSERT INTO ce.users (username, email, password_hash) SELECT 'user' || g, 'u' || g || '@ce.example', 'h' FROM generate_series(1, 50) g;
    INSERT INTO ce.personalities (id, name) VALUES ('assistant-v1', 'Assistant') ON CONFLICT DO NOTHING;
    INSERT INTO ce.sessions (user_id, personality_id) SELECT id, 'assistant-v1' FROM ce.users;
    INSERT INTO ce.messages (session_id, user_id, role, content)
    SELECT s.id, s.user_id, 'user', '你好 hello ' || g FROM ce.sessions s, generate_series(1, 4) g;
    INSERT INTO ce.audit_events (event_type, payload, created_at)
    SELECT 'message', jsonb_build_object('g', g), now() - g * interval '1 day' FROM generate_series(1, 200) g;
});

my $dst = keel_node('restored');
$dst->start;
my $rounds = 0;
my $tables = 0;
my $app_chains = 0;
for my $case ([ 'engine', [ 'e' ] ], [ 'app', \@SCHEMAS ]) {
    my ($srcdb, $schemas) = @$case;
    my $counts  = table_counts($src, $srcdb, @$schemas);
    my $plain   = encrypted_columns_decrypt($src, $srcdb);
    my $nchains = chains_verify($src, $srcdb, "source $srcdb");
    ok($nchains >= 2, "source $srcdb has $nchains chains");
    $app_chains = $nchains if $srcdb eq 'app';
    ok(($plain =~ tr/\n//) >= 2, "source $srcdb has encrypted columns");
    my %digest;
    for my $t (split /\n/, $src->safe_psql($srcdb, 'SELECT table_name FROM keel.audit_chain ORDER BY 1')) {
        $digest{$t} = $src->safe_psql($srcdb, "SELECT keel.audit_chain_digest('$t')");
    }
    my $raw = $src->safe_psql($srcdb, q{
        SELECT string_agg(format('SELECT md5(string_agg(%I::text, '','' ORDER BY %I::text)) FROM %s', e.col, e.col, e.tbl),
                          ' UNION ALL ' ORDER BY e.tbl::text, e.col) FROM keel.encrypted_columns e});
    my $raw_src = $src->safe_psql($srcdb, $raw);
    for my $format ('custom', 'plain') {
        my $db   = "${srcdb}_$format";
        my $file = $src->basedir . "/$srcdb.$format";
        $src->command_ok([ 'pg_dump', $format eq 'custom' ? '-Fc' : '-Fp', '-f', $file, '-d', $src->connstr($srcdb) ],
            "$srcdb: pg_dump $format");
        $dst->safe_psql('postgres', "CREATE DATABASE $db");
        my @restore = $format eq 'custom'
          ? ('pg_restore', '-d', $dst->connstr($db), $file)
          : ('psql', '-X', '-q', '-d', $dst->connstr($db), '-f', $file);
        my ($stdout, $stderr) = ('', '');
        IPC::Run::run(\@restore, '>', \$stdout, '2>', \$stderr);
        my @errors = ($stderr =~ /(ERROR:.*)/g);
        is(scalar(@errors), 0, "$db: restore without errors")
          or diag(join("\n", @errors[0 .. ($#errors < 9 ? $#errors : 9)]));
        is(table_counts($dst, $db, @$schemas), $counts, "$db: identical row counts in every table");
        is(chains_verify($dst, $db, "$db"), $nchains, "$db: every chain verified");
        for my $t (sort keys %digest) {
            is($dst->safe_psql($db, "SELECT ok FROM keel.verify_audit_chain('$t', '$digest{$t}')"), 't',
                "$db: $t contains the digest taken before the dump");
        }
        is(encrypted_columns_decrypt($dst, $db), $plain, "$db: every ciphertext decrypts to the same plaintext");
        is($dst->safe_psql($db, $raw), $raw_src, "$db: ciphertexts restored byte for byte (not re-encrypted)");
        $tables += scalar(split /\n/, $counts);
        $rounds++;
    }
}

# The restored engine database keeps working: new chained rows, new secrets.
$dst->safe_psql('engine_custom', q{
    INSERT INTO e.events (kind) VALUES ('after restore');
    INSERT INTO e."Notes; x" (body) VALUES ('after restore');
    INSERT INTO e.secrets (id, owner, token) VALUES (201, 'new', 'tok-after-restore');
    UPDATE e.secrets SET token = 'changed after restore' WHERE id = 1;
});
is(chains_verify($dst, 'engine_custom', 'engine_custom after new rows'), 2, 'restored chains extend');
# The restored blueprints' audit tables are chained again: new rows extend each chain,
# and the rows are append-only again.
$dst->safe_psql('app_custom', q{
    INSERT INTO tp.audit_logs (action, resource_type) VALUES ('after restore', 'user');
    INSERT INTO ce.audit_events (event_type) VALUES ('after restore');
});
is(chains_verify($dst, 'app_custom', 'app_custom after new rows'), $app_chains,
    'restored blueprint chains extend');
for my $t ('tp.audit_logs', 'ce.audit_events') {
    my ($rc, $o, $e) = $dst->psql('app_custom', "UPDATE $t SET created_at = created_at");
    like($e, qr/ERROR/, "$t: UPDATE refused after the restore");
}
is($dst->safe_psql('app_custom', q{SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                                     WHERE t.tgname = 'zz_keel_audit_chain' AND c.relname IN ('audit_logs', 'audit_events', 'call_logs')}),
    '3', 'the three blueprint audit tables carry their chain trigger');
$dst->safe_psql('app_custom', q{INSERT INTO tp.secrets (name, encrypted_value) VALUES ('NEW', 'sk-after-restore')});
like(encrypted_columns_decrypt($dst, 'app_custom'), qr/^tp\.secrets\.encrypted_value:51:/m,
    'a blueprint secret written after the restore encrypts and decrypts');
is($dst->safe_psql('app_custom', q{SELECT count(*) FROM tp.secrets WHERE encrypted_value LIKE '%sk-after%'}),
    '0', 'and is stored encrypted');
like(encrypted_columns_decrypt($dst, 'engine_custom'), qr/^e\.secrets\.token:201:/m,
    'secrets written after the restore decrypt');
is($dst->safe_psql('engine_custom', q{SELECT count(*) FROM keel.run_maintenance('e.metrics') WHERE action = 'error'}),
    '0', 'partition maintenance runs on the restored database');
note("dump/restore rounds: $rounds, tables compared: $tables");

$src->stop;
$dst->stop;
done_testing();
