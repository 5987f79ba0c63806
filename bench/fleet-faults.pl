#!/usr/bin/perl
#
# bench/fleet-faults.pl NGINX_BIN MODULE_SO   (make fleet-faults;
#                                  FLEET_SHORT=1 make fleet-faults is the
#                                  form .ci/run runs)
#
# A fleet under faults: two nginx instances, "A" and "B" (worker_processes
# 2 each, L1 on, velro_redis, velro_breaker redis|database failures=3
# recovery=2s), one throwaway PostgreSQL primary (sql/schema.sql and
# t/sql/fixture.sql) with a streaming standby, one Redis
# (t/lib/Velro/Backends.pm, free ports).  Both instances have
#   velro_pg "host=127.0.0.1,127.0.0.1 port=PRIMARY,STANDBY ...
#             target_session_attrs=read-write application_name=velro-fleet-X"
# so that they follow the standby once promoted; the distinct
# application_name tells their backends apart in pg_stat_activity.  If
# nginx -t accepts "velro_pg_replica CONNINFO pool=2" (the standby), it is
# configured and the replica-pause phase runs; else it is skipped (said so).
#
# Load: FLEET_CLIENTS forked Perl clients per instance on keepalive
# connections cycling through (token, path) pairs (users x fixture
# generations but gen_team_open, read and write), and one client per
# instance of uncached lookups (a new unknown generation each time, about
# 100 a second: every one needs L3); the expected status of each pair
# comes from a no-fault baseline on which A and B must agree.
#
# Invalidation freshness: the writer flips gen_team_open's status
# (completed <-> pending, as t/026 does): editor's GET /r/gen_team_open
# goes 200 <-> 403.  For each change the script probes every worker of
# both instances on its own keepalive connection (X-Pid checked) and
# takes, per worker, the time from the return of the COMMIT (psql) until
# that worker answers the new decision; p50/p99 over all workers of both
# instances and all changes of the phase are reported.
#
# Phases, load running throughout, in this order (the promotion last):
#   baseline      nothing fails
#   listener-kill pg_terminate_backend() of each instance's subscriber
#                 (its backend is the one running the log read, LISTEN or
#                 the bounds query), then a change committed at once
#   pg-restart    fast stop of the primary, FLEET_PHASE seconds down,
#                 start; a change committed as soon as it is up
#   replica-pause (velro_pg_replica only) pg_wal_replay_pause() on the
#                 standby, a revoke on the primary must be refused by every
#                 worker, pg_wal_replay_resume()
#   promote       SIGKILL of the primary at once (asynchronous
#                 replication: the standby may lack the revoke just
#                 committed, and then every worker must follow the new
#                 primary's state; FLEET_LOSSY=0 waits for the standby's
#                 replay first), the standby promoted; a change
#                 committed on the new primary at once; both instances must
#                 answer L3 again (from the new primary) and enforce it
# Each fault phase first revokes (with both subscribers connected), then
# faults, then grants (committed while the subscribers may still be away:
# the old answer is a deny, never a wrong allow), then, once each
# instance's subscriber is connected again, revokes and grants once more.
#
# What is asserted:
#   - load: never a wrong allow (200 where the baseline said 401/403),
#     never a hang (no answer in FLEET_TIMEOUT), never another status than
#     the baseline's except 503 with Retry-After for a request that started
#     while PostgreSQL was unavailable to its instance (from the fault until
#     both its workers answered L3 again) or that waited velro_pg timeout=
#     (500ms) or longer (PostgreSQL too slow on a loaded machine);
#   - the flipped decision: every worker of both instances answers the new
#     decision within FLEET_FRESH_MAX (a bound, not a figure); once a worker
#     answered it, it never answers the old one again; and for a revoke
#     committed while both subscribers were connected, 0 allows for probe
#     requests started more than 1 s after the COMMIT returned (the one
#     timed bound; the old allow is legitimate until the change is followed);
#   - L3 answers again after each PostgreSQL fault (within FLEET_RECOVERY);
#     the time from PostgreSQL up again (start / promotion returned) until
#     both workers of an instance answered an uncached lookup (a fresh
#     unknown generation) from L3 is reported;
#   - subscriber backends per instance, sampled in pg_stat_activity all
#     along (application_name velro-fleet-X, query the log read, the bounds
#     or LISTEN; backends this script terminated left out): at most 1 (the
#     module follows the log by cursor on its one subscriber connection,
#     which also LISTENs, as a doorbell), the most seen at once per phase
#     reported;
#   - no "exited on signal", [alert], [crit] or [emerg] in the error logs.
#
# Environment:
#   FLEET_SHORT=1        the CI form: FLEET_PHASE 2, FLEET_TAIL 1,
#                        FLEET_CLIENTS 2 (about 20 s)
#   FLEET_PHASE (5)      seconds PostgreSQL stays down / of load per phase
#   FLEET_TAIL (2)       seconds of load after each phase's changes
#   FLEET_CLIENTS (3)    load clients per instance
#   FLEET_TIMEOUT (5)    seconds: a slower answer is a hang
#   FLEET_RECOVERY (30)  seconds allowed for L3 / the subscribers to be back
#   FLEET_FRESH_MAX (30) seconds allowed for a change to reach every worker
#   FLEET_REPLICA (1)    velro_pg_replica on the standby (pool=2) and the
#                        replica-pause phase; 0: the primary only
#   FLEET_LOSSY (1)      promote: kill the primary at once, without waiting
#                        for the standby to replay what it committed (the
#                        revoke just committed may be lost; every worker
#                        must then follow the new primary's state); 0:
#                        wait for the replay (a failover that loses nothing)
# Output: the table on stdout and in build/fleet-faults/results.txt; the
# request records and nginx prefixes stay in build/fleet-faults/run.*
# until the next run.  Exit status 1 when a check fails.

