# The frontend's batch client (client/velro-batch.js): its unit tests
# (node --test), then, where Debian's chromium is installed, the
# headless-Chromium test against the make run gateway (conf/demo/run.sh,
# its own PostgreSQL and Redis), started here on free ports and stopped at
# the end.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();

my $top = "$FindBin::Bin/..";
my $nginx = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
my $module = $ENV{TEST_NGINX_LOAD_MODULES} // "$top/build/ngx_http_velro_module.so";

chomp(my $node = `command -v node 2>/dev/null` // '');
plan skip_all => 'node is not installed (make deps installs nodejs)'
    unless $node;

# unit tests of the client, with a fake fetch

my $units = join ' ', glob("$top/client/test/*.test.mjs");
my $unit_out = `$node --test $units 2>&1`;
is($? >> 8, 0, 'client unit tests (node --test)') or diag $unit_out;

# the browser test needs Debian's chromium (apt-get install chromium);
# make deps does not install it yet (a large download for CI)
unless (-x '/usr/bin/chromium') {
    diag 'no /usr/bin/chromium: the headless browser test is skipped';
    done_testing();
    exit 0;
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1) or die "$!";
    return $s->sockport;
}

my $port = free_port();
my $backend = free_port();
my $run = tempdir('velro-client-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $run;                  # PostgreSQL (user postgres) lives below

my $pid = open(my $out, '-|') // die "fork: $!";

if ($pid == 0) {
    open STDERR, '>&', \*STDOUT;
    $ENV{VELRO_RUN_DIR} = $run;
    $ENV{VELRO_LISTEN} = "127.0.0.1:$port";
    $ENV{VELRO_BACKEND} = "127.0.0.1:$backend";
    POSIX::setsid();
    exec 'sh', "$top/conf/demo/run.sh", $nginx, $module or die "exec: $!";
}

my ($token, $log) = (undef, '');

while (defined(my $l = <$out>)) {
    $log .= $l;
    if ($l =~ /^ALICE=(\S+)/) {
        $token = $1;
    }
    last if $l =~ /Ctrl-C stops/;
}

ok($token, 'the demo gateway started and printed a token') or diag $log;

# wait for nginx to listen (polls: a busy machine may take a while)
for (1 .. 600) {
    last if IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
    select undef, undef, undef, 0.1;
}

$ENV{VELRO_TOKEN} = $token // '';
my $res = `cd $top/client && $node test/browser.mjs --gateway http://127.0.0.1:$port 2>&1`;
is($? >> 8, 0, 'headless Chromium against the gateway') or diag $res;
like($res, qr/passed/, 'the browser scenarios passed') or diag $res;

# what the demo started, to check it is all gone once the script exits
my @started = grep { $_ } map { (slurp_first("$run/$_") // '') =~ /^(\d+)/ }
              'redis/redis.pid', 'pg/data/postmaster.pid';

kill 'TERM', -$pid;                # the run script's process group
close $out;                        # (and its output closed: no SIGPIPE death)

ok(@started == 2, 'the demo started PostgreSQL and Redis');
my @left = grep { kill 0, $_ } @started;
for (1 .. 100) {                   # they may take a moment to exit
    last unless @left;
    select undef, undef, undef, 0.1;
    @left = grep { kill 0, $_ } @left;
}
ok(!@left, 'the run script stopped PostgreSQL and Redis') or diag "left: @left";

sub slurp_first {
    open my $fh, '<', $_[0] or return undef;
    return scalar <$fh>;
}

done_testing();
