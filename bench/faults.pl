#!/usr/bin/perl
#
# bench/faults.pl NGINX_BIN MODULE_SO   (make faults; FAULTS_SHORT=1 make
#                                        faults is the form .ci/run runs)
#
# Load against the gateway while its backends fail, and what every request
# got.  A throwaway PostgreSQL (schema and t/sql/fixture.sql) and Redis
# (t/lib/Velro/Backends.pm, free ports), and three nginx (2 workers each,
# velro_redis timeout=200ms, velro_pg timeout=500ms, velro_authz_fallback
# to a velro_authz_pg location) on the same backends:
#
#   l1   L1 on (the default TTLs), L2 and L3: every (token, path) pair is
#        warmed into the L1 of both workers before each fault, so its
#        decision is cached and must not change whatever fails
#   l2   "velro_cache_ttl TYPE l1=0" for auth, ownership, team_access and
#        project_vis: every request goes to Redis, then PostgreSQL
#   l3   the same without velro_redis: every request is an L3 subrequest
#
# The pairs: users owner, editor, viewer, outsider, disabled, revoked and
# nobody (RS256 tokens), every fixture generation and an unknown one, read
# (GET /r/UUID) and write (GET /w/UUID, velro_authz_action write): allow
# (200), deny (403), refused users (401).  The expected status of each pair
# comes from a no-fault baseline (the three nginx must agree on it).
#
# Clients: FAULTS_CLIENTS forked Perl processes per nginx, each on a
# keepalive connection cycling through the pairs, one request at a time,
# recording start time, status, latency, $velro_authz_cache (X-Authz) and
# Retry-After of every request.  A request not answered within
# FAULTS_TIMEOUT (5 s) counts as a hang; a keepalive connection closed by
# nginx before any byte of the answer (a reload's old worker closing idle
# connections) is retried once on a new one, as HTTP clients do.
#
# Phases, one after the other, clients running throughout:
#   baseline     nothing fails
#   redis-kill   SIGKILL Redis, FAULTS_PHASE seconds, start it again
#   redis-stop   SIGSTOP Redis, FAULTS_PHASE seconds, SIGCONT
#   pg-kill      SIGKILL the postmaster and its backends, FAULTS_PHASE
#                seconds, start it again (crash recovery); a quarter into
#                it Redis drops every client (CLIENT KILL), so that a lost
#                L2 connection is tested while L3 cannot answer either
#   pg-stop      SIGSTOP the postmaster and its backends, then SIGCONT
#   reload       nginx -s reload (SIGHUP) of the three, twice
#   upgrade      binary upgrade of the three: USR2 (a new master from the
#                same binary, its own workers), WINCH to the old master
#                (its workers finish what they serve and go), QUIT
# Each phase starts from flushed caches (Redis FLUSHALL, and a "team"
# invalidation, which empties L1 in every worker) warmed again, so that
# negative entries, which live 30 s at most, are fresh; a negative pair
# counts as cached for 29 s after the warming only.
# Each phase ends once the tier that failed answers again (l2 shows L2
# after a Redis fault, l3 shows L3 after a PostgreSQL fault: within
# FAULTS_RECOVERY seconds, or the phase fails), then FAULTS_TAIL seconds.
#
# What must hold, for every request of every phase:
#   - a cached pair (in L1 of both workers of l1, outside the reload and
#     upgrade phases whose new workers start empty; in Redis for l2 while
#     PostgreSQL is the one failing) keeps its exact baseline status,
#     unless its request took the Redis timeout or longer (l2: Redis
#     itself did not answer in time, a double fault on a loaded machine);
#   - any other request gets its baseline status or the documented
#     fallback, 503 with Retry-After (velro_authz_stale is not
#     configured, so no stale answers): it needs PostgreSQL in the end,
#     which may be down, stopped, or just slower than timeout=500ms on a
#     loaded machine (no timing is asserted but the hang threshold);
#   - never a wrong allow (200 where the baseline said 401/403), never
#     another status, never a hang or a connection error;
#   - after the restart the failed tier answers again (l2 shows L2 after
#     a Redis fault, l3 shows L3 after a PostgreSQL fault);
#   - no "exited on signal", [alert], [crit] or [emerg] in the error logs.
# With a module that knows velro_breaker (nginx -t decides; the lines are
# left out otherwise) the script configures "velro_breaker redis|database
# failures=3 recovery=2s" and also checks that while Redis is stopped l2
# stops waiting for it: at most failures x workers x (1 + phase/recovery)
# + 4 requests of l2 take the Redis timeout (200 ms) or longer, and Redis
# accepts at most workers x (3 + phase/recovery) + 2 connections while
# stopped (INFO's total_connections_received after SIGCONT).
#
# Environment:
#   FAULTS_SHORT=1      the CI form: FAULTS_PHASE 2, FAULTS_TAIL 1,
#                       FAULTS_CLIENTS 2 (under a minute in all)
#   FAULTS_PHASE (6)    seconds each backend stays down / stopped
#   FAULTS_TAIL (3)     seconds of load after recovery, and of baseline
#   FAULTS_CLIENTS (4)  clients per nginx
#   FAULTS_TIMEOUT (5)  seconds: a slower answer is a hang
#   FAULTS_RECOVERY (20) seconds allowed for L2/L3 to answer again
#   FAULTS_ONLY         a subset of "redis-kill redis-stop pg-kill pg-stop
#                       reload upgrade"
# Output: the table on stdout and in build/faults/faults-results.txt;
# per-request records (requests-*.txt), nginx prefixes and logs stay in
# build/faults/run.* until the next run.  Exit status 1 when a check fails.

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
use Velro::Proc qw(slurp stat_fields alive children nginx_workers);
use Velro::Fixture;
use Velro::Token;
# nginx start/stop and the keepalive HTTP client, shared with
# bench/fleet-faults.pl
use Velro::Load qw(nginx_t nginx_start nginx_stop do_request fetch);