use strict;
use warnings;

BEGIN {
    # before Velro::Backends installs its own: exit() runs the END blocks
    $SIG{INT} = sub { exit 130 };
    $SIG{TERM} = sub { exit 143 };
    $SIG{HUP} = sub { exit 129 };
}

use FindBin;
use lib "$FindBin::Bin/../t/lib";

use Cwd qw(abs_path);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

use Velro::Backends;
use Velro::Proc qw(slurp);
use Velro::Fixture;
use Velro::Token;
use Velro::Load qw(nginx_t nginx_start nginx_stop do_request fetch);

$| = 1;

@ARGV == 2 or die "usage: perl bench/fleet-faults.pl NGINX_BIN MODULE_SO\n";
my ($NGINX_BIN, $MODULE) = @ARGV;
$MODULE = abs_path($MODULE) if -e $MODULE;
-x $NGINX_BIN or die "fleet-faults: $NGINX_BIN is not executable\n";
-e $MODULE or die "fleet-faults: $MODULE does not exist\n";

my $TOP = abs_path("$FindBin::Bin/..");
my $OUT = "$TOP/build/fleet-faults";
my $KEYS = "$TOP/t/keys";
my $MAIN_PID = $$;

# daemonized nginx masters become this script's children
Velro::Backends::_prctl(36, 1);             # PR_SET_CHILD_SUBREAPER

sub env { my ($k, $d) = @_; my $v = $ENV{$k}; defined $v && $v ne '' ? $v : $d }

my $SHORT = env(FLEET_SHORT => 0);
my $PHASE = env(FLEET_PHASE => $SHORT ? 2 : 5);
my $TAIL = env(FLEET_TAIL => $SHORT ? 1 : 2);
my $CLIENTS = env(FLEET_CLIENTS => $SHORT ? 2 : 3);
my $TIMEOUT = env(FLEET_TIMEOUT => 5);
my $RECOVERY = env(FLEET_RECOVERY => 30);
my $FRESH_MAX = env(FLEET_FRESH_MAX => 30);
my $LOSSY = env(FLEET_LOSSY => 1);
my $BOUND = 1;              # s: no allow after a revoke's COMMIT + this
my $WORKERS = 2;
my $PG_TIMEOUT_MS = 500;
my $REDIS_TIMEOUT_MS = 200;
my @INST = qw(A B);

$Velro::Load::NGINX_BIN = $NGINX_BIN;
$Velro::Load::WORKERS = $WORKERS;
$Velro::Load::TIMEOUT = $TIMEOUT;

make_path($OUT);
remove_tree($_) for glob "$OUT/run.*";
my $WORK = tempdir("run.XXXXXX", DIR => $OUT);
chmod 0755, $WORK;
open my $RES, '>', "$OUT/results.txt" or die "fleet-faults: $OUT: $!\n";
$RES->autoflush(1);

sub say {
    my $s = join('', @_) . "\n";
    print $s;
    print $RES $s;
}

my @FAIL;
sub fail_say { say "  FAIL: @_"; push @FAIL, "@_" }

my %NGINX;      # A/B => { name, prefix, port, pid }
my %CLIENT;     # pid => file

