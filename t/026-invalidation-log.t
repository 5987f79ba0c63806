# One invalidation subscriber per nginx instance, following the durable log
# (velro_invalidation_log) by cursor: with worker_processes 2, exactly one
# subscriber backend and one LISTEN (none with velro_pg_listen off); its
# backend terminated, PostgreSQL restarted, its worker killed, Redis away:
# the changes committed meanwhile are enforced in every worker once it is
# back, without flushing L1 (an unrelated decision is still answered from
# L1 in every worker), and the L2 deletions Redis missed are sent when it is
# back; the log pruned past the cursor: L1 flushed.
#
# The blocks after the first have no --- config: they keep its nginx (and
# its zone, and cursor), and play their scenario in --- init, with plain
# HTTP requests (each on a new connection, so over both workers; X-Pid says
# which) and Test::More assertions; every wait is on evidence, bounded.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use Velro::Authz;
use Velro::Proc;

# Under valgrind both runners start nginx again for every block, before its
# --- init: the blocks that keep TEST 1's nginx (its L1, zone and cursor)
# cannot run there.  The subscriber's code is run under valgrind by the
# other authorization suites (every one of them has it).
BEGIN {
    if ($ENV{TEST_NGINX_USE_VALGRIND}) {
        require Test::More;
        Test::More::plan(skip_all => 'the blocks share one nginx, which '
                         . 'valgrind mode restarts for each block');
    }
}

use Test::Nginx::Socket 'no_plan';

Velro::Authz::start(sql => 1);

# every statement in PostgreSQL's log: LISTENs are counted there, from a
# mark on (TEST 1's before its nginx starts, TEST 9's at the end of TEST 8)
Velro::Backends::psql("ALTER SYSTEM SET log_statement = 'all'");
Velro::Backends::psql("SELECT pg_reload_conf()");
mark(1);

master_on();
workers(2);
check_accum_error_log();

our $MAX = $ENV{TEST_NGINX_USE_VALGRIND} ? 60 : 15;     # seconds

sub gen { "/gen/" . Velro::Authz::id($_[0]) }
# a generation nobody has asked for: its lookup needs L3
sub unknown_gen {
    our $UNKNOWN;
    sprintf "/gen/%08x-%04x-4000-8000-%012x", $$, ++$UNKNOWN, time * 1000;
}
sub sql { "POST /sql\n$_[0]" }
sub times { my ($n, $x) = @_; map { $x } 1 .. $n }

# GET $path as $who: (status, X-Authz, X-Pid)
sub get {
    my ($path, $who) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_SERVER_PORT},
                                  Proto => 'tcp', Timeout => 10)
        or die "connect: $!";
    print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n"
             . Velro::Authz::bearer($who) . "\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    close $s;
    my ($st) = $r =~ m{^HTTP/1\.\d (\d+)};
    my ($authz) = $r =~ /^X-Authz: ([^\r\n]*)/mi;
    my ($pid) = $r =~ /^X-Pid: (\d+)/mi;
    return ($st // 0, $authz // '', $pid // 0);
}

