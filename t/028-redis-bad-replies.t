# A Redis that lies: something on the L2 port that speaks the protocol for
# the handshake (PING) and the writes, and answers the L2 read (MGET) with
# garbage, a wrong type, a wrong count, arrays nested too deep, a bulk
# string of 2 GB, or half a reply before closing.  Each time: the answer is
# refused with a log line, L3 answers, no crash; and after hundreds of
# refused answers of 500 KB each the worker's memory has not grown.
#
# The liar is this file's own (the real Redis cannot be made to lie): one
# process per connection, its answer to MGET read from a file the block
# sets; its processes end with POSIX::_exit(), so that the runner's END
# blocks run in this process only.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use POSIX ();
use Velro::Authz;
use Velro::Backends;
use Test::Nginx::Socket 'no_plan';

Velro::Authz::start(redis => 0);

our $MODE = Velro::Backends::_mkdir_tmp('liar') . '/mode';
# the answers to MGET, by mode
our %ANSWER = (
    garbage  => "!garbage\r\n",
    integer  => ":42\r\n",
    count    => "*7\r\n" . ("\$-1\r\n" x 7),
    deep     => ("*1\r\n" x 12) . ":1\r\n",
    huge     => "*1\r\n\$2000000000\r\n",
    half     => "*2\r\n\$3\r\nab",
    big      => "*1\r\n\$500000\r\n" . ('x' x 500000) . "\r\n",
);

sub mode {
    open my $fh, '>', "$MODE.new" or die "liar mode: $!";
    print $fh $_[0];
    close $fh;
    rename "$MODE.new", $MODE or die "liar mode: $!";
}

# one RESP command from the client's buffer: its arguments, or ()
sub command {
    my ($buf) = @_;
    return () unless $$buf =~ /\A\*(\d+)\r\n/;
    my ($n, $at) = ($1, length($&));
    my @args;
    for (1 .. $n) {
        return () unless substr($$buf, $at) =~ /\A\$(\d+)\r\n/;
        my ($len, $hl) = ($1, length($&));
        return () if length($$buf) < $at + $hl + $len + 2;
        push @args, substr($$buf, $at + $hl, $len);
        $at += $hl + $len + 2;
    }
    substr($$buf, 0, $at) = '';
    return @args;
}

sub serve {
    my ($c) = @_;
    my $buf = '';
    while (sysread($c, $buf, 65536, length $buf)) {
        while (my @cmd = command(\$buf)) {
            my $name = uc $cmd[0];
            if ($name eq 'MGET') {
                open my $fh, '<', $MODE or die "liar mode: $!";
                my $mode = <$fh>;
                close $fh;
                print $c $ANSWER{$mode} or POSIX::_exit(0);
                if ($mode eq 'huge') {
                    # 4 MB of the 2 GB announced, then silence until
                    # nginx closes
                    for (1 .. 64) { print $c 'x' x 65536 or POSIX::_exit(0) }
                    1 while sysread($c, my $x, 65536);
                    POSIX::_exit(0);
                }
                POSIX::_exit(0) if $mode eq 'half';
            } elsif ($name eq 'PING') {
                print $c "+PONG\r\n" or POSIX::_exit(0);
            } elsif ($name eq 'DEL') {
                print $c ":1\r\n" or POSIX::_exit(0);
            } else {
                print $c "+OK\r\n" or POSIX::_exit(0);
            }
        }
    }
    POSIX::_exit(0);
}

sub liar {
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 64, ReuseAddr => 1)
        or die "liar: listen: $!";
    my $pid = fork // die "liar: fork: $!";
    if ($pid == 0) {
        $SIG{PIPE} = 'IGNORE';
        $SIG{CHLD} = 'IGNORE';
        my $parent = getppid;
        while (1) {
            POSIX::_exit(0) if getppid != $parent;
            my $c = $l->accept or next;
            $c->autoflush(1);
            my $child = fork;
            if (defined $child && $child == 0) {
                close $l;
                serve($c);
            }
            close $c;
        }
    }
    $main::LIAR_PID = $pid;
    return $l;
}

END {
    local $?;           # the liar's status is not the test's
    if ($main::LIAR_PID) {
        kill 'TERM', $main::LIAR_PID;
        waitpid $main::LIAR_PID, 0;
    }
}

sub gen { "/gen/" . Velro::Authz::id($_[0]) }

sub http {
    Velro::Authz::http_config(
        redis => '127.0.0.1:$TEST_NGINX_LIAR_PORT',
        extra => "    velro_cache_ttl auth l1=0;\n"
               . "    velro_cache_ttl ownership l1=0;\n"
               . "    velro_cache_ttl team_access l1=0;\n"
               . "    velro_breaker redis failures=65535 recovery=1s;\n");
}