$| = 1;

@ARGV == 2 or die "usage: perl bench/faults.pl NGINX_BIN MODULE_SO\n";

my ($NGINX_BIN, $MODULE) = @ARGV;
$MODULE = abs_path($MODULE) if -e $MODULE;
-x $NGINX_BIN or die "faults: $NGINX_BIN is not executable\n";
-e $MODULE or die "faults: $MODULE does not exist\n";

my $TOP = abs_path("$FindBin::Bin/..");
my $OUT = "$TOP/build/faults";
my $KEYS = "$TOP/t/keys";
my $MAIN_PID = $$;

# a child subreaper: daemonized nginx masters (and their successors after
# a binary upgrade) become this script's children, so it can wait for them
Velro::Backends::_prctl(36, 1);             # PR_SET_CHILD_SUBREAPER

sub env { my ($k, $d) = @_; my $v = $ENV{$k}; defined $v && $v ne '' ? $v : $d }

my $SHORT = env(FAULTS_SHORT => 0);
my $PHASE = env(FAULTS_PHASE => $SHORT ? 2 : 6);
my $TAIL = env(FAULTS_TAIL => $SHORT ? 1 : 3);
my $CLIENTS = env(FAULTS_CLIENTS => $SHORT ? 2 : 4);
my $TIMEOUT = env(FAULTS_TIMEOUT => 5);
my $RECOVERY = env(FAULTS_RECOVERY => 20);
my @ALL_FAULTS = qw(redis-kill redis-stop pg-kill pg-stop reload upgrade);
my @FAULTS = split ' ', env(FAULTS_ONLY => "@ALL_FAULTS");
for my $f (@FAULTS) {
    grep { $_ eq $f } @ALL_FAULTS
        or die "faults: unknown fault \"$f\" in FAULTS_ONLY (@ALL_FAULTS)\n";
}

my $WORKERS = 2;
$Velro::Load::NGINX_BIN = $NGINX_BIN;
$Velro::Load::WORKERS = $WORKERS;
$Velro::Load::TIMEOUT = $TIMEOUT;
my $REDIS_TIMEOUT_MS = 200;
my $PG_TIMEOUT_MS = 500;
my %BREAKER = (failures => 3, recovery => 2);

make_path($OUT);
remove_tree($_) for glob "$OUT/run.*";
my $WORK = tempdir("run.XXXXXX", DIR => $OUT);
chmod 0755, $WORK;      # the workers (nobody) serve a file from it
my $RESULTS = "$OUT/faults-results.txt";
open my $RES, '>', $RESULTS or die "faults: $RESULTS: $!\n";
$RES->autoflush(1);

sub say {
    my $s = join('', @_) . "\n";
    print $s;
    print $RES $s;
}

