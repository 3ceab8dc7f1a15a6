# Crash recovery: several clients insert chained rows and update an encrypted column,
# one transaction at a time, while the server is killed (three ways, one per round:
# SIGKILL of one backend, immediate shutdown, SIGKILL of the postmaster and all its
# children).  After each restart: every transaction a client saw committed is there,
# none is half there, the audit chain verifies (also against the digest taken before
# the crash), every committed secret decrypts to its last committed value, and the
# next round extends the same chain.
use strict;
use warnings;
use lib "$ENV{KEEL_SRC}/test/perl";
use KeelTest;
use IPC::Run;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $CLIENTS = 4;
my $TXNS    = 20000;            # per client per round: more than fit before the crash
my $RUN_MS  = 2500;             # how long the clients run before the crash
my @ROUNDS  = ('kill -9 one backend', 'immediate shutdown', 'kill -9 postmaster and children');

my $node = keel_node('crash');
$node->append_conf('postgresql.conf', "restart_after_crash = on\n");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION keel;
    SELECT keel.create_key('crash_k');
    CREATE TABLE events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        client int NOT NULL, seq int NOT NULL, payload text NOT NULL,
        previous_hash varchar(64), signature varchar(64),
        UNIQUE (client, seq));
    SELECT keel.enable_audit_chain('events', 'previous_hash', 'signature');
    CREATE TABLE secrets (id int PRIMARY KEY, version int NOT NULL, secret text);
    SELECT keel.encrypt_column('secrets', 'secret', 'crash_k', '{id}');
    SELECT keel.create_decrypted_view('secrets');
});
$node->safe_psql('postgres',
    "INSERT INTO secrets SELECT g, 0, 'c' || g || '-0' FROM generate_series(1, $CLIENTS) g");

my %acked;                      # client => last sequence number the client saw committed
$acked{$_} = 0 for 1 .. $CLIENTS;
my $digest = $node->safe_psql('postgres', q{SELECT keel.audit_chain_digest('events')});
my ($total_acked, $total_rows) = (0, 0);

for my $round (0 .. $#ROUNDS) {
    my $how = $ROUNDS[$round];
    # Each client: BEGIN; chained INSERT; UPDATE of the encrypted column; COMMIT; then
    # prints the sequence number, so what it printed was acknowledged by the server.
    my @h;
    my %out;
    for my $c (1 .. $CLIENTS) {
        my $file = $node->basedir . "/client_$c.sql";
        open my $fh, '>', $file or die $!;
        print $fh "\\set ON_ERROR_STOP 1\n";
        for my $s ($acked{$c} + 1 .. $acked{$c} + $TXNS) {
            print $fh "BEGIN;\n",
              "INSERT INTO events (client, seq, payload) VALUES ($c, $s, 'r$round c$c s$s');\n",
              "UPDATE secrets SET version = $s, secret = 'c$c-$s' WHERE id = $c;\n",
              "COMMIT;\n\\echo acked $s\n";
        }
        close $fh;
        $out{$c} = '';
        local $ENV{PGAPPNAME} = "crash_client_$c";
        push @h, IPC::Run::start([ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-f', $file ],
            '>', \$out{$c}, '2>', \my $err);
    }
    usleep($RUN_MS * 1000);

    if ($how eq 'kill -9 one backend') {
        my $pid = $node->safe_psql('postgres',
            q{SELECT pid FROM pg_stat_activity WHERE application_name = 'crash_client_1'});
        ok($pid =~ /^\d+$/, "round $round: found a client backend to kill");
        kill 'KILL', $pid;
        # the postmaster reinitializes; wait until it accepts connections again
        $node->poll_query_until('postgres', 'SELECT 1', '1')
          or BAIL_OUT('server did not come back after a backend crash');
    } elsif ($how eq 'immediate shutdown') {
        $node->stop('immediate');
    } else {
        # the whole server dies at once, as on an OOM kill or a power cut of the processes
        my $pm = $node->{_pid};
        my @children = grep { /^\d+$/ } split /\s+/, `pgrep -P $pm`;
        ok(@children >= 3, "round $round: postmaster and its children found");
        kill 'KILL', $pm, @children;
        $node->{_pid} = undef;
        for (1 .. 200) { last unless grep { kill 0, $_ } $pm, @children; usleep(50_000); }
    }
    $_->finish for @h;    # clients exit on the lost connection

    my %last;
    for my $c (1 .. $CLIENTS) {
        my @a = ($out{$c} =~ /acked (\d+)/g);
        $last{$c} = @a ? $a[-1] : $acked{$c};
        $total_acked += $last{$c} - $acked{$c};
    }
    ok((grep { $last{$_} > $acked{$_} } 1 .. $CLIENTS) == $CLIENTS,
        "round $round ($how): every client committed transactions before the crash");
    ok((grep { $last{$_} < $acked{$_} + $TXNS } 1 .. $CLIENTS) == $CLIENTS,
        "round $round ($how): the crash came while clients were still writing");

    $node->start if $how ne 'kill -9 one backend';

    for my $c (1 .. $CLIENTS) {
        my ($n, $max, $ver, $plain) = split /\|/, $node->safe_psql('postgres', qq{
            SELECT count(*), max(seq),
                   (SELECT version FROM secrets WHERE id = $c),
                   (SELECT secret FROM secrets_decrypted WHERE id = $c)
              FROM events WHERE client = $c});
        # acknowledged => durable; at most one more (committed, but the reply was lost)
        ok($max >= $last{$c} && $max <= $last{$c} + 1,
            "round $round: client $c has $max transactions, acknowledged $last{$c}");
        is($n, $max, "round $round: client $c has no gap and no half transaction");
        is($ver, $max, "round $round: client $c secret updated in the same transactions");
        is($plain, "c$c-$max", "round $round: client $c secret decrypts to its last committed value");
        $acked{$c} = $max;
    }
    chains_verify($node, 'postgres', "round $round ($how)");
    is($node->safe_psql('postgres', qq{SELECT ok FROM keel.verify_audit_chain('events', '$digest')}),
        't', "round $round: the chain still contains the state before the crash (digest)");
    $digest = $node->safe_psql('postgres', q{SELECT keel.audit_chain_digest('events')});
    $total_rows = $node->safe_psql('postgres', 'SELECT count(*) FROM events');
    is($node->safe_psql('postgres', q{
        SELECT count(*) FROM secrets_decrypted WHERE secret IS NOT NULL}),
        $CLIENTS, "round $round: every secret row decrypts");
}

note("crash rounds: " . scalar(@ROUNDS) . ", transactions acknowledged: $total_acked, "
      . "rows in the chain: $total_rows, lost: 0");
$node->stop;
done_testing();
