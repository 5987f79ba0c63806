# velro_pg_replica: L3 lookups go to a streaming standby, the primary's
# pool keeps the invalidation subscriber.  A lookup is answered by the
# standby only when it is known to have replayed the primary's WAL up to
# the position read with the newest change notified: with the standby's
# replay paused (pg_wal_replay_pause()), a membership removed on the
# primary is refused once the change is applied (the lookup went to the
# primary) though the standby still has the membership; the standby
# stopped, L3 answers from the primary.  No L1, no L2: every request is an
# L3 lookup.  Evidence that the standby answered: its pg_stat_activity
# (the replica statement was run by a backend of application_name
# velro-replica) and the module's debug line.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(sleep time);
use Velro::Authz;
use Velro::Backends;
use Velro::Control;
use Test::Nginx::Socket 'no_plan';

Velro::Authz::start(redis => 0, sql => 1);
Velro::Backends::start_standby();

$ENV{TEST_NGINX_REPLICA} = "$ENV{TEST_NGINX_STANDBY_CONNINFO} "
                         . "application_name=velro-replica";

our $WAIT = $ENV{TEST_NGINX_USE_VALGRIND} ? 90 : 30;

sub esc { Velro::Control::esc(@_) }
sub ctl { "GET /ctl/$_[0]" }
sub gen { "/gen/" . Velro::Authz::id($_[0]) }

# SQL on the standby
$Velro::Control::HANDLERS{'/ctl/rep/sql'} = sub {
    my ($q) = @_;
    my $out = eval { Velro::Backends::standby_psql($q->{q}) };
    return defined $out ? ('200 OK', $out) : ('500 Error', $@);
};

# until the SQL on the standby answers a line matching RE, bounded
$Velro::Control::HANDLERS{'/ctl/rep/until_sql'} = sub {
    my ($q) = @_;
    my $re = qr/$q->{re}/m;
    my $until = time + $WAIT;
    my $out = '';
    while (time < $until) {
        $out = eval { Velro::Backends::standby_psql($q->{q}) } // $@;
        return ('200 OK', "matched\n") if $out =~ $re;
        sleep 0.05;
    }
    return ('200 OK', "gave up: $out");
};

Velro::Control::start();

sub standby_sql { ctl("rep/sql?q=" . esc($_[0])) }

sub standby_until {
    my ($q, $re) = @_;
    return ctl("rep/until_sql?re=" . esc($re) . "&q=" . esc($q));
}

# the standby's backends of the replica pools whose last statement was
# the replica's lookup (with pg_last_wal_replay_lsn())
our $LOOKUPS = "SELECT count(*) FROM pg_stat_activity "
             . "WHERE application_name = 'velro-replica' "
             . "AND query ~ 'pg_last_wal_replay_lsn'";

our $MEMBER = "SELECT count(*) FROM team_members WHERE user_id = '"
            . Velro::Authz::id('viewer') . "'";

# every replica connection (one per worker) up, its statements prepared:
# the last statement of each is velro_l3_warm's
sub replica_ready {
    my $until = time + $WAIT;
    my $q = "SELECT count(*) FROM pg_stat_activity "
          . "WHERE application_name = 'velro-replica' "
          . "AND state = 'idle' AND query ~ 'velro_l3_warm_entities'";
    while (time < $until) {
        my $n = eval { Velro::Backends::standby_psql($q) } // 0;
        return if $n =~ /^\s*2\s*$/;
        sleep 0.05;
    }
    die "the replica pools are not ready after $WAIT s\n";
}

sub conf {
    my (%opt) = @_;
    my $ttl = join '', map { "    velro_cache_ttl $_ l1=0 l2=0;\n" }
                       qw(auth ownership team_access project_vis);
    my $t = $ENV{TEST_NGINX_USE_VALGRIND} ? 'timeout=20s connect_timeout=20s'
                                          : 'timeout=1s connect_timeout=2s';
    return Velro::Authz::http_config(redis => '', pool => 2, pg_opts => $t,
        extra => $ttl
                 . qq{    velro_pg_replica "\$TEST_NGINX_REPLICA" pool=1 $t;\n});
}