sub stop_clients { Velro::Load::stop_clients(\%CLIENT, $TIMEOUT + 2) }

END {
    if ($$ == $MAIN_PID) {
        my $status = $?;
        stop_clients();
        nginx_stop($_) for values %NGINX;
        $? = $status;
    }
}

#----------------------------------------------------------------------------
# PostgreSQL: the current primary (the standby once promoted)

my $PROMOTED = 0;
sub sql { $PROMOTED ? Velro::Backends::standby_psql(@_) : Velro::Backends::psql(@_) }

my %TERMINATED;     # pids of backends this script terminated

my $SUB_RE = q{(query ~* '^\s*LISTEN' OR query ~ 'velro_invalidations_after|velro_invalidation_oldest')};

# { A => n, B => n }: the subscriber backends of each instance now
sub subscribers {
    my $out = eval {
        sql("SELECT application_name, pid FROM pg_stat_activity "
          . "WHERE application_name LIKE 'velro-fleet-%' AND $SUB_RE")
    } // return undef;
    my %n = map { $_ => 0 } @INST;
    for (split /\n/, $out) {
        my ($app, $pid) = split /\|/;
        next if $TERMINATED{$pid};
        $n{$1}++ if $app =~ /^velro-fleet-([AB])$/;
    }
    return \%n;
}

my $CUR;        # the phase under way

sub sample_subscribers {
    my $n = subscribers() or return undef;
    for my $i (@INST) {
        $CUR->{listen}{$i} = $n->{$i}
            if !defined $CUR->{listen}{$i} || $n->{$i} > $CUR->{listen}{$i};
    }
    return $n;
}

# both instances have their subscriber connected (bounded wait)
sub wait_subscribers {
    my $until = time + $RECOVERY;
    while (time < $until) {
        my $n = sample_subscribers();
        return 1 if $n && !grep { $n->{$_} < 1 } @INST;
        sleep 0.05;
    }
    $CUR->{fail} .= "a subscriber not connected within ${RECOVERY}s; ";
    return 0;
}

#----------------------------------------------------------------------------
# nginx

my $HAS_REPLICA;

