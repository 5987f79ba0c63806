#!/usr/bin/perl
#
# bench/fleet.pl   (make bench-fleet; make bench runs it last)
#
# What following invalidations costs the platform's database as hosts are
# added, for the two ways a host can follow them: a LISTEN connection per
# host (what each nginx worker does today: one listener per worker), or a
# cursor over velro_invalidation_log read every BENCH_FLEET_INTERVAL ms
# (50) by each host (issue 12's design: no LISTEN).  bench/inval_fleet.c
# drives one throwaway PostgreSQL (fsync off, synchronous_commit off for
# the writers) with 4 writers committing change-triggering writes as fast
# as they can, and 1, 10 and 100 followers (BENCH_FLEET_HOSTS), each
# design, BENCH_RUNS (3) interleaved rounds of BENCH_FLEET_SECONDS (5),
# medians.  Printed per point: commits/s and its ratio to no follower,
# the p99 (and p50) time from a writer's COMMIT returning to a follower
# having the change, and the cursor's queries/s.  Both share the machine's
# 2 CPUs with PostgreSQL: the followers' own work (reading 100 x the
# notifications) is part of what the listen rows pay, as each real host
# would pay it on its own CPU; so the drop in the listen rows is steeper
# here than on a large server, as issue 12's figures say.

use strict;
use warnings;

BEGIN {
    $SIG{INT} = sub { exit 130 };
    $SIG{TERM} = sub { exit 143 };
    $SIG{HUP} = sub { exit 129 };
}

use FindBin;
use lib "$FindBin::Bin/../t/lib";

use Cwd qw(abs_path);
use File::Path qw(make_path);

use Velro::Backends;

$| = 1;

sub env { my ($k, $d) = @_; my $v = $ENV{$k}; defined $v && $v ne '' ? $v : $d }

my $TOP = abs_path("$FindBin::Bin/..");
my $OUT = "$TOP/build/bench";
my $RUNS = env(BENCH_RUNS => 3);
my $SECS = env(BENCH_FLEET_SECONDS => 5);
my $INTERVAL = env(BENCH_FLEET_INTERVAL => 50);
my @HOSTS = split ' ', env(BENCH_FLEET_HOSTS => '1 10 100');

make_path($OUT);
my $bin = "$OUT/inval_fleet";
my $cc = "cc -O2 -Wall -I/usr/include/postgresql -o $bin"
       . " $TOP/bench/inval_fleet.c -lpq";
system($cc) == 0 or die "bench: $cc failed\n";

my $max = 0;
$max = $_ > $max ? $_ : $max for @HOSTS;
Velro::Backends::start_pg(conf => { max_connections => $max + 50 });
my $conninfo = $ENV{TEST_NGINX_PG_CONNINFO};
my $sql = Velro::Backends::_slurp("$TOP/bench/gen-data.sql")
    or die "bench: gen-data.sql\n";
Velro::Backends::psql($sql, args => [ '-v', 'nusers=10000', '-v', 'nteams=100',
                                      '-v', 'nprojects=100',
                                      '-v', 'ngens=1000' ]);

sub point {
    my ($mode, $hosts) = @_;
    my $out = `$bin '$conninfo' $mode $hosts $SECS $INTERVAL 2>&1`;
    die "bench: inval_fleet $mode $hosts failed:\n$out" if $?;
    my %r = $out =~ /(\w+)=([\d.]+)/g;
    return \%r;
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return @v ? $v[$#v / 2] : 0;
}

my %res;    # "$mode $hosts" => [ results ]
for my $run (1 .. $RUNS) {
    push @{ $res{'none 0'} }, point('none', 0);
    for my $h (@HOSTS) {
        for my $mode (qw(listen cursor)) {
            push @{ $res{"$mode $h"} }, point($mode, $h);
        }
    }
}

sub med { my ($k, $f) = @_; median(map { $_->{$f} } @{ $res{$k} }) }

my $base = med('none 0', 'commits_per_s');
my @lines;
push @lines, sprintf("Invalidation followers: 4 writers, a change per transaction,"
                   . " %d rounds of %d s, medians; cursor every %d ms",
                     $RUNS, $SECS, $INTERVAL);
push @lines, sprintf("%-8s %-7s %9s %6s %8s %8s %9s",
                     'design', 'hosts', 'commits/s', 'ratio', 'p50 ms',
                     'p99 ms', 'queries/s');
push @lines, sprintf("%-8s %-7d %9.0f %6.3f %8s %8s %9s",
                     'none', 0, $base, 1, '-', '-', '-');
for my $h (@HOSTS) {
    for my $mode (qw(listen cursor)) {
        my $k = "$mode $h";
        my $c = med($k, 'commits_per_s');
        push @lines, sprintf("%-8s %-7d %9.0f %6.3f %8.1f %8.1f %9s",
                             $mode, $h, $c, $base ? $c / $base : 0,
                             med($k, 'p50_ms'), med($k, 'p99_ms'),
                             $mode eq 'cursor'
                             ? sprintf('%.0f', med($k, 'follower_queries_per_s'))
                             : '-');
    }
}

print "$_\n" for @lines;
open my $fh, '>', "$OUT/fleet-results.txt" or die "bench: $OUT: $!\n";
print $fh "$_\n" for @lines;
close $fh;
