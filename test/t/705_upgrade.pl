# ALTER EXTENSION ... UPDATE, from every earlier version installable from the repo
# (src/sql/released/) to the current one, for keel and the five blueprints:
#  (a) install the old version of keel and of each blueprint (each in its own schema) and
#      load data that exercises the engine: updated_at, encrypted columns (text, jsonb,
#      bytea, with AAD, across a key rotation), audit chains (in the rows, beside the
#      table with sub-chains, and the blueprints' own chained tables), a table
#      partitioned by keel.partition_by_time with maintenance run, rows in every
#      blueprint; take every chain's digest;
#  (b) ALTER EXTENSION keel UPDATE, then each blueprint's;
#  (c) the data is intact: same row counts and contents, every ciphertext decrypts to
#      the same plaintext, every chain verifies (also against the digest taken before),
#      new rows chain and encrypt, updated_at still fires, maintenance runs;
#  (d) the updated database's extensions are exactly a fresh install's: per extension,
#      a sorted description of every member object and every table it released from
#      itself (keel.blueprint_released) (definitions, ACLs, comments,
#      columns, constraints, indexes, triggers, event triggers, text search objects,
#      extconfig) and of what it registered with the engine, compared line by line;
#  (e) the updated database dumps (pg_dump -Fc) and restores without error into an
#      equal database: counts, plaintexts, chains, and the catalog of a fresh install;
#  (f) the whole pg_regress suite passes against keel updated from each earlier version;
#  (g) dropping the updated blueprints leaves behind what dropping fresh ones does.
# (d) is what catches a change to src/sql/<ext>/ that was not also added to
# src/sql/upgrade/<ext>--<old>--<new>.sql: its failure prints the difference.
use strict;
use warnings;
use lib "$ENV{KEEL_SRC}/test/perl";
use KeelTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my @BLUEPRINTS = (
    [ 'keel_coderunner',  'cr' ],
    [ 'keel_terminalpp',  'tp' ],
    [ 'keel_agentlink',   'al' ],
    [ 'keel_agentstudio', 'ast' ],
    [ 'keel_cozyengine',  'ce' ]);
my @EXTENSIONS = ('keel', map { $_->[0] } @BLUEPRINTS);
my @SCHEMAS    = ('app', map { $_->[1] } @BLUEPRINTS);

my $node = keel_node('upgrade');
# No autovacuum: the pg_regress suite run at the end has plan tests that an ANALYZE by
# autovacuum at the wrong moment can change.
$node->append_conf('postgresql.conf', 'autovacuum = off');
$node->start;

my $current = $node->safe_psql('postgres',
    q{SELECT default_version FROM pg_catalog.pg_available_extensions WHERE name = 'keel'});
my @old = split /\n/, $node->safe_psql('postgres', qq{
    SELECT version FROM pg_catalog.pg_available_extension_versions
     WHERE name = 'keel' AND version <> '$current' ORDER BY string_to_array(version, '.')::int[]});
ok(scalar(@old) >= 1, "earlier versions installable: @old (current $current)");
for my $e (@EXTENSIONS) {
    is($node->safe_psql('postgres', "SELECT default_version FROM pg_catalog.pg_available_extensions WHERE name = '$e'"),
        $current, "$e is at version $current like keel");
}