sub workers_now {
    my ($master) = (Velro::Proc::slurp("$ENV{TEST_NGINX_SERVER_ROOT}/logs/nginx.pid")
                    // '') =~ /(\d+)/;
    return sort { $a <=> $b } Velro::Proc::children($master);
}

# Requests $path as $who until every worker has answered it at least
# $n times (bounded); returns { pid => ["STATUS X-Authz", ...] }.  A 503
# (its L3 pool not back yet after PostgreSQL restarted: no decision, not a
# wrong one) is asked again.
sub spread {
    my ($path, $who, $n) = @_;
    my %seen;
    my @w = workers_now();
    my $until = time + $MAX;
    while (time < $until) {
        my ($st, $authz, $pid) = get($path, $who);
        if ($st == 503) {
            sleep 0.02;
            next;
        }
        push @{ $seen{$pid} }, "$st $authz";
        last if !grep { @{ $seen{$_} || [] } < $n } @w;
    }
    my @late = grep { @{ $seen{$_} || [] } < $n } @w;
    Test::More::diag("workers @late did not answer $path $n times")
        if @late;
    return \%seen;
}

# every answer of every worker matches $re, and every worker answered
sub all_match {
    my ($seen, $re, $what) = @_;
    my @w = workers_now();
    my @bad = map { my $p = $_; map { "$p: $_" } grep { !/$re/ } @{ $seen->{$p} } }
              keys %$seen;
    Test::More::ok(@w >= 2 && !grep({ !$seen->{$_} } @w) && !@bad,
                   "$what (workers @w)")
        or Test::More::diag(join "\n", @bad);
}

# the block's L1 in every worker: gen_team and gen_team_open as editor
sub warm {
    spread(main::gen('gen_team'), 'editor', 2);
    spread(main::gen('gen_team_open'), 'editor', 2);
}

# after the change to gen_team_open: denied everywhere, gen_team still L1
sub check_after {
    my ($what) = @_;
    all_match(spread(main::gen('gen_team_open'), 'editor', 3),
              qr/^403 L[123] /, "$what: the change is enforced in every worker");
    all_match(spread(main::gen('gen_team'), 'editor', 3),
              qr/^200 L1 editor allow$/,
              "$what: the unrelated decision is still from L1 in every worker");
}

sub restore {
    my $g = Velro::Authz::id('gen_team_open');
    Velro::Backends::_settle("UPDATE generations SET status = 'completed' WHERE id = '$g'");
}

sub pending_sql {
    my $g = Velro::Authz::id('gen_team_open');
    return "UPDATE generations SET status = 'pending' WHERE id = '$g'";
}

sub subscriber_backends {
    my $n = Velro::Backends::psql("SELECT count(*) FROM pg_stat_activity "
        . "WHERE query ~ 'velro_invalidations_after' AND pid <> pg_backend_pid()");
    chomp $n;
    return $n;
}

# the LISTEN statements PostgreSQL ran since mark($tag)
sub mark { Velro::Backends::psql("SELECT 'velro-mark-$_[0]-begin'") }

# counts them, in SQL: what follows the mark in PostgreSQL's log (the
# query's own text does not contain the mark)
sub listens_sql {
    my ($tag) = @_;
    my $log = $Velro::Backends::PG{log};
    return "SELECT 'listens:' || count(*) FROM regexp_matches("
         . "substring(pg_read_file('$log') from position('velro-mark-' || '$tag-begin' "
         . "in pg_read_file('$log'))), 'statement: ' || 'LISTEN', 'g')";
}

# the pid of the worker that logged $re last
sub pid_of {
    my ($re) = @_;
    my $pid;
    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log" or return;
    while (<$fh>) {
        $pid = $1 if /^\S+ \S+ \[\w+\] (\d+)#\d+: .*$re/;
    }
    return $pid;
}

# a line matching $re after offset $from of the error log
sub logged_since {
    my ($from, $re) = @_;
    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log" or return;
    seek $fh, $from, 0;
    while (<$fh>) {
        return 1 if /$re/;
    }
    return 0;
}

sub wait_for {
    my ($what, $code) = @_;
    my $until = time + $MAX;
    while (time < $until) {
        return 1 if $code->();
        sleep 0.02;
    }
    Test::More::fail("gave up waiting for $what");
    return 0;
}

no_shuffle();
# TEST 1's and TEST 9's requests: the subscriber backends counted, the
# viewer's role flipped to editor and back with 6 PUTs after each (over
# both workers), then the LISTENs logged since mark $mark counted
sub flips {
    my ($mark) = @_;
    my $t = Velro::Authz::id('team');
    my $u = Velro::Authz::id('viewer');
    my $set = "UPDATE team_members SET role = '%s' WHERE team_id = '$t'"
              . " AND user_id = '$u'";
    return [sql("SELECT count(*) FROM pg_stat_activity WHERE query ~ "
                . "'velro_invalidations_after' AND pid <> pg_backend_pid()"),
            main::times(6, "PUT " . gen('gen_team')),
            sql(sprintf $set, 'editor'),
            main::times(6, "PUT " . gen('gen_team')),
            sql(sprintf $set, 'viewer'),
            main::times(6, "PUT " . gen('gen_team')),
            sql(listens_sql($mark))];
}

sub flips_status {
    return [200, main::times(6, 403), 200, main::times(6, 200), 200, main::times(6, 403), 200];
}

# ... their bodies: one subscriber backend, $listens LISTENs
sub flips_body {
    my ($listens) = @_;
    return ["^1\n\$", main::times(6, ''), '', main::times(6, ''), '', main::times(6, ''),
            "^listens:$listens\n\$"];
}

run_tests();

__DATA__

=== TEST 1: two workers, one subscriber: one backend following the log, one
LISTEN; a change reaches both workers
--- http_config eval
Velro::Authz::http_config(extra => "    velro_breaker redis failures=3 recovery=1s;\n"
                               . "    velro_breaker database failures=3 recovery=1s;\n")
--- config eval
Velro::Authz::location(extra => '        add_header X-Pid $pid always;')
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
main::flips(1)
--- error_code eval: main::flips_status()
--- response_body_like eval: main::flips_body(1)
--- grep_error_log eval: qr/velro: invalidation subscriber in this worker|velro: postgres LISTEN "velro_invalidate"/
--- grep_error_log_out
velro: invalidation subscriber in this worker
velro: postgres LISTEN "velro_invalidate"
--- no_error_log
L1 flushed
[alert]



=== TEST 2: the subscriber's backend terminated, a change committed while it
is away: enforced in every worker once it is back, nothing flushed
--- init
main::warm();
my $n = Velro::Backends::psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query ~ 'velro_invalidations_after' AND pid <> pg_backend_pid();\n" . main::pending_sql());
Test::More::is($n, "1\n", "the subscriber's backend terminated");
Velro::Backends::_settle("SELECT 1", 1);
main::wait_for("every worker to apply the change", sub { Velro::Backends::_settle("SELECT 1"); 1 });
main::check_after("backend terminated");
main::restore();
--- request
GET /echo
--- response_body
ok
--- error_log eval
[qr/velro: postgres subscriber connection lost/,
 qr/velro: postgres LISTEN "velro_invalidate" re-established/]
--- no_error_log
L1 flushed
[alert]



=== TEST 3: PostgreSQL restarted, a change committed as soon as it is back:
enforced in every worker, nothing flushed
--- init
main::warm();
Velro::Backends::stop_pg();
Velro::Backends::start_pg();
Velro::Backends::_settle(main::pending_sql());
main::check_after("PostgreSQL restarted");
main::restore();
--- request
GET /echo
--- response_body
ok
--- error_log eval
[qr/velro: postgres subscriber connection lost/,
 qr/velro: invalidation log followed from seq \d+/]
--- no_error_log
L1 flushed
[alert]



=== TEST 3b: PostgreSQL away for 3.5 s (the pools' reconnect backoff grown past
that): once it is back, the first uncached lookup of each worker is
answered from L3, not failed while its pool waits out the backoff
--- init
Velro::Backends::stop_pg();
# lookups while it is away: failed (no connection), the backoff growing
my $until = time + 3.5;
my %down;
while (time < $until) {
    my ($st, $authz, $pid) = main::get(main::unknown_gen(), 'editor');
    $down{$st}++;
    sleep 0.05;
}
Test::More::ok(!grep({ $_ != 503 } keys %down), "PostgreSQL away: 503 only ("
               . join(' ', map { "$_:$down{$_}" } sort keys %down) . ")");
Velro::Backends::start_pg();
# the database breaker (opened by the failures) lets a trial through after
# its 1 s recovery; a pool that is down tries a connection for a lookup at
# most every 0.5 s: both are over after that long, whatever the load
sleep 1.1;
my %seen;
my @w = main::workers_now();
main::wait_for("an L3 answer from every worker", sub {
    my ($st, $authz, $pid) = main::get(main::unknown_gen(), 'editor');
    push @{ $seen{$pid} }, "$st $authz" unless exists $seen{$pid};
    return !grep { !$seen{$_} } @w;
});
Test::More::is(join(', ', map { "$_: $seen{$_}[0]" } sort keys %seen),
               join(', ', map { "$_: 403 L3  deny" } @w),
               "PostgreSQL back: each worker's first lookup answered from L3");
--- request
GET /echo
--- response_body
ok
--- error_log eval
[qr/velro: postgres is down, L3 lookups fail until a connection is back/,
 qr/velro: postgres connection re-established/]
--- no_error_log
[alert]



=== TEST 4: the subscriber's worker killed (SIGKILL): another worker, or the
respawned one, takes over from the cursor; changes enforced
--- init
main::warm();
my $old = main::pid_of(qr/velro: invalidation subscriber (?:in this worker|taken over)/);
Test::More::ok($old, "the subscriber's worker: " . ($old // 'none'));
kill 'KILL', $old if $old;
main::wait_for("a new subscriber", sub {
    my $p = main::pid_of(qr/velro: invalidation subscriber (?:in this worker|taken over)/);
    $p && $p != $old && main::subscriber_backends() == 1
});
Velro::Backends::_settle(main::pending_sql());
main::all_match(main::spread(main::gen('gen_team_open'), 'editor', 3), qr/^403 L[123] /,
          "worker killed: the change is enforced in every worker");
Test::More::is(main::subscriber_backends(), 1, "one subscriber backend");
main::restore();
--- request
GET /echo
--- response_body
ok
--- error_log eval
[qr/velro: invalidation subscriber taken over from worker \d+, following from seq \d+/]



=== TEST 5: Redis away while a change is committed: the stale L2 key is
deleted when Redis is back
--- init
my $g = Velro::Authz::id('gen_team_open');
main::warm();
Test::More::like(Velro::Backends::redis_cli('GET', "velro:ownership:$g"),
                 qr/"status":"completed"/, "the L2 value before the change");
Velro::Backends::redis_cli('CONFIG', 'SET', 'requirepass', 'velro-away');
Velro::Backends::redis_cli('--no-auth-warning', '-a', 'velro-away', 'CLIENT', 'KILL', 'TYPE', 'normal');
main::wait_for("nginx to see Redis away", sub { main::pid_of(qr/velro: redis .*(?:NOAUTH|failed|lost)/) });
Velro::Backends::_settle(main::pending_sql());
main::wait_for("the subscriber to wait for Redis",
               sub { main::pid_of(qr/velro: Redis is down, L2 deletions from seq \d+ are sent when it is back/) });
Test::More::like(Velro::Backends::redis_cli('--no-auth-warning', '-a', 'velro-away', 'GET', "velro:ownership:$g"),
                 qr/"status":"completed"/, "the stale L2 value is still there while Redis is away");
Velro::Backends::redis_cli('--no-auth-warning', '-a', 'velro-away', 'CONFIG', 'SET', 'requirepass', '');
main::wait_for("the stale L2 key deleted", sub {
    Velro::Backends::redis_cli('EXISTS', "velro:ownership:$g") eq '0'
});
main::restore();
--- request
GET /echo
--- response_body
ok
--- error_log eval
[qr/velro: Redis is back, L2 deletions from seq \d+ sent/]



=== TEST 6: Redis away for more changes than the ring holds: the L2
deletions the ring lost are read from the log again when it is back
--- init
my $g = Velro::Authz::id('gen_team_open');
main::warm();
Test::More::like(Velro::Backends::redis_cli('GET', "velro:ownership:$g"),
                 qr/"status":"completed"/, "the L2 value before the change");
Velro::Backends::redis_cli('CONFIG', 'SET', 'requirepass', 'velro-away');
Velro::Backends::redis_cli('--no-auth-warning', '-a', 'velro-away', 'CLIENT', 'KILL', 'TYPE', 'normal');
my $from = -s "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log";
main::wait_for("nginx to see Redis away", sub { main::logged_since($from, qr/velro: Redis is down, L2 deletions|velro: redis .*(?:NOAUTH|failed|lost)/) });
Velro::Backends::_settle(main::pending_sql());
# more changes than the ring: rows of the log itself, of no team
Velro::Backends::_settle("INSERT INTO velro_invalidation_log (kind, id) SELECT 'team', gen_random_uuid() FROM generate_series(1, 33000)");
main::wait_for("the subscriber to see the ring overflow",
               sub { main::logged_since($from, qr/velro: Redis missed more than 32768 invalidations/) });
Velro::Backends::redis_cli('--no-auth-warning', '-a', 'velro-away', 'CONFIG', 'SET', 'requirepass', '');
main::wait_for("the stale L2 key deleted", sub {
    Velro::Backends::redis_cli('EXISTS', "velro:ownership:$g") eq '0'
});
main::wait_for("the replay to end",
               sub { main::logged_since($from, qr/velro: invalidation log replayed for L2 up to seq \d+/) });
main::restore();
--- request
GET /echo
--- response_body
ok
--- error_log eval
[qr/velro: invalidation log replayed for L2 from seq \d+ to \d+/]



=== TEST 7: the log pruned past the cursor (its rows deleted in the changing
transaction): every worker flushes L1, the changes are enforced
--- init
main::warm();
my $g = Velro::Authz::id('gen_team_open');
Velro::Backends::_settle("BEGIN;\n"
    . "UPDATE generations SET status = 'failed' WHERE id = '$g';\n"
    . main::pending_sql() . ";\n"
    . "DELETE FROM velro_invalidation_log WHERE seq < (SELECT max(seq) FROM velro_invalidation_log);\n"
    . "COMMIT");
main::all_match(main::spread(main::gen('gen_team_open'), 'editor', 3), qr/^403 L[123] /,
          "pruned: the change is enforced in every worker");
my $seen = main::spread(main::gen('gen_team'), 'editor', 3);
main::all_match({ map { $_ => [ $seen->{$_}[0] ] } keys %$seen }, qr/^200 L[23] editor allow$/,
          "pruned: L1 was flushed in every worker");
main::restore();
--- request
GET /echo
--- response_body
ok
--- error_log eval
[qr/velro: invalidation log no longer reaches back to seq \d+/,
 qr/velro: invalidations were missed, L1 flushed/]



=== TEST 8: the log went back (a failover lost its newest commit: the row
and the change are gone, as an asynchronous standby promoted before it had
them): L1 flushed, and what L2 held from before is not used either
--- init
main::warm();
my $g = Velro::Authz::id('gen_team_open');
Velro::Backends::_settle(main::pending_sql());
main::all_match(main::spread(main::gen('gen_team_open'), 'editor', 2), qr/^403 L[123] /,
          "went back: the change is enforced in every worker, L2 has it");
my $n = Velro::Backends::psql("SET session_replication_role = replica;\n"
    . "UPDATE generations SET status = 'completed' WHERE id = '$g';\n"
    . "DELETE FROM velro_invalidation_log WHERE seq = (SELECT max(seq) FROM velro_invalidation_log);\n"
    . "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query ~ 'velro_invalidations_after' AND pid <> pg_backend_pid()");
Test::More::is($n, "1\n", "went back: the subscriber's backend terminated");
Velro::Backends::_settle("SELECT 1", 1);
my $seen = main::spread(main::gen('gen_team_open'), 'editor', 2);
main::all_match($seen, qr/^200 L[123] editor allow$/,
          "went back: the database's answer in every worker, not L1's or L2's old one");
main::all_match({ map { $_ => [ $seen->{$_}[0] ] } keys %$seen }, qr/^200 L[23] /,
          "went back: L1 was flushed in every worker");
main::restore();
main::mark(8);
--- request
GET /echo
--- response_body
ok
--- error_log eval
[qr/velro: invalidation log no longer reaches back to seq \d+ \(oldest \d+, newest \d+\)/,
 qr/velro: invalidations were missed, L1 flushed/]



=== TEST 9: velro_pg_listen off: one subscriber backend, no LISTEN at all,
changes still reach both workers
--- http_config eval: Velro::Authz::http_config(extra => "    velro_pg_listen off;\n    velro_pg_log_poll 20ms;\n")
--- config eval
Velro::Authz::location(extra => '        add_header X-Pid $pid always;')
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
main::flips(8)
--- error_code eval: main::flips_status()
--- response_body_like eval: main::flips_body(0)
--- error_log
velro: postgres subscriber connected
velro: invalidation log followed from seq
--- no_error_log
LISTEN
L1 flushed
[alert]