master_on();
workers(2);
check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: lookups are answered by the standby
--- http_config eval: main::conf()
--- config eval: Velro::Authz::location() . Velro::Control::location()
--- init
main::replica_ready();
--- more_headers eval
["", Velro::Authz::bearer('viewer'), "", "", Velro::Authz::bearer('outsider')]
--- request eval
[main::standby_sql($main::LOOKUPS),
 "GET " . main::gen('gen_team'),
 main::standby_until($main::LOOKUPS, '^[1-9]'),
 Velro::Control::logged('velro: L3 answered by the replica'),
 "GET " . main::gen('gen_team')]
--- error_code eval: [200, 200, 200, 200, 403]
--- response_body_like eval
["^0\n", "ok", "matched", "^[1-9]", qr/./]
--- timeout: 60
--- no_error_log
L3 lookup goes to the primary
[alert]
[crit]



=== TEST 2: the standby's replay paused, a membership removed on the primary: once the change is applied the gateway refuses (the lookup went to the primary) while the standby still has the membership; replay resumed, still refused
--- http_config eval: main::conf()
--- config eval: Velro::Authz::location() . Velro::Control::location()
--- init
main::replica_ready();
--- more_headers eval
[Velro::Authz::bearer('viewer'), ("") x 5, Velro::Authz::bearer('viewer'),
 ("") x 3, Velro::Authz::bearer('viewer')]
--- request eval
["GET " . main::gen('gen_team'),
 Velro::Control::logged('velro: L3 answered by the replica'),
 main::standby_sql("SELECT pg_wal_replay_pause()"),
 main::standby_until("SELECT pg_get_wal_replay_pause_state()", '^paused$'),
 "POST /sql\nDELETE FROM team_members WHERE user_id = '"
     . Velro::Authz::id('viewer') . "' RETURNING 'deleted'",
 main::standby_sql($main::MEMBER),
 "GET " . main::gen('gen_team'),
 Velro::Control::logged('L3 lookup goes to the primary, the replica: behind'),
 main::standby_sql("SELECT pg_wal_replay_resume()"),
 main::standby_until($main::MEMBER, '^0$'),
 "GET " . main::gen('gen_team')]
--- error_code eval: [200, 200, 200, 200, 200, 200, 403, 200, 200, 200, 403]
--- response_body_like eval
["ok", "^1\n", qr/^/, "matched", "deleted", "^1\n", qr/./, "^[1-9]",
 qr/^/, "matched", qr/./]
--- timeout: 60
--- no_error_log
[alert]
[crit]



=== TEST 3: velro_pg_replica without velro_pg
--- http_config
    velro_pg_replica "host=127.0.0.1 dbname=velro";
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
"velro_pg_replica" needs "velro_pg"



=== TEST 4: a bad conninfo
--- http_config
    velro_pg "host=127.0.0.1 dbname=velro";
    velro_pg_replica "host=127.0.0.1 port='5432";
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



=== TEST 5: prepare= is velro_pg's
--- http_config
    velro_pg "host=127.0.0.1 dbname=velro";
    velro_pg_replica "host=127.0.0.1 dbname=velro" prepare=off;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
invalid parameter "prepare=off" (velro_pg's only)



=== TEST 6: pool= and timeout= checked
--- http_config
    velro_pg "host=127.0.0.1 dbname=velro";
    velro_pg_replica "host=127.0.0.1 dbname=velro" pool=0;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
invalid pool size "pool=0", 1 to 1024



=== TEST 7: a bad time
--- http_config
    velro_pg "host=127.0.0.1 dbname=velro";
    velro_pg_replica "host=127.0.0.1 dbname=velro" timeout=soon;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
invalid time in "timeout=soon"



=== TEST 8: duplicate
--- http_config
    velro_pg "host=127.0.0.1 dbname=velro";
    velro_pg_replica "host=127.0.0.1 dbname=velro";
    velro_pg_replica "host=127.0.0.1 dbname=velro";
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
"velro_pg_replica" directive is duplicate



=== TEST 9: the standby stopped: L3 answers from the primary
--- http_config eval: main::conf()
--- config eval: Velro::Authz::location() . Velro::Control::location()
--- init
main::replica_ready();
Velro::Backends::stop_standby();
--- more_headers eval
[Velro::Authz::bearer('owner'), Velro::Authz::bearer('outsider'),
 Velro::Authz::bearer('owner')]
--- request eval
["GET " . main::gen('gen_team'), "GET " . main::gen('gen_team'),
 "GET " . main::gen('gen_team')]
--- error_code eval: [200, 403, 200]
--- response_body_like eval
["ok", qr/./, "ok"]
--- error_log
L3 lookup goes to the primary
--- no_error_log
[alert]
[crit]
