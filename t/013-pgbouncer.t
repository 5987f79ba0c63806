# PgBouncer (Debian's 1.18: no protocol-level prepared statements) in
# pool_mode=transaction in front of the L3 pool: with velro_pg's
# prepare=off the lookups and the warm form are unnamed statements and
# answer whichever server connection PgBouncer hands out; with the
# default (prepared statements) a lookup that lands on a server connection
# that did not prepare them is a clean 503 and a log line, and the
# connection prepares again (and a pool connection whose PREPARE lands on a
# server connection another one prepared fails with "already exists" and
# reconnects: prepared statements and transaction pooling do not mix).  The subscriber connects directly
# (listen_conninfo=), never through PgBouncer: a LISTEN there would end
# with its transaction.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use Velro::Backends;
use Velro::Control;
use Velro::Fixture;
use Test::Nginx::Socket 'no_plan';

our %ID = %Velro::Fixture::ID;

Velro::Backends::start_pg(fixture => 1);
Velro::Backends::start_pgbouncer(pool_mode => 'transaction', pool_size => 4);

our $WAIT = $ENV{TEST_NGINX_USE_VALGRIND} ? 60 : 20;

# What PostgreSQL itself answers: the handler passes it on verbatim.
sub l3 {
    my ($user, $resource) = @_;
    my $out = Velro::Backends::psql("SELECT velro_l3_entities('$ID{$user}', "
                                    . "'$ID{$resource}')");
    $out =~ s/\n\z//;
    return $out;
}

sub warm {
    my ($user) = @_;
    my $out = Velro::Backends::psql("SELECT velro_l3_warm_entities("
                                    . "'$ID{$user}', 100)");
    $out =~ s/\n\z//;
    return $out;
}

sub uri { "/l3?user=$ID{$_[0]}&resource=$ID{$_[1]}" }

# PgBouncer's server connections closed from PostgreSQL's side (the
# subscriber's backend and our own spared), then until PgBouncer
# has none left: its next transaction gets a new one, where nothing was
# prepared
$Velro::Control::HANDLERS{'/ctl/pgb/new_servers'} = sub {
    Velro::Backends::psql(q{
        SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = 'velro' AND backend_type = 'client backend'
           AND pid <> pg_backend_pid()
           AND query !~ '^LISTEN |velro_invalidation'});
    my $until = time + $WAIT;
    while (time < $until) {
        my $servers = Velro::Backends::pgbouncer_psql('SHOW SERVERS',
                                                      db => 'pgbouncer');
        return ('200 OK', "new servers\n") unless $servers =~ /\S/;
        sleep 0.02;
    }
    return ('200 OK', "PgBouncer kept its servers\n");
};

# GET $uri until it answers 200, bounded
$Velro::Control::HANDLERS{'/ctl/pgb/until200'} = sub {
    my ($q) = @_;
    my $until = time + $WAIT;
    my ($st, %seen);
    while (1) {
        $st = Velro::Control::get($q->{uri}, '');
        $seen{$st}++;
        last if $st == 200 || time >= $until;
        sleep 0.05;
    }
    return ('200 OK', ($st == 200 ? 'got 200' : "gave up, last $st")
                      . join('', map { " $_:$seen{$_}" } sort keys %seen)
                      . "\n");
};

# PgBouncer's clients (its admin console's own excluded): the L3 pool's
# connections only, the subscriber is not one of them
$Velro::Control::HANDLERS{'/ctl/pgb/clients'} = sub {
    my $n = grep { /\|velro\|/ }
            split /\n/, Velro::Backends::pgbouncer_psql('SHOW CLIENTS',
                                                        db => 'pgbouncer');
    return ('200 OK', "clients=$n\n");
};

