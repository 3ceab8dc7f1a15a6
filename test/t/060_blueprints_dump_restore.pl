# The five blueprints in one database, with rows in their tables (secrets encrypted,
# audit events spread over partitions the install made, partitions maintenance made
# later and the default partition), survive pg_dump/pg_restore: every table comes back
# with each row exactly once, and the restored blueprints keep working.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('blueprints');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'keel'\n"
    . "keel.master_key_file = '$ENV{KEEL_MASTER_KEY}'\n");
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', q{
    CREATE SCHEMA cr; CREATE SCHEMA tp; CREATE SCHEMA "agent link"; CREATE SCHEMA st; CREATE SCHEMA cz;
    CREATE EXTENSION keel_coderunner SCHEMA cr CASCADE;
    CREATE EXTENSION keel_terminalpp SCHEMA tp;
    CREATE EXTENSION keel_agentlink SCHEMA "agent link";
    CREATE EXTENSION keel_agentstudio SCHEMA st;
    CREATE EXTENSION keel_cozyengine SCHEMA cz;
});

# Rows in every blueprint, secrets included.
$node->safe_psql('app', q{
    INSERT INTO cr.users (id, email, password_hash) SELECT md5('u' || g)::uuid, 'u' || g || '@x.io', 'h' FROM generate_series(1, 20) g;
    INSERT INTO cr.projects (id, user_id, name) SELECT md5('p' || g)::uuid, md5('u' || (g % 20 + 1))::uuid, 'p' || g FROM generate_series(1, 40) g;
    INSERT INTO cr.deployments (project_id, db_connection_info, status)
    SELECT md5('p' || (g % 40 + 1))::uuid, jsonb_build_object('host', 'db' || g, 'password', 'pw' || g), 'RUNNING'
      FROM generate_series(1, 60) g;

    INSERT INTO tp.users (id, email, username) SELECT md5('u' || g)::uuid, 'u' || g || '@x.io', 'u' || g FROM generate_series(1, 20) g;
    INSERT INTO tp.sandboxes (id, user_id, name) SELECT md5('s' || g)::uuid, md5('u' || (g % 20 + 1))::uuid, 's' || g FROM generate_series(1, 30) g;
    INSERT INTO tp.secrets (user_id, sandbox_id, name, encrypted_value)
    SELECT md5('u' || (g % 20 + 1))::uuid, md5('s' || (g % 30 + 1))::uuid, 'API_KEY_' || g, 'sk-' || g FROM generate_series(1, 30) g;
    INSERT INTO tp.github_connections (user_id, github_user_id, username, access_token_hash, scope)
    SELECT md5('u' || g)::uuid, g, 'gh' || g, 'ghp_' || repeat('x', 36), 'repo' FROM generate_series(1, 10) g;
    INSERT INTO tp.command_executions (sandbox_id, user_id, command)
    SELECT md5('s' || (g % 30 + 1))::uuid, md5('u' || (g % 20 + 1))::uuid, 'ls ' || g FROM generate_series(1, 200) g;
    INSERT INTO tp.audit_logs (user_id, action, resource_type) SELECT md5('u' || (g % 20 + 1))::uuid, 'login', 'session' FROM generate_series(1, 50) g;

    INSERT INTO "agent link".users (id, email, password_hash, user_type)
    SELECT md5('u' || g)::uuid, 'u' || g || '@x.io', 'h', 'creator' FROM generate_series(1, 10) g;
    INSERT INTO "agent link".agents (id, creator_id, name, price_per_call, config_encrypted)
    SELECT md5('a' || g)::uuid, md5('u' || (g % 10 + 1))::uuid, 'a' || g, 0.01, convert_to('{"k":' || g || '}', 'UTF8') FROM generate_series(1, 10) g;
    INSERT INTO "agent link".quotas (user_id, total_quota) SELECT md5('u' || g)::uuid, 100 FROM generate_series(1, 10) g;
    SELECT "agent link".consume_quota(md5('u1')::uuid, 7);
    INSERT INTO "agent link".call_logs (agent_id, user_id, status) SELECT md5('a' || (g % 10 + 1))::uuid, md5('u' || (g % 10 + 1))::uuid, 'ok' FROM generate_series(1, 100) g;

    INSERT INTO st.users (id, username, email, password_hash) SELECT md5('u' || g)::uuid, 'u' || g, 'u' || g || '@x.io', 'h' FROM generate_series(1, 5) g;
    INSERT INTO st.sessions (id, user_id, title) SELECT md5('s' || g)::uuid, md5('u' || (g % 5 + 1))::uuid, 't' FROM generate_series(1, 10) g;
    INSERT INTO st.runs (session_id, user_id, task) SELECT md5('s' || (g % 10 + 1))::uuid, md5('u' || ((g % 10 + 1) % 5 + 1))::uuid, 'task' FROM generate_series(1, 30) g;

    INSERT INTO cz.users (id, username, email, password_hash) SELECT md5('u' || g)::uuid, 'u' || g, 'u' || g || '@x.io', 'h' FROM generate_series(1, 10) g;
    INSERT INTO cz.personalities (id, name) VALUES ('custom-v1', 'Custom');
    -- an edit of the install's own default personality is data too
    UPDATE cz.personalities SET description = 'edited before the dump' WHERE id = 'assistant-v1';
    INSERT INTO cz.sessions (id, user_id, personality_id) SELECT md5('s' || g)::uuid, md5('u' || (g % 10 + 1))::uuid, 'assistant-v1' FROM generate_series(1, 20) g;
    INSERT INTO cz.messages (session_id, user_id, role, content, message_metadata)
    SELECT md5('s' || (g % 20 + 1))::uuid, md5('u' || ((g % 20 + 1) % 10 + 1))::uuid, 'user', '你好 hello ' || g, jsonb_build_object('token_count', g % 9)
      FROM generate_series(1, 300) g;
});

