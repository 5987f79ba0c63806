#!/usr/bin/perl
#
# bench/authz.pl NGINX_BIN MODULE_SO   (make bench-authz; make bench runs it
#                                       after bench/run.sh)
#
# What authorization costs a request, tier by tier, measured with wrk in one
# run against a module-off baseline, the method of bench/run.sh: nginx (one
# worker) pinned to CPU 0, wrk pinned to CPU 1, loopback only, paths run in
# interleaved rounds (off, L1, L2, L3, off, L1, ...), medians over rounds,
# ratios to "off", the nginx worker's CPU time per request from /proc.
# Every protected request is GET /gen/UUID of a small static file
# (try_files, so the access phase runs), with an HS256 token: cheap to
# verify, so what differs between paths is the authorization work.
#
#   off    the same file and the same regex location (which captures the
#          id), no module directives (the same token is sent)
#   l1     velro_authz on, one user and one generation repeated: after the
#          first request, the token, the user and the decision are all L1
#   l2     "velro_cache_ttl ownership|team_access|project_vis l1=0" and velro_redis:
#          the token and the user come from L1, the memberships and the
#          generation from one Redis MGET, then the project (its id learnt
#          from the generation) in a second round trip
#   l2x    the same with "velro_redis ... scripts=on": one round trip,
#          the script's EVALSHA does the MGET and the project's GET
#   l2p    "velro_cache_ttl ownership|team_access l1=0": the project stays
#          in L1 (projects are few and shared by many generations), so the
#          memberships and the generation come from one MGET: the L2 path
#          of a generation not seen by this worker yet
#   l1base, l2base, l3base  with BENCH_BASE_MODULE=SO (another build,
#          main's say): the l1, l2 and l3 paths with that module, in the
#          same interleaved rounds (added when l1, l2 or l3 is there)
#          (l1, l2, l2x, l2p: the Redis commands nginx sent per request, from
#          INFO commandstats, are printed below the table)
#   l3     the same with no velro_redis: every request is an L3 subrequest,
#          a PostgreSQL query through the worker's pool (pool=BENCH_PG_POOL);
#          pg_stat_activity is sampled during the run (max of the client
#          backends of this nginx: pool connections plus its LISTEN one)
#   zipf   worker_processes 2 (sharing both CPUs with wrk), 10,000 users,
#          100,000 generations, 10,000 projects, wrk with bench/zipf.lua
#          drawing user and generation by Zipf(1.1) per request, L1 and L2
#          on; from an access log of $velro_authz_cache, for a warm-up of
#          BENCH_ZIPF_WARMUP_REQUESTS (1,000,000) requests then a measured
#          window of BENCH_ZIPF_MEASURED_REQUESTS (1,000,000): the hit rate
#          (decisions without L3), the L1-only rate, L3 lookups per 1,000
#          requests, and the ideal for the same sequence (an infinite cache
#          that knows every entity it has seen); L1 entries and bytes after
#          the run (velro_status)
#   inval  worker_processes BENCH_INVAL_WORKERS (4), BENCH_INVAL_CHANGES
#          role flips viewer<->editor of one membership, each committed by a
#          persistent psql; time from the COMMIT returning to every worker
#          answering the new decision (fresh connections in a tight loop
#          until BENCH_INVAL_STREAK answers in a row, from every worker, show
#          it); BENCH_INVAL_LISTEN=off: velro_pg_listen off (the log by
#          cursor alone, every velro_pg_log_poll)
#   mem    bench/l1_memory.c: the heap the L1 cache really uses, against
#          its configured size, once full of authorization-sized entries
#   batch  latency at low concurrency (wrk -t1 -c1 and -c8:
#          BENCH_LAT_CONNECTIONS), one nginx worker on CPU 0: ONE L1-hit
#          GET /gen/UUID (the l1 path's request) against ONE POST /batch
#          (velro_batch max=20, same server) of BENCH_BATCH_ITEMS items,
#          each that same GET, same token (bench/post.lua sends the body);
#          p50/p99/avg, requests/s and items/s, ratio batch p50 / single
#          p50.  The resource is a map of $uri there: the regex location's
#          named capture $gen came out empty in batch items (checked on a
#          second server configured as the l1 path, and reported)
#   login  the same method: GET /login proxied (upstream keepalive) to a
#          stand-in auth endpoint in the same nginx that answers
#          {"access_token":TOKEN} (return 200, user 1's HS256 token
#          inlined), with velro_warm_on_login on (each login: the token
#          verified, a background L3 warm subrequest, velro_l3_warm in
#          PostgreSQL, then L1 and Redis writes) against the same location
#          with it off; p50 difference, PostgreSQL transactions per login.
#          /_l3 there has subrequest_output_buffer_size for the warm
#          answer.  The warm subrequest belongs to the login's connection:
#          with keepalive nginx reads the next request once it is done, so
#          back-to-back wrk latencies include the previous login's warm.
#          The target is judged on paced runs (-p: bench/pace.lua, each
#          connection waits BENCH_LOGIN_PACE ms between logins)
#
# Environment:
#   BENCH_PATHS         "off l1 l2 l3 batch login zipf inval mem" (any
#                       subset, and l2x; off is added when l1, l2, l2x or
#                       l3 is there)
#   BENCH_RUNS (3) BENCH_SECONDS (10) BENCH_CONNECTIONS (32)
#   BENCH_THREADS (1)   wrk threads for off/l1/l2/l3
#   BENCH_PG_POOL (8)   velro_pg pool=N (per worker)
#   BENCH_BUDGET_HOSTS (100), BENCH_BUDGET_WORKERS (16)   the fleet the
#                       l3 path's connection budget line projects to
#   BENCH_ZIPF_SECONDS (10)  a measured round; BENCH_ZIPF_WARMUP (same) a
#                       warm-up round; rounds repeat until the window holds
#                       BENCH_ZIPF_WARMUP_REQUESTS / BENCH_ZIPF_MEASURED_
#                       REQUESTS (1,000,000 each) requests
#   BENCH_ZIPF_MODES ("independent team"), BENCH_ZIPF_S (1.1),
#   BENCH_ZIPF_THREADS (2), BENCH_USERS (10000), BENCH_GENERATIONS (100000)
#   BENCH_INVAL_CHANGES (100) BENCH_INVAL_STREAK (20) BENCH_INVAL_TIMEOUT (3 s)
#   BENCH_INVAL_WORKERS (4) BENCH_INVAL_LISTEN (on) BENCH_INVAL_JITTER (0):
#                       a random pause of up to this many ms before each
#                       change (0: the next change follows at once, just
#                       after the subscriber's read that carried the last:
#                       with velro_pg_listen off, a whole poll interval)
#   BENCH_L1_SIZES ("8m 64m 200m") BENCH_L1_ENTRIES (1000000)
#   BENCH_LAT_CONNECTIONS ("1 8")  wrk -c of the batch and login paths
#                       (-t1, BENCH_RUNS rounds of BENCH_SECONDS)
#   BENCH_BATCH_ITEMS (10)  items per batch (1..20)
#   BENCH_BATCH_FLOOR (0)   1: the batch path also measures the floor, the
#                       same pair with no module work per item: GET
#                       /flr/UUID (the same regex location and try_files,
#                       no velro_jwt/velro_authz) alone and as batch items
#   BENCH_WARM_LIMIT (100)  velro_warm_limit of the login path
#   BENCH_LOGIN_PACE (20)   ms each connection waits between paced logins
#   BENCH_LOG_LEVEL (warn)  nginx error_log level (info: the module's
#                       decisions; slows everything down)
#   BENCH_PERF=1        perf record the nginx workers during each path's
#                       first round: build/bench/authz.*/perf-PATH.txt
#                       (BENCH_PERF=g: with call graphs, perf-PATH.data)
#   BENCH_BACKEND_CPU   pin PostgreSQL and Redis to these CPUs (taskset
#                       list, e.g. 1); default: not pinned
# Output: stdout and build/bench/authz-results.txt; nginx prefixes, logs and
# raw wrk output stay in build/bench/authz.* until the next run.  PostgreSQL
# and Redis are throwaway instances (t/lib/Velro/Backends.pm) on free ports;
# everything started is stopped on exit, Ctrl-C included.  About 11 minutes
# with the defaults (batch 2 of them, login 4).

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
use File::Basename qw(dirname basename);
use File::Copy qw(copy);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use IPC::Open2;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

use Velro::Backends;
use Velro::Proc qw(slurp stat_fields children nginx_workers);
use Velro::Token;

$| = 1;

@ARGV == 2 or die "usage: perl bench/authz.pl NGINX_BIN MODULE_SO\n";

my ($NGINX_BIN, $MODULE) = @ARGV;
$MODULE = abs_path($MODULE) if -e $MODULE;
-x $NGINX_BIN or die "bench: $NGINX_BIN is not executable\n";
-e $MODULE or die "bench: $MODULE does not exist\n";

my $TOP = abs_path("$FindBin::Bin/..");
my $OUT = "$TOP/build/bench";
my $KEYS = "$TOP/t/keys";
my $MAIN_PID = $$;

sub env { my ($k, $d) = @_; my $v = $ENV{$k}; defined $v && $v ne '' ? $v : $d }

my $RUNS = env(BENCH_RUNS => 3);
my $SECS = env(BENCH_SECONDS => 10);
my $CONNS = env(BENCH_CONNECTIONS => 32);
my $THREADS = env(BENCH_THREADS => 1);
my $POOL = env(BENCH_PG_POOL => 8);
my $BUDGET_HOSTS = env(BENCH_BUDGET_HOSTS => 100);
my $BUDGET_WORKERS = env(BENCH_BUDGET_WORKERS => 16);
my $ZSECS = env(BENCH_ZIPF_SECONDS => 10);
my $ZWARM = env(BENCH_ZIPF_WARMUP => $ZSECS);
# the warm-up and the measured window run (in rounds of BENCH_ZIPF_WARMUP
# and BENCH_ZIPF_SECONDS seconds) until they hold this many requests
my $ZWARM_REQS = env(BENCH_ZIPF_WARMUP_REQUESTS => 1_000_000);
my $ZMEAS_REQS = env(BENCH_ZIPF_MEASURED_REQUESTS => 1_000_000);
my @ZMODES = split ' ', env(BENCH_ZIPF_MODES => 'independent team');
my $ZS = env(BENCH_ZIPF_S => 1.1);
my $ZTHREADS = env(BENCH_ZIPF_THREADS => 2);
# BENCH_ZIPF_WARMUP_REQUESTS, BENCH_ZIPF_MEASURED_REQUESTS: see below
my $NUSERS = env(BENCH_USERS => 10000);
my $NGENS = env(BENCH_GENERATIONS => 100000);
my $NTEAMS = 1000;
my $NPROJECTS = 10000;
my $ICHANGES = env(BENCH_INVAL_CHANGES => 100);
my $ISTREAK = env(BENCH_INVAL_STREAK => 20);
my $ITIMEOUT = env(BENCH_INVAL_TIMEOUT => 3);
my $IWORKERS = env(BENCH_INVAL_WORKERS => 4);
my $ILISTEN = env(BENCH_INVAL_LISTEN => 'on');
my $IJITTER = env(BENCH_INVAL_JITTER => 0);
my @L1_SIZES = split ' ', env(BENCH_L1_SIZES => '8m 64m 200m');
my $L1_ENTRIES = env(BENCH_L1_ENTRIES => 1000000);
my $BACKEND_CPU = env(BENCH_BACKEND_CPU => '');
my @LAT_CONNS = split ' ', env(BENCH_LAT_CONNECTIONS => '1 8');
my $BATCH_ITEMS = env(BENCH_BATCH_ITEMS => 10);
my $BATCH_FLOOR = env(BENCH_BATCH_FLOOR => 0);
my $LOG_LEVEL = env(BENCH_LOG_LEVEL => 'warn');
my $WARM_LIMIT = env(BENCH_WARM_LIMIT => 100);
my $LOGIN_PACE = env(BENCH_LOGIN_PACE => 20);
my $NGINX_CPU = 0;
my $WRK_CPU = 1;