my @FAIL;       # every failed check, printed again at the end

sub fail_say {
    say "  FAIL: @_";
    push @FAIL, "@_";
}

#----------------------------------------------------------------------------
# what we start, and stopping it whatever happens

my %NGINX;          # name => { name, prefix, port, pid }
my %CLIENT;         # pid => 1

sub stop_clients { Velro::Load::stop_clients(\%CLIENT, $TIMEOUT + 2) }

END {
    if ($$ == $MAIN_PID) {
        my $status = $?;
        # a stopped backend would not even die
        pg_signal('CONT') if $Velro::Backends::PG{pid};
        kill 'CONT', $Velro::Backends::REDIS{pid}
            if $Velro::Backends::REDIS{pid};
        stop_clients();
        nginx_stop($_) for values %NGINX;
        $? = $status;
    }
    # then Velro::Backends' END stops PostgreSQL and Redis
}

#----------------------------------------------------------------------------
# /proc

#----------------------------------------------------------------------------
# backends: kill, stop, start again

my %PGB = ();   # the postmaster's children while it is stopped / killed

sub pg_signal {
    my ($sig) = @_;
    my $pm = $Velro::Backends::PG{pid} or return;
    my @kids = $sig eq 'CONT' ? @{ $PGB{stopped} || [] } : children($pm);
    # children first when stopping (none forks a replacement), postmaster
    # first when continuing
    if ($sig eq 'CONT') {
        kill 'CONT', $pm, @kids;
        delete $PGB{stopped};
    } else {
        kill $sig, @kids, $pm;
        $PGB{stopped} = [ @kids ] if $sig eq 'STOP';
    }
}

sub pg_kill {
    my $pm = $Velro::Backends::PG{pid};
    my @kids = children($pm);
    kill 'KILL', $pm, @kids;
    waitpid $pm, 0;
    my $until = time + 10;
    while (grep { alive($_) } @kids) {
        die "faults: PostgreSQL backends survive SIGKILL\n" if time > $until;
        sleep 0.02;
    }
    $Velro::Backends::PG{running} = 0;
    delete $Velro::Backends::PG{pid};
}

sub pg_start { Velro::Backends::start_pg() }

sub redis_kill {
    my $pid = $Velro::Backends::REDIS{pid};
    kill 'KILL', $pid;
    waitpid $pid, 0;
    $Velro::Backends::REDIS{running} = 0;
    delete $Velro::Backends::REDIS{pid};
}

sub redis_start { Velro::Backends::start_redis() }

sub redis_connections {     # connections Redis accepted so far
    my $info = eval { Velro::Backends::redis_cli('INFO', 'stats') } // '';
    return $info =~ /^total_connections_received:(\d+)/m ? $1 : undef;
}

#----------------------------------------------------------------------------
# nginx

my $HAS_BREAKER;