# audit_events: partitions made by maintenance after the install (not extension
# members), events in install-time partitions, in later ones and in the default one.
$node->safe_psql('app', q{
    SELECT count(*) FROM keel.run_maintenance('cz.audit_events', as_of => now() + interval '5 months');
    INSERT INTO cz.audit_events (event_type, created_at)
    SELECT 'E' || g, date_trunc('month', now())::timestamp - interval '2 months' + g * interval '1 day'
      FROM generate_series(0, 239) g;
    INSERT INTO cz.audit_events (event_type, created_at) VALUES ('far future', '2099-01-01');
});
my $later = $node->safe_psql('app', q{
    SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'cz.audit_events'::regclass
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
       AND c.relname > 'audit_events_' || to_char(now() + interval '3 months', 'YYYY_MM')});
ok($later > 0, "partitions made after the install: $later");

# One fingerprint per table of the five schemas: rows, and an md5 over the rows.
my $fingerprint = q{
    SELECT string_agg(r, E'\n' ORDER BY r) FROM (
      SELECT format('%s %s', c.oid::regclass,
                    (xpath('//f/text()', query_to_xml(format(
                        'SELECT count(*) || '':'' || coalesce(md5(string_agg(t::text, '','' ORDER BY t::text)), '''') AS f FROM ONLY %s t',
                        c.oid::regclass),
                        false, false, '')))[1]::text) AS r
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname IN ('cr', 'tp', 'agent link', 'st', 'cz') AND c.relkind = 'r') x};
my $before = $node->safe_psql('app', $fingerprint);
my $rows_before = $node->safe_psql('app', q{SELECT sum(n_live_tup) FROM pg_stat_user_tables});
like($before, qr/cz\.audit_events_default [1-9]\d*:/, 'events in the default partition');

my $dump = $node->basedir . '/app.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('app') ], 'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
# The tables keel keeps wiring (audit_events with its partitions, the chained and the
# encrypted tables) are released from their blueprints, so the dump writes them whole and
# the restore's CREATE EXTENSION leaves them to it: nothing is made twice.
my ($stdout, $stderr) = run_command([ 'pg_restore', '-d', $node->connstr('restored'), $dump ]);
my @kinds = grep { /ERROR:/ } split /\n/, $stderr;
is(scalar(@kinds), 0, 'pg_restore reports no error') or diag($stderr);

# Every table of the source comes back with the same rows; the restore's CREATE EXTENSION
# may also make the seed's hard-coded audit partitions that retention had retired in
# the source: those must be empty.
my %src = map { /^(.*) (\S+)$/ ? ($1 => $2) : () } split /\n/, $before;
my %dst = map { /^(.*) (\S+)$/ ? ($1 => $2) : () } split /\n/, $node->safe_psql('restored', $fingerprint);
my @wrong = grep { ($dst{$_} // 'missing') ne $src{$_} } sort keys %src;
is(join(', ', @wrong), '', 'every table restored with each row exactly once (' . scalar(keys %src) . ' tables)');
my @extra = grep { !exists $src{$_} && $dst{$_} !~ /^0:/ } sort keys %dst;
is(join(', ', @extra), '', 'tables only in the restore are empty');

# Inside the restore the blueprints left keel's configuration (keys, encrypted columns,
# partitioning, tasks, chains) to the dump, and the released tables came back with their
# encryption and chain triggers: a secret written after the restore is encrypted with no
# further step, and enable_encryption() finds nothing left to do.
$node->safe_psql('restored', q{INSERT INTO tp.secrets (name, encrypted_value) VALUES ('AFTER', 'sk-after-restore')});
is($node->safe_psql('restored', q{SELECT count(*) FROM tp.secrets WHERE encrypted_value LIKE '%sk-after%'}),
   '0', 'a secret written after the restore is stored encrypted');
is($node->safe_psql('restored', q{SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                                   WHERE c.relname IN ('audit_logs', 'audit_events', 'call_logs')
                                     AND t.tgname = 'zz_keel_audit_chain'}),
   '3', 'the audit tables are chained after the restore');
is($node->safe_psql('restored', q{SELECT cr.enable_encryption() || ' ' || tp.enable_encryption() || ' ' || "agent link".enable_encryption()}),
   'encrypted encrypted encrypted', 'enable_encryption() is idempotent after the restore');
is($node->safe_psql('restored', q{SELECT count(*) FROM keel.partition_config WHERE parent = 'cz.audit_events'::regclass}),
   '1', 'partitioning registration restored once');
is($node->safe_psql('restored', q{SELECT count(*) FROM keel.maintenance_task WHERE name = 'terminalpp retention: tp'}),
   '1', 'retention task restored once');
note('chain triggers after restore: ' . $node->safe_psql('restored', q{
    SELECT string_agg(tgrelid::regclass || '.' || tgname, ', ' ORDER BY 1) FROM pg_trigger WHERE tgname LIKE '%audit_chain%'}));

# The restored blueprints still work.
is($node->safe_psql('restored', q{SELECT message_count FROM cz.sessions WHERE id = md5('s1')::uuid}),
   $node->safe_psql('app', q{SELECT message_count FROM cz.sessions WHERE id = md5('s1')::uuid}), 'session counters restored');
$node->safe_psql('restored', q{INSERT INTO cz.messages (session_id, user_id, role, content)
                               VALUES (md5('s1')::uuid, md5('u2')::uuid, 'user', 'after restore')});
is($node->safe_psql('restored', q{SELECT cz.refresh_session_stats()}), '0', 'session trigger works after restore');
is($node->safe_psql('restored', q{
    SELECT keel.decrypt_jsonb(t.db_connection_info, keel.column_aad('cr.deployments.db_connection_info', t.id)) ->> 'password'
      FROM cr.deployments t ORDER BY t.id LIMIT 1}) =~ /^pw\d+$/ ? 1 : 0, 1, 'encrypted column decrypts after restore');
is($node->safe_psql('restored', q{SELECT count(*) FROM cz.personalities}), '2', 'default personality once, custom one carried');
is($node->safe_psql('restored', q{SELECT description FROM cz.personalities WHERE id = 'assistant-v1'}),
   'edited before the dump', 'the edit of the default personality is carried');
is($node->safe_psql('restored', q{SELECT "agent link".consume_quota(md5('u1')::uuid, 94)}), 'f', 'restored quota still enforced (7 used)');

$node->stop;
done_testing();
