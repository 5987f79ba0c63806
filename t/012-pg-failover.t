# Failover: velro_pg with a multi-host conninfo (the primary, then a
# streaming standby; target_session_attrs=read-write) follows the standby
# once it is promoted, without a reload: the primary's processes are
# SIGKILLed under load, the standby promoted; the pool reconnects with its
# backoff (libpq trying the hosts in turn) and L3 answers again, bounded;
# the instance's one subscriber LISTENs on the new primary; a change made there is
# enforced; all along every answer is the right decision or a 503, never a
# wrong allow (nor a wrong deny).  No L1, no L2: every request is an L3
# lookup, so that no cache hides what the database says.  The database
# breaker opens during the outage (its lookups fail fast): its recovery is
# 1 s here, so that its trial, not its default 60 s, follows the pool back.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path ();
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);
use Velro::Authz;
use Velro::Backends;
use Velro::Control;
use Test::Nginx::Socket 'no_plan';

Velro::Authz::start(redis => 0);
Velro::Backends::start_standby();

$ENV{TEST_NGINX_PG_FAILOVER} =
    "host=127.0.0.1,127.0.0.1 port=$ENV{TEST_NGINX_PG_PORT},"
    . "$ENV{TEST_NGINX_STANDBY_PORT} dbname=velro user=postgres "
    . "target_session_attrs=read-write";

our $WAIT = $ENV{TEST_NGINX_USE_VALGRIND} ? 90 : 30;

# the suite's own controls, run by the control server (a fork: it kills
# the primary and promotes the standby between two requests of a block)

my $dir = ($ENV{VELRO_TMPDIR} || '/tmp') . "/velro-failover-$$";
my $owner = $$;
my %load;       # name => pid

END { File::Path::remove_tree($dir) if $$ == $owner && -d $dir }

sub esc { Velro::Control::esc(@_) }

