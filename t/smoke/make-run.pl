#!/usr/bin/perl
# make run-smoke: the README's first command, run as a new user would.
#
#   perl t/smoke/make-run.pl [STOP ...]
#
# For each STOP (default: all four, one after the other) this starts
# `make run` in a process group of its own, reads what it prints until the
# tokens and the curl lines are there, waits for the gateway's /health,
# runs every printed curl line exactly as printed (with the printed tokens
# in ALICE, BOB, CAROL and DAVE) and checks the status its comment promises
# (# 200 owner ...), checks that a repeated request is answered from L1 or
# L2, that Redis holds the module's keys and that the Redis breaker is
# closed, then stops it:
#
#   int-group    SIGINT to the whole process group, as Ctrl-C does
#   term-make    SIGTERM to make (a supervisor, timeout, docker stop)
#   term-script  SIGTERM to conf/demo/run.sh alone
#   hup-script   SIGHUP to conf/demo/run.sh alone
#   hup-group    SIGHUP to the process group, as a closed terminal does
#                (make alone does not pass SIGHUP on: it waits for its
#                children, expecting them to have it too)
#   kill-make    SIGKILL to make: the script, reparented, stops too
#
# and checks that make exits and that no nginx, PostgreSQL or Redis of it
# is left: the pids it had (nginx master and workers, postmaster and its
# children, redis-server) are gone, and no process names its run directory.
# Every wait is bounded (VELRO_SMOKE_TIMEOUT seconds, 120) and polls; none
# assumes an idle machine.  Prints "N passed, N failed" last; exits 1 on any
# failure.

use strict;
use warnings;
use POSIX qw(:sys_wait_h setpgid);
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use Time::HiRes qw(sleep time);
use JSON::PP ();
use lib abs_path(dirname(__FILE__) . '/../lib');
use Velro::Proc qw(slurp alive children);

my $TOP = abs_path(dirname(__FILE__) . '/../..');
my $RUN = $ENV{VELRO_RUN_DIR} || "$TOP/build/run";
my $TIMEOUT = $ENV{VELRO_SMOKE_TIMEOUT} || 120;
my @STOPS = @ARGV ? @ARGV
                  : qw(int-group term-make term-script hup-script hup-group
                        kill-make);

my ($passed, $failed) = (0, 0);
$| = 1;

sub ok {
    my ($cond, $what) = @_;     # callers pass $cond in scalar context
    if ($cond) {
        $passed++;
        print "ok - $what\n";
    } else {
        $failed++;
        print "not ok - $what\n";
    }
    return $cond;
}

sub wait_for {
    my ($what, $cond) = @_;
    my $until = time + $TIMEOUT;
    while (time < $until) {
        my $v = $cond->();
        return $v if $v;
        sleep 0.2;
    }
    print "# timed out after ${TIMEOUT}s waiting for $what\n";
    return undef;
}

sub procs_naming {
    my ($dir) = @_;
    my @found;
    for my $cl (glob '/proc/[0-9]*/cmdline') {
        my ($pid) = $cl =~ m{/proc/(\d+)/};
        next if $pid == $$;
        my $c = slurp($cl) // next;
        $c =~ s/\0/ /g;
        push @found, "$pid: $c" if index($c, $dir) >= 0 && alive($pid);
    }
    return @found;
}