my @ALL_PATHS = qw(off l1 l2 l3 batch login zipf inval mem);
my %PATH = map { $_ => 1 } split ' ', env(BENCH_PATHS => "@ALL_PATHS");
push @ALL_PATHS, qw(l2x l2p l1base l2base l3base);  # not in the default list
my $BASE_MODULE = $ENV{BENCH_BASE_MODULE};
if ($BASE_MODULE) {
    -e $BASE_MODULE or die "bench: $BASE_MODULE does not exist\n";
    $PATH{"${_}base"} = 1 for grep { $PATH{$_} } qw(l1 l2 l3);
}
for my $p (keys %PATH) {
    grep { $_ eq $p } @ALL_PATHS
        or die "bench: unknown path \"$p\" in BENCH_PATHS (@ALL_PATHS)\n";
}
$BATCH_ITEMS =~ /^\d+$/ && $BATCH_ITEMS >= 1 && $BATCH_ITEMS <= 20
    or die "bench: BENCH_BATCH_ITEMS must be 1 to 20 (velro_batch max=20)\n";
grep { !/^\d+$/ || $_ < 1 } @LAT_CONNS
    and die "bench: BENCH_LAT_CONNECTIONS: connection counts, e.g. \"1 8\"\n";
$PATH{off} = 1 if grep { $PATH{$_} } qw(l1 l2 l2x l2p l3);
my @TIERS = grep { $PATH{$_} } qw(off l1 l1base l2 l2base l2x l2p l3 l3base);
my $NEED_PG = grep { $PATH{$_} } qw(off l1 l2 l2x l2p l3 batch login zipf inval);

if ($NUSERS < $NTEAMS * 4 || $NGENS % $NTEAMS) {
    die "bench: BENCH_USERS must be >= 4000, BENCH_GENERATIONS a multiple of 1000\n";
}

for my $tool ($NEED_PG ? qw(wrk taskset) : (), $PATH{mem} ? 'cc' : ()) {
    grep { -x "$_/$tool" } split /:/, $ENV{PATH}
        or die "bench: $tool is not installed (make deps EXTRA_PACKAGES=wrk)\n";
}
if ($NEED_PG && `getconf _NPROCESSORS_ONLN` < 2) {
    die "bench: needs 2 CPUs (nginx on CPU 0, wrk on CPU 1)\n";
}

make_path($OUT);
remove_tree($_) for glob "$OUT/authz.*";
my $WORK = tempdir("authz.XXXXXX", DIR => $OUT);
chmod 0755, $WORK;      # the workers (nobody) serve a file from it
my $RESULTS = "$OUT/authz-results.txt";
open my $RES, '>', $RESULTS or die "bench: $RESULTS: $!\n";
$RES->autoflush(1);

sub say {
    my $s = join('', @_) . "\n";
    print $s;
    print $RES $s;
}

my @WARN;       # printed again at the end

sub warn_say {
    say "  WARNING: @_";
    push @WARN, "@_";
}

#----------------------------------------------------------------------------
# what we start, and stopping it whatever happens

my @NGINX;          # { name, prefix, pid, wpids }
my %WRK;            # pid => 1 while a wrk runs
my @COPROC;         # { pid, in, out }

sub stop_everything {
    for my $pid (keys %WRK) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
    %WRK = ();
    nginx_stop($_) for @NGINX;
    for my $c (@COPROC) {
        close $c->{in};
        kill 'TERM', $c->{pid};
        waitpid $c->{pid}, 0;
    }
    @COPROC = ();
}

END {
    if ($$ == $MAIN_PID) {
        my $status = $?;
        stop_everything();
        $? = $status;
    }
    # then Velro::Backends' END stops PostgreSQL and Redis
}

#----------------------------------------------------------------------------
# /proc

sub cpu_ticks {         # utime + stime, undef when gone
    my ($pid) = @_;
    my @f = stat_fields($pid) or return undef;
    return undef if $f[0] eq 'Z';
    return $f[11] + $f[12];
}

sub busy_ticks {        # all CPUs: user nice system irq softirq steal
    my $s = slurp('/proc/stat') // return 0;
    my ($l) = $s =~ /^cpu (.*)$/m;
    my @f = split ' ', $l;
    return $f[0] + $f[1] + $f[2] + $f[5] + $f[6] + $f[7];
}

sub backend_pids {
    my @p;
    if (my $pg = $Velro::Backends::PG{pid}) {
        push @p, $pg, children($pg);
    }
    push @p, $Velro::Backends::REDIS{pid} if $Velro::Backends::REDIS{pid};
    return @p;
}

sub backend_ticks {     # pid => ticks: backends may come and go
    my %t;
    for my $p (backend_pids()) {
        my $t = cpu_ticks($p);
        $t{$p} = $t if defined $t;
    }
    return \%t;
}