# ---------------------------------------------------------------- the catalog description
# One line per fact: "<object> | <fact>", sorted.  Chain ids (row ids of keel.audit_chain)
# in trigger arguments are replaced by a placeholder; everything else is compared as is.
my $CATALOG_SQL = <<'SQL';
WITH ext AS (
    SELECT e.oid, e.extname, e.extnamespace FROM pg_catalog.pg_extension e WHERE e.extname = '__EXT__'
), m AS (
    SELECT d.classid, d.objid, d.objsubid, pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS what
      FROM pg_catalog.pg_depend d, ext
     WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), rel AS (
    SELECT c.oid, c.relkind, m.what, false AS released
      FROM pg_catalog.pg_class c JOIN m ON m.classid = 'pg_catalog.pg_class'::regclass AND m.objid = c.oid
    UNION ALL
    -- tables a blueprint released from its extension (keel.release_blueprint_table) are
    -- still its own: compared like members
    SELECT c.oid, c.relkind, pg_catalog.pg_describe_object('pg_catalog.pg_class'::regclass, c.oid, 0), true
      FROM ext JOIN keel.blueprint_released br ON br.ext = ext.extname
      JOIN pg_catalog.pg_namespace ns ON ns.nspname = br.table_schema
      JOIN pg_catalog.pg_class c ON c.relnamespace = ns.oid AND c.relname = br.table_name
), lines(k, n, line) AS (
    SELECT 'extension', 0, format('version %s, relocatable %s, schema %s, schema acl %s, schema comment %s',
                                  e.extversion, e.extrelocatable, e.extnamespace::regnamespace,
                                  coalesce(ns.nspacl::text, '-'), coalesce(pg_catalog.obj_description(ns.oid, 'pg_namespace'), '-'))
      FROM ext JOIN pg_catalog.pg_extension e ON e.oid = ext.oid JOIN pg_catalog.pg_namespace ns ON ns.oid = e.extnamespace
    UNION ALL
    SELECT 'extension', 1, format('config table %s %s', c.tbl::regclass, coalesce(nullif(c.cond, ''), '(all rows)'))
      FROM ext JOIN pg_catalog.pg_extension e ON e.oid = ext.oid, unnest(e.extconfig, e.extcondition) c(tbl, cond)
    UNION ALL
    SELECT m.what, 0, 'member; comment: ' || coalesce(pg_catalog.obj_description(m.objid, m.classid::regclass::name), '-') FROM m
    UNION ALL
    SELECT r.what, 0, 'released from the extension; comment: ' || coalesce(pg_catalog.obj_description(r.oid, 'pg_class'), '-')
      FROM rel r WHERE r.released
    UNION ALL
    SELECT m.what, 1, format('initial privileges (%s): %s', ip.privtype, ip.initprivs)
      FROM m JOIN pg_catalog.pg_init_privs ip ON ip.classoid = m.classid AND ip.objoid = m.objid AND ip.objsubid = 0
    UNION ALL
    -- functions: the whole definition (volatility, strictness, SECURITY DEFINER, SET, body) and ACL
    SELECT m.what, 10 + l.n, l.line
      FROM m JOIN pg_catalog.pg_proc p ON m.classid = 'pg_catalog.pg_proc'::regclass AND p.oid = m.objid,
           LATERAL pg_catalog.regexp_split_to_table(
               CASE WHEN p.prokind = 'a' THEN format('aggregate %s', p.oid::regprocedure)
                    ELSE pg_catalog.pg_get_functiondef(p.oid) END
               || E'\nacl: ' || coalesce(p.proacl::text, '(default)'), E'\n') WITH ORDINALITY l(line, n)
    UNION ALL
    -- relations, their columns, constraints, indexes, triggers, policies, view text, sequence
    SELECT r.what, 10, format('kind %s, persistence %s, row security %s/%s, replica identity %s, options %s, acl %s%s',
                              c.relkind, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity, c.relreplident,
                              coalesce(c.reloptions::text, '-'), coalesce(c.relacl::text, '(default)'),
                              CASE WHEN c.relkind = 'p' THEN ', partitioned by ' || pg_catalog.pg_get_partkeydef(c.oid) ELSE '' END)
      FROM rel r JOIN pg_catalog.pg_class c ON c.oid = r.oid
    UNION ALL
    SELECT r.what, 100 + row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum),
           format('column %s %s%s%s%s%s%s, acl %s, comment %s', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
                  CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                  CASE a.attidentity WHEN 'a' THEN ' generated always as identity'
                                     WHEN 'd' THEN ' generated by default as identity' ELSE '' END,
                  CASE WHEN a.attgenerated = 's' THEN ' generated always as (' || pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) || ') stored'
                       WHEN ad.adbin IS NOT NULL THEN ' default ' || pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) ELSE '' END,
                  CASE WHEN a.attcollation <> t.typcollation THEN ' collate ' || a.attcollation::regcollation::text ELSE '' END,
                  CASE WHEN a.attstorage <> t.typstorage THEN ' storage ' || a.attstorage::text ELSE '' END,
                  coalesce(a.attacl::text, '(default)'), coalesce(pg_catalog.col_description(r.oid, a.attnum), '-'))
      FROM rel r JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = r.oid AND ad.adnum = a.attnum
    UNION ALL
    SELECT r.what, 10000, format('constraint %s: %s; comment %s', co.conname, pg_catalog.pg_get_constraintdef(co.oid),
                                 coalesce(pg_catalog.obj_description(co.oid, 'pg_constraint'), '-'))
      FROM rel r JOIN pg_catalog.pg_constraint co ON co.conrelid = r.oid
    UNION ALL
    SELECT r.what, 20000, format('index %s; comment %s', pg_catalog.pg_get_indexdef(i.indexrelid),
                                 coalesce(pg_catalog.obj_description(i.indexrelid, 'pg_class'), '-'))
      FROM rel r JOIN pg_catalog.pg_index i ON i.indrelid = r.oid
    UNION ALL
    SELECT r.what, 30000, format('trigger %s; enabled %s; comment %s',
                                 pg_catalog.regexp_replace(pg_catalog.pg_get_triggerdef(tg.oid),
                                                           'audit_chain_append\(''[0-9]+''\)', 'audit_chain_append(<chain id>)'),
                                 tg.tgenabled, coalesce(pg_catalog.obj_description(tg.oid, 'pg_trigger'), '-'))
      FROM rel r JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = r.oid AND NOT tg.tgisinternal
    UNION ALL
    SELECT r.what, 40000, format('policy %s: %s %s to %s using (%s) with check (%s)', po.polname, po.polcmd,
                                 CASE WHEN po.polpermissive THEN 'permissive' ELSE 'restrictive' END,
                                 (SELECT string_agg(CASE WHEN x = 0 THEN 'public' ELSE x::regrole::text END, ',' ORDER BY 1)
                                    FROM unnest(po.polroles) x),
                                 coalesce(pg_catalog.pg_get_expr(po.polqual, po.polrelid), '-'),
                                 coalesce(pg_catalog.pg_get_expr(po.polwithcheck, po.polrelid), '-'))
      FROM rel r JOIN pg_catalog.pg_policy po ON po.polrelid = r.oid
    UNION ALL
    SELECT r.what, 50000 + l.n, 'view: ' || l.line
      FROM rel r, LATERAL pg_catalog.regexp_split_to_table(pg_catalog.pg_get_viewdef(r.oid), E'\n') WITH ORDINALITY l(line, n)
     WHERE r.relkind IN ('v', 'm')
    UNION ALL
    SELECT r.what, 60000, format('sequence %s start %s increment %s min %s max %s cache %s cycle %s; owned by %s',
                                 s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
                                 coalesce((SELECT d.refobjid::regclass || '.' || a.attname FROM pg_catalog.pg_depend d
                                             JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                                            WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = r.oid
                                              AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')), '-'))
      FROM rel r JOIN pg_catalog.pg_sequence s ON s.seqrelid = r.oid
    UNION ALL
    -- types: enum labels, domains, composite types
    SELECT m.what, 10, format('type %s acl %s%s%s', t.typtype, coalesce(t.typacl::text, '(default)'),
               coalesce(' labels ' || (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                                         FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid), ''),
               CASE WHEN t.typtype = 'd' THEN format(' over %s not null %s default %s checks %s',
                                                     pg_catalog.format_type(t.typbasetype, t.typtypmod), t.typnotnull, coalesce(t.typdefault, '-'),
                                                     (SELECT string_agg(co.conname || ' ' || pg_catalog.pg_get_constraintdef(co.oid), '; ' ORDER BY co.conname)
                                                        FROM pg_catalog.pg_constraint co WHERE co.contypid = t.oid))
                    WHEN t.typtype = 'c' THEN ' attributes ' || (SELECT string_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                                                                   FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
                    ELSE '' END)
      FROM m JOIN pg_catalog.pg_type t ON m.classid = 'pg_catalog.pg_type'::regclass AND t.oid = m.objid
    UNION ALL
    SELECT m.what, 10, format('event trigger on %s executes %s enabled %s tags %s', ev.evtevent, ev.evtfoid::regprocedure,
                              ev.evtenabled, coalesce(ev.evttags::text, '-'))
      FROM m JOIN pg_catalog.pg_event_trigger ev ON m.classid = 'pg_catalog.pg_event_trigger'::regclass AND ev.oid = m.objid
    UNION ALL
    SELECT m.what, 10, format('parser start %s token %s end %s headline %s lextype %s', p.prsstart::regproc, p.prstoken::regproc,
                              p.prsend::regproc, p.prsheadline::regproc, p.prslextype::regproc)
      FROM m JOIN pg_catalog.pg_ts_parser p ON m.classid = 'pg_catalog.pg_ts_parser'::regclass AND p.oid = m.objid
    UNION ALL
    SELECT m.what, 10, format('%s, mapping %s', pg_catalog.pg_describe_object('pg_catalog.pg_ts_parser'::regclass, c.cfgparser, 0),
                              coalesce((SELECT string_agg(mp.maptokentype || ':' || mp.mapseqno || ':' || mp.mapdict::regdictionary, ' '
                                                          ORDER BY mp.maptokentype, mp.mapseqno)
                                          FROM pg_catalog.pg_ts_config_map mp WHERE mp.mapcfg = c.oid), '-'))
      FROM m JOIN pg_catalog.pg_ts_config c ON m.classid = 'pg_catalog.pg_ts_config'::regclass AND c.oid = m.objid
    UNION ALL
    SELECT m.what, 10, format('dictionary template %s options %s', d.dicttemplate::regproc, coalesce(d.dictinitoption, '-'))
      FROM m JOIN pg_catalog.pg_ts_dict d ON m.classid = 'pg_catalog.pg_ts_dict'::regclass AND d.oid = m.objid
    UNION ALL
    -- what the extension registered with the engine for its own objects (rows of keel's
    -- configuration tables, without ids, salts and timestamps)
    SELECT 'engine registration', 0, 'partition ' || (pg_catalog.to_jsonb(pc) - 'registered_at')::text
      FROM ext, keel.partition_config pc JOIN pg_catalog.pg_class c ON c.oid = pc.parent::oid
     WHERE c.relnamespace = ext.extnamespace
    UNION ALL
    SELECT 'engine registration', 0, 'encrypted column ' || pg_catalog.to_jsonb(ec)::text
      FROM ext, keel.encrypted_columns ec JOIN pg_catalog.pg_class c ON c.oid = ec.tbl::oid
     WHERE c.relnamespace = ext.extnamespace
    UNION ALL
    SELECT 'engine registration', 0, 'audit chain ' || (pg_catalog.to_jsonb(ac) - '{chain_id,salt,enabled_at}'::text[])::text
      FROM ext, keel.audit_chain ac JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(ac.table_name)::oid
     WHERE c.relnamespace = ext.extnamespace
    UNION ALL
    SELECT 'engine registration', 0, 'maintenance task ' || (pg_catalog.to_jsonb(mt) - 'registered_at')::text
      FROM ext, keel.maintenance_task mt JOIN pg_catalog.pg_proc p ON p.oid = mt.fn::oid
     WHERE p.pronamespace = ext.extnamespace
)
SELECT k || ' | ' || line FROM lines ORDER BY k COLLATE "C", n, line COLLATE "C"
SQL

# The extension's description, plus the rows it owns in its configuration tables (those
# an extcondition leaves out of a dump: seed data), without timestamp columns.
sub describe_extension {
    my ($db, $ext) = @_;
    (my $sql = $CATALOG_SQL) =~ s/__EXT__/$ext/g;
    my $out = $node->safe_psql($db, $sql);
    my @owned = split /\n/, $node->safe_psql($db, qq{
        SELECT format('SELECT %L || (pg_catalog.to_jsonb(t) - %L::text[])::text FROM %s t WHERE NOT (%s)',
                      'extension-owned row of ' || c.tbl::regclass::text || ' | ',
                      (SELECT coalesce(array_agg(a.attname), '{}') FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid = c.tbl AND a.attnum > 0 AND NOT a.attisdropped
                          AND a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)),
                      c.tbl::regclass, pg_catalog.regexp_replace(c.cond, '^\\s*WHERE\\s+', '', 'i'))
          FROM pg_catalog.pg_extension e, unnest(e.extconfig, e.extcondition) c(tbl, cond)
         WHERE e.extname = '$ext' AND c.cond <> '' ORDER BY c.tbl::regclass::text});
    for my $q (@owned) {
        my $rows = $node->safe_psql($db, "SELECT * FROM ($q) x(line) ORDER BY x.line COLLATE \"C\"");
        $out .= "\n$rows" if $rows ne '';
    }
    return $out;
}

# Compares two descriptions; on a difference prints $why and a unified diff naming the
# objects.
sub catalogs_equal {
    my ($updated, $fresh, $label, $why) = @_;
    return 1 if $updated eq $fresh;
    my $dir = $node->basedir;
    my ($fu, $ff) = ("$dir/$label.txt", "$dir/fresh-$current.txt");
    for ([ $fu, $updated ], [ $ff, $fresh ]) {
        open(my $fh, '>', $_->[0]) or die "$_->[0]: $!";
        print $fh $_->[1], "\n";
        close $fh;
    }
    diag($why . `diff -U1 '$fu' '$ff' 2>&1`);
    return 0;
}

sub missing_upgrade {
    my ($ext, $from) = @_;
    return <<"MSG";
$ext: an install updated from $from by ALTER EXTENSION $ext UPDATE differs from a fresh
install of $current.  Someone changed src/sql/$ext/ without adding the same change to
src/sql/upgrade/$ext--$from--$current.sql (CREATE OR REPLACE FUNCTION, ALTER TABLE, COMMENT,
GRANT/REVOKE, ... as docs/upgrading.md describes).  '-' lines: only in the updated
database; '+' lines: only in a fresh install.
MSG
}

# pg_dump prints an expression as PostgreSQL deparses it, and parsing that again can
# spell casts differently (ARRAY['a'::varchar]::text[] comes back as
# ARRAY[('a'::varchar)::text]): for a restored database, casts and parentheses are not
# compared.
sub without_casts {
    return join("\n", map { (my $l = $_) =~ s/::[a-z ]+(\[\])?//g; $l =~ s/[()]//g; $l } split /\n/, $_[0]);
}

# ---------------------------------------------------------------- a fresh install to compare with
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', join("\n", 'CREATE EXTENSION keel;',
    map { "CREATE SCHEMA $_->[1]; CREATE EXTENSION $_->[0] SCHEMA $_->[1];" } @BLUEPRINTS));
my %fresh = map { $_ => describe_extension('fresh', $_) } @EXTENSIONS;

for my $from (@old) {
    (my $db = "from_$from") =~ s/\W/_/g;
    note("upgrade from $from to $current in database $db");

    # ------------------------------------------------------------ (a) the old version, with data
    $node->safe_psql('postgres', "CREATE DATABASE $db");
    $node->safe_psql($db, join("\n", "CREATE EXTENSION keel VERSION '$from';",
        map { "CREATE SCHEMA $_->[1]; CREATE EXTENSION $_->[0] SCHEMA $_->[1] VERSION '$from';" } @BLUEPRINTS));
    is($node->safe_psql($db, q{SELECT string_agg(extname || ' ' || extversion, ', ' ORDER BY extname)
                               FROM pg_catalog.pg_extension WHERE extname LIKE 'keel%'}),
        join(', ', map { "$_ $from" } sort @EXTENSIONS), "$db: every extension installed at $from");

    $node->safe_psql($db, q{
        SELECT keel.create_key('upg_k');
        CREATE SCHEMA app;
        CREATE TABLE app.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind text NOT NULL,
                                 payload jsonb, previous_hash varchar(64), signature varchar(64));
        SELECT keel.enable_audit_chain('app.events', 'previous_hash', 'signature');
        CREATE TABLE app."Notes; x" (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text);
        SELECT keel.enable_audit_chain('app."Notes; x"', sub_chains => 3);
        CREATE TABLE app.secrets (id int PRIMARY KEY, owner text NOT NULL, token text, config jsonb, blob bytea,
                                  updated_at timestamptz);
        SELECT keel.encrypt_column('app.secrets', 'token', 'upg_k', '{id,owner}');
        SELECT keel.encrypt_column('app.secrets', 'config', 'upg_k', '{id}');
        SELECT keel.encrypt_column('app.secrets', 'blob', 'upg_k');
        SELECT keel.enable_updated_at('app.secrets');
        CREATE TABLE app.metrics (at timestamptz NOT NULL, v int) PARTITION BY RANGE (at);
        SELECT count(*) FROM keel.partition_by_time('app.metrics', 'month', premake => 2, start_back => 3);
        INSERT INTO app.events (kind, payload) SELECT 'k' || g, jsonb_build_object('g', g) FROM generate_series(1, 300) g;
        INSERT INTO app."Notes; x" (body) SELECT 'note ' || g FROM generate_series(1, 200) g;
        INSERT INTO app.secrets SELECT g, 'owner' || g, 'tok-' || md5(g::text), jsonb_build_object('pw', g), '\xdeadbeef'
          FROM generate_series(1, 200) g;
        SELECT keel.rotate_key('upg_k');
        UPDATE app.secrets SET token = 'rotated-' || id WHERE id <= 50;
        INSERT INTO app.metrics SELECT now() - (g % 80) * interval '1 day', g FROM generate_series(1, 1000) g;
        SELECT count(*) FROM keel.run_maintenance('app.metrics');

        -- CodeRunner
        INSERT INTO cr.users (email, password_hash) SELECT 'u' || g || '@cr.example', 'h' FROM generate_series(1, 30) g;
        INSERT INTO cr.projects (user_id, name) SELECT id, 'project of ' || email FROM cr.users;
        INSERT INTO cr.deployments (project_id, db_connection_info)
        SELECT id, jsonb_build_object('host', 'db-' || name, 'password', md5(name)) FROM cr.projects;
        -- Terminal++ (audit_logs: chained beside the table)
        INSERT INTO tp.users (email, username) SELECT 'u' || g || '@tp.example', 'user' || g FROM generate_series(1, 30) g;
        INSERT INTO tp.sandboxes (user_id, name) SELECT id, 'box of ' || username FROM tp.users;
        INSERT INTO tp.secrets (user_id, sandbox_id, name, encrypted_value)
        SELECT s.user_id, s.id, 'API_KEY', 'sk-live-' || md5(s.name) FROM tp.sandboxes s;
        INSERT INTO tp.github_connections (user_id, github_user_id, username, access_token_hash, refresh_token_hash, scope)
        SELECT id, row_number() OVER (ORDER BY id), username, 'gho_' || md5(username), 'ghr_' || md5(email), 'repo' FROM tp.users;
        INSERT INTO tp.audit_logs (user_id, action, resource_type, details)
        SELECT id, 'login', 'user', jsonb_build_object('n', g) FROM tp.users, generate_series(1, 4) g;
        -- AgentLink (call_logs: chained beside the table)
        INSERT INTO al.users (email, password_hash, user_type) SELECT 'u' || g || '@al.example', 'h', 'creator' FROM generate_series(1, 30) g;
        INSERT INTO al.agents (creator_id, name, price_per_call, config_encrypted, config_iv)
        SELECT id, 'agent of ' || email, 0.001, convert_to('{"model": "m", "key": "' || md5(email) || '"}', 'UTF8'), '\x0102'
          FROM al.users;
        INSERT INTO al.call_logs (agent_id, user_id, status, total_tokens)
        SELECT a.id, a.creator_id, 'success', g FROM al.agents a, generate_series(1, 3) g;
        -- agent studio
        INSERT INTO ast.users (username, email, password_hash) SELECT 'user' || g, 'u' || g || '@as.example', 'h' FROM generate_series(1, 30) g;
        INSERT INTO ast.sessions (user_id, title) SELECT id, 'session of ' || username FROM ast.users;
        INSERT INTO ast.runs (session_id, user_id, task) SELECT id, user_id, 'task ' || title FROM ast.sessions;
        -- CozyEngine (audit_events: partitioned, chained in its rows)
        INSERT INTO ce.users (username, email, password_hash) SELECT 'user' || g, 'u' || g || '@ce.example', 'h' FROM generate_series(1, 30) g;
        INSERT INTO ce.sessions (user_id, personality_id) SELECT id, 'assistant-v1' FROM ce.users;
        INSERT INTO ce.messages (session_id, user_id, role, content)
        SELECT s.id, s.user_id, 'user', '你好 hello ' || g FROM ce.sessions s, generate_series(1, 4) g;
        INSERT INTO ce.audit_events (event_type, payload, created_at)
        SELECT 'message', jsonb_build_object('g', g), now() - g * interval '1 day' FROM generate_series(1, 150) g;
    });

    my $counts = table_counts($node, $db, @SCHEMAS);
    my $plain  = encrypted_columns_decrypt($node, $db);
    my $raw_sql = $node->safe_psql($db, q{
        SELECT string_agg(format('SELECT %L || '':'' || md5(string_agg(%I::text, '','' ORDER BY %I::text)) FROM %s',
                                 e.tbl::text || '.' || e.col, e.col, e.col, e.tbl),
                          ' UNION ALL ' ORDER BY e.tbl::text, e.col) FROM keel.encrypted_columns e});
    my $raw = $node->safe_psql($db, $raw_sql);
    my $stamps = $node->safe_psql($db, q{SELECT md5(string_agg(id || ':' || updated_at, ',' ORDER BY id)) FROM app.secrets});
    my $nchains = chains_verify($node, $db, "$db before the update");
    is($nchains, 5, "$db: 5 chains (2 of the application, 3 of the blueprints)");
    like($plain, qr/^app\.secrets\.token:200:/m, "$db: application secrets encrypted");
    is(scalar(() = $plain =~ /\n/g) + 1, 9, "$db: 9 encrypted columns (3 of the application, 6 of the blueprints)");
    my %digest;
    for my $t (split /\n/, $node->safe_psql($db, 'SELECT table_name FROM keel.audit_chain ORDER BY 1')) {
        $digest{$t} = $node->safe_psql($db, "SELECT keel.audit_chain_digest('$t')");
        cmp_ok($node->safe_psql($db, "SELECT rows_checked FROM keel.verify_audit_chain('$t')"), '>', 0, "$db: chain $t has rows");
    }

    # ------------------------------------------------------------ (b) the update
    # A blueprint first is refused with a clear error (it needs the current keel), and
    # changes nothing.
    for my $bp (@BLUEPRINTS) {
        my ($ret, $stdout, $stderr) = $node->psql($db, "\\set VERBOSITY verbose\nALTER EXTENSION $bp->[0] UPDATE");
        like($stderr, qr/ERROR:  55000: $bp->[0] needs keel \Q$current\E, the version of the installed files, but keel is at \Q$from\E/,
            "$db: ALTER EXTENSION $bp->[0] UPDATE before keel's is refused (SQLSTATE 55000)");
    }
    is($node->safe_psql($db, q{SELECT string_agg(DISTINCT extversion, ',') FROM pg_catalog.pg_extension WHERE extname LIKE 'keel%'}),
        $from, "$db: and every extension is still at $from");
    for my $e (@EXTENSIONS) {
        my ($ret, $stdout, $stderr) = $node->psql($db, "ALTER EXTENSION $e UPDATE");
        is($ret, 0, "$db: ALTER EXTENSION $e UPDATE") or diag($stderr);
        is($node->safe_psql($db, "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = '$e'"),
            $current, "$db: $e is now at $current");
    }

    # ------------------------------------------------------------ (c) the data is intact and works
    is(table_counts($node, $db, @SCHEMAS), $counts, "$db: identical row counts in every table after the update");
    is(encrypted_columns_decrypt($node, $db), $plain, "$db: every ciphertext decrypts to the same plaintext");
    is($node->safe_psql($db, $raw_sql), $raw, "$db: ciphertexts untouched by the update");
    is($node->safe_psql($db, q{SELECT md5(string_agg(id || ':' || updated_at, ',' ORDER BY id)) FROM app.secrets}),
        $stamps, "$db: updated_at values untouched by the update");
    is(chains_verify($node, $db, "$db after the update"), $nchains, "$db: every chain verified after the update");
    for my $t (sort keys %digest) {
        is($node->safe_psql($db, "SELECT ok FROM keel.verify_audit_chain('$t', '$digest{$t}')"), 't',
            "$db: $t still contains the digest taken before the update");
    }
    my $latest = $node->safe_psql($db, q{SELECT max(updated_at) FROM app.secrets});
    $node->safe_psql($db, q{
        INSERT INTO app.events (kind) VALUES ('after update');
        INSERT INTO app."Notes; x" (body) SELECT 'after update ' || g FROM generate_series(1, 5) g;
        INSERT INTO app.secrets (id, owner, token, config) VALUES (201, 'new', 'tok-after-update', '{"a": 1}');
        UPDATE app.secrets SET token = 'changed after update' WHERE id = 1;
        INSERT INTO tp.audit_logs (action, resource_type) VALUES ('after update', 'user');
        INSERT INTO al.call_logs (agent_id, user_id, status) SELECT id, creator_id, 'after update' FROM al.agents LIMIT 1;
        INSERT INTO ce.audit_events (event_type) VALUES ('after update');
        INSERT INTO tp.secrets (name, encrypted_value) VALUES ('NEW', 'sk-after-update');
    });
    is(chains_verify($node, $db, "$db after new rows"), $nchains, "$db: new rows extend every chain");
    for my $t (sort keys %digest) {
        is($node->safe_psql($db, "SELECT ok FROM keel.verify_audit_chain('$t', '$digest{$t}')"), 't',
            "$db: $t extended past the old digest");
    }
    my $after = encrypted_columns_decrypt($node, $db);
    like($after, qr/^app\.secrets\.token:201:/m, "$db: a secret written after the update decrypts");
    like($after, qr/^tp\.secrets\.encrypted_value:31:/m, "$db: a blueprint secret written after the update decrypts");
    is($node->safe_psql($db, q{SELECT count(*) FROM app.secrets WHERE token LIKE '%after update%'
                               UNION ALL SELECT count(*) FROM tp.secrets WHERE encrypted_value LIKE '%after-update%'}),
        "0\n0", "$db: and both are stored encrypted");
    is($node->safe_psql($db, qq{SELECT updated_at > '$latest' FROM app.secrets WHERE id = 1
                                UNION ALL SELECT updated_at > '$latest' FROM app.secrets WHERE id = 2}),
        "t\nf", "$db: updated_at fires on the updated row only");
    is($node->safe_psql($db, q{SELECT count(*) FROM keel.run_maintenance() WHERE action = 'error'}),
        '0', "$db: maintenance of every partitioned table and task runs without error");
    cmp_ok($node->safe_psql($db, q{SELECT count(*) FROM pg_catalog.pg_inherits WHERE inhparent = 'app.metrics'::regclass}),
        '>=', 4, "$db: app.metrics keeps its partitions");

    # ------------------------------------------------------------ (d) same catalog as a fresh install
    for my $e (@EXTENSIONS) {
        ok(catalogs_equal(describe_extension($db, $e), $fresh{$e}, "$e.updated-from-$from", missing_upgrade($e, $from)),
            "$db: $e updated from $from has exactly the objects of a fresh $current install ("
              . scalar(split /\n/, $fresh{$e}) . ' facts compared)');
    }

    # ------------------------------------------------------------ (e) the updated database dumps and restores
    my $file = $node->basedir . "/$db.dump";
    $node->command_ok([ 'pg_dump', '-Fc', '-f', $file, '-d', $node->connstr($db) ], "$db: pg_dump -Fc of the updated database");
    my $rdb = "${db}_restored";
    $node->safe_psql('postgres', "CREATE DATABASE $rdb");
    my ($rout, $rerr) = ('', '');
    IPC::Run::run([ 'pg_restore', '-d', $node->connstr($rdb), $file ], '>', \$rout, '2>', \$rerr);
    my @errors = ($rerr =~ /(ERROR:.*)/g);
    is(scalar(@errors), 0, "$rdb: pg_restore without errors") or diag(join("\n", @errors[0 .. ($#errors < 9 ? $#errors : 9)]));
    is(table_counts($node, $rdb, @SCHEMAS), table_counts($node, $db, @SCHEMAS), "$rdb: identical row counts in every table");
    is(encrypted_columns_decrypt($node, $rdb), encrypted_columns_decrypt($node, $db), "$rdb: every ciphertext decrypts to the same plaintext");
    is(chains_verify($node, $rdb, "$rdb"), $nchains, "$rdb: every chain verified after the restore");
    for my $e (@EXTENSIONS) {
        ok(catalogs_equal(without_casts(describe_extension($rdb, $e)), without_casts($fresh{$e}), "$e.restored-from-$from",
                          "$e: the dump and restore of a database updated from $from differs from a fresh install of "
                          . "$current ('-' lines: only in the restored database; '+' lines: only in a fresh install).\n"),
            "$rdb: $e restored from the updated database has exactly the objects of a fresh $current install");
    }
}

# Behaviour: the whole pg_regress suite passes on a database whose keel was installed at
# each earlier version and then updated (the suite's tests find keel there and use it;
# the blueprints they create are the current version).
my @regress = map { m{([^/]+)\.sql$} ? $1 : () } sort glob("$ENV{KEEL_SRC}/sql/*.sql");
for my $from (@old) {
    (my $db = "regress_from_$from") =~ s/\W/_/g;
    $node->safe_psql('postgres', "CREATE DATABASE $db");
    $node->safe_psql($db, "CREATE EXTENSION keel VERSION '$from'; CREATE SCHEMA early");
    my ($ret, $stdout, $stderr) = $node->psql($db, "\\set VERBOSITY verbose\nCREATE EXTENSION keel_coderunner SCHEMA early");
    like($stderr, qr/ERROR:  55000: keel_coderunner needs keel \Q$current\E, the version of the installed files, but keel is at \Q$from\E/,
        "$db: CREATE EXTENSION of a current blueprint next to keel $from is refused (SQLSTATE 55000)");
    is($node->safe_psql($db, "SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = 'early'::regnamespace"),
        '0', "$db: and leaves nothing behind");
    $node->safe_psql($db, "DROP SCHEMA early; ALTER EXTENSION keel UPDATE");
    my $out = $node->basedir . "/$db";
    mkdir $out;
    my ($stdout, $stderr) = ('', '');
    my $ok = IPC::Run::run([ $ENV{PG_REGRESS}, '--use-existing', '--bindir=', '--host=' . $node->host,
                             '--port=' . $node->port, "--inputdir=$ENV{KEEL_SRC}", "--outputdir=$out",
                             "--dbname=$db", @regress ], '>', \$stdout, '2>', \$stderr);
    my $passed = () = $stdout =~ /\.\.\. ok/g;
    ok($ok && $passed == scalar(@regress),
        "pg_regress on keel updated from $from: $passed of " . scalar(@regress) . ' tests pass')
      or diag($stdout . $stderr . (-f "$out/regression.diffs" ? slurp_file("$out/regression.diffs") : ''));
}

# The comparison can fail: a changed comment, setting or volatility in a fresh install is
# seen, and named.
$node->safe_psql('fresh', q{
    COMMENT ON FUNCTION keel.audit_chain_digest(regclass) IS 'changed';
    ALTER FUNCTION keel.verify_audit_chain(regclass, text) SET work_mem = '8MB';
    ALTER FUNCTION keel.hash_token(text) VOLATILE;
});
my $changed = describe_extension('fresh', 'keel');
my %before = map { $_ => 1 } split /\n/, $fresh{keel};
my %after  = map { $_ => 1 } split /\n/, $changed;
my %objects = map { (split / \| /, $_)[0] => 1 }
  ((grep { !$before{$_} } keys %after), (grep { !$after{$_} } keys %before));
is(join(', ', sort keys %objects),
    'function keel.audit_chain_digest(regclass), function keel.hash_token(text), function keel.verify_audit_chain(regclass,text)',
    'the comparison sees a changed comment, setting and volatility, and names the functions');
isnt($changed, $fresh{keel}, 'and reports the catalogs as different');

# Dropping the blueprints (forced, they hold rows) leaves the same behind in an updated
# database as in a fresh one: their schemas empty, keel's registrations for them gone.
my $LEFTOVERS = q{
    SELECT string_agg(x, E'\n' ORDER BY x COLLATE "C") FROM (
        SELECT 'relation ' || c.oid::regclass::text FROM pg_catalog.pg_class c
         WHERE c.relnamespace::regnamespace::text IN ('cr', 'tp', 'al', 'ast', 'ce')
        UNION ALL SELECT 'function ' || p.oid::regprocedure::text FROM pg_catalog.pg_proc p
         WHERE p.pronamespace::regnamespace::text IN ('cr', 'tp', 'al', 'ast', 'ce')
        UNION ALL SELECT 'type ' || t.oid::regtype::text FROM pg_catalog.pg_type t
         WHERE t.typnamespace::regnamespace::text IN ('cr', 'tp', 'al', 'ast', 'ce')
        UNION ALL SELECT 'audit chain ' || table_name FROM keel.audit_chain WHERE table_name ~ '^(cr|tp|al|ast|ce)\.'
        UNION ALL SELECT 'partition config ' || parent::text FROM keel.partition_config WHERE parent::text ~ '^(cr|tp|al|ast|ce)\.'
        UNION ALL SELECT 'encrypted column ' || tbl::text FROM keel.encrypted_columns WHERE tbl::text ~ '^(cr|tp|al|ast|ce)\.'
        UNION ALL SELECT 'maintenance task ' || name FROM keel.maintenance_task
        UNION ALL SELECT 'released table ' || table_schema || '.' || table_name FROM keel.blueprint_released) l(x)};
my $DROP_ALL = 'BEGIN; SET LOCAL keel.allow_blueprint_drop = on; '
  . join(' ', map { "DROP EXTENSION $_->[0];" } reverse @BLUEPRINTS) . ' COMMIT;';
$node->safe_psql('fresh', $DROP_ALL);
my $fresh_left = $node->safe_psql('fresh', $LEFTOVERS);
for my $from (@old) {
    (my $db = "from_$from") =~ s/\W/_/g;
    my ($ret, $stdout, $stderr) = $node->psql($db, $DROP_ALL);
    is($ret, 0, "$db: the updated blueprints drop (forced)") or diag($stderr);
    is($node->safe_psql($db, $LEFTOVERS), $fresh_left,
        "$db: and leave behind what a fresh install leaves (" . ($fresh_left eq '' ? 'nothing' : $fresh_left) . ')');
}

$node->stop;
done_testing();