# one curl line as printed: its status line and headers
sub curl {
    my ($line, $env) = @_;
    local @ENV{keys %$env} = values %$env;
    my $out = `sh -c '$line' 2>/dev/null`;
    my ($status) = $out =~ m{^HTTP/[\d.]+ (\d{3})}m;
    return ($status // 0, $out);
}

sub smoke {
    my ($stop) = @_;
    print "# make run, stopped by $stop\n";
    my $elog_from = -s "$RUN/logs/error.log" || 0;

    pipe(my $rd, my $wr) or die "pipe: $!";
    my $make = fork // die "fork: $!";
    if ($make == 0) {
        setpgid(0, 0);
        close $rd;
        open STDOUT, '>&', $wr or die;
        open STDERR, '>&', $wr or die;
        open STDIN, '<', '/dev/null' or die;
        chdir $TOP or die;
        exec 'make', '--no-print-directory', 'run';
        die "exec make: $!";
    }
    close $wr;
    setpgid($make, $make);

    # what make run prints, until the curl lines and the last line of text
    my (%tok, @curls, $out);
    my $printed = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm $TIMEOUT;
        while (my $l = <$rd>) {
            $out .= $l;
            $tok{$1} = $2 if $l =~ /^(ALICE|BOB|CAROL|DAVE)=(\S+)$/;
            push @curls, [$1, $2, $3]
                if $l =~ /^(curl .*?)\s+#\s*(\d{3})\s+(.*)$/;
            last if $l =~ /Ctrl-C stops/;
        }
        alarm 0;
        1;
    };
    # keep reading make's output so that it never blocks on a full pipe
    my $drain = fork // die "fork: $!";
    if ($drain == 0) {
        open my $log, '>>', "/tmp/velro-smoke-$$.log";
        print $log $_ while <$rd>;
        exit 0;
    }
    close $rd;

    ok($printed && keys %tok == 4, "$stop: make run printed four tokens")
        or print map { "#   $_\n" } split /\n/, $out // '';
    ok(@curls == 5, "$stop: make run printed five curl lines")
        or print map { "#   $_\n" } split /\n/, $out // '';

    my ($listen) = ($out // '') =~ m{gateway on http://(\S+)};
    $listen //= '127.0.0.1:8080';
    my $up = wait_for("the gateway on $listen", sub {
        my $s = `curl -s -o /dev/null -w '%{http_code}' http://$listen/health`;
        return $s eq '200';
    });
    ok($up, "$stop: the gateway answers /health");

    # the pids of everything make run started, for the check at the end
    my @pids;
    my $npid = slurp("$RUN/logs/nginx.pid");
    if ($npid && $npid =~ /(\d+)/) {
        push @pids, $1, children($1);
    }
    my $rpid = slurp("$RUN/redis/redis.pid");
    push @pids, $1 if $rpid && $rpid =~ /(\d+)/;
    my $ppid = slurp("$RUN/pg/data/postmaster.pid");
    if ($ppid && $ppid =~ /^(\d+)/) {
        push @pids, $1, children($1);
    }
    ok(@pids >= 5, "$stop: nginx (master, workers), Redis and PostgreSQL"
        . " are running (" . scalar(@pids) . " processes)");

    for my $c (@curls) {
        my ($line, $want, $why) = @$c;
        my ($got, $resp) = curl($line, \%tok);
        ok($got == $want, "$stop: $want $why")
            or print "#   $line\n#   got $got\n",
                map { "#   $_\n" } grep { /\S/ } split /\r?\n/, $resp;
    }

    # a repeated request comes from a cache, and Redis holds the keys
    if (@curls) {
        my ($got, $resp) = curl($curls[0][0], \%tok);
        my ($tier) = $resp =~ /^X-Velro-Authz: (\S+)/mi;
        ok($got == 200 && defined $tier && $tier =~ /^L[12]$/,
            "$stop: a repeated request is answered from L1 or L2 ("
            . ($tier // 'no X-Velro-Authz') . ")");
    }
    my $keys = wait_for("the module's keys in Redis", sub {
        my @k = `redis-cli -s $RUN/redis/redis.sock --scan --pattern 'velro:*' 2>/dev/null`;
        return @k ? scalar @k : 0;
    });
    ok($keys, "$stop: Redis holds the module's keys (" . ($keys // 0)
        . " velro:* keys)");
    my $status = eval {
        JSON::PP::decode_json(scalar `curl -s http://$listen/velro_status`)
    };
    my $redis = $status
        ? $status->{velro_breaker_state}{backend}{redis} : undef;
    ok(defined $redis && $redis == 0, "$stop: the Redis breaker is closed"
        . " (velro_breaker_state " . ($redis // 'absent') . ")");
    my $elog = substr(slurp("$RUN/logs/error.log") // '', $elog_from);
    ok(scalar($elog !~ /redis \S+ connect failed/),
        "$stop: no Redis connect failure in the error log")
        or print map { "#   $_\n" } grep { /redis/ } split /\n/, $elog;

    # stop it as asked
    my $script;
    for my $k (children($make)) {
        my $c = slurp("/proc/$k/cmdline") // '';
        $script = $k if $c =~ m{conf/demo/run\.sh};
    }
    if ($stop eq 'int-group') {
        kill 'INT', -$make;
    } elsif ($stop eq 'term-make') {
        kill 'TERM', $make;
    } elsif ($stop eq 'term-script') {
        kill 'TERM', $script if $script;
    } elsif ($stop eq 'hup-script') {
        kill 'HUP', $script if $script;
    } elsif ($stop eq 'hup-group') {
        kill 'HUP', -$make;
    } elsif ($stop eq 'kill-make') {
        kill 'KILL', $make;
    } else {
        die "unknown stop $stop\n";
    }
    ok(scalar($stop =~ /make|group/) || $script, "$stop: found run.sh under make");

    my $exited = wait_for("make to exit", sub {
        return waitpid($make, WNOHANG) == $make;
    });
    ok($exited, "$stop: make run exits");
    if (!$exited) {
        kill 'KILL', -$make;
        waitpid($make, 0);
    }

    my $gone = wait_for("everything make run started to exit", sub {
        return !(grep { alive($_) } @pids) && !procs_naming($RUN);
    });
    ok($gone, "$stop: no nginx, PostgreSQL or Redis of make run is left")
        or print map { "#   left: $_\n" } (grep { alive($_) } @pids),
            procs_naming($RUN);

    # leave a clean machine for the next stop, whatever happened
    if (!$gone) {
        kill 'KILL', grep { alive($_) } @pids;
        system("runuser -u postgres -- /usr/lib/postgresql/*/bin/pg_ctl"
            . " -D $RUN/pg/data -m immediate stop >/dev/null 2>&1");
    }
    kill 'TERM', $drain;
    waitpid($drain, 0);
    unlink "/tmp/velro-smoke-$drain.log";
}

smoke($_) for @STOPS;

print "smoke: $passed passed, $failed failed\n";
exit($failed ? 1 : 0);