sub ticks_delta {
    my ($t0, $t1) = @_;
    my $d = 0;
    for my $p (keys %$t1) {
        $d += $t1->{$p} - ($t0->{$p} // 0);
    }
    return $d;
}

my $HZ = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

#----------------------------------------------------------------------------
# backends

my ($PG_CONNINFO, $REDIS_PORT, $PSQL_BIN);

sub coproc_psql {       # a persistent psql: one process, no fork per query
    my ($db) = @_;
    my $pg = \%Velro::Backends::PG;
    my $pid = open2(my $out, my $in, "$pg->{bindir}/psql", '-X', '-q', '-A',
                    '-t', '-h', $pg->{sock}, '-p', $pg->{port},
                    '-U', 'postgres', '-d', $db);
    $in->autoflush(1);
    my $c = { pid => $pid, in => $in, out => $out, db => $db };
    push @COPROC, $c;
    return $c;
}

sub coproc_do {         # lines of output; dies on an SQL error
    my ($c, $sql) = @_;
    $sql .= ';' unless $sql =~ /;\s*\z/;
    print { $c->{in} } "$sql\n\\echo __velro_end__ :ERROR\n";
    my @lines;
    while (defined(my $l = readline $c->{out})) {
        chomp $l;
        if ($l =~ /^__velro_end__ (\S+)/) {
            die "bench: SQL failed ($c->{db}): $sql\n" if $1 eq 'true';
            return @lines;
        }
        push @lines, $l;
    }
    die "bench: psql ($c->{db}) exited\n";
}

sub pin_backends {
    return if $BACKEND_CPU eq '';
    for my $p (backend_pids()) {
        system("taskset -a -p -c $BACKEND_CPU $p >/dev/null 2>&1");
    }
}

my %UID;        # index => uuid, computed as bench/gen-data.sql does
sub md5uuid {
    require Digest::MD5;
    my $h = Digest::MD5::md5_hex($_[0]);
    return join '-', substr($h, 0, 8), substr($h, 8, 4), substr($h, 12, 4),
                     substr($h, 16, 4), substr($h, 20);
}
sub user_id { md5uuid("velro-user-$_[0]") }
sub gen_id { md5uuid("velro-gen-$_[0]") }

#----------------------------------------------------------------------------
# nginx

my ($MODULE_COPY, $BASE_COPY);

sub nginx_prefix {
    my (%o) = @_;       # name, workers, affinity, reuseport, http, servers,
                        # base (BENCH_BASE_MODULE's copy)
    my $prefix = "$WORK/nginx-$o{name}";
    my $so = $o{base} ? $BASE_COPY : $MODULE_COPY;
    make_path("$prefix/conf", "$prefix/logs");
    my $aff = $o{affinity} ? "worker_cpu_affinity $o{affinity};\n" : '';
    open my $fh, '>', "$prefix/conf/nginx.conf" or die "$prefix: $!\n";
    print $fh <<EOF;
load_module $so;

worker_processes $o{workers};
${aff}error_log logs/error.log $LOG_LEVEL;
pid logs/nginx.pid;

events {
    worker_connections 4096;
}

http {
    access_log off;
    default_type text/plain;
    keepalive_requests 100000000;
    keepalive_timeout 60s;

$o{http}
$o{servers}
}
EOF
    close $fh;
    return $prefix;
}

# the module's velro_pg/velro_redis lines; each nginx its own
# application_name, so that pg_stat_activity tells them apart
sub backends_conf {
    my (%o) = @_;       # name, redis, redis_opts (" k=v ..."), l1off
    $o{redis_opts} //= '';
    my $s = qq{    velro_pg "$PG_CONNINFO application_name=velro-bench-$o{name}" pool=$POOL;\n};
    $s .= "    velro_redis 127.0.0.1:$REDIS_PORT$o{redis_opts};\n" if $o{redis};
    if ($o{l1off}) {
        # the token and the user stay in L1: the memberships, the
        # generation and the project come from L2/L3
        $s .= "    velro_cache_ttl $_ l1=0;\n"
            for qw(ownership team_access),
                $o{l1off} eq 'project' ? () : 'project_vis';
    }
    return $s . ($o{extra} // '');
}

sub authz_server {
    my (%o) = @_;       # port, reuseport, log, extra (more locations),
                        # resource (default $gen), l3 (more /_l3 lines)
    my $rp = $o{reuseport} ? ' reuseport' : '';
    my $res = $o{resource} // '$gen';
    my $l3 = $o{l3} // '';
    my $log = $o{log} ? "        access_log $o{log};\n" : '';
    my $common = <<EOF;
            velro_jwt on;
            velro_jwt_key_file $KEYS/jwks.json;
            velro_jwt_algorithms HS256;
            velro_authz on;
            velro_authz_resource $res;
            velro_authz_fallback /_l3;
            try_files /bench.txt =404;
EOF
    return <<EOF;
    server {
        listen 127.0.0.1:$o{port}$rp;
        root $WORK/html;
$log
        location ~ ^/gen/(?<gen>[^/]+)\$ {
$common        }

        location ~ ^/chk/(?<gen>[^/]+)\$ {
$common            add_header X-Authz "\$velro_authz_cache \$velro_role \$velro_authz_decision" always;
            add_header X-Pid \$pid always;
        }

        location ~ ^/w/(?<gen>[^/]+)\$ {
$common            velro_authz_action write;
            add_header X-Pid \$pid always;
        }

        location = /_l3 {
            internal;
            velro_authz_pg;
$l3        }
@{[ $o{extra} // '' ]}    }
EOF
}

sub off_server {
    my (%o) = @_;
    my $rp = $o{reuseport} ? ' reuseport' : '';
    my $log = $o{log} ? "        access_log $o{log};\n" : '';
    return <<EOF;
    server {
        listen 127.0.0.1:$o{port}$rp;
        root $WORK/html;
$log
        # the same regex location, without the module's directives
        location ~ ^/gen/(?<gen>[^/]+)\$ {
            try_files /bench.txt =404;
        }
    }
EOF
}

sub nginx_start {
    my ($name, $prefix, $workers) = @_;
    my $err = `$NGINX_BIN -p $prefix/ -c conf/nginx.conf -t -q 2>&1`;
    die "bench: nginx -t failed for $name:\n$err" if $?;

    my $pid = fork // die "bench: fork: $!\n";
    if ($pid == 0) {
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
        Velro::Backends::_die_with_parent(15);  # even if we are SIGKILLed
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$prefix/logs/stderr.log";
        open STDERR, '>&', \*STDOUT;
        { no warnings 'exec';
          exec $NGINX_BIN, '-p', "$prefix/", '-c', 'conf/nginx.conf',
               '-g', 'daemon off;'; }
        POSIX::_exit(127);
    }
    my $n = { name => $name, prefix => $prefix, pid => $pid,
              nworkers => $workers };
    push @NGINX, $n;

    my $until = time + 10;
    while (time < $until) {
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $n->{pid};
            die "bench: nginx $name exited at start:\n"
              . (slurp("$prefix/logs/error.log") // '')
              . (slurp("$prefix/logs/stderr.log") // '');
        }
        my @w = nginx_workers($n);
        if (@w >= $workers) {
            $n->{wpids} = [ @w ];
            return $n;
        }
        sleep 0.02;
    }
    die "bench: nginx $name: no workers after 10 s\n";
}

sub nginx_stop {
    my ($n) = @_;
    my $pid = delete $n->{pid} or return;
    kill 'TERM', $pid;
    my $until = time + 5;
    while (waitpid($pid, WNOHANG) == 0) {
        if (time > $until) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
            last;
        }
        sleep 0.02;
    }
    # workers of a killed master
    for my $w (@{ $n->{wpids} || [] }) {
        kill 'KILL', $w if defined cpu_ticks($w);
    }
}

sub nginx_check_crash {
    my ($n) = @_;
    my $log = slurp("$n->{prefix}/logs/error.log") // '';
    my @c = $log =~ /(exited on signal \d+[^\n]*)/g;
    return @c ? scalar(@c) . " worker crash(es): $c[0]" : '';
}

#----------------------------------------------------------------------------
# HTTP, one request per connection

sub http {
    my ($port, $path, %o) = @_;     # token, method, timeout, body (JSON)
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or return (0, {}, '');
    my $req = ($o{method} // 'GET') . " $path HTTP/1.0\r\nHost: bench\r\n";
    $req .= "Authorization: Bearer $o{token}\r\n" if $o{token};
    if (defined $o{body}) {
        $req .= "Content-Type: application/json\r\nContent-Length: "
              . length($o{body}) . "\r\n";
    }
    syswrite $s, "$req\r\n" . ($o{body} // '');
    my $sel = IO::Select->new($s);
    my $buf = '';
    while ($sel->can_read($o{timeout} // 5)) {
        my $n = sysread $s, $buf, 65536, length $buf;
        last unless $n;
    }
    close $s;
    my ($code) = $buf =~ m{^HTTP/1\.\d (\d{3})};
    my %h;
    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    for (split /\r\n/, $head // '') {
        $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    return ($code // 0, \%h, $body // '');
}

#----------------------------------------------------------------------------
# wrk

sub us {
    my ($v) = @_;
    return $1 if $v =~ /^([\d.]+)us$/;
    return $1 * 1e3 if $v =~ /^([\d.]+)ms$/;
    return $1 * 60e6 if $v =~ /^([\d.]+)m$/;
    return $1 * 1e6 if $v =~ /^([\d.]+)s$/;
    return $v + 0;
}

# One wrk run: returns a hash of figures, or dies with wrk's output.
#   label, run, n (nginx), url, secs, conns, threads, cpu (taskset list or
#   undef), token | script + args, sample (a code ref called every 50 ms)
sub wrk_run {
    my (%o) = @_;
    my $raw = "$WORK/wrk-$o{label}-$o{run}.txt";
    my @cmd = ('wrk', "-t$o{threads}", "-c$o{conns}", "-d$o{secs}s",
               '--latency');
    push @cmd, '-H', "Authorization: Bearer $o{token}" if $o{token};
    push @cmd, '-H', $_ for @{ $o{headers} || [] };
    push @cmd, '-s', $o{script} if $o{script};
    push @cmd, $o{url};
    push @cmd, '--', @{ $o{args} } if $o{args};
    unshift @cmd, 'taskset', '-c', $o{cpu} if defined $o{cpu};

    my $n = $o{n};
    my %w0 = map { $_ => cpu_ticks($_) } @{ $n->{wpids} };
    my $b0 = backend_ticks();
    my $m0 = busy_ticks();
    my @t0 = times;
    my $start = time;

    my $pid = fork // die "bench: fork: $!\n";
    if ($pid == 0) {
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $raw;
        open STDERR, '>&', \*STDOUT;
        { no warnings 'exec'; exec @cmd; }
        POSIX::_exit(127);
    }
    $WRK{$pid} = 1;

    # BENCH_PERF=1: a flat profile of the workers in each path's first round
    my $perf;
    if ($ENV{BENCH_PERF} && $o{run} eq '1' && $o{secs} > 2) {
        my $data = "$WORK/perf-$o{label}.data";
        $perf = fork // die "bench: fork: $!\n";
        if ($perf == 0) {
            open STDIN, '<', '/dev/null';
            open STDOUT, '>', "$data.log";
            open STDERR, '>&', \*STDOUT;
            { no warnings 'exec';
              exec 'perf', 'record', '-F', '1999', '-o', $data,
                   $ENV{BENCH_PERF} eq 'g' ? ('--call-graph', 'dwarf,16384') : (),
                   '-p',
                   join(',', @{ $n->{wpids} }), '--', 'sleep', $o{secs} - 1; }
            POSIX::_exit(127);
        }
        $WRK{$perf} = 1;
    }

    while (waitpid($pid, WNOHANG) == 0) {
        $o{sample}->() if $o{sample};
        sleep 0.05;
    }
    my $st = $?;
    delete $WRK{$pid};
    my $elapsed = time - $start;
    if ($perf) {
        waitpid $perf, 0;
        delete $WRK{$perf};
        my $data = "$WORK/perf-$o{label}.data";
        system("perf report -i $data --stdio --no-children --sort dso,symbol"
             . " --percent-limit 0.3 > $WORK/perf-$o{label}.txt 2>/dev/null");
    }

    my @t1 = times;
    my $m1 = busy_ticks();
    my $b1 = backend_ticks();
    my ($dw, $crashed) = (0, 0);
    for my $w (@{ $n->{wpids} }) {
        my $t = cpu_ticks($w);
        if (!defined $t || !defined $w0{$w}) { $crashed = 1; next }
        $dw += $t - $w0{$w};
    }
    my $db = ticks_delta($b0, $b1);
    my $dc = ($t1[2] + $t1[3]) - ($t0[2] + $t0[3]);    # seconds

    my $text = slurp($raw) // '';
    die "bench: wrk failed for $o{label} (status $st):\n$text" if $st;

    my %r = (label => $o{label}, run => $o{run}, secs => $o{secs});
    for (split /\n/, $text) {
        $r{p50} = us($1) if /^\s*50%\s+(\S+)/;
        $r{avg} = us($1) if /^\s+Latency\s+([\d.]+[a-z]*)\s/;
        $r{p99} = us($1) if /^\s*99%\s+(\S+)/;
        $r{n} = $1 if /^\s*(\d+) requests in/;
        $r{rps} = $1 if /^Requests\/sec:\s+([\d.]+)/;
        $r{bad} = $1 if /Non-2xx or 3xx responses:\s+(\d+)/;
        if (/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/) {
            $r{err} = $1 + $2 + $3 + $4;
        }
    }
    die "bench: no result from wrk for $o{label}:\n$text"
        unless $r{rps} && $r{n};
    $r{bad} //= 0;
    $r{err} //= 0;
    $r{crashed} = $crashed;
    my $cpu = $dw / $HZ;
    $r{ncpu} = 100 * $cpu / $elapsed;
    $r{cpr} = $cpu * 1e6 / $r{n};
    $r{bcpu} = 100 * $db / $HZ / $elapsed;
    $r{wcpu} = 100 * $dc / $elapsed;
    my $oth = ($m1 - $m0 - $dw - $db) / $HZ - $dc;
    $r{ocpu} = $oth > 0 ? 100 * $oth / $elapsed : 0;
    return \%r;
}

# INFO commandstats since the last CONFIG RESETSTAT: calls per command sent
# by a client (nginx), and trips (their sum).  Redis counts the commands a
# script runs too: each EVALSHA that did not fail ran one MGET and at most
# one GET, taken out here (nginx sends no GET of its own on these paths).
sub redis_commands {
    my %c;
    for (split /\n/, Velro::Backends::redis_cli(qw(INFO commandstats))) {
        next unless /^cmdstat_([^:]+):calls=(\d+),.*failed_calls=(\d+)/;
        my ($cmd, $calls, $failed) = ($1, $2, $3);
        next if $cmd =~ /^(?:config|info)\b/;
        $c{$cmd} = $calls;
        $c{'evalsha-ok'} = $calls - $failed if $cmd eq 'evalsha';
    }
    my $ok = delete $c{'evalsha-ok'} // 0;
    for my $inner (qw(mget get)) {
        next unless $c{$inner};
        $c{$inner} -= $c{$inner} < $ok ? $c{$inner} : $ok;
        delete $c{$inner} unless $c{$inner};
    }
    my $t = 0;
    $t += $_ for values %c;
    $c{trips} = $t;
    return \%c;
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return 0 unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

sub fmt_us {
    my ($v) = @_;
    return sprintf('%.0f', $v) if $v < 100000;
    return sprintf('%.0fms', $v / 1000);
}

#----------------------------------------------------------------------------
# start: the backends, the data, the tokens

my $NGINX_VERSION = `$NGINX_BIN -v 2>&1`;
$NGINX_VERSION =~ s/.*?: //s;
chomp $NGINX_VERSION;
my ($CPU_MODEL) = (slurp('/proc/cpuinfo') // '') =~ /^model name\s*:\s*(.*)$/m;
my $NCPU = `getconf _NPROCESSORS_ONLN` + 0;

say "velro authz bench: ", scalar(gmtime), " UTC, $NGINX_VERSION";
{
    require Digest::MD5;
    open my $fh, '<', $MODULE or die;
    binmode $fh;
    my $md5 = Digest::MD5->new->addfile($fh)->hexdigest;
    say "  module $MODULE (", scalar(gmtime((stat $MODULE)[9])),
        " UTC, md5 ", substr($md5, 0, 12), "), a copy loaded";
}
say "  ", ($CPU_MODEL // 'unknown CPU'), ", $NCPU CPUs; paths: ",
    join(' ', grep { $PATH{$_} } @ALL_PATHS);

# how busy the machine is before we start
{
    my $t0 = busy_ticks();
    sleep 1;
    my $pct = 100 * (busy_ticks() - $t0) / $HZ;
    say sprintf("  load average %s; busy before start: %.0f%% of one CPU",
                join(' ', (split ' ', slurp('/proc/loadavg'))[0 .. 2]), $pct);
    warn_say "other processes are using the CPUs: expect noisy numbers"
        if $pct > 20;
}

make_path("$WORK/html", "$WORK/modules");
chmod 0755, "$WORK/html";
{
    open my $fh, '>', "$WORK/html/bench.txt" or die;
    print $fh "ok\n";
    close $fh;
    chmod 0644, "$WORK/html/bench.txt";
}

# nginx maps the module file: a "make module" that rewrites it in place
# would crash the workers mid-run.  Load a copy.
$MODULE_COPY = "$WORK/modules/ngx_http_velro_module.so";
copy($MODULE, $MODULE_COPY) or die "bench: copy $MODULE: $!\n";
if ($BASE_MODULE) {
    $BASE_COPY = "$WORK/modules/base.so";
    copy($BASE_MODULE, $BASE_COPY) or die "bench: copy $BASE_MODULE: $!\n";
    say "  base module (l1base, l2base, l3base) $BASE_MODULE (",
        scalar(gmtime((stat $BASE_MODULE)[9])), " UTC)";
}

my (%TOKEN, $PAIR_USER, $PAIR_GEN, $PAIR_ROLE);

if ($NEED_PG) {
    my $t0 = time;
    Velro::Backends::start_pg(conf => { shared_buffers => "'128MB'",
                                        max_connections => 300 });
    $PG_CONNINFO = $ENV{TEST_NGINX_PG_CONNINFO};
    my $sql = slurp("$TOP/bench/gen-data.sql") or die "bench: gen-data.sql\n";
    Velro::Backends::psql($sql, args => [
        '-v', "nusers=$NUSERS", '-v', "nteams=$NTEAMS",
        '-v', "nprojects=$NPROJECTS", '-v', "ngens=$NGENS" ]);
    if (grep { $PATH{$_} } qw(off l1 l2 l2x l2p batch login zipf inval)) {
        $REDIS_PORT = Velro::Backends::start_redis();
    }
    pin_backends();

    # paths off..l3: user 1 and generation 1 (team 1, where user 1 is
    # "owner", so admin: allowed to read)
    $PAIR_USER = user_id(1);
    $PAIR_GEN = gen_id(1);
    ($PAIR_ROLE) = Velro::Backends::psql(
        "SELECT coalesce(effective_role, '-') FROM velro_authorize('$PAIR_USER', '$PAIR_GEN')")
        =~ /(\S+)/;
    die "bench: the data set is not what bench/gen-data.sql should make "
      . "(user 1 on generation 1: " . ($PAIR_ROLE // 'no row') . ")\n"
        unless $PAIR_ROLE && $PAIR_ROLE ne '-';

    $TOKEN{pair} = Velro::Token::token(alg => 'HS256',
        claims => { sub => $PAIR_USER, exp => time + 7200 });

    my ($nu, $ng, $nm) = split /\|/, Velro::Backends::psql(
        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM generations),"
      . " (SELECT count(*) FROM team_members)");
    chomp $nm;
    say sprintf("  PostgreSQL %s (port %d, throwaway, fsync and synchronous_commit off),"
              . " %d users, %d generations, %d memberships, loaded in %.1f s",
                (Velro::Backends::psql('SHOW server_version') =~ /^(\S+)/),
                $Velro::Backends::PG{port}, $nu, $ng, $nm, time - $t0);
    say "  Redis ", (`redis-server --version` =~ /v=(\S+)/)[0] // '?',
        " (port $REDIS_PORT, no persistence)" if $REDIS_PORT;
    say "  PostgreSQL and Redis ",
        $BACKEND_CPU ne '' ? "pinned to CPU $BACKEND_CPU" : "not pinned (both CPUs)",
        "; velro_pg pool=$POOL per worker";
}

my %SUMMARY;    # target lines for the end
our %TIER_SEEN; # path => X-Authz seen in the checks
our %NOUSER;    # status => requests logged without $velro_user_id

#----------------------------------------------------------------------------
# off, L1, L2, L3

sub phase_tiers {
    my %port;
    my %used;
    for my $p (@TIERS) {
        my $port;
        do { $port = Velro::Backends::_free_port() } while $used{$port}++;
        $port{$p} = $port;
    }

    my %inst;           # path => nginx
    my @servers_a;
    push @servers_a, off_server(port => $port{off});
    push @servers_a, authz_server(port => $port{l1}) if $PATH{l1};
    my $pa = nginx_prefix(name => 'l1', workers => 1, affinity => '01',
                         http => backends_conf(name => 'l1', redis => 1),
                         servers => join('', @servers_a));
    $inst{off} = $inst{l1} = nginx_start('l1', $pa, 1);

    if ($PATH{l2}) {
        my $pb = nginx_prefix(name => 'l2', workers => 1, affinity => '01',
                             http => backends_conf(name => 'l2', redis => 1,
                                                   l1off => 1),
                             servers => authz_server(port => $port{l2}));
        $inst{l2} = nginx_start('l2', $pb, 1);
    }
    if ($PATH{l1base}) {
        my $pb = nginx_prefix(name => 'l1base', workers => 1, affinity => '01',
                             base => 1,
                             http => backends_conf(name => 'l1base', redis => 1),
                             servers => authz_server(port => $port{l1base}));
        $inst{l1base} = nginx_start('l1base', $pb, 1);
    }
    if ($PATH{l2base}) {
        my $pb = nginx_prefix(name => 'l2base', workers => 1, affinity => '01',
                             base => 1,
                             http => backends_conf(name => 'l2base', redis => 1,
                                                   l1off => 1),
                             servers => authz_server(port => $port{l2base}));
        $inst{l2base} = nginx_start('l2base', $pb, 1);
    }
    if ($PATH{l3base}) {
        my $pc = nginx_prefix(name => 'l3base', workers => 1, affinity => '01',
                             base => 1,
                             http => backends_conf(name => 'l3base', l1off => 1),
                             servers => authz_server(port => $port{l3base}));
        $inst{l3base} = nginx_start('l3base', $pc, 1);
    }
    if ($PATH{l2x}) {
        my $pb = nginx_prefix(name => 'l2x', workers => 1, affinity => '01',
                             http => backends_conf(name => 'l2x', redis => 1,
                                                   redis_opts => ' scripts=on',
                                                   l1off => 1),
                             servers => authz_server(port => $port{l2x}));
        $inst{l2x} = nginx_start('l2x', $pb, 1);
    }
    if ($PATH{l2p}) {
        my $pb = nginx_prefix(name => 'l2p', workers => 1, affinity => '01',
                             http => backends_conf(name => 'l2p', redis => 1,
                                                   l1off => 'project'),
                             servers => authz_server(port => $port{l2p}));
        $inst{l2p} = nginx_start('l2p', $pb, 1);
    }
    if ($PATH{l3}) {
        my $pc = nginx_prefix(name => 'l3', workers => 1, affinity => '01',
                             http => backends_conf(name => 'l3', l1off => 1),
                             servers => authz_server(port => $port{l3}));
        $inst{l3} = nginx_start('l3', $pc, 1);
    }

    say "";
    say "off, L1, L2, L3: one nginx worker on CPU $NGINX_CPU, wrk on CPU $WRK_CPU;"
      . " wrk -t$THREADS -c$CONNS -d${SECS}s, keepalive,";
    say "  GET /gen/UUID (a 3-byte static file), HS256 token; $RUNS rounds x "
      . scalar(@TIERS) . " paths, interleaved";
    say "  user 1 on generation 1 (role $PAIR_ROLE);"
      . " l2/l3 with velro_cache_ttl ownership|team_access|project_vis l1=0,"
      . " l3 without velro_redis";

    # the module must run where it is on, and not where it is off; and
    # each path must be answered by the tier it is named after
    my $tok = $TOKEN{pair};
    my %skip;
    my ($code) = http($port{off}, "/gen/$PAIR_GEN");
    die "bench: off path: expected HTTP 200, got $code\n" unless $code == 200;
    my %want = (l1 => 'L1', l2 => 'L2', l2x => 'L2', l2p => 'L2', l3 => 'L3',
                l1base => 'L1', l2base => 'L2', l3base => 'L3');
    for my $p (grep { $_ ne 'off' } @TIERS) {
        my ($c0) = http($port{$p}, "/gen/$PAIR_GEN");
        my ($c1) = http($port{$p}, "/gen/$PAIR_GEN", token => $tok);
        my ($c2) = http($port{$p}, "/gen/$PAIR_GEN", token => $tok);
        sleep 0.1;     # L2 write-back is asynchronous
        my ($c3, $h) = http($port{$p}, "/chk/$PAIR_GEN", token => $tok);
        my $tier = $h->{'x-authz'} // '';
        if ($c0 != 401 || $c1 != 200 || $c2 != 200 || $c3 != 200) {
            warn_say "$p: expected HTTP 401 200 200 200, got $c0 $c1 $c2 $c3"
                   . " (X-Authz: \"$tier\"); path skipped"
                   . (nginx_check_crash($inst{$p}) ? "; " . nginx_check_crash($inst{$p}) : '');
            $skip{$p} = 1;
            next;
        }
        if ($tier !~ /^\Q$want{$p}\E /) {
            warn_say "$p: answered by \"$tier\", not $want{$p}: the figures"
                   . " below are not what the path is named after";
        }
        $TIER_SEEN{$p} = $tier;
    }
    my @paths = grep { !$skip{$_} } @TIERS;

    # pg_stat_activity during the L3 runs
    my $mon = $PATH{l3} && !$skip{l3} ? coproc_psql('postgres') : undef;
    my %pgmax = (all => 0, listen => 0, pool => 0, db => 0);
    my $sample = sub {
        my ($l) = coproc_do($mon,
            "SELECT count(*), count(*) FILTER (WHERE query ILIKE 'listen%'"
          . " OR query ILIKE '%velro_invalidation%'),"
          . " (SELECT count(*) FROM pg_stat_activity WHERE datname = 'velro'"
          . "  AND backend_type = 'client backend')"
          . " FROM pg_stat_activity WHERE datname = 'velro'"
          . " AND backend_type = 'client backend'"
          . " AND application_name = 'velro-bench-l3'");
        my ($all, $listen, $db) = split /\|/, $l // '';
        return unless defined $db;
        $pgmax{all} = $all if $all > $pgmax{all};
        $pgmax{listen} = $listen if $listen > $pgmax{listen};
        $pgmax{pool} = $all - $listen if $all - $listen > $pgmax{pool};
        $pgmax{db} = $db if $db > $pgmax{db};
    };

    my $run_path = sub {
        my ($p, $run, $secs) = @_;
        my $redis = $REDIS_PORT && $p =~ /^l[12]/;
        Velro::Backends::redis_cli(qw(CONFIG RESETSTAT)) if $redis;
        my $r = wrk_run(label => $p, run => $run, n => $inst{$p},
                        url => "http://127.0.0.1:$port{$p}/gen/$PAIR_GEN",
                        secs => $secs, conns => $CONNS, threads => $THREADS,
                        cpu => $WRK_CPU, token => $tok,
                        sample => $p eq 'l3' ? $sample : undef);
        $r->{cmds} = redis_commands() if $redis;
        return $r;
    };

    $run_path->($_, 'warmup', 1) for @paths;

    my @res;
    for my $r (1 .. $RUNS) {
        for my $p (@paths) {
            printf STDERR "  round %d/%d: %-6s\r", $r, $RUNS, $p if -t STDERR;
            push @res, $run_path->($p, $r, $SECS);
        }
    }
    printf STDERR "%40s\r", '' if -t STDERR;

    my (%m, %bad, %each, %crash, %cmds);
    my ($maxo) = sort { $b <=> $a } map { $_->{ocpu} } @res;
    for my $r (@res) {
        push @{ $m{$r->{label}}{$_} }, $r->{$_}
            for qw(rps p50 p99 cpr ncpu bcpu wcpu ocpu);
        $bad{$r->{label}} += $r->{bad} + $r->{err};
        $crash{$r->{label}} ||= $r->{crashed};
        push @{ $each{$r->{label}} }, sprintf('%.0f', $r->{rps});
        if ($r->{cmds} && $r->{run} ne 'warmup') {
            $cmds{$r->{label}}{n} += $r->{n};
            $cmds{$r->{label}}{$_} += $r->{cmds}{$_} for keys %{ $r->{cmds} };
        }
    }
    my %med;
    for my $p (@paths) {
        $med{$p}{$_} = median(@{ $m{$p}{$_} }) for keys %{ $m{$p} };
    }
    my $off = $med{off}{rps};
    my $offc = $med{off}{cpr};

    say "";
    say sprintf("%-6s %7s %7s %7s %6s %7s %6s %5s %5s %5s %5s %5s  %s",
                'path', 'req/s', 'p50', 'p99', 'ratio', 'cpu/req', 'ratio',
                'nginx', 'back-', 'wrk', 'other', 'non-', 'req/s');
    say sprintf("%-6s %7s %7s %7s %6s %7s %6s %5s %5s %5s %5s %5s  %s",
                '', '', 'us', 'us', 'vs off', 'us', 'vs off', 'CPU%',
                'ends%', 'CPU%', 'CPU%', '2xx', 'of each run');
    for my $p (@paths) {
        my $x = $med{$p};
        say sprintf("%-6s %7.0f %7s %7s %6.3f %7.1f %6.3f %5.0f %5.0f %5.0f %5.0f %5d  %s%s",
                    $p, $x->{rps}, fmt_us($x->{p50}), fmt_us($x->{p99}),
                    $x->{rps} / $off, $x->{cpr}, $offc / $x->{cpr},
                    $x->{ncpu}, $x->{bcpu}, $x->{wcpu}, $x->{ocpu},
                    $bad{$p}, join(' ', @{ $each{$p} }),
                    $crash{$p} ? '  CRASH' : '');
    }
    say "";
    say "Medians over the rounds.  cpu/req: nginx worker CPU time per request"
      . " (/proc), its ratio = off";
    say "cpu/req / path cpu/req.  CPU%: the nginx worker (CPU $NGINX_CPU),"
      . " PostgreSQL + Redis (backends), wrk";
    say "(CPU $WRK_CPU), the rest of the machine (softirq, this script);"
      . " in % of one CPU.";
    if (%cmds) {
        say "";
        say "Redis commands nginx sent per request (round trips; INFO"
          . " commandstats over the rounds, the";
        say "script's own MGET and GET taken out):";
        for my $p (grep { $cmds{$_} } @paths) {
            my $c = $cmds{$p};
            my $n = delete $c->{n};
            my $trips = delete $c->{trips};
            say sprintf("  %-6s %5.2f  (%s)", $p, $trips / $n,
                        join(', ', map { sprintf('%s %.2f', $_, $c->{$_} / $n) }
                                   sort keys %$c) || 'none');
        }
    }

    if (($maxo // 0) > 20) {
        warn_say sprintf("other processes used the CPUs during some runs"
                       . " (other CPU%% up to %.0f): noisy figures", $maxo);
    }
    if ($med{l1}) {
        my $r = $med{l1}{rps} / $off;
        $SUMMARY{l1} = sprintf("L1 hit: %.3f of off req/s (cpu/req %.3f),"
                             . " p99 %s us  (target >= 0.85: %s)",
                               $r, $offc / $med{l1}{cpr}, fmt_us($med{l1}{p99}),
                               $r >= 0.85 ? 'met' : 'MISSED');
    }
    if ($med{l2}) {
        my $r = $med{l2}{rps} / $off;
        my $ok = $r >= 0.50 && $med{l2}{p99} < 2000;
        $SUMMARY{l2} = sprintf("L2 hit: %.3f of off req/s, p99 %s us at %d"
                             . " connections  (target >= 0.50 and p99 < 2 ms: %s)",
                               $r, fmt_us($med{l2}{p99}), $CONNS,
                               $ok ? 'met' : 'MISSED');
    }
    if ($med{l3}) {
        my $bound = $POOL + 1;
        my $ok = $med{l3}{p99} < 5000;
        $SUMMARY{l3} = sprintf("L3: %.3f of off req/s, p99 %s us at %d"
                             . " connections  (target p99 < 5 ms: %s)",
                               $med{l3}{rps} / $off, fmt_us($med{l3}{p99}),
                               $CONNS, $ok ? 'met' : 'MISSED');
        $SUMMARY{l3pg} = sprintf("L3 PostgreSQL connections per host (that"
            . " nginx: 1 worker, pool=%d), max sampled every 50 ms: %d = %d pool"
            . " + %d subscriber  (bound pool x workers + 1 subscriber per instance"
            . " = %d: %s); all client backends of database velro (the"
            . " other idle nginx included): max %d",
            $POOL, $pgmax{all}, $pgmax{pool}, $pgmax{listen}, $bound,
            ($pgmax{all} <= $bound && $pgmax{pool} <= $POOL) ? 'met' : 'EXCEEDED',
            $pgmax{db});
        # the connection budget (README): per host workers x pool + the
        # instance's one subscriber, for the fleet
        my ($fh, $fw) = ($BUDGET_HOSTS, $BUDGET_WORKERS);
        $SUMMARY{l3fleet} = sprintf("connection budget: per host %d workers x"
            . " pool + 1 subscriber = %d x %d + 1 = %d; %d hosts: %d"
            . " (pool=2: %d)",
            $fw, $fw, $POOL, $fw * $POOL + 1, $fh,
            $fh * ($fw * $POOL + 1), $fh * ($fw * 2 + 1));
    }
    say "";
    say "  $SUMMARY{$_}" for grep { $SUMMARY{$_} } qw(l1 l2 l3 l3pg l3fleet);

    for my $p (@paths) {
        next if $p eq 'off' || !$TIER_SEEN{$p};
        my ($c, $h) = http($port{$p}, "/chk/$PAIR_GEN", token => $tok);
        say "  after the runs, $p answers HTTP $c, X-Authz: "
          . ($h->{'x-authz'} // '(none)');
    }
    for my $n (values %{{ map { $_->{name} => $_ } values %inst }}) {
        if (my $c = nginx_check_crash($n)) {
            warn_say "nginx $n->{name}: $c (see $n->{prefix}/logs/error.log)";
        }
        error_log_tail($n);
        nginx_stop($n);
    }
    coproc_close($mon) if $mon;
}

sub coproc_close {
    my ($c) = @_;
    close $c->{in};
    waitpid $c->{pid}, 0;
    @COPROC = grep { $_ != $c } @COPROC;
}

sub error_log_tail {
    my ($n) = @_;
    my $log = "$n->{prefix}/logs/error.log";
    my @l = split /\n/, slurp($log) // '';
    return unless @l;
    say "  error log $n->{name} (" . scalar(@l) . " lines, warn and up), last lines:";
    say "    $_" for @l[($#l > 4 ? $#l - 4 : 0) .. $#l];
}

#----------------------------------------------------------------------------
# batch and login: latency at low concurrency

# Interleaved rounds on one nginx worker (CPU 0), wrk -t1 on CPU 1: each
# round runs every connection count of BENCH_LAT_CONNECTIONS, and for each
# every variant (so variants compared at one count are minutes apart at
# most).  Variants: { key, path, token | script + args, between (a code
# ref run after each of its runs: returns a hash of extra figures) }.
# Returns { key => { conns => medians }, ... } and prints the table.
sub lat_rounds {
    my (%o) = @_;       # name, n (nginx), port, variants, items (key => n)
    my $n = $o{n};
    my @v = @{ $o{variants} };
    my $run = sub {
        my ($v, $c, $round, $secs) = @_;
        my $r = wrk_run(label => "$o{name}-$v->{key}-c$c", run => $round,
                        n => $n, url => "http://127.0.0.1:$o{port}$v->{path}",
                        secs => $secs, conns => $c, threads => 1,
                        cpu => $WRK_CPU, token => $v->{token},
                        headers => $v->{headers},
                        script => $v->{script}, args => $v->{args});
        if ($v->{after}) {
            my $x = $v->{after}->($r);
            $r->{$_} = $x->{$_} for keys %$x;
        }
        return $r;
    };
    for my $v (@v) {
        $run->($v, $LAT_CONNS[-1], 'warmup', 1);
    }
    my %res;            # key => conns => [ runs ]
    for my $round (1 .. $RUNS) {
        for my $c (@LAT_CONNS) {
            for my $v (@v) {
                printf STDERR "  %s round %d/%d: -c%d %-8s\r", $o{name},
                    $round, $RUNS, $c, $v->{key} if -t STDERR;
                push @{ $res{$v->{key}}{$c} }, $run->($v, $c, $round, $SECS);
            }
        }
    }
    printf STDERR "%50s\r", '' if -t STDERR;

    my %med;
    for my $v (@v) {
        for my $c (@LAT_CONNS) {
            my @r = @{ $res{$v->{key}}{$c} };
            my %m;
            for my $k (qw(rps p50 p99 avg cpr ncpu bcpu extra)) {
                my @x = grep { defined } map { $_->{$k} } @r;
                $m{$k} = median(@x) if @x;
            }
            $m{bad} = 0;
            $m{bad} += $_->{bad} + $_->{err} for @r;
            $m{crashed} = grep { $_->{crashed} } @r;
            $m{each} = join ' ', map { sprintf '%.0f', $_->{p50} } @r;
            $med{$v->{key}}{$c} = \%m;
        }
    }

    say "";
    say sprintf("%-8s %5s %7s %7s %7s %7s %7s %8s %6s %5s %5s %5s  %s",
                'path', 'conns', 'req/s', 'items/s', 'p50', 'p99', 'avg',
                'cpu/req', 'nginx', 'back-', 'non-', $o{extra_head} // '',
                'p50 of each');
    say sprintf("%-8s %5s %7s %7s %7s %7s %7s %8s %6s %5s %5s %5s  %s",
                '', '', '', '', 'us', 'us', 'us', 'us', 'CPU%', 'ends%',
                '2xx', $o{extra_unit} // '', 'run, us');
    for my $c (@LAT_CONNS) {
        for my $v (@v) {
            my $m = $med{$v->{key}}{$c};
            my $items = $v->{items} // 1;
            say sprintf("%-8s %5d %7.0f %7.0f %7s %7s %7s %8.1f %6.0f %5.0f %5d %5s  %s%s",
                        $v->{key}, $c, $m->{rps}, $m->{rps} * $items,
                        fmt_us($m->{p50}), fmt_us($m->{p99}),
                        fmt_us($m->{avg} // 0), $m->{cpr},
                        $m->{ncpu}, $m->{bcpu}, $m->{bad},
                        defined $m->{extra} ? sprintf('%.2f', $m->{extra}) : '',
                        $m->{each}, $m->{crashed} ? '  CRASH' : '');
        }
    }
    say "";
    say "  Medians over $RUNS rounds of ${SECS}s (wrk -t1 on CPU $WRK_CPU,"
      . " keepalive; p50/p99 as wrk --latency";
    say "  reports them, per request; avg: wrk's mean latency).  cpu/req:"
      . " the nginx worker's CPU time";
    say "  per request (/proc); non-2xx: wrk's non-2xx/3xx answers and"
      . " socket errors, all runs;";
    say "  CPU%: the nginx worker, PostgreSQL + Redis (backends), in % of"
      . " one CPU.";
    return \%med;
}

sub phase_batch {
    my %used;
    my ($port, $rport);
    do { $port = Velro::Backends::_free_port() } while $used{$port}++;
    do { $rport = Velro::Backends::_free_port() } while $used{$rport}++;
    my $items = $BATCH_ITEMS;
    my $extra = <<EOF;

        location = /batch {
            velro_jwt on;
            velro_jwt_key_file $KEYS/jwks.json;
            velro_jwt_algorithms HS256;
            velro_batch max=20;
        }

        location ~ ^/flr/(?<gen>[^/]+)\$ {
            try_files /bench.txt =404;
        }
EOF
    # The measured server names the resource with a map of $uri (as
    # t/lib/Velro/Authz.pm does); the l1 path's server, with the regex
    # location's named capture $gen, on another port is only checked: a
    # batch item is a subrequest, and there $gen came out empty (every
    # item denied) when this was written
    my $map = <<'EOF';
    map $uri $velro_bench_gen {
        ~^/[a-z0-9]+/(?<g>[^/]+)$  $g;
    }
EOF
    my $prefix = nginx_prefix(name => 'batch', workers => 1, affinity => '01',
                              http => backends_conf(name => 'batch', redis => 1)
                                    . $map,
                              servers => authz_server(port => $port,
                                                      resource => '$velro_bench_gen',
                                                      extra => $extra)
                                       . authz_server(port => $rport,
                                                      extra => $extra));
    my $n = nginx_start('batch', $prefix, 1);
    my $tok = $TOKEN{pair};

    my $body = sub {
        my ($loc) = @_;
        return '[' . join(',', map { qq({"endpoint":"/$loc/$PAIR_GEN","id":"$_"}) }
                                   1 .. $items) . ']';
    };
    my $bodyf = "$WORK/batch-body.json";
    open my $fh, '>', $bodyf or die;
    print $fh $body->('gen');
    close $fh;

    say "";
    say "Batch: one nginx worker on CPU $NGINX_CPU, L1 on (as path l1),"
      . " user 1 on generation 1 (role $PAIR_ROLE), HS256;";
    say "  single = GET /gen/UUID (\"Authorization: Bearer\", wrk -H);"
      . " batch = POST /batch (velro_batch max=20,";
    say "  same server, same token) of $items items"
      . " [{\"endpoint\":\"/gen/UUID\",\"id\":\"1\"},...], each that same"
      . " GET;";
    say "  velro_authz_resource \$velro_bench_gen, a map of \$uri (not the"
      . " regex location's capture \$gen: below).";
    say "  (bench/post.lua, " . length($body->('gen')) . "-byte body);"
      . " L1 warmed first.  items/s = batch req/s x $items.";

    # warm L1, then check: 200s, and the items answered from L1
    my ($c0) = http($port, "/gen/$PAIR_GEN", token => $tok);
    my ($c1) = http($port, "/gen/$PAIR_GEN", token => $tok);
    my ($c2, $h2) = http($port, "/chk/$PAIR_GEN", token => $tok);
    my ($c3, undef, $b3) = http($port, '/batch', method => 'POST',
                                token => $tok, body => $body->('chk'));
    my ($c4) = http($port, '/batch', method => 'POST', body => $body->('gen'));
    my $ok200 = () = $b3 =~ /"status":200/g;
    my @tiers = $b3 =~ /"X-Authz":"([^"]*)"/gi;
    my $l1 = grep { /^L1 / } @tiers;
    say "  check: GET ${c0}/${c1}, /chk X-Authz \"" . ($h2->{'x-authz'} // '')
      . "\"; batch of /chk items HTTP $c3, $ok200/$items items 200, "
      . (@tiers ? "$l1/$items X-Authz L1 (\"$tiers[0]\")"
                : "no X-Authz among the items' headers")
      . "; no token: HTTP $c4";
    if ($c1 != 200 || $c3 != 200 || $ok200 != $items || $c4 != 401) {
        warn_say "batch: expected 200, a batch 200 with $items items 200,"
               . " 401 without a token; got $c1, $c3 with $ok200, $c4; path"
               . " skipped" . (nginx_check_crash($n) ? '; ' . nginx_check_crash($n) : '');
        say "    batch answer: " . substr($b3, 0, 300);
        error_log_tail($n);
        nginx_stop($n);
        return;
    }
    warn_say "batch: the items were not all answered by L1 (X-Authz: @tiers)"
        if @tiers && $l1 != $items;

    # the l1 path's server as it is (resource = the regex capture $gen)
    http($rport, "/gen/$PAIR_GEN", token => $tok) for 1 .. 2;
    my ($r1) = http($rport, "/gen/$PAIR_GEN", token => $tok);
    my ($r2, undef, $rb) = http($rport, '/batch', method => 'POST',
                                token => $tok, body => $body->('gen'));
    my $rok = () = $rb =~ /"status":200/g;
    my %rst;
    $rst{$_}++ for $rb =~ /"status":(\d+)/g;
    say "  the l1 path's server (velro_authz_resource \$gen, the regex"
      . " capture): GET $r1, batch HTTP $r2, items "
      . join(' ', map { "$rst{$_}x$_" } sort keys %rst);
    warn_say "batch: with velro_authz_resource \$gen (a named capture of the"
           . " regex location), $rok/$items batch items are allowed, the"
           . " same GET alone $r1: the capture is empty in a batch item"
           . " (\"resource id \\\"\\\" is not a UUID\" at info level);"
           . " measured with a map of \$uri instead"
        if $rok != $items && $r1 == 200;

    my @floor;
    if ($BATCH_FLOOR) {
        my $floorf = "$WORK/batch-floor.json";
        open my $ff, '>', $floorf or die;
        print $ff $body->('flr');
        close $ff;
        @floor = (
            { key => 'flr', path => "/flr/$PAIR_GEN", token => $tok },
            { key => "flrb$items", path => '/batch', items => $items,
              script => "$TOP/bench/post.lua", args => [ $floorf, $tok ] },
        );
    }

    my $med = lat_rounds(name => 'batch', n => $n, port => $port, variants => [
        { key => 'single', path => "/gen/$PAIR_GEN", token => $tok },
        { key => "batch$items", path => '/batch', items => $items,
          script => "$TOP/bench/post.lua", args => [ $bodyf, $tok ] },
        @floor,
    ]);

    my ($ccheck, undef, $bcheck) = http($port, '/batch', method => 'POST',
                                        token => $tok, body => $body->('chk'));
    my @after = $bcheck =~ /"X-Authz":"([^"]*)"/gi;
    my $after200 = () = $bcheck =~ /"status":200/g;
    say "  after the runs: batch HTTP $ccheck, $after200/$items items 200"
      . (@after ? ', items X-Authz: '
                  . join(', ', sort keys %{{ map { $_ => 1 } @after }}) : '');

    my @parts;
    my $okall = 1;
    for my $c (@LAT_CONNS) {
        my $s = $med->{single}{$c};
        my $b = $med->{"batch$items"}{$c};
        my $ratio = $b->{p50} / $s->{p50};
        $okall = 0 if $ratio > 1.5;
        say sprintf("  -c%d: batch p50 / single p50 = %s / %s us = %.2f;"
                  . " p99 %s / %s us; req/s %.0f / %.0f; items/s %.0f vs"
                  . " %.0f (%.2fx); cpu/item %.1f vs %.1f us",
                    $c, fmt_us($b->{p50}), fmt_us($s->{p50}), $ratio,
                    fmt_us($b->{p99}), fmt_us($s->{p99}), $b->{rps},
                    $s->{rps}, $b->{rps} * $items, $s->{rps},
                    $b->{rps} * $items / $s->{rps}, $b->{cpr} / $items,
                    $s->{cpr});
        push @parts, sprintf("-c%d %.2f (%s/%s us)", $c, $ratio,
                             fmt_us($b->{p50}), fmt_us($s->{p50}));
    }
    for my $c (@floor ? @LAT_CONNS : ()) {
        my $s = $med->{flr}{$c};
        my $b = $med->{"flrb$items"}{$c};
        say sprintf("  floor -c%d (no module work per item): batch p50 /"
                  . " single p50 = %s / %s us = %.2f; cpu/req %.1f / %.1f us",
                    $c, fmt_us($b->{p50}), fmt_us($s->{p50}),
                    $b->{p50} / $s->{p50}, $b->{cpr}, $s->{cpr});
    }
    $SUMMARY{batch} = "Batch of $items L1-hit GETs: p50 batch / single "
        . join(', ', @parts) . "  (target <= 1.5: "
        . ($okall ? 'met' : 'MISSED') . ")";
    say "";
    say "  $SUMMARY{batch}";

    if (my $c = nginx_check_crash($n)) {
        warn_say "nginx batch: $c (see $n->{prefix}/logs/error.log)";
    }
    error_log_tail($n);
    nginx_stop($n);
}

sub phase_login {
    my %used;
    my ($port, $aport);
    do { $port = Velro::Backends::_free_port() } while $used{$port}++;
    do { $aport = Velro::Backends::_free_port() } while $used{$aport}++;
    my $tok = $TOKEN{pair};

    # two generations of user 1 among the first the warm form returns:
    # never requested in this nginx, so L1 answers only if warming filled it
    my @warm_gens;
    my $wj = eval {
        Velro::Backends::psql("SELECT velro_l3_warm('$PAIR_USER', 2)")
    } // '';
    @warm_gens = $wj =~ /"generation_id":"([0-9a-f-]{36})"/g;
    if (@warm_gens < 2) {
        warn_say "login: velro_l3_warm('$PAIR_USER', 2) gave no two"
               . " generations (" . substr($wj, 0, 120) . "): warming not"
               . " checked";
    }
    Velro::Backends::redis_cli('FLUSHALL');

    my $login = sub {
        my ($warm) = @_;
        my $onoff = $warm ? 'on' : 'off';
        return <<EOF;
            velro_warm_on_login $onoff;
            velro_warm_limit $WARM_LIMIT;
            velro_jwt_key_file $KEYS/jwks.json;
            velro_jwt_algorithms HS256;
            velro_authz_fallback /_l3;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://velro_bench_auth/token;
EOF
    };
    my $extra = "\n        location = /login {\n" . $login->(1) . "        }\n\n"
              . "        location = /login-nowarm {\n" . $login->(0) . "        }\n";
    # the warm answer is ~260 bytes a row (26 KB for 100): more than the
    # default subrequest_output_buffer_size (one page) takes
    my $sbuf = int(($WARM_LIMIT * 512 + 1023) / 1024);
    $sbuf = 64 if $sbuf < 64;
    my $servers = authz_server(port => $port, extra => $extra,
                               l3 => "            subrequest_output_buffer_size ${sbuf}k;\n")
                . <<EOF;
    upstream velro_bench_auth {
        server 127.0.0.1:$aport;
        keepalive 16;
    }

    # the stand-in auth endpoint: user 1's token, whatever is asked
    server {
        listen 127.0.0.1:$aport;

        location = /token {
            default_type application/json;
            return 200 '{"access_token":"$tok","token_type":"Bearer"}';
        }
    }
EOF
    my $prefix = nginx_prefix(name => 'login', workers => 1, affinity => '01',
                              http => backends_conf(name => 'login', redis => 1),
                              servers => $servers);
    my $n = nginx_start('login', $prefix, 1);

    say "";
    say "Login: one nginx worker on CPU $NGINX_CPU; GET /login proxied"
      . " (HTTP/1.1, upstream keepalive 16) to a";
    say "  stand-in auth server in the same nginx: return 200"
      . " '{\"access_token\":\"TOKEN\",...}' (user 1's HS256";
    say "  token).  warm = velro_warm_on_login on, velro_warm_limit"
      . " $WARM_LIMIT, velro_authz_fallback /_l3";
    say "  (velro_authz_pg: velro_l3_warm; subrequest_output_buffer_size"
      . " ${sbuf}k there), L1 + Redis;";
    say "  nowarm = the same location with velro_warm_on_login off.";
    say "  Every warm login verifies the token and starts a warm subrequest:"
      . " one PostgreSQL query, then";
    say "  L1 and Redis writes (the same user each time: the writes"
      . " overwrite).  pg xact/req: PostgreSQL";
    say "  transactions committed (pg_stat_database, database velro) per"
      . " login during the run.";

    # check: both answer the token; nowarm warms nothing, warm does
    my ($c1, undef, $b1) = http($port, '/login-nowarm');
    sleep 0.3;
    my ($d1, $h1) = @warm_gens ? http($port, "/chk/$warm_gens[1]", token => $tok)
                               : (0, {});
    my ($c2, undef, $b2) = http($port, '/login');
    sleep 0.3;
    my ($d2, $h2) = @warm_gens ? http($port, "/chk/$warm_gens[0]", token => $tok)
                               : (0, {});
    my $t1 = $h1->{'x-authz'} // '';
    my $t2 = $h2->{'x-authz'} // '';
    say "  check: /login-nowarm HTTP $c1, then a new generation: $d1 \"$t1\";"
      . " /login HTTP $c2, then another: $d2 \"$t2\"";
    if ($c1 != 200 || $c2 != 200 || $b1 !~ /access_token/ || $b2 !~ /access_token/) {
        warn_say "login: expected HTTP 200 with the token from both, got $c1"
               . " $c2; path skipped"
               . (nginx_check_crash($n) ? '; ' . nginx_check_crash($n) : '');
        error_log_tail($n);
        nginx_stop($n);
        return;
    }
    my $warm_ok = 1;
    if (@warm_gens) {
        if ($t1 =~ /^L[12] /) {
            warn_say "login: without warming a new generation came from"
                   . " \"$t1\", not L3: the warming check means nothing";
        }
        if ($t2 !~ /^L1 /) {
            $warm_ok = 0;
            warn_say "login: after a warm login the user's latest generation"
                   . " was answered by \"$t2\", not L1: warming did not work;"
                   . " the warm figures measure whatever it did";
        }
    }

    # the login answer alone, on an idle worker: curl's time_total (the
    # answer has a Content-Length: complete without waiting for the close),
    # 20 logins each, 50 ms apart
    if (grep { -x "$_/curl" } split /:/, $ENV{PATH}) {
        my %t;
        for my $i (1 .. 20) {
            for my $loc ('/login-nowarm', '/login') {
                my $v = `curl -s -o /dev/null --http1.1 -w '%{time_starttransfer} %{time_total}' http://127.0.0.1:$port$loc`;
                my ($st, $tt) = split ' ', $v;
                push @{ $t{$loc} }, $tt * 1e6 if defined $tt;
                sleep 0.05;
            }
        }
        say sprintf("  idle worker, one login at a time (curl, new connection,"
                  . " 20 each, 50 ms apart): answer time median %.0f us"
                  . " without warming, %.0f us with",
                    median(@{ $t{'/login-nowarm'} || [] }),
                    median(@{ $t{'/login'} || [] }));
    }

    my $xact = sub {
        my ($l) = Velro::Backends::psql("SELECT xact_commit FROM"
            . " pg_stat_database WHERE datname = 'velro'") =~ /(\d+)/;
        return $l // 0;
    };
    my $x0;
    my %variant = map {
        ($_ => sub {
            my ($r) = @_;
            my $x1 = $xact->();
            my $d = defined $x0 ? ($x1 - $x0) / ($r->{n} || 1) : undef;
            $x0 = $xact->();
            return { extra => $d };
        })
    } qw(warm nowarm);
    $x0 = $xact->();

    my $med = lat_rounds(name => 'login', n => $n, port => $port,
        extra_head => 'pg', extra_unit => 'xact/',
        variants => [
            { key => 'nowarm', path => '/login-nowarm', after => $variant{nowarm} },
            { key => 'warm', path => '/login', after => $variant{warm} },
            { key => 'nowarm-c', path => '/login-nowarm', after => $variant{nowarm},
              headers => [ 'Connection: close' ] },
            { key => 'warm-c', path => '/login', after => $variant{warm},
              headers => [ 'Connection: close' ] },
            { key => 'nowarm-p', path => '/login-nowarm',
              after => $variant{nowarm},
              script => "$TOP/bench/pace.lua", args => [ $LOGIN_PACE ] },
            { key => 'warm-p', path => '/login', after => $variant{warm},
              script => "$TOP/bench/pace.lua", args => [ $LOGIN_PACE ] },
        ]);
    say "  -c: \"Connection: close\", a new connection per login: no login"
      . " waits behind the previous one's warm";
    say "  subrequest on a keepalive connection; the worker's CPU (and"
      . " PostgreSQL's) is still shared with the warms.";
    say "  -p: paced, keepalive: each connection waits $LOGIN_PACE ms before"
      . " each login (bench/pace.lua),";
    say "  so logins come at a steady rate (-c1: "
      . int(1000 / $LOGIN_PACE) . "/s) and none waits behind the previous"
      . " one's warm: what one login costs.";
    say "  (pg xact/: per request; the stats are sent by PostgreSQL"
      . " every 0.5 s or so, an approximation.)";

    my $fails = () = (slurp("$n->{prefix}/logs/error.log") // '')
                     =~ /warming failed|no warming|warming not started/g;
    say "  error log: $fails \"warming failed\" / \"no warming\" lines"
        if $fails;
    warn_say "login: $fails warmings failed or were not started" if $fails;

    my @parts;
    my $okall = $warm_ok && !$fails;
    for my $sfx ('-p', '', '-c') {
        for my $c (@LAT_CONNS) {
            my $w = $med->{"warm$sfx"}{$c};
            my $o = $med->{"nowarm$sfx"}{$c};
            my $d = $w->{p50} - $o->{p50};
            # the target: what warming adds to a login, at a login rate
            # (paced); back to back, each login also waits for the
            # previous one's warm on the same connection (reported)
            $okall = 0 if $sfx eq '-p' && $d >= 1000;
            say sprintf("  %s -c%d: p50 warm - nowarm = %s - %s = %+.0f us;"
                      . " p99 %s / %s us; req/s %.0f / %.0f; cpu/req %.1f / %.1f us",
                        $sfx eq '-p' ? 'paced    '
                        : $sfx ? 'close    ' : 'keepalive', $c, fmt_us($w->{p50}),
                        fmt_us($o->{p50}), $d, fmt_us($w->{p99}),
                        fmt_us($o->{p99}), $w->{rps}, $o->{rps}, $w->{cpr},
                        $o->{cpr});
            push @parts, sprintf("%s -c%d %+.0f us (%s/%s)",
                                 $sfx eq '-p' ? 'paced'
                                 : $sfx ? 'close' : 'keepalive', $c, $d,
                                 fmt_us($w->{p50}), fmt_us($o->{p50}));
        }
    }
    $SUMMARY{login} = "Login warming (limit $WARM_LIMIT): p50 warm - nowarm "
        . join(', ', @parts)
        . "  (target < 1 ms, paced: " . ($okall ? 'met' : 'MISSED') . ")"
        . ($warm_ok ? '' : ' [warming not verified]');
    say "";
    say "  $SUMMARY{login}";

    if (my $c = nginx_check_crash($n)) {
        warn_say "nginx login: $c (see $n->{prefix}/logs/error.log)";
    }
    error_log_tail($n);
    nginx_stop($n);
}

#----------------------------------------------------------------------------
# Zipf

sub log_lines {         # lines of a file between two offsets
    my ($file, $from, $to) = @_;
    open my $fh, '<', $file or return ();
    seek $fh, $from, 0;
    my $buf = '';
    read $fh, $buf, $to - $from if $to > $from;
    close $fh;
    return split /\n/, $buf;
}

sub phase_zipf {
    say "";
    say "Zipf: worker_processes 2, no CPU pinning: the two workers, wrk"
      . " (-t$ZTHREADS -c$CONNS), PostgreSQL";
    say "  and Redis share both CPUs.  $NUSERS users (tokens HS256),"
      . " $NGENS generations, $NPROJECTS projects, Zipf s=$ZS";
    say "  per request (bench/zipf.lua), L1 + L2 on; each mode starts cold"
      . " (new nginx, Redis FLUSHALL),";
    say "  then warm-up rounds of ${ZWARM}s until >= $ZWARM_REQS requests,"
      . " then measured rounds of ${ZSECS}s";
    say "  until >= $ZMEAS_REQS requests.  From an access log of"
      . " \$velro_authz_cache, in order:";
    say "  hit = decisions without L3 / requests; L1 = answered from L1"
      . " alone; L3/1k = L3 lookups per";
    say "  1,000 requests; ideal = the hit rate of an infinite cache that"
      . " knows every entity it has seen";
    say "  (an L3 answer for (user, generation) gives the user, the"
      . " memberships, the generation and its";
    say "  project): a request misses only when an entity its decision"
      . " needs was never seen before.";

    # tokens for users 1..N, generation ids 1..M: line i = rank i
    my $tf = "$WORK/zipf-tokens.txt";
    my $gf = "$WORK/zipf-gens.txt";
    my $t0 = time;
    open my $fh, '>', $tf or die;
    for my $i (1 .. $NUSERS) {
        print $fh Velro::Token::token(alg => 'HS256',
            claims => { sub => user_id($i), exp => time + 7200 }), "\n";
    }
    close $fh;
    my %gno;
    open $fh, '>', $gf or die;
    for my $j (1 .. $NGENS) {
        my $g = gen_id($j);
        $gno{$g} = $j;
        print $fh "$g\n";
    }
    close $fh;
    say sprintf("  (%d tokens and %d generation ids written in %.1f s)",
                $NUSERS, $NGENS, time - $t0);

    # bench/gen-data.sql's formulas: what a decision on generation j needs
    # besides the user and j itself (the project, unless the user created
    # j, j is not completed or has no project)
    my $needs_project = sub {
        my ($u, $j) = @_;
        return 0 if $j % 25 == 0 || $j % 10 == 0;
        return 0 if (7919 * $j) % $NUSERS + 1 == $u;
        return 1;
    };
    my $project_of = sub { ($_[0] - 1) % $NPROJECTS + 1 };

    my %used;
    my ($pz, $po);
    do { $pz = Velro::Backends::_free_port() } while $used{$pz}++;
    do { $po = Velro::Backends::_free_port() } while $used{$po}++;
    # the user from the script's X-Bench-User: $velro_user_id is not
    # always there (see "user id" below)
    my $fmt = "    log_format velro_zipf '\$velro_authz_cache \$status"
            . " \$http_x_bench_user \$gen \$velro_user_id"
            . " \$velro_authz_tiers';\n";

    say "";
    say sprintf("%-18s %7s %7s %7s %6s %6s %6s %6s %6s %6s %8s %5s",
                'mode window', 'req/s', 'p50', 'p99', 'ratio', 'hit', 'L1',
                'L3/1k', 'ideal', 'allow', 'requests', 'non-');
    say sprintf("%-18s %7s %7s %7s %6s %6s %6s %6s %6s %6s %8s %5s",
                '', '', 'us', 'us', 'vs off', 'no L3', 'only', '', '', '',
                '', 'log');

    my $offrps;
    my $first = 1;
    for my $mode (@ZMODES) {
        Velro::Backends::redis_cli('FLUSHALL');
        my $servers = authz_server(port => $pz, reuseport => 1,
                                   log => 'logs/zipf.log velro_zipf buffer=64k flush=200ms',
                                   extra => "        location = /status {\n"
                                          . "            velro_status;\n"
                                          . "        }\n");
        $servers .= off_server(port => $po, reuseport => 1,
                               log => 'logs/off.log velro_zipf buffer=64k flush=200ms')
            if $first;
        my $prefix = nginx_prefix(name => "zipf-$mode", workers => 2,
                                  http => backends_conf(name => 'zipf',
                                                        redis => 1, extra => $fmt),
                                  servers => $servers);
        my $n = nginx_start("zipf-$mode", $prefix, 2);
        my @args = ($tf, $gf, $mode, $ZS, $NTEAMS);
        my $run = sub {
            my ($label, $port, $seed, $secs) = @_;
            return wrk_run(label => $label, run => $mode, n => $n,
                           url => "http://127.0.0.1:$port/gen/",
                           secs => $secs // $ZSECS, conns => $CONNS,
                           threads => $ZTHREADS, script => "$TOP/bench/zipf.lua",
                           args => [ @args, $seed ]);
        };
        if ($first) {
            my $r = $run->('zipf-off', $po, 1);
            $offrps = $r->{rps};
            say sprintf("%-18s %7.0f %7s %7s %6.3f %6s %6s %6s %6s %6s %8s %5s",
                        'off', $r->{rps}, fmt_us($r->{p50}), fmt_us($r->{p99}),
                        1, '', '', '', '', '', $r->{n}, $r->{bad} + $r->{err});
        }

        # the ideal and the tiers, from the log in order; the seen
        # entities carry over from the warm-up to the measured window
        my (%su, %sg, %sp);
        my $log = "$prefix/logs/zipf.log";
        my $from = 0;
        my $seed = 2;
        for my $window (qw(warm-up measured)) {
            my $want = $window eq 'warm-up' ? $ZWARM_REQS : $ZMEAS_REQS;
            my (%tier, %st, $nreq, $ideal, @rs, $two);
            $nreq = 0;
            while ($nreq < $want) {
                my $r = $run->("zipf-$window", $pz, $seed++,
                               $window eq 'warm-up' ? $ZWARM : $ZSECS);
                push @rs, $r;
                sleep 0.5;          # the buffered access log, flushed
                my $to = -s $log // 0;
                for my $l (log_lines($log, $from, $to)) {
                    my ($t, $s, $u, $g, $vu, $tiers) = split ' ', $l, 6;
                    next unless defined $vu;
                    $nreq++;
                    # the generation and its project both from L2: the
                    # second round trip
                    $two++ if ($tiers // '') =~ /generation=L2 project=L2/;
                    $NOUSER{$s}++ if $vu eq '-';
                    $tier{$t}++;
                    $st{$s}++;
                    my $j = $gno{$g} // 0;
                    my $p = $j ? $project_of->($j) : 0;
                    my $np = $j && $needs_project->($u, $j);
                    $ideal++ if $su{$u} && $sg{$g} && (!$np || $sp{$p});
                    $su{$u} = 1;
                    $sg{$g} = 1;
                    $sp{$p} = 1 if $j && $j % 25;
                }
                $from = $to;
                last if $r->{crashed} || !$r->{n};
            }
            my $nn = $nreq || 1;
            my $l3 = $tier{L3} // 0;
            my $hit = 1 - $l3 / $nn;
            my $rps = 0;
            my ($p50, $p99) = (0, 0);
            for my $r (@rs) {
                $rps += $r->{rps} / @rs;
                $p50 = $r->{p50} if $r->{p50} > $p50;
                $p99 = $r->{p99} if $r->{p99} > $p99;
            }
            say sprintf("%-18s %7.0f %7s %7s %6.3f %5.1f%% %5.1f%% %6.1f %5.1f%% %5.1f%% %8d %5d%s",
                        "$mode $window", $rps, fmt_us($p50), fmt_us($p99),
                        $offrps ? $rps / $offrps : 0, 100 * $hit,
                        100 * ($tier{L1} // 0) / $nn, 1000 * $l3 / $nn,
                        100 * ($ideal // 0) / $nn,
                        100 * ($st{200} // 0) / $nn, $nreq,
                        $nreq - ($st{200} // 0) - ($st{403} // 0),
                        (grep { $_->{crashed} } @rs) ? '  CRASH' : '');
            next unless $window eq 'measured';
            my $detail = join ' ', map { "$_ $tier{$_}" } sort keys %tier;
            say "    tiers: $detail; statuses: "
              . join(' ', map { "$_ $st{$_}" } sort keys %st)
              . sprintf("; %d rounds of wrk; second L2 round trips: %.1f"
                      . " per 1,000 requests", scalar @rs,
                        1000 * ($two // 0) / $nn);

            # L1 after the run: entities, bytes, and the pairs seen
            my (undef, undef, $js) = http($pz, "/status");
            my ($ent) = $js =~ /"velro_cache_entries":(\d+)/;
            my ($byt) = $js =~ /"velro_cache_bytes":(\d+)/;
            say sprintf("    L1 (both workers): %d entries, %.1f MB, %.0f"
                      . " bytes per entry (tokens included); %d users,"
                      . " %d generations, %d projects seen",
                        $ent // 0, ($byt // 0) / 1048576,
                        $ent ? $byt / $ent : 0, scalar(keys %su),
                        scalar(keys %sg), scalar(keys %sp) - 1)
                if defined $ent;
            $SUMMARY{"zipf-$mode"} = sprintf(
                "Zipf %s: %.1f%% of decisions without L3 over %d requests"
              . " after %d warm-up ones (ideal %.1f%%), L1 alone %.1f%%,"
              . " %.1f L3 lookups per 1,000 (target >= 95%%: %s)",
                $mode, 100 * $hit, $nreq, $ZWARM_REQS,
                100 * ($ideal // 0) / $nn, 100 * ($tier{L1} // 0) / $nn,
                1000 * $l3 / $nn, $hit >= 0.95 ? 'met' : 'MISSED');
        }
        if (%NOUSER) {
            say "    user id: \$velro_user_id was empty for "
              . join(', ', map { "$NOUSER{$_} requests with status $_" }
                           sort keys %NOUSER);
            %NOUSER = ();
        }
        if (my $c = nginx_check_crash($n)) {
            warn_say "nginx zipf-$mode: $c";
        }
        error_log_tail($n);
        nginx_stop($n);
        $first = 0;
    }
    say "  ratio: to \"off\" on the same 2-worker nginx with the same"
      . " script and access log (one run).";
    say "  non-log: requests logged with a status other than 200 or 403.";
}

#----------------------------------------------------------------------------
# invalidation latency

sub phase_inval {
    # a viewer of the team of a completed generation it did not create: a
    # write is denied as viewer, allowed as editor
    my $row = Velro::Backends::psql(<<"SQL");
SELECT tm.team_id, tm.user_id, g.id
  FROM team_members tm
  JOIN projects p ON p.team_id = tm.team_id
  JOIN generations g ON g.project_id = p.id
 WHERE tm.role = 'viewer' AND g.status = 'completed'
   AND g.user_id <> tm.user_id
 ORDER BY g.id
 LIMIT 1
SQL
    chomp $row;
    my ($team, $user, $gen) = split /\|/, $row;
    die "bench: no viewer membership for the invalidation path\n" unless $gen;
    my $token = Velro::Token::token(alg => 'HS256',
        claims => { sub => $user, exp => time + 7200 });

    my $port = Velro::Backends::_free_port();
    my $prefix = nginx_prefix(name => 'inval', workers => $IWORKERS,
                              http => backends_conf(name => 'inval', redis => 1,
                                  extra => $ILISTEN eq 'off'
                                           ? "    velro_pg_listen off;\n" : ''),
                              servers => authz_server(port => $port, reuseport => 1));
    my $n = nginx_start('inval', $prefix, $IWORKERS);
    my $psql = coproc_psql('velro');

    say "";
    say "Invalidation: worker_processes $IWORKERS (not pinned), L1 + L2 on,"
      . " velro_pg_listen $ILISTEN;";
    say "  $ICHANGES changes, each an UPDATE of one";
    say "  team_members row (viewer <-> editor) through one persistent psql"
      . " (autocommit); latency = from";
    say "  the UPDATE's return (its COMMIT) to the moment every worker has"
      . " answered the new decision";
    say "  (GET as a write, 403 <-> 200), polled with a new connection per"
      . " request until $ISTREAK answers";
    say "  in a row, from every worker (reuseport), are new: the latest"
      . " per-worker first answer of that";
    say "  streak.  Timeout ${ITIMEOUT}s per change"
      . ($IJITTER ? "; a random pause of up to $IJITTER ms before each." : ".");

    # polls until $ISTREAK consecutive answers have status $want and come
    # from every worker; returns (latency, polls, stale answers) or undef
    my $nw = scalar @{ $n->{wpids} };
    my $one_pid_only = 0;
    my $poll = sub {
        my ($want, $t0, $timeout) = @_;
        my ($streak, $polls, $old, $lower) = (0, 0, 0, 0);
        my (%first, %pids_seen);
        while (1) {
            my $ts = time;
            my ($code, $h) = http($port, "/w/$gen", token => $token);
            my $t = time;
            $polls++;
            my $pid = $h->{'x-pid'} // '?';
            $pids_seen{$pid}++;
            if ($code == $want) {
                $streak++;
                $first{$pid} //= $t;
                my $workers_ok = keys(%first) >= $nw;
                if (!$workers_ok && $polls > 200 && keys(%pids_seen) < $nw) {
                    $one_pid_only = 1;      # reuseport did not spread them
                    $workers_ok = 1;
                }
                if ($streak >= $ISTREAK && $workers_ok) {
                    my ($last) = sort { $b <=> $a } values %first;
                    return ($last - $t0, $polls, $old, $lower);
                }
            } else {
                # that worker had not switched yet when this was sent
                $old++;
                $streak = 0;
                %first = ();
                $lower = $ts - $t0 if $ts - $t0 > $lower;
                die "bench: invalidation path: HTTP $code (X-Pid $pid)\n"
                    unless $code == 200 || $code == 403;
            }
            return if $t - $t0 > $timeout;
        }
    };

    my $role = 'viewer';
    my %status = (viewer => 403, editor => 200);
    defined(($poll->($status{$role}, time, 10))[0])
        or die "bench: invalidation path: no stable $status{$role} before the changes\n";

    my (@lat, @low, @polls, @old, $timeouts);
    for my $i (1 .. $ICHANGES) {
        printf STDERR "  change %d/%d\r", $i, $ICHANGES if -t STDERR;
        $role = $role eq 'viewer' ? 'editor' : 'viewer';
        sleep rand($IJITTER / 1000) if $IJITTER;
        coproc_do($psql, "UPDATE team_members SET role = '$role'"
                       . " WHERE team_id = '$team' AND user_id = '$user';");
        my $t0 = time;
        my ($lat, $np, $nold, $low) = $poll->($status{$role}, $t0, $ITIMEOUT);
        if (!defined $lat) {
            $timeouts++;
            # let it settle before the next change
            $poll->($status{$role}, time, 30)
                or die "bench: invalidation: the decision never changed\n";
            next;
        }
        push @lat, $lat * 1000;
        push @low, $low * 1000;
        push @polls, $np;
        push @old, $nold;
    }
    printf STDERR "%40s\r", '' if -t STDERR;

    my @s = sort { $a <=> $b } @lat;
    my $pct = sub { @s ? $s[int($_[0] * $#s + 0.5)] : 0 };
    my $sum = 0;
    $sum += $_ for @old;
    say "";
    say sprintf("  %d changes: latency p50 %.2f ms, p99 %.2f ms, max %.2f ms,"
              . " min %.2f ms; timeouts %d", scalar(@s), $pct->(0.5),
                $pct->(0.99), @s ? $s[-1] : 0, @s ? $s[0] : 0, $timeouts // 0);
    my @sl = sort { $a <=> $b } @low;
    say sprintf("  lower bound (the last stale answer's send time, 0 when"
              . " none): p50 %.2f ms, p99 %.2f ms, max %.2f ms",
                @sl ? $sl[int(0.5 * $#sl + 0.5)] : 0,
                @sl ? $sl[int(0.99 * $#sl + 0.5)] : 0, @sl ? $sl[-1] : 0);
    say sprintf("  polls per change: median %d; stale answers after the"
              . " COMMIT: %d in all (%d changes had some)",
                median(@polls), $sum, scalar(grep { $_ } @old));
    warn_say "invalidation: the polls reached one worker only (no reuseport"
           . " spread): latency measured on it alone" if $one_pid_only;
    my $ok = @s && !$timeouts && $pct->(0.99) < 100;
    $SUMMARY{inval} = sprintf("Invalidation (worker_processes %d, velro_pg_listen"
        . " %s): p50 %.2f ms, p99 %.2f ms, max"
        . " %.2f ms over %d changes, %d timeouts  (target p99 < 100 ms: %s)",
        $IWORKERS, $ILISTEN, $pct->(0.5), $pct->(0.99), @s ? $s[-1] : 0, scalar(@s),
        $timeouts // 0, $ok ? 'met' : 'MISSED');

    if (my $c = nginx_check_crash($n)) {
        warn_say "nginx inval: $c";
    }
    error_log_tail($n);
    nginx_stop($n);
    coproc_close($psql);
}

#----------------------------------------------------------------------------
# L1 memory

sub phase_mem {
    my $bin = "$OUT/l1_memory";
    my $cc = "cc -O2 -Wall -I$TOP/src -o $bin $TOP/bench/l1_memory.c"
           . " $TOP/src/velro_cache.c";
    system($cc) == 0 or die "bench: $cc failed\n";

    say "";
    say "L1 memory: bench/l1_memory.c with src/velro_cache.c, no nginx;"
      . " velro_cache_new(SIZE) filled with";
    say "  distinct entries, 1 user (key 17 B, value 24 B) per 3 access"
      . " (key 33 B, value 40 B), at least";
    say "  $L1_ENTRIES and 3x what SIZE holds (so it evicts); heap ="
      . " mallinfo2() uordblks + hblkhd growth,";
    say "  RSS = VmRSS growth; \"refill\": flushed, then filled again with"
      . " other keys.";
    say "";
    say sprintf("%-6s %-6s %9s %8s %10s %10s %6s %10s %6s %6s",
                'size', 'phase', 'inserted', 'held', 'accounted', 'heap',
                'ratio', 'RSS', 'ratio', 'ns/put');
    my $worst = 0;
    for my $size (@L1_SIZES) {
        my $outp = `$bin $size $L1_ENTRIES 2>&1`;
        die "bench: l1_memory $size failed:\n$outp" if $?;
        my ($eb) = $outp =~ /^entry_bytes (.*)$/m;
        for my $l (grep { /^phase=/ } split /\n/, $outp) {
            my %k = map { split /=/, $_, 2 } split ' ', $l;
            say sprintf("%-6s %-6s %9d %8d %10d %10d %6.3f %10d %6.3f %6.0f",
                        $size, $k{phase}, $k{inserted}, $k{entries},
                        $k{accounted}, $k{heap}, $k{heap_ratio}, $k{rss},
                        $k{rss_ratio}, $k{ns_per_put});
            $worst = $k{heap_ratio} if $k{heap_ratio} > $worst;
            $worst = $k{rss_ratio} if $k{rss_ratio} > $worst;
        }
        say "         (bytes per entry as accounted: $eb)" if $eb && $size eq $L1_SIZES[0];
    }
    # entities against pairs (bench/l1_entities.c)
    my $ebin = "$OUT/l1_entities";
    $cc = "cc -O2 -Wall -I$TOP/src -o $ebin $TOP/bench/l1_entities.c"
        . " $TOP/src/velro_cache.c";
    system($cc) == 0 or die "bench: $cc failed\n";
    say "";
    say "L1 bytes, entities against pairs: bench/l1_entities.c, 1,000,000"
      . " distinct (user, generation) pairs";
    say "  drawn from $NUSERS x $NGENS ($NPROJECTS projects); the entity"
      . " cache keeps the user, memberships,";
    say "  generation and project of each once, the pair cache (issue 3's"
      . " L1) an access entry per pair";
    say "  and the users; bytes as velro_cache accounts them (entries,"
      . " keys, values, buckets).";
    say "";
    say sprintf("%9s %9s %12s %10s %12s %9s", 'pairs', 'entities',
                'entity B', 'B/entity', 'pair B', 'B/pair');
    my $eout = `$ebin 1000000 $NUSERS $NGENS $NPROJECTS 2>&1`;
    die "bench: l1_entities failed:\n$eout" if $?;
    my @last;
    for my $l (grep { /^\d/ } split /\n/, $eout) {
        @last = split ' ', $l;
        say sprintf("%9d %9d %12d %10.1f %12d %9.1f", @last);
    }
    $SUMMARY{mem} = sprintf("L1 memory: worst heap or RSS / configured size"
                          . " %.3f  (target <= 1.10: %s); 1M pairs: %.1f MB"
                          . " of entities (%.0f B each) against %.1f MB of"
                          . " pairs",
                            $worst, $worst <= 1.10 ? 'met' : 'MISSED',
                            ($last[2] // 0) / 1048576, $last[3] // 0,
                            ($last[4] // 0) / 1048576);
    say "";
    say "  $SUMMARY{mem}";
}

#----------------------------------------------------------------------------

my $T0 = time;

phase_tiers() if @TIERS;
phase_batch() if $PATH{batch};
phase_login() if $PATH{login};
phase_zipf() if $PATH{zipf};
phase_inval() if $PATH{inval};
phase_mem() if $PATH{mem};

stop_everything();

say "";
say "Summary (", sprintf('%.0f', time - $T0), " s, load average after: ",
    join(' ', (split ' ', slurp('/proc/loadavg'))[0 .. 2]), "):";
for my $k (qw(l1 l2 l3 l3pg l3fleet batch login), (map { "zipf-$_" } @ZMODES),
           qw(inval mem)) {
    say "  $SUMMARY{$k}" if $SUMMARY{$k};
}
say "  WARNING: $_" for @WARN;
say "";
say "results: $RESULTS; logs and raw wrk output: $WORK";