sub nginx_conf {
    my (%o) = @_;       # name, port, replica
    my $prefix = "$WORK/nginx-$o{name}";
    make_path("$prefix/conf", "$prefix/logs");
    my ($p1, $p2) = ($Velro::Backends::PG{port}, $Velro::Backends::STANDBY{port});
    my $rp = $Velro::Backends::REDIS{port};
    my $http = qq{    velro_pg "host=127.0.0.1,127.0.0.1 port=$p1,$p2 dbname=velro }
             . qq{user=postgres target_session_attrs=read-write }
             . qq{application_name=velro-fleet-$o{name}" pool=4 }
             . qq{connect_timeout=${PG_TIMEOUT_MS}ms timeout=${PG_TIMEOUT_MS}ms;\n}
             . "    velro_redis 127.0.0.1:$rp connect_timeout=${REDIS_TIMEOUT_MS}ms"
             . " timeout=${REDIS_TIMEOUT_MS}ms;\n";
    $http .= "    velro_breaker $_ failures=3 recovery=2s;\n" for qw(redis database);
    $http .= qq{    velro_pg_replica "host=127.0.0.1 port=$p2 dbname=velro }
           . qq{user=postgres application_name=velro-fleet-$o{name}-replica" }
           . "pool=2;\n" if $o{replica};
    Velro::Load::nginx_conf_write("$prefix/conf/nginx.conf",
        module => $MODULE, workers => $WORKERS, http => $http,
        port => $o{port}, root => "$WORK/html", keys => $KEYS);
    return $prefix;
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "fleet-faults: no free port: $!\n";
    my $p = $s->sockport;
    close $s;
    return $p;
}

#----------------------------------------------------------------------------
# the pairs

my @USERS = qw(owner editor viewer outsider disabled revoked nobody);
my @GENS = ((grep { $_ ne 'gen_team_open' } @Velro::Fixture::GENERATIONS),
            'gen_unknown');
my %TOKEN = map {
    $_ => Velro::Token::token(canonical => 1,
                              claims => { sub => $Velro::Fixture::ID{$_},
                                          exp => int(time) + 86400,
                                          jti => "fleet-$_" })
} @USERS;
my @PAIRS;
for my $u (@USERS) {
    for my $g (@GENS) {
        for my $a (qw(r w)) {
            push @PAIRS, { idx => scalar @PAIRS, user => $u, gen => $g,
                           action => $a,
                           path => "/$a/$Velro::Fixture::ID{$g}",
                           token => $TOKEN{$u} };
        }
    }
}
my $FLIP_GEN = $Velro::Fixture::ID{gen_team_open};
my $FLIP = { user => 'editor', path => "/r/$FLIP_GEN", token => $TOKEN{editor} };
my $IDENT = { path => "/r/$Velro::Fixture::ID{gen_team}", token => $TOKEN{owner} };

# an uncached lookup: a generation nobody asked for yet
my $FRESH = 0;
sub fresh_pair {
    my $id = sprintf '55555555-0000-4000-8000-%012d', ++$FRESH;
    return { path => "/r/$id", token => $TOKEN{editor} };
}

#----------------------------------------------------------------------------
# load clients: one line per request

# $fresh: a client of uncached lookups (a new unknown generation each
# time, about 100 a second: each needs L3), recorded as pair -1
sub client {
    my ($n, $k, $fresh) = @_;
    my $file = "$WORK/requests-$n->{name}-$k.txt";
    my $pid = fork // die "fleet-faults: fork: $!\n";
    if ($pid) { $CLIENT{$pid} = $file; return }
    my $stop = 0;
    $SIG{TERM} = sub { $stop = 1 };
    $SIG{$_} = 'DEFAULT' for qw(INT HUP);
    Velro::Backends::_die_with_parent(15);
    open my $out, '>', $file or POSIX::_exit(1);
    my $sock;
    my $i = int(@PAIRS * $k / $CLIENTS);
    while (!$stop) {
        my $pair = $fresh
            ? { idx => -1, token => $TOKEN{editor}, path => sprintf
                "/r/66%06d-0000-4000-8000-%012d", ord($n->{name}) * 100 + $k,
                ++$i }
            : $PAIRS[$i++ % @PAIRS];
        my $t0 = time;
        my ($st, $h) = do_request(\$sock, $n->{port}, $pair, $t0 + $TIMEOUT);
        printf $out "%.4f %s %d %d %.4f %s %s\n", $t0, $n->{name},
               $pair->{idx}, $st, time - $t0, $h->{'x-authz'} || '-',
               defined $h->{'retry-after'} ? 'ra' : '-';
        sleep 0.05 if $st < 0 && !$stop;
        sleep 0.01 if $fresh && !$stop;
    }
    close $out;
    POSIX::_exit(0);
}

#----------------------------------------------------------------------------
# probes: one keepalive connection per worker of both instances

my @W;          # { inst, pid, sock }

sub worker_conns {
    @W = ();
    for my $i (@INST) {
        my $c = Velro::Load::worker_connections($NGINX{$i}, $IDENT);
        die "fleet-faults: nginx $i: no connection to each of its workers\n"
            if keys %$c < $WORKERS;
        push @W, map { { inst => $i, pid => $_, sock => $c->{$_} } }
                 sort keys %$c;
    }
}

# one request on worker $w's connection; a connection that came back on
# another worker (the old one closed) is replaced: (status, headers) or ()
sub probe {
    my ($w, $pair) = @_;
    my $port = $NGINX{ $w->{inst} }{port};
    my ($st, $h) = do_request(\$w->{sock}, $port, $pair, time + $TIMEOUT);
    return ($st, $h) if ($h->{'x-pid'} // '') eq $w->{pid};
    close $w->{sock} if $w->{sock};
    undef $w->{sock};
    for (1 .. 200) {
        my $s = Velro::Load::connect_to($port) or next;
        my ($s2, $h2) = do_request(\$s, $port, $IDENT, time + $TIMEOUT);
        if (($h2->{'x-pid'} // '') eq $w->{pid}) { $w->{sock} = $s; last }
        close $s if $s;
    }
    return ();
}

# L3 answers again: both workers of each instance answer an uncached lookup
# from L3 with the baseline's status; seconds after $t_up per instance
my $FRESH_EXPECT;

sub l3_ok {
    my ($w) = @_;
    my ($st, $h) = probe($w, fresh_pair());
    return defined $st && $st == $FRESH_EXPECT && ($h->{'x-authz'} // '') eq 'L3';
}

#----------------------------------------------------------------------------
# a change and its freshness

my $STATE = 'completed';

sub flip {
    my ($to, %o) = @_;      # to: completed (grant) / pending (revoke)
    my ($want, $old) = $to eq 'completed' ? (200, 403) : (403, 200);
    my $asserted = $to eq 'pending' && $o{healthy};
    my $t_up = $o{t_up};
    sample_subscribers();
    sql("UPDATE generations SET status = '$to' WHERE id = '$FLIP_GEN'");
    my $tc = time;
    $STATE = $to;
    my %seen;       # worker key => seconds after the COMMIT
    my %l3;         # worker key => time L3 answered (when $t_up)
    my ($probes, $late_allow, $regress, $i) = (0, 0, 0, 0);
    my $until = $tc + $FRESH_MAX;
    my $after = 5;          # rounds over every worker once all answered
    while (time < $until) {
        my $left = grep { !exists $seen{"$_->{inst}$_->{pid}"}
                          || ($t_up && !$l3{"$_->{inst}$_->{pid}"}) } @W;
        last if !$left && $after-- <= 0;
        for my $w (@W) {
            my $k = "$w->{inst}$w->{pid}";
            if ($t_up && !$l3{$k} && l3_ok($w)) { $l3{$k} = time }
            my $t0 = time;
            my ($st) = probe($w, $FLIP) or next;
            $probes++;
            if ($st == $want) {
                $seen{$k} //= time - $tc;
            } elsif ($st == $old && exists $seen{$k}) {
                $regress++;
            }
            $late_allow++ if $asserted && $st == 200 && $t0 > $tc + $BOUND;
        }
        sample_subscribers() if ++$i % 20 == 0;
        sleep 0.005;
    }
    my @lat = map { $seen{"$_->{inst}$_->{pid}"} } @W;
    my $label = ($to eq 'pending' ? 'revoke' : 'grant') . ($o{label} // '');
    if (grep { !defined } @lat) {
        $CUR->{fail} .= "$label: not every worker answered $want within "
                      . "${FRESH_MAX}s; ";
    }
    push @{ $CUR->{fresh} }, grep { defined } @lat;
    $CUR->{late_allow} += $late_allow;
    $CUR->{regress} += $regress;
    $CUR->{probes} += $probes;
    if ($t_up) {
        for my $i (@INST) {
            my @t = map { $l3{"$_->{inst}$_->{pid}"} } grep { $_->{inst} eq $i } @W;
            if (grep { !defined } @t) {
                $CUR->{fail} .= "nginx $i: no L3 answer within ${FRESH_MAX}s; ";
                $CUR->{l3}{$i} = undef;
                $CUR->{down_until}{$i} = time;
            } else {
                my $m = (sort { $b <=> $a } @t)[0];
                $CUR->{l3}{$i} = $m - $t_up;
                $CUR->{down_until}{$i} = $m;
            }
        }
    }
    push @{ $CUR->{notes} }, sprintf "%s%s: %s", $label,
        $asserted ? " (asserted: no allow ${BOUND}s after COMMIT)" : '',
        join(' ', map { sprintf "%s%s:%.0fms", $_->{inst}, $_->{pid},
                        ($seen{"$_->{inst}$_->{pid}"} // -0.001) * 1000 } @W);
}

#----------------------------------------------------------------------------
# start

say "fleet-faults: ", $SHORT ? "short form, " : "",
    "phase ${PHASE}s, tail ${TAIL}s, $CLIENTS clients per instance, ",
    "2 instances x $WORKERS workers, hang at ${TIMEOUT}s; ",
    scalar @PAIRS, " (token, path) pairs";

Velro::Backends::start_pg(fixture => 1);
Velro::Backends::start_standby();
Velro::Backends::start_redis();
make_path("$WORK/html");
{
    open my $ok, '>', "$WORK/html/ok.txt" or die;
    print $ok "ok\n";
    close $ok;
}
chmod 0755, "$WORK/html";
say "fleet-faults: primary port $Velro::Backends::PG{port}, standby port "
  . "$Velro::Backends::STANDBY{port} (streaming), Redis port "
  . "$Velro::Backends::REDIS{port}";

{
    my $prefix = nginx_conf(name => 'probe', port => free_port(), replica => 1);
    my ($ok, $out) = nginx_t($prefix);
    if ($ok && !env(FLEET_REPLICA => 1)) {
        $HAS_REPLICA = 0;
        say "fleet-faults: velro_pg_replica known, not configured "
          . "(FLEET_REPLICA=0)";
    } elsif ($ok) {
        $HAS_REPLICA = 1;
    } elsif ($out =~ /unknown directive "velro_pg_replica"/) {
        $HAS_REPLICA = 0;
    } else {
        die "fleet-faults: nginx -t failed:\n$out";
    }
    say "fleet-faults: velro_pg_replica ", $HAS_REPLICA
        ? "configured (the standby, pool=2)"
        : "not configured: the replica-pause phase is skipped";
}

for my $i (@INST) {
    my $port = free_port();
    my $prefix = nginx_conf(name => $i, port => $port, replica => $HAS_REPLICA);
    $NGINX{$i} = { name => $i, prefix => $prefix, port => $port };
    nginx_start($NGINX{$i});
}

# the baseline: every pair on both instances (twice: caches filled), agreeing
for my $p (@PAIRS) {
    my %got;
    for (1, 2) { %got = map { $_ => (fetch($NGINX{$_}{port}, $p))[0] } @INST }
    die "fleet-faults: A and B disagree on $p->{user} $p->{path}: "
      . "$got{A} $got{B}\n" if $got{A} != $got{B};
    die "fleet-faults: $p->{user} $p->{path}: status $got{A} with no fault\n"
        unless $got{A} =~ /^(200|401|403)$/;
    $p->{expect} = $got{A};
}
{
    my ($st, $h) = fetch($NGINX{A}{port}, fresh_pair());
    die "fleet-faults: an unknown generation: $st from "
      . ($h->{'x-authz'} // '-') . " with no fault\n"
        unless $st =~ /^(403|404)$/ && ($h->{'x-authz'} // '') eq 'L3';
    $FRESH_EXPECT = $st;
    my ($fst) = fetch($NGINX{A}{port}, $FLIP);
    die "fleet-faults: editor on gen_team_open: $fst, not 200\n" if $fst != 200;
    my %by;
    $by{ $_->{expect} }++ for @PAIRS;
    say "fleet-faults: baseline statuses: ",
        join(', ', map { "$_ x$by{$_}" } sort keys %by),
        "; an unknown generation $FRESH_EXPECT from L3; the flipped pair "
      . "editor GET /r/gen_team_open 200 <-> 403";
}

worker_conns();
say "fleet-faults: workers ", join(' ', map { "$_->{inst}:$_->{pid}" } @W);

#----------------------------------------------------------------------------
# the phases

my @PHASES;

sub phase_begin {
    my ($name) = @_;
    $CUR = { name => $name, notes => [], fresh => [], listen => {},
             late_allow => 0, regress => 0, probes => 0, l3 => {},
             down => {}, down_until => {} };
    push @PHASES, $CUR;
    wait_subscribers();
    # each fault starts from a revoked decision, revoked while healthy
    flip('pending', healthy => 1, label => ' before') if $STATE ne 'pending'
        && $name ne 'baseline';
    $CUR->{t0} = time;
}

sub phase_end {
    my $until = time + $TAIL;
    while (time < $until) { sample_subscribers(); sleep 0.1 }
    $CUR->{t1} = time;
}

sub fault_down { my ($t) = @_; $CUR->{down}{$_} = $t for @INST }

for my $n (values %NGINX) {
    client($n, $_) for 0 .. $CLIENTS - 1;
    client($n, $CLIENTS, 1);
}
my $UNCACHED = { user => 'editor', action => 'r', gen => 'uncached',
                 expect => $FRESH_EXPECT };

{
    phase_begin('baseline');
    my $until = time + $PHASE;
    flip('pending', healthy => 1);
    flip('completed', healthy => 1);
    while (time < $until) { sample_subscribers(); sleep 0.1 }
    phase_end();
}

{
    phase_begin('listener-kill');
    my $out = sql("SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                . "WHERE application_name LIKE 'velro-fleet-%' AND $SUB_RE");
    my @pids = map { (split /\|/)[0] } split /\n/, $out;
    $TERMINATED{$_} = 1 for @pids;
    push @{ $CUR->{notes} }, "terminated subscriber backend(s) @pids";
    $CUR->{fail} .= "no subscriber backend to terminate; " unless @pids;
    flip('completed', label => ' at once');
    wait_subscribers();
    flip('pending', healthy => 1);
    flip('completed', healthy => 1);
    phase_end();
}

{
    phase_begin('pg-restart');
    fault_down(time);
    Velro::Backends::stop_pg(mode => 'fast');
    sleep $PHASE;
    Velro::Backends::start_pg();
    my $t_up = time;
    flip('completed', t_up => $t_up, label => ' at once');
    wait_subscribers();
    flip('pending', healthy => 1);
    flip('completed', healthy => 1);
    phase_end();
}

if ($HAS_REPLICA) {
    phase_begin('replica-pause');
    flip('completed', healthy => 1);
    Velro::Backends::standby_psql('SELECT pg_wal_replay_pause()');
    flip('pending', healthy => 1, label => ' (replica paused)');
    Velro::Backends::standby_psql('SELECT pg_wal_replay_resume()');
    flip('completed', healthy => 1);
    phase_end();
} else {
    say "fleet-faults: replica-pause skipped (no velro_pg_replica)";
}

{
    phase_begin('promote');
    my $LOGQ = "SELECT coalesce(max(seq), 0) || ' ' || (SELECT status FROM "
             . "generations WHERE id = '$FLIP_GEN') FROM velro_invalidation_log";
    chomp(my $before = sql($LOGQ));
    # replication is asynchronous: the primary is killed at once, and the
    # standby may miss the revoke just committed (see README); with
    # FLEET_LOSSY=0 once the standby has replayed all it committed (a
    # failover that loses no transaction)
    if (!$LOSSY) {
        chomp(my $lsn = sql('SELECT pg_current_wal_lsn()'));
        my $until = time + $RECOVERY;
        until (Velro::Backends::standby_psql("SELECT pg_last_wal_replay_lsn() "
                   . ">= '$lsn'::pg_lsn", db => 'postgres') =~ /^t/) {
            die "fleet-faults: the standby did not replay $lsn in "
              . "${RECOVERY}s\n" if time > $until;
            sleep 0.01;
        }
    }
    fault_down(time);
    my $killed = Velro::Backends::kill_primary();
    my $pt = Velro::Backends::promote_standby();
    $PROMOTED = 1;
    %TERMINATED = ();
    my $t_up = time;
    chomp(my $after = sql($LOGQ));
    push @{ $CUR->{notes} }, sprintf "primary SIGKILLed (%d processes), "
        . "standby promoted in %.1fs; log max(seq) and status: primary %s, "
        . "new primary %s", $killed, $pt, $before, $after;
    flip('completed', t_up => $t_up, label => ' on the new primary');
    wait_subscribers();
    flip('pending', healthy => 1);
    flip('completed', healthy => 1);
    phase_end();
}

stop_clients();

#----------------------------------------------------------------------------
# judging the load

my @REQ;
for my $file (glob "$WORK/requests-*.txt") {
    open my $fh, '<', $file or next;
    while (<$fh>) {
        my @f = split;
        push @REQ, \@f if @f == 7;
    }
}

sub pct {
    my ($p, @v) = @_;
    return undef unless @v;
    @v = sort { $a <=> $b } @v;
    my $i = int($p / 100 * @v + 0.999999) - 1;
    $i = 0 if $i < 0;
    return $v[$i];
}

my @ROWS;
for my $ph (@PHASES) {
    for my $i (@INST) {
        my %r = (phase => $ph, inst => $i, n => 0, codes => {}, wrong => 0,
                 bad => 0, hang => 0, fallback => 0, examples => []);
        my $d0 = $ph->{down}{$i};
        my $d1 = $ph->{down_until}{$i} // $ph->{t1};
        for my $q (@REQ) {
            my ($t, $n, $idx, $st, $lat, $tier, $ra) = @$q;
            next if $n ne $i || $t < $ph->{t0} || $t >= $ph->{t1};
            my $p = $idx < 0 ? $UNCACHED : $PAIRS[$idx];
            $r{n}++;
            $r{codes}{$st}++;
            my $what;
            if ($st == 0 || $lat > $TIMEOUT) {
                $r{hang}++;
                $what = 'hang';
            } elsif ($st == $p->{expect}) {
                next;
            } elsif ($st == 200) {
                $r{wrong}++;
                $what = 'wrong allow';
            } elsif ($st == 503 && $ra eq 'ra'
                     && ((defined $d0 && $t >= $d0 && $t < $d1)
                         || $lat >= $PG_TIMEOUT_MS / 1000)) {
                $r{fallback}++;
                next;
            } else {
                $r{bad}++;
                $what = $st == 503 ? '503 while PostgreSQL was available'
                      : $st < 0 ? 'connection error' : "status $st";
            }
            push @{ $r{examples} }, sprintf "%s %s %s: %s (expected %d) "
                . "at +%.3fs after %.3fs, tier %s", $p->{user}, $p->{action},
                $p->{gen}, $what, $p->{expect}, $t - $ph->{t0}, $lat, $tier
                if @{ $r{examples} } < 5;
        }
        push @ROWS, \%r;
    }
}

sub codes_str {
    my ($c) = @_;
    return join ' ', map { ($_ == 0 ? 'hang' : $_ < 0 ? 'err' : $_)
                           . ":$c->{$_}" } sort { $a <=> $b } keys %$c;
}

sub ms { defined $_[0] ? sprintf('%.0f', $_[0] * 1000) : '-' }

say '';
say sprintf "%-13s %-2s %7s  %-26s %4s %5s %5s %5s  %7s %7s %7s %6s",
    'phase', 'ng', 'reqs', 'statuses', '503', 'wrong', 'other', 'hangs',
    'inv p50', 'inv p99', 'L3 back', 'listen';
say '-' x 108;
for my $r (@ROWS) {
    my $ph = $r->{phase};
    say sprintf "%-13s %-2s %7d  %-26s %4d %5d %5d %5d  %7s %7s %7s %6s",
        $ph->{name}, $r->{inst}, $r->{n}, codes_str($r->{codes}),
        $r->{fallback}, $r->{wrong}, $r->{bad}, $r->{hang},
        ms(pct(50, @{ $ph->{fresh} })), ms(pct(99, @{ $ph->{fresh} })),
        exists $ph->{l3}{ $r->{inst} } ? ms($ph->{l3}{ $r->{inst} }) : 'n/a',
        $ph->{listen}{ $r->{inst} } // '?';
}
say '';
say "503: with Retry-After, for a request started while PostgreSQL was "
  . "unavailable to its instance or that waited the pg timeout; wrong: 200 "
  . "where the baseline said 401/403 (must be 0); other: any other status "
  . "(must be 0); hangs: no answer within ${TIMEOUT}s (must be 0).  inv "
  . "p50/p99 (ms): COMMIT returned -> the worker answers the new decision, "
  . "over all $WORKERS x 2 workers of A and B and all changes of the phase "
  . "(same figures on both rows); L3 back (ms): PostgreSQL up again -> both "
  . "workers of the instance answered an uncached lookup from L3; listen: "
  . "the most subscriber (LISTEN) backends of the instance seen at once in "
  . "pg_stat_activity (must be at most 1).";

for my $ph (@PHASES) {
    say "$ph->{name}: ", scalar @{ $ph->{fresh} }, " freshness samples, "
      . "$ph->{probes} probes; " . join('; ', @{ $ph->{notes} });
    fail_say("$ph->{name}: $ph->{fail}") if $ph->{fail};
    fail_say("$ph->{name}: $ph->{late_allow} allow(s) of the revoked pair "
           . "more than ${BOUND}s after the COMMIT") if $ph->{late_allow};
    fail_say("$ph->{name}: $ph->{regress} old answer(s) after a worker had "
           . "answered the new decision") if $ph->{regress};
    for my $i (@INST) {
        my $l = $ph->{listen}{$i};
        fail_say("$ph->{name} $i: subscriber backends not sampled")
            unless defined $l;
        fail_say("$ph->{name} $i: $l subscriber (LISTEN) backends at once")
            if defined $l && $l > 1;
    }
    for my $r (grep { $_->{phase} == $ph } @ROWS) {
        fail_say("$ph->{name} $r->{inst}: no request at all") unless $r->{n};
        fail_say("$ph->{name} $r->{inst}: $r->{wrong} wrong, $r->{bad} other, "
               . "$r->{hang} hang(s): " . join('; ', @{ $r->{examples} }))
            if $r->{wrong} || $r->{bad} || $r->{hang};
    }
}

for my $i (@INST) {
    my $log = slurp("$NGINX{$i}{prefix}/logs/error.log") // '';
    my @bad = grep { /exited on signal|\[(?:alert|crit|emerg)\]/ } split /\n/, $log;
    fail_say("nginx $i: " . scalar(@bad) . " crash/alert/crit line(s), first: "
           . $bad[0]) if @bad;
    my $errors = () = $log =~ /\[error\]/g;
    say "nginx $i error.log: $errors [error] line(s), ", scalar(@bad),
        " crash/alert/crit";
}

say '';
if (@FAIL) {
    say sprintf "fleet-faults: FAILED (%d, after %.0f s):", scalar @FAIL, time - $^T;
    say "  $_" for @FAIL;
    exit 1;
}
say sprintf "fleet-faults: all checks passed (%d requests, %.0f s)",
    scalar @REQ, time - $^T;
exit 0;