# GET $uri as $who until it answers $want, $secs at most; any status but
# $want and 503 on the way is a wrong answer
$Velro::Control::HANDLERS{'/ctl/fo/until'} = sub {
    my ($q) = @_;
    my $auth = Velro::Control::token($q->{who});
    my $until = time + ($q->{secs} // $WAIT);
    my ($t0, $st, %seen) = (time);
    while (1) {
        $st = Velro::Control::get($q->{uri}, $auth);
        $seen{$st}++;
        last if $st == $q->{want} || time >= $until;
        sleep 0.05;
    }
    my $wrong = grep { $_ != $q->{want} && $_ != 503 } keys %seen;
    my $body = sprintf "%s %s wrong=%d%s after %.1f s\n",
               $st == $q->{want} ? 'got' : 'gave up, last', $st, $wrong,
               join('', map { " $_:$seen{$_}" } sort keys %seen), time - $t0;
    print STDERR "# $q->{uri} as $q->{who}: $body";
    return ('200 OK', $body);
};

# a loader of its own per name: GET $uri as $who, one request per
# connection, until stopped; counts the statuses
$Velro::Control::HANDLERS{'/ctl/fo/load/start'} = sub {
    my ($q) = @_;
    mkdir $dir;
    my $auth = Velro::Control::token($q->{who});
    my $file = "$dir/$q->{name}";
    my $kid = fork // die "fork: $!";
    if (!$kid) {
        Velro::Backends::_die_with_parent(15);
        $SIG{TERM} = 'DEFAULT';
        my ($stop, %count) = (0);
        $SIG{USR1} = sub { $stop = 1 };
        until ($stop) {
            $count{ Velro::Control::get($q->{uri}, $auth) }++;
            open my $fh, '>', "$file.tmp" or next;
            print $fh join(' ', map { "$_:$count{$_}" } sort keys %count);
            close $fh;
            rename "$file.tmp", $file;
        }
        POSIX::_exit(0);
    }
    $load{ $q->{name} } = $kid;
    return ('200 OK', "load $q->{name}\n");
};

# "wrong=N ok=some|0 STATUS:COUNT ...": wrong counts answers other than
# $want and 503
$Velro::Control::HANDLERS{'/ctl/fo/load/stop'} = sub {
    my ($q) = @_;
    my $kid = delete $load{ $q->{name} }
        or return ('404 Not Found', "no load $q->{name}\n");
    kill 'USR1', $kid;
    waitpid $kid, 0;
    my %count = map { split /:/ }
                split ' ', (Velro::Proc::slurp("$dir/$q->{name}") // '');
    unlink "$dir/$q->{name}";
    my $wrong = 0;
    $wrong += $count{$_} for grep { $_ != $q->{want} && $_ != 503 }
                             keys %count;
    return ('200 OK', "wrong=$wrong ok=" . ($count{ $q->{want} } ? 'some' : 0)
                      . join('', map { " $_:$count{$_}" } sort keys %count)
                      . "\n");
};

$Velro::Control::HANDLERS{'/ctl/fo/kill'} = sub {
    my $n = Velro::Backends::kill_primary();
    return ('200 OK', "primary killed\n");
};

$Velro::Control::HANDLERS{'/ctl/fo/promote'} = sub {
    my $t = Velro::Backends::promote_standby();
    return ('200 OK', sprintf "promoted\n");
};

# SQL on the standby (the new primary once promoted)
$Velro::Control::HANDLERS{'/ctl/fo/sql'} = sub {
    my ($q) = @_;
    my $out = eval { Velro::Backends::standby_psql($q->{q}) };
    return defined $out ? ('200 OK', $out) : ('500 Error', $@);
};

# until the SQL on the standby answers a line matching RE, bounded
$Velro::Control::HANDLERS{'/ctl/fo/until_sql'} = sub {
    my ($q) = @_;
    my $re = qr/$q->{re}/;
    my $until = time + $WAIT;
    my $out = '';
    while (time < $until) {
        $out = eval { Velro::Backends::standby_psql($q->{q}) } // $@;
        return ('200 OK', "matched\n") if $out =~ $re;
        sleep 0.05;
    }
    return ('200 OK', "gave up: $out");
};

# a server that accepts connections (the kernel does) and never answers:
# a host that hangs rather than refuses
our $BLACKHOLE = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                       LocalPort => 0, Proto => 'tcp',
                                       Listen => 64)
    or die "listen: $!";
$ENV{TEST_NGINX_PG_HANG_FIRST} =
    "host=127.0.0.1,127.0.0.1 port=" . $BLACKHOLE->sockport
    . ",$ENV{TEST_NGINX_STANDBY_PORT} dbname=velro user=postgres "
    . "target_session_attrs=read-write";

$ENV{TEST_NGINX_PG_HANG_FIRST_URI} =
    "postgresql://127.0.0.1:" . $BLACKHOLE->sockport
    . ",127.0.0.1:$ENV{TEST_NGINX_STANDBY_PORT}/velro?user=postgres"
    . "&target_session_attrs=read-write";

Velro::Control::start();

sub gen { "/gen/" . Velro::Authz::id($_[0]) }
sub ctl { "GET /ctl/$_[0]" }

sub until_status {
    my ($who, $g, $want) = @_;
    return ctl("fo/until?who=$who&want=$want&uri=" . esc(gen($g)));
}

sub load {
    my ($name, $who, $g) = @_;
    return ctl("fo/load/start?name=$name&who=$who&uri=" . esc(gen($g)));
}

sub unload {
    my ($name, $want) = @_;
    return ctl("fo/load/stop?name=$name&want=$want");
}

sub standby_sql { ctl("fo/sql?q=" . esc($_[0])) }

our $LISTENERS = "SELECT count(*) FROM pg_stat_activity "
               . "WHERE application_name = 'nginx-velro' "
               . "AND query ~ '^LISTEN |velro_invalidation'";

sub conf {
    my (%opt) = @_;
    my $ttl = join '', map { "    velro_cache_ttl $_ l1=0 l2=0;\n" }
                       qw(auth ownership team_access project_vis);
    return Velro::Authz::http_config(redis => '', pool => 2,
        pg => $opt{pg} // '$TEST_NGINX_PG_FAILOVER',
        pg_opts => $ENV{TEST_NGINX_USE_VALGRIND}
                   ? 'timeout=20s connect_timeout=20s'
                   : 'timeout=1s connect_timeout=' . ($opt{connect} // '2s'),
        extra => $ttl
                 . "    velro_breaker database failures=5 recovery=1s;\n");
}

master_on();
workers(2);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: the primary killed under load, the standby promoted: L3 answers again from it, bounded; no wrong decision on the way; a change on the new primary is enforced; the instance's subscriber (one LISTEN) follows
--- http_config eval: main::conf()
--- config eval: Velro::Authz::location() . Velro::Control::location()
--- more_headers eval
[Velro::Authz::bearer('viewer'), Velro::Authz::bearer('outsider'),
 ("") x 10, Velro::Authz::bearer('viewer'), ""]
--- request eval
["GET " . main::gen('gen_team'),
 "GET " . main::gen('gen_team'),
 main::load(allow => 'viewer', 'gen_team'),
 main::load(deny => 'outsider', 'gen_team'),
 main::ctl("wait?ms=300"),
 main::ctl("fo/kill"),
 main::ctl("wait?ms=300"),
 main::ctl("fo/promote"),
 main::until_status('viewer', 'gen_team', 200),
 main::unload(allow => 200),
 main::unload(deny => 403),
 main::standby_sql("DELETE FROM team_members WHERE user_id = '"
                   . Velro::Authz::id('viewer') . "' RETURNING 'deleted'"),
 "GET " . main::gen('gen_team'),
 main::ctl("fo/until_sql?re=" . main::esc('^1$') . "&q="
           . main::esc($main::LISTENERS))]
--- error_code eval: [200, 403, (200) x 10, 403, 200]
--- response_headers eval
["X-Authz: L3 viewer allow", "X-Authz: L3  deny", ("") x 10,
 "X-Authz: L3  deny", ""]
--- response_body_like eval
["ok", qr/./, "load allow", "load deny", "waited", "primary killed",
 "waited", "promoted", qr/^got 200 wrong=0\b/,
 qr/^wrong=0 ok=some\b/, qr/^wrong=0 ok=some\b/, "deleted", qr/./,
 "matched"]
--- timeout: 120
--- no_error_log
[alert]
[crit]



=== TEST 2: the first host of the list hangs (the standby, now the primary, second): the connect timer ends the attempt and the next one starts with the second host
--- http_config eval
main::conf(pg => '$TEST_NGINX_PG_HANG_FIRST', connect => '500ms')
--- config eval: Velro::Authz::location() . Velro::Control::location()
--- request eval
[main::until_status('owner', 'gen_team', 200),
 Velro::Control::logged('velro: postgres connect to "127\.0\.0\.1:'
     . $main::BLACKHOLE->sockport . '" timed out on connection #\d+, the '
     . 'next attempt starts with host 2 of 2')]
--- response_body_like eval
[qr/^got 200 wrong=0\b/, qr/^[1-9]/]
--- timeout: 60
--- no_error_log
[alert]
[crit]



=== TEST 3: the same with the conninfo as a URI
--- http_config eval
main::conf(pg => '$TEST_NGINX_PG_HANG_FIRST_URI', connect => '500ms')
--- config eval: Velro::Authz::location() . Velro::Control::location()
--- request eval
[main::until_status('owner', 'gen_team', 200),
 Velro::Control::logged('velro: postgres connect to "127\.0\.0\.1:'
     . $main::BLACKHOLE->sockport . '" timed out on connection #\d+, the '
     . 'next attempt starts with host 2 of 2')]
--- response_body_like eval
[qr/^got 200 wrong=0\b/, qr/^[1-9]/]
--- timeout: 60
--- no_error_log
[alert]
[crit]