# the subscriber's backend, directly on PostgreSQL: its last query is its
# LISTEN or a read of the invalidation log
$Velro::Control::HANDLERS{'/ctl/pgb/listen'} = sub {
    my $until = time + $WAIT;
    my $n = 0;
    while (time < $until) {
        $n = Velro::Backends::psql(q{
            SELECT count(*) FROM pg_stat_activity
             WHERE application_name = 'nginx-velro'
               AND query ~ '^LISTEN |velro_invalidation'}) + 0;
        last if $n;
        sleep 0.05;
    }
    return ('200 OK', "listen=$n\n");
};

Velro::Control::start();

sub ctl { "GET /ctl/$_[0]" }

# velro_pg through PgBouncer ($pool connections, 2 by default; TEST 2 has
# one: with two, the other may be preparing again, after one of until200's
# failures, on a server made after the termination, and the lookup that
# must fail may land there)
sub http {
    my ($opts, $pool) = @_;
    $pool //= 2;
    my $slow = $ENV{TEST_NGINX_USE_VALGRIND}
               ? ' timeout=20s connect_timeout=20s' : '';
    return qq{    velro_pg "\$TEST_NGINX_PGBOUNCER_CONNINFO" pool=$pool $opts$slow}
         . qq{ "listen_conninfo=\$TEST_NGINX_PG_CONNINFO";\n};
}

our $L3 = <<'_EOC_';
    location = /l3 {
        velro_authz_pg;
    }
_EOC_

our $CONF = $L3 . Velro::Control::location();

no_shuffle();
run_tests();

__DATA__

=== TEST 1: prepare=off through PgBouncer in transaction mode: lookups and the warm form answer, also on new server connections; the subscriber LISTENs directly
--- http_config eval: main::http('prepare=off')
--- config eval: $::CONF
--- request eval
["GET " . main::uri(qw(viewer gen_team)),
 "GET /l3?user=$::ID{owner}&warm=1",
 main::ctl("pgb/new_servers"),
 "GET " . main::uri(qw(outsider gen_private)),
 "GET /l3?user=$::ID{tadmin}&warm=1",
 main::ctl("pgb/clients"),
 main::ctl("pgb/listen")]
--- error_code eval: [(200) x 7]
--- response_body eval
[main::l3(qw(viewer gen_team)), main::warm('owner'), "new servers\n",
 main::l3(qw(outsider gen_private)), main::warm('tadmin'), "clients=2\n",
 "listen=1\n"]
--- timeout: 30
--- no_error_log
[error]
[alert]



=== TEST 2: prepared statements (the default) through PgBouncer in transaction mode: a lookup on a server connection that did not prepare them is a 503 and a log line; the connection prepares again
--- http_config eval: main::http('', 1)
--- config eval: $::CONF
--- request eval
[main::ctl("pgb/until200?uri=" . Velro::Control::esc(main::uri(qw(viewer gen_team)))),
 main::ctl("pgb/new_servers"),
 "GET " . main::uri(qw(viewer gen_team)),
 main::ctl("pgb/until200?uri=" . Velro::Control::esc(main::uri(qw(viewer gen_team)))),
 Velro::Control::logged('velro: postgres query failed: ERROR: +prepared '
                        . 'statement "velro_l3" does not exist'),
 Velro::Control::logged('velro: postgres prepared statement lost on '
                        . 'connection #\d, reconnecting')]
--- error_code eval: [200, 200, 503, 200, 200, 200]
--- response_body_like eval
[qr/^got 200/, "new servers", qr/./, qr/^got 200/, qr/^[1-9]/, qr/^[1-9]/]
--- timeout: 30
--- no_error_log
[alert]



=== TEST 3: prepare= takes on or off, listen_conninfo= a conninfo
--- http_config
    velro_pg "$TEST_NGINX_PG_CONNINFO" prepare=maybe;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
invalid value "prepare=maybe", on or off



=== TEST 4: listen_conninfo= is checked as velro_pg's conninfo is
--- http_config
    velro_pg "$TEST_NGINX_PG_CONNINFO" "listen_conninfo=host=127.0.0.1 port";
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
invalid PostgreSQL conninfo