# GET $path as the viewer on a new connection: (status, X-Authz, X-Pid)
sub get {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_SERVER_PORT},
                                  Proto => 'tcp', Timeout => 10)
        or die "connect: $!";
    print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n"
             . Velro::Authz::bearer('viewer') . "\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    close $s;
    my ($st) = $r =~ m{^HTTP/1\.\d (\d+)};
    my ($authz) = $r =~ /^X-Authz: ([^\r\n]*)/mi;
    my ($pid) = $r =~ /^X-Pid: (\d+)/mi;
    return ($st // 0, $authz // '', $pid // 0);
}

sub rss_kb {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    while (<$fh>) {
        return $1 if /^VmRSS:\s+(\d+) kB/;
    }
    return 0;
}

mode('count');
our $LIAR = liar();
$ENV{TEST_NGINX_LIAR_PORT} = $LIAR->sockport;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: garbage: a protocol error, the connection dropped, L3 answers
--- init: main::mode('garbage')
--- http_config eval: main::http()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: "GET " . main::gen('gen_team')
--- response_headers
X-Authz: L3 viewer allow
--- error_log eval
qr/velro: redis 127\.0\.0\.1:\d+ connection lost: Protocol error/
--- no_error_log
[alert]
[crit]



=== TEST 2: an integer where an array is due: refused, logged, L3 answers
--- init: main::mode('integer')
--- http_config eval: main::http()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: "GET " . main::gen('gen_team')
--- response_headers
X-Authz: L3 viewer allow
--- error_log eval
qr/velro: L2 answer refused: type 3, 0 elements for 3 keys/
--- no_error_log
[alert]
[crit]



=== TEST 3: an array of 7 for 3 keys: refused, logged, L3 answers
--- init: main::mode('count')
--- http_config eval: main::http()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: "GET " . main::gen('gen_team')
--- response_headers
X-Authz: L3 viewer allow
--- error_log eval
qr/velro: L2 answer refused: type 2, 7 elements for 3 keys/
--- no_error_log
[alert]
[crit]



=== TEST 4: arrays nested 12 deep: hiredis's reader refuses them, the
connection dropped, L3 answers
--- init: main::mode('deep')
--- http_config eval: main::http()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: "GET " . main::gen('gen_team')
--- response_headers
X-Authz: L3 viewer allow
--- error_log eval
qr/velro: redis 127\.0\.0\.1:\d+ connection lost: .*nested multi bulk/
--- no_error_log
[alert]
[crit]



=== TEST 5: a bulk string of 2 GB announced, 4 MB of it sent at once: the
reply is refused past 1 MB, the connection dropped, L3 answers
--- init: main::mode('huge')
--- http_config eval: main::http()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: "GET " . main::gen('gen_team')
--- response_headers
X-Authz: L3 viewer allow
--- error_log eval
qr/velro: redis 127\.0\.0\.1:\d+ connection lost: reply over 1 MB, refused/
--- no_error_log
[alert]
[crit]



=== TEST 6: half a reply, then the connection closed: the read goes again
once on a new connection, which does the same; L3 answers
--- init: main::mode('half')
--- http_config eval: main::http()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: "GET " . main::gen('gen_team')
--- response_headers
X-Authz: L3 viewer allow
--- error_log eval
qr/velro: redis 127\.0\.0\.1:\d+ connection lost/
--- no_error_log
[alert]
[crit]



=== TEST 7: 400 refused answers of 500 KB each (200 MB in all): every one
answered by L3, and the worker's memory has not grown by 8 MB
--- init
main::mode('big');
my ($pid, %authz);
for (1 .. 50) {
    my ($st, $authz, $p) = main::get(main::gen('gen_team'));
    $pid = $p;
}
my $before = main::rss_kb($pid);
for (1 .. 400) {
    my ($st, $authz, $p) = main::get(main::gen('gen_team'));
    $authz{"$st $authz"}++;
    $pid = $p;
}
my $after = main::rss_kb($pid);
Test::More::is(join(', ', map { "$_: $authz{$_}" } sort keys %authz),
               '200 L3 viewer allow: 400', 'every answer from L3');
# ASan and valgrind keep freed memory aside (their quarantines) and find
# leaks themselves: the RSS is the plain build's check
SKIP: {
    Test::More::skip("RSS under ASan or valgrind", 1)
        if $ENV{TEST_NGINX_USE_VALGRIND}
           || ($ENV{TEST_NGINX_BINARY} // '') =~ /asan/;
    Test::More::ok($before > 0 && $after - $before < 8192,
                   "worker $pid RSS $before kB -> $after kB");
}
--- http_config eval: main::http()
--- config eval
Velro::Authz::location(extra => '        add_header X-Pid $pid always;')
--- request
GET /echo
--- response_body
ok
--- error_log eval
qr/velro: L2 answer refused: type 2, 1 elements for 3 keys/
--- no_error_log
[alert]
[crit]