sub nginx_conf {
    my (%o) = @_;       # name, port, redis, l1off
    my $prefix = "$WORK/nginx-$o{name}";
    make_path("$prefix/conf", "$prefix/logs");
    my $pg = $Velro::Backends::PG{port};
    my $http = qq{    velro_pg "host=127.0.0.1 port=$pg dbname=velro user=postgres }
             . qq{application_name=velro-faults-$o{name}" pool=4 }
             . qq{connect_timeout=${PG_TIMEOUT_MS}ms timeout=${PG_TIMEOUT_MS}ms;\n};
    if ($o{redis}) {
        my $rp = $Velro::Backends::REDIS{port};
        $http .= "    velro_redis 127.0.0.1:$rp connect_timeout=${REDIS_TIMEOUT_MS}ms"
               . " timeout=${REDIS_TIMEOUT_MS}ms;\n";
    }
    if ($o{l1off}) {
        $http .= "    velro_cache_ttl $_ l1=0;\n"
            for qw(auth ownership team_access project_vis);
    }
    if ($HAS_BREAKER // $o{breaker}) {
        $http .= "    velro_breaker $_ failures=$BREAKER{failures}"
               . " recovery=$BREAKER{recovery}s;\n" for qw(redis database);
    }
    Velro::Load::nginx_conf_write("$prefix/conf/nginx.conf",
        module => $MODULE, workers => $WORKERS, http => $http,
        port => $o{port}, root => "$WORK/html", keys => $KEYS);
    return $prefix;
}

# binary upgrade: USR2 makes the old master start a new one (the same
# binary, the listening sockets inherited), which writes logs/nginx.pid
# while the old one's becomes nginx.pid.oldbin; once the new workers run,
# WINCH ends the old workers gracefully and QUIT the old master
sub upgrade {
    my ($ph, $n) = @_;
    my $old = $n->{pid};
    my $pidf = "$n->{prefix}/logs/nginx.pid";
    kill 'USR2', $old;
    my ($new, $until) = (undef, time + 10);
    while (time < $until) {
        my $p = slurp($pidf) // '';
        if ($p =~ /^(\d+)/ && $1 != $old && -e "$pidf.oldbin"
            && nginx_workers({ pid => $1 }) >= $WORKERS)
        {
            $new = $1;
            last;
        }
        sleep 0.05;
    }
    unless ($new) {
        $ph->{fail} .= "$n->{name}: no new master after USR2; ";
        return;
    }
    note($ph, "$n->{name}: new master $new after USR2 to $old");
    kill 'WINCH', $old;
    sleep $PHASE / 2;
    kill 'QUIT', $old;
    $until = time + 10;
    while (time < $until) {
        last if waitpid($old, WNOHANG) == $old;
        sleep 0.05;
    }
    if (alive($old)) {
        $ph->{fail} .= "$n->{name}: the old master $old did not quit; ";
    }
    $n->{pid} = $new;
}

#----------------------------------------------------------------------------
# the pairs

my @USERS = qw(owner editor viewer outsider disabled revoked nobody);
my @GENS = (@Velro::Fixture::GENERATIONS, 'gen_unknown');
my @PAIRS;
my %TOKEN = map {
    $_ => Velro::Token::token(canonical => 1,
                              claims => { sub => $Velro::Fixture::ID{$_},
                                          exp => int(time) + 86400,
                                          jti => "faults-$_" })
} @USERS;
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

#----------------------------------------------------------------------------
# clients: each a forked process writing one line per request

sub client {
    my ($n, $k) = @_;
    my $file = "$WORK/requests-$n->{name}-$k.txt";
    my $pid = fork // die "faults: fork: $!\n";
    if ($pid) {
        $CLIENT{$pid} = $file;
        return;
    }
    my $stop = 0;
    $SIG{TERM} = sub { $stop = 1 };
    $SIG{$_} = 'DEFAULT' for qw(INT HUP);
    Velro::Backends::_die_with_parent(15);
    open my $out, '>', $file or POSIX::_exit(1);
    my $sock;
    my $i = int(@PAIRS * $k / $CLIENTS);
    while (!$stop) {
        my $pair = $PAIRS[$i++ % @PAIRS];
        my $t0 = time;
        my ($st, $h, $retried) = do_request(\$sock, $n->{port}, $pair,
                                            $t0 + $TIMEOUT);
        my $lat = time - $t0;
        printf $out "%.4f %s %d %d %.4f %s %s %d %s\n", $t0, $n->{name},
               $pair->{idx}, $st, $lat, $h->{'x-authz'} || '-',
               defined $h->{'retry-after'} ? 'ra' : '-', $retried,
               $h->{'x-pid'} // '-';
        sleep 0.05 if $st < 0 && !$stop;  # refused: do not spin
    }
    close $out;
    POSIX::_exit(0);
}

#----------------------------------------------------------------------------
# warming and waiting

# every pair into the L1 of every worker of l1 (a few requests each on a
# connection to each worker); returns the pairs that made it
sub warm_l1 {
    my ($n) = @_;
    my $conn = Velro::Load::worker_connections($n, $PAIRS[0]);
    my %cached;
    for my $p (@PAIRS) {
        my $in = 0;
        for my $pid (keys %$conn) {
            for my $try (1 .. 4) {
                my ($st, $h) = do_request(\$conn->{$pid}, $n->{port}, $p,
                                          time + $TIMEOUT);
                if (($h->{'x-authz'} // '') eq 'L1'
                    && ($h->{'x-pid'} // '') eq $pid)
                {
                    $in++;
                    last;
                }
            }
        }
        $cached{ $p->{idx} } = 1 if $in >= $WORKERS;
    }
    close $_ for grep { defined } values %$conn;
    return \%cached;
}

# pairs that l2 answers from Redis (after the first answer, which may have
# come from L3 and written Redis)
sub warm_l2 {
    my ($n) = @_;
    my %cached;
    my $s;
    for my $p (@PAIRS) {
        for my $try (1 .. 4) {
            my ($st, $h) = do_request(\$s, $n->{port}, $p, time + $TIMEOUT);
            if (($h->{'x-authz'} // '') eq 'L2') { $cached{ $p->{idx} } = 1; last }
        }
    }
    close $s if $s;
    return \%cached;
}

# wait until $tier answers a pair with its baseline status on nginx $n
sub wait_tier {
    my ($n, $tier) = @_;
    my $until = time + $RECOVERY;
    my $start = time;
    my $i = 0;
    while (time < $until) {
        my $p = $PAIRS[$i++ % @PAIRS];
        my ($st, $h) = fetch($n->{port}, $p);
        return time - $start
            if ($h->{'x-authz'} // '') eq $tier && $st == $p->{expect};
        sleep 0.05;
    }
    return undef;
}

#----------------------------------------------------------------------------
# start

say "faults: ", $SHORT ? "short form, " : "",
    "phase ${PHASE}s, tail ${TAIL}s, $CLIENTS clients per nginx, ",
    "hang at ${TIMEOUT}s; ", scalar @PAIRS, " (token, path) pairs";

Velro::Backends::start_pg(fixture => 1);
Velro::Backends::start_redis();
make_path("$WORK/html");
open my $ok, '>', "$WORK/html/ok.txt" or die;
print $ok "ok\n";
close $ok;
chmod 0755, "$WORK/html";

my $next_port = sub {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "faults: no free port: $!\n";
    my $p = $s->sockport;
    close $s;
    return $p;
};

my @NAMES = qw(l1 l2 l3);
my %OPT = (l1 => { redis => 1 }, l2 => { redis => 1, l1off => 1 },
           l3 => { l1off => 1 });

# velro_breaker: configured when the module knows it
{
    my $prefix = nginx_conf(name => 'probe', port => $next_port->(),
                            redis => 1, breaker => 1);
    my ($ok, $out) = nginx_t($prefix);
    if ($ok) {
        $HAS_BREAKER = 1;
    } elsif ($out =~ /unknown directive "velro_breaker"/) {
        $HAS_BREAKER = 0;
    } else {
        die "faults: nginx -t failed:\n$out";
    }
    say "faults: velro_breaker ", $HAS_BREAKER
        ? "redis|database failures=$BREAKER{failures} recovery=$BREAKER{recovery}s"
        : "unknown to this module: breaker checks skipped";
}

for my $name (@NAMES) {
    my $port = $next_port->();
    my $prefix = nginx_conf(name => $name, port => $port, %{ $OPT{$name} });
    $NGINX{$name} = { name => $name, prefix => $prefix, port => $port };
    nginx_start($NGINX{$name});
}

# the baseline: every pair once on each nginx, all three agreeing
for my $p (@PAIRS) {
    my %got = map { $_ => (fetch($NGINX{$_}{port}, $p))[0] } @NAMES;
    # l1 and l2 may have needed a first request to fill their caches
    %got = map { $_ => (fetch($NGINX{$_}{port}, $p))[0] } @NAMES;
    if (grep { $got{$_} != $got{l3} } @NAMES) {
        die "faults: the three nginx disagree on $p->{user} $p->{path}: "
          . join(', ', map { "$_ $got{$_}" } @NAMES) . "\n";
    }
    die "faults: $p->{user} $p->{path}: status $got{l3} with no fault\n"
        unless $got{l3} =~ /^(200|401|403)$/;
    $p->{expect} = $got{l3};
}
{
    my %by;
    $by{ $_->{expect} }++ for @PAIRS;
    say "faults: baseline statuses: ",
        join(', ', map { "$_ x$by{$_}" } sort keys %by);
}

#----------------------------------------------------------------------------
# the phases

my @PHASES;     # { name, t0, t1, l1 => {idx=>1}, l2 => {idx=>1}, notes }

# Negative entries (denials, unknown users and resources) live at most
# 30 s in L1 and L2 (NGX_HTTP_VELRO_NEGATIVE_TTL), whatever their TTL: so
# that warmed ones outlive the fault, each phase starts from empty caches:
# Redis flushed, and every fixture entity (and the unknown ones) dropped
# from L1 by invalidations through the log (velro_notify(), as the
# triggers do), waited for: pair 0 is put in L1 of every l1 worker first,
# and the flush is applied once it is gone from there (the changes are
# one transaction, published to the workers as one batch).  A negative
# pair counts as cached only for requests started within NEGATIVE_TTL of
# the warming.
my $NEGATIVE_TTL = 30;

sub flush_caches {
    my $n = $NGINX{l1};
    my $conn = Velro::Load::worker_connections($n, $PAIRS[0]);
    my $tier = sub {
        my ($pid) = @_;
        my ($st, $h) = do_request(\$conn->{$pid}, $n->{port}, $PAIRS[0],
                                  time + $TIMEOUT);
        return ($h->{'x-pid'} // '') eq $pid ? $h->{'x-authz'} // '' : '?';
    };
    for my $pid (keys %$conn) {
        for (1 .. 20) { last if $tier->($pid) eq 'L1' }
    }

    Velro::Backends::redis_cli('FLUSHALL');
    my %kinds = ('11111111' => [qw(user member)], '33333333' => ['project'],
                 '44444444' => ['generation']);
    my @calls;
    for my $id (sort values %Velro::Fixture::ID) {
        my $k = $kinds{ substr $id, 0, 8 } or next;
        push @calls, map { "velro_notify('$_', '$id')" } @$k;
    }
    Velro::Backends::psql('SELECT ' . join(', ', @calls));

    my $until = time + $RECOVERY;
    for my $pid (keys %$conn) {
        while (time < $until) {
            my $t = $tier->($pid);
            last if $t ne 'L1';    # or another worker answered: no telling
            sleep 0.01;
        }
    }
    close $_ for grep { defined } values %$conn;
}

sub phase_begin {
    my ($name) = @_;
    my %ph = (name => $name, notes => []);
    flush_caches();
    $ph{warm_t} = time;
    $ph{l1} = warm_l1($NGINX{l1});
    $ph{l2} = warm_l2($NGINX{l2});
    $ph{t0} = time;
    push @PHASES, \%ph;
    return \%ph;
}

sub phase_end {
    my ($ph) = @_;
    sleep $TAIL;
    $ph->{t1} = time;
}

sub note {
    my ($ph, $s) = @_;
    push @{ $ph->{notes} }, $s;
}

sub recover {
    my ($ph, $tier, $n) = @_;
    my $t = wait_tier($NGINX{$n}, $tier);
    if (defined $t) {
        note($ph, sprintf "%s answers %s again %.1fs after the restart",
                          $n, $tier, $t);
    } else {
        $ph->{fail} .= "$n: no $tier answer within ${RECOVERY}s of the "
                     . "restart; ";
    }
}

for my $n (@NAMES) {
    client($NGINX{$n}, $_) for 0 .. $CLIENTS - 1;
}

{
    my $ph = phase_begin('baseline');
    sleep $PHASE;
    phase_end($ph);
}

for my $f (@FAULTS) {
    my $ph = phase_begin($f);
    $ph->{fault} = $f;
    if ($f eq 'redis-kill') {
        redis_kill();
        sleep $PHASE;
        redis_start();
        recover($ph, 'L2', 'l2');
    } elsif ($f eq 'redis-stop') {
        my $c0 = redis_connections();
        $ph->{stop_t0} = time;
        kill 'STOP', $Velro::Backends::REDIS{pid};
        sleep $PHASE;
        $ph->{stop_t1} = time;
        kill 'CONT', $Velro::Backends::REDIS{pid};
        my $c1 = redis_connections();
        if (defined $c0 && defined $c1) {
            note($ph, sprintf "Redis accepted %d connection(s) while stopped"
                            . " and at SIGCONT", $c1 - $c0);
            # breaker open: no reconnects but one trial per recovery period
            my $bound = $WORKERS * (3 + int($PHASE / $BREAKER{recovery})) + 2;
            $ph->{fail} .= sprintf "%d connections to the stopped Redis, the "
                . "breaker should have stopped them (at most %d); ",
                $c1 - $c0, $bound
                if $HAS_BREAKER && $c1 - $c0 > $bound;
        }
        recover($ph, 'L2', 'l2');
    } elsif ($f eq 'pg-kill') {
        pg_kill();
        # and Redis drops its clients while PostgreSQL is down: L2 reads
        # under way are sent again on the next connection, made at once
        sleep $PHASE / 4;
        Velro::Backends::redis_cli(qw(CLIENT KILL TYPE normal));
        sleep $PHASE * 3 / 4;
        pg_start();
        recover($ph, 'L3', 'l3');
    } elsif ($f eq 'pg-stop') {
        pg_signal('STOP');
        sleep $PHASE;
        pg_signal('CONT');
        recover($ph, 'L3', 'l3');
    } elsif ($f eq 'reload') {
        for my $k (1, 2) {
            kill 'HUP', $NGINX{$_}{pid} for @NAMES;
            sleep $PHASE / 2;
        }
    } elsif ($f eq 'upgrade') {
        upgrade($ph, $NGINX{$_}) for @NAMES;
    }
    phase_end($ph);
}

stop_clients();

#----------------------------------------------------------------------------
# judging every request

my @REQ;
for my $file (glob "$WORK/requests-*.txt") {
    open my $fh, '<', $file or next;
    while (<$fh>) {
        my ($t, $n, $idx, $st, $lat, $tier, $ra, $retried, $pid) = split;
        next unless defined $pid;
        push @REQ, [ $t, $n, $idx, $st, $lat, $tier, $ra, $retried ];
    }
}

my @ROWS;
for my $ph (@PHASES) {
    my $f = $ph->{fault} // '';
    for my $n (@NAMES) {
        my %r = (phase => $ph->{name}, nginx => $n, n => 0, codes => {},
                 fallback => 0, wrong => 0, bad => 0, hang => 0, max => 0, retried => 0,
                 slow => 0, tiers => {});
        my @examples;
        for my $q (@REQ) {
            my ($t, $qn, $idx, $st, $lat, $tier, $ra, $retried) = @$q;
            next if $qn ne $n || $t < $ph->{t0} || $t >= $ph->{t1};
            my $p = $PAIRS[$idx];
            $r{n}++;
            $r{codes}{$st}++;
            $r{tiers}{$tier}++;
            $r{retried} += $retried;
            $r{max} = $lat if $lat > $r{max};
            $r{slow}++ if $n eq 'l2' && $f eq 'redis-stop'
                          && $t >= $ph->{stop_t0} && $t < $ph->{stop_t1}
                          && $lat >= $REDIS_TIMEOUT_MS / 1000;

            # cached: the decision is in L1 of every l1 worker (not after
            # a reload: new workers, empty L1), or in Redis for l2 while
            # PostgreSQL is the one failing; a cached pair needs no
            # backend, its status must be the baseline's.  Every other
            # request needs PostgreSQL in the end, and 503 with
            # Retry-After is the documented answer when it cannot be had:
            # down, stopped, or slower than velro_pg timeout= (a loaded
            # machine; counted in the "503" column)
            my $cached = $n eq 'l1' ? ($f ne 'reload' && $f ne 'upgrade'
                                       && $ph->{l1}{$idx})
                       : $n eq 'l2' && $f =~ /^pg-/ ? $ph->{l2}{$idx}
                       : 0;
            $cached = 0 if $p->{expect} != 200
                           && $t > $ph->{warm_t} + $NEGATIVE_TTL - 1;
            # a read that waited out the Redis timeout (Redis stalled on a
            # loaded machine) had no L2 answer: it needed PostgreSQL
            my $may_fall = !$cached
                || ($n eq 'l2' && $lat >= $REDIS_TIMEOUT_MS / 1000);
            my $what;
            if ($st == 0 || $lat > $TIMEOUT) {
                $r{hang}++;
                $what = 'hang';
            } elsif ($st == $p->{expect}) {
                next;
            } elsif ($st == 200) {
                $r{wrong}++;
                $what = 'wrong allow';
            } elsif ($st == 503 && $may_fall && $ra eq 'ra') {
                $r{fallback}++;
                next;
            } else {
                $r{bad}++;
                $what = $st == 503 && $ra ne 'ra' ? '503 without Retry-After'
                      : $st < 0 ? 'connection error' : "status $st";
            }
            push @examples, sprintf "%s %s %s %s: %s (expected %d%s) "
                . "after %.3fs, tier %s", $n, $p->{user}, $p->{action},
                $p->{gen}, $what, $p->{expect},
                $may_fall ? ' or 503' : $cached ? ', cached' : '', $lat,
                $tier if @examples < 5;
        }
        $r{examples} = \@examples;
        push @ROWS, \%r;
    }
}

#----------------------------------------------------------------------------
# the table

sub codes_str {
    my ($c) = @_;
    return join ' ', map { ($_ == 0 ? 'hang' : $_ < 0 ? 'err' : $_)
                           . ":$c->{$_}" } sort { $a <=> $b } keys %$c;
}

say '';
say sprintf "%-11s %-3s %7s  %-36s %5s %5s %5s %5s %8s  %s", 'fault',
            'ngx', 'reqs', 'statuses', '503', 'wrong', 'other', 'hangs',
            'max ms', 'tiers';
say '-' x 106;
for my $r (@ROWS) {
    say sprintf "%-11s %-3s %7d  %-36s %5d %5d %5d %5d %8.0f  %s",
        $r->{phase}, $r->{nginx}, $r->{n}, codes_str($r->{codes}),
        $r->{fallback}, $r->{wrong}, $r->{bad}, $r->{hang}, $r->{max} * 1000,
        join(' ', map { "$_:$r->{tiers}{$_}" } sort keys %{ $r->{tiers} });
}
say '';
say "503: the documented fallback (503 with Retry-After) for a request "
  . "that needed PostgreSQL and could not have it; wrong: a 200 where the "
  . "baseline said 401/403 (must be 0); other: any other status than the "
  . "baseline's or that fallback, a 503 for a cached pair among them "
  . "(must be 0); hangs: no answer within ${TIMEOUT}s (must be 0).";

# the checks
for my $ph (@PHASES) {
    my @l = grep { $_->{phase} eq $ph->{name} } @ROWS;
    my $pairs1 = keys %{ $ph->{l1} };
    my $pairs2 = keys %{ $ph->{l2} };
    say "$ph->{name}: $pairs1/", scalar @PAIRS, " pairs in L1 of both l1 "
      . "workers, $pairs2 in Redis for l2"
      . join('', map { "; $_" } @{ $ph->{notes} })
      . (grep({ $_->{retried} } @l)
         ? '; ' . join(', ', map({ "$_->{nginx} retried $_->{retried}" }
                                 grep({ $_->{retried} } @l)))
           . ' on a new connection' : '');
    fail_say("$ph->{name}: $ph->{fail}") if $ph->{fail};
    for my $r (@l) {
        if ($r->{n} == 0) {
            fail_say("$ph->{name} $r->{nginx}: no request at all");
        }
        if ($r->{wrong} || $r->{bad} || $r->{hang}) {
            fail_say("$ph->{name} $r->{nginx}: $r->{wrong} wrong, $r->{bad} "
                   . "other, $r->{hang} hang(s): "
                   . join('; ', @{ $r->{examples} }));
        }
    }
    if (($ph->{fault} // '') eq 'redis-stop') {
        my ($r) = grep { $_->{nginx} eq 'l2' } @l;
        my $bound = $BREAKER{failures} * $WORKERS
                  * (1 + int($PHASE / $BREAKER{recovery})) + 4;
        say "redis-stop: $r->{slow} l2 request(s) waited the Redis timeout "
          . "for the stopped Redis"
          . ($HAS_BREAKER ? " (breaker bound $bound)" : " (no breaker)");
        fail_say("redis-stop l2: $r->{slow} requests waited for the stopped "
               . "Redis, the breaker should have opened (at most $bound)")
            if $HAS_BREAKER && $r->{slow} > $bound;
    }
}

# the error logs: no crash, nothing worse than error
for my $n (@NAMES) {
    my $log = slurp("$NGINX{$n}{prefix}/logs/error.log") // '';
    my @bad = grep { /exited on signal|\[(?:alert|crit|emerg)\]/ }
              split /\n/, $log;
    if (@bad) {
        fail_say("nginx $n: " . scalar(@bad) . " crash/alert/crit line(s) "
               . "in error.log, first: $bad[0]");
    }
    my $errors = () = $log =~ /\[error\]/g;
    say "nginx $n error.log: $errors [error] line(s), "
      . scalar(@bad) . " crash/alert/crit";
}

say '';
if (@FAIL) {
    say sprintf "faults: FAILED (%d, after %.0f s):", scalar @FAIL, time - $^T;
    say "  $_" for @FAIL;
    exit 1;
}
say sprintf "faults: all checks passed (%d requests, %.0f s)", scalar @REQ,
            time - $^T;
exit 0;
