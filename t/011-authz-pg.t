# velro_authz_pg, the L3 contract from PostgreSQL: the answers, input
# validation (nothing invalid reaches SQL), the per-worker pool (queueing,
# timeouts, a client going away, connections lost), subrequests, the
# directives, and the LISTEN connection.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);
use Velro::Backends;
use Velro::Fixture;
use Test::Nginx::Socket 'no_plan';

our %ID = %Velro::Fixture::ID;

# The timing tests take this much longer under valgrind.
our $SLOW = $ENV{TEST_NGINX_USE_VALGRIND} ? 6 : 1;
$ENV{"TEST_NGINX_PG_T$_"} = ($_ * $SLOW) . "ms" for 400, 500;
$ENV{VELRO_SQL_SETTLE} //= 0.3 * $SLOW;

Velro::Backends::start_pg(fixture => 1);
Velro::Backends::start_sql_endpoint();

# another database: a velro_l3_entities that fails for the "nobody" user and
# answers SQL NULL without a resource
Velro::Backends::psql("CREATE DATABASE velro_alt", db => 'postgres');
Velro::Backends::psql(<<"_SQL_", db => 'velro_alt');
CREATE FUNCTION velro_l3_entities(p_user uuid, p_resource uuid) RETURNS json
LANGUAGE plpgsql AS \$\$
BEGIN
    IF p_user = '$Velro::Fixture::ID{nobody}' THEN
        RETURN (1 / 0)::text::json;
    END IF;
    IF p_resource IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN json_build_object('u', p_user, 'r', p_resource);
END
\$\$;
_SQL_
($ENV{TEST_NGINX_PG_ALT} = $ENV{TEST_NGINX_PG_CONNINFO})
    =~ s/dbname=velro/dbname=velro_alt/;
($ENV{TEST_NGINX_PG_NOSCHEMA} = $ENV{TEST_NGINX_PG_CONNINFO})
    =~ s/dbname=velro/dbname=postgres/;

# a port nobody listens on: PostgreSQL is "down" there
{
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "listen: $!";
    $ENV{TEST_NGINX_PG_CLOSED} = "host=127.0.0.1 port=" . $s->sockport
                                 . " dbname=velro user=postgres";
    close $s;
}

# a server that accepts connections and never answers
our $BLACKHOLE = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                       LocalPort => 0, Proto => 'tcp',
                                       Listen => 64)
    or die "listen: $!";
$ENV{TEST_NGINX_PG_BLACKHOLE} = "host=127.0.0.1 port=" . $BLACKHOLE->sockport
                                . " dbname=velro user=postgres";

# What PostgreSQL itself answers: the handler must pass it on verbatim.
sub l3 {
    my ($user, $resource) = @_;
    my $r = defined $resource ? "'$resource'" : 'NULL';
    my $out = Velro::Backends::psql("SELECT velro_l3_entities('$user', $r)");
    $out =~ s/\n\z//;
    return $out;
}

sub warm {
    my ($user, $limit) = @_;
    my $out = Velro::Backends::psql("SELECT velro_l3_warm_entities('$user', "
                                    . ($limit // 100) . ")");
    $out =~ s/\n\z//;
    return $out;
}

sub uri {
    my ($user, $resource) = @_;
    return "/l3?user=$ID{$user}"
           . (defined $resource ? "&resource=$ID{$resource}" : '');
}

# Waits until nginx's connections are up: $pool with the statements
# prepared (velro_l3_warm is the last), $listen invalidation subscribers
# following the log (their last query reads it).
sub wait_ready {
    my ($pool, $listen) = @_;
    my $until = time + 30;
    while (time < $until) {
        my ($p, $l) = split /\|/, Velro::Backends::psql(
            "SELECT count(*) FILTER (WHERE query LIKE 'SELECT velro_l3_warm%'), "
          . "count(*) FILTER (WHERE query LIKE '%velro_invalidations_after%') "
          . "FROM pg_stat_activity WHERE application_name = 'nginx-velro' "
          . "AND state = 'idle'");
        chomp $l;
        return if $p >= $pool && $l >= ($listen // 1);
        sleep 0.05;
    }
    die "nginx's PostgreSQL connections did not come up\n";
}

# Holds an ACCESS EXCLUSIVE lock on users for $secs, so that every lookup
# waits; returns once the lock is taken.
our $LOCKER;

sub lock_users {
    my ($secs) = @_;
    waitpid($LOCKER, 0) if $LOCKER;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        eval {
            Velro::Backends::psql("BEGIN; LOCK TABLE users IN ACCESS "
                . "EXCLUSIVE MODE; SELECT pg_sleep($secs); COMMIT;");
        };
        POSIX::_exit(0);
    }
    for (1 .. 200) {
        last if Velro::Backends::psql("SELECT count(*) FROM pg_locks l "
                  . "JOIN pg_class c ON c.oid = l.relation "
                  . "WHERE c.relname = 'users' AND l.mode = "
                  . "'AccessExclusiveLock' AND l.granted") =~ /^1/;
        sleep 0.01;
    }
    return $LOCKER = $pid;
}

# A request from another client, in the background: it takes the pool's
# only connection while the test's own request comes in.
our $BG;

sub bg_request {
    my ($uri) = @_;
    waitpid($BG, 0) if $BG;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => server_port(),
                                      Proto => 'tcp');
        if ($s) {
            print $s "GET $uri HTTP/1.0\r\nHost: localhost\r\n\r\n";
            local $/;
            my $resp = <$s>;
        }
        POSIX::_exit(0);
    }
    sleep 0.1 * $SLOW;
    return $BG = $pid;
}

our @CASES = (
    [qw(owner gen_team)], [qw(towner gen_team)], [qw(tadmin gen_private)],
    [qw(editor gen_editor)], [qw(viewer gen_team_pending)],
    [qw(outsider gen_public)], [qw(outsider gen_team_open)],
    [qw(outsider gen_private)], [qw(disabled gen_team)],
    [qw(revoked gen_unknown)], [qw(unrevoked gen_noteam)],
    [qw(owner gen_noproject)], [qw(nobody gen_team)], ['owner', undef],
    ['nobody', undef],
);

our @WARM = qw(owner towner tadmin editor viewer outsider disabled revoked
               unrevoked nobody);

our $HTTP = <<'_EOC_';
    velro_pg "$TEST_NGINX_PG_CONNINFO" pool=4;
_EOC_

our $L3 = <<'_EOC_';
    location = /l3 {
        velro_authz_pg;
    }
_EOC_

# issue 3's form: velro_l3_lookup, velro_l3_warm
our $L3_ACCESS = <<'_EOC_';
    location = /l3 {
        velro_authz_pg access;
    }
_EOC_

no_shuffle();
run_tests();

__DATA__

=== TEST 1: every kind of fixture answer, exactly as PostgreSQL gives it
--- http_config eval: $::HTTP
--- config eval: $::L3
--- request eval
[map { "GET " . main::uri(@$_) } @::CASES]
--- error_code eval
[(200) x @::CASES]
--- response_headers eval
[("Content-Type: application/json") x @::CASES]
--- response_body eval
[map { main::l3($::ID{$_->[0]}, defined $_->[1] ? $::ID{$_->[1]} : undef) }
 @::CASES]
--- no_error_log
[error]
[alert]



=== TEST 2: the answer of issue 3's form, written out; an empty resource
means NULL; the arguments' case and order do not matter
--- http_config eval: $::HTTP
--- config eval: $::L3_ACCESS
--- request eval
["GET /l3?user=11111111-0000-4000-8000-000000000001&resource=44444444-0000-4000-8000-000000000001",
 "GET /l3?resource=&user=11111111-0000-4000-8000-000000000008",
 "GET /l3?resource=44444444-0000-4000-8000-0000000000FF&x=1&user=11111111-0000-4000-8000-0000000000FF"]
--- response_body eval
[q{{"user":{"id":"11111111-0000-4000-8000-000000000001","status":"active","tokens_valid_after":null},"access":{"user_id":"11111111-0000-4000-8000-000000000001","generation_id":"44444444-0000-4000-8000-000000000001","project_id":"33333333-0000-4000-8000-000000000001","effective_role":"owner","has_direct_access":true,"has_team_access":true,"has_public_access":false},"project":{"id":"33333333-0000-4000-8000-000000000001","team_id":"22222222-0000-4000-8000-000000000001","visibility":"team"}}},
 q{{"user":{"id":"11111111-0000-4000-8000-000000000008","status":"active","tokens_valid_after":1893456000},"access":null,"project":null}},
 q{{"user":null,"access":null,"project":null}}]
--- error_log eval
qr/velro: L3 query user=11111111-0000-4000-8000-0000000000(01|08|FF) resource=(44444444-0000-4000-8000-0000000000(01|FF)|NULL)$/
--- no_error_log
[error]



=== TEST 3: the query's parameters: an empty resource is NULL
--- http_config eval: $::HTTP
--- config eval: $::L3_ACCESS
--- request
GET /l3?user=11111111-0000-4000-8000-000000000008&resource=
--- response_body chomp
{"user":{"id":"11111111-0000-4000-8000-000000000008","status":"active","tokens_valid_after":1893456000},"access":null,"project":null}
--- error_log
velro: L3 query user=11111111-0000-4000-8000-000000000008 resource=NULL
velro: postgres query sent on #



=== TEST 4: HEAD: the headers only
--- http_config eval: $::HTTP
--- config eval: $::L3
--- request eval
"HEAD " . main::uri('owner', 'gen_team')
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body
--- no_error_log
[error]



=== TEST 5: missing, malformed, oversized ids: 400, and no query at all
--- http_config eval: $::HTTP
--- config
    large_client_header_buffers 4 32k;
    location = /l3 {
        velro_authz_pg;
    }
--- request eval
my $u = $::ID{owner};
["GET /l3",
 "GET /l3?resource=$::ID{gen_team}",
 "GET /l3?user=",
 "GET /l3?users=$u",
 "GET /l3?user=" . substr($u, 0, 35),
 "GET /l3?user=${u}0",
 "GET /l3?user=" . ($u =~ tr/-//dr) . "0000",
 "GET /l3?user={$u}",
 "GET /l3?user=" . ("1" x 10240),
 "GET /l3?user=" . ($u =~ s/1$/g/r),
 "GET /l3?user=$u&resource=" . substr($::ID{gen_team}, 1),
 "GET /l3?user=$u&resource=not-a-uuid"]
--- error_code eval
[(400) x 12]
--- response_headers eval
[("Content-Type: application/json") x 12]
--- response_body eval
[('{"error":"invalid_request","error_description":"user must be a UUID"}')
 x 10,
 ('{"error":"invalid_request","error_description":"resource must be a UUID"}')
 x 2]
--- error_log eval
qr/velro: L3 request (without a valid "user"|with an invalid "resource") UUID/
--- no_error_log
velro: L3 query
velro: postgres query



=== TEST 6: SQL in the arguments never reaches PostgreSQL
--- http_config eval: $::HTTP
--- config eval: $::L3
--- request eval
my $u = $::ID{owner};
["GET /l3?user=$u'%20OR%20'1'='1",
 "GET /l3?user=');DROP%20TABLE%20users;--",
 "GET /l3?user=11111111-0000-4000-8000-00000000000'",
 "GET /l3?user=11111111-0000-4000-8000-0000000000%27",
 "GET /l3?user=$u&resource=44444444-0000-4000-8000-0000000000';",
 "GET /l3?user=$u&resource=%2744444444-0000-4000-8000-000000000001%27",
 "GET /l3?user=1111111\\-0000-4000-8000-000000000001",
 "GET /l3?user=$u"]
--- error_code eval
[(400) x 7, 200]
--- response_body_like eval
[(qr/^\{"error":"invalid_request","error_description":"(user|resource) must be a UUID"\}$/) x 7,
 qr/^\{"user":\{"id":"11111111-0000-4000-8000-000000000001"/]
--- no_error_log
[error]



=== TEST 7: only GET and HEAD
--- http_config eval: $::HTTP
--- config eval: $::L3
--- request eval
["POST " . main::uri('owner') . "\nsome body",
 "PUT " . main::uri('owner') . "\nx",
 "DELETE " . main::uri('owner')]
--- error_code eval
[405, 405, 405]
--- response_headers eval
[("Allow: GET, HEAD\nContent-Type: application/json") x 3]
--- response_body eval
[('{"error":"method_not_allowed","error_description":"only GET and HEAD are allowed"}') x 3]
--- no_error_log
velro: L3 query



=== TEST 8: PostgreSQL absent: 503 at once, with a JSON body and a log line
--- http_config
    velro_pg "$TEST_NGINX_PG_CLOSED" timeout=10s connect_timeout=10s;
--- config eval: $::L3
--- request eval
"GET " . main::uri('owner', 'gen_team')
--- timeout: 1
--- error_code: 503
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":"temporarily_unavailable","error_description":"no PostgreSQL connection"}
--- error_log eval
[qr/velro: postgres connection failed: .*refused.*, reconnecting/,
 qr/velro: postgres is down, L3 lookups fail until a connection is back/,
 qr/velro: L3 lookup failed: no PostgreSQL connection/,
 qr/velro: postgres subscriber connection failed/]



=== TEST 9: pool=1: concurrent SSI includes queue and are all answered in order
--- http_config
    velro_pg "$TEST_NGINX_PG_CONNINFO" pool=1;
--- config
    location = /page.html {
        ssi on;
    }
    location = /l3 {
        velro_authz_pg;
    }
--- user_files eval
[["page.html" => join "",
  map { qq{[<!--# include virtual="} . main::uri(@$_) . qq{" -->]\n} }
  @::CASES[0 .. 5]]]
--- request
GET /page.html
--- response_body eval
join "", map { "[" . main::l3($::ID{$_->[0]}, $::ID{$_->[1]}) . "]\n" }
         @::CASES[0 .. 5]
--- error_log
velro: L3 query queued, no idle PostgreSQL connection
--- no_error_log
[error]



=== TEST 10: in-memory subrequests (SSI include set=) get the answer too
--- http_config eval: $::HTTP
--- config
    location = /page.html {
        ssi on;
    }
    location = /l3 {
        velro_authz_pg;
    }
--- user_files eval
[["page.html" => qq{<!--# include virtual="} . main::uri('towner', 'gen_team')
  . qq{" set="a" -->A=<!--# echo var="a" encoding="none" -->\n}
  . qq{<!--# include virtual="} . main::uri('nobody')
  . qq{" set="b" -->B=<!--# echo var="b" encoding="none" -->\n}]]
--- request
GET /page.html
--- response_body eval
"A=" . main::l3($::ID{towner}, $::ID{gen_team}) . "\n"
. "B=" . main::l3($::ID{nobody}) . "\n"
--- no_error_log
[error]



=== TEST 11: a query that runs past the timeout: 503, the connection is
replaced, and the next lookup is answered
--- http_config
    velro_pg "$TEST_NGINX_PG_CONNINFO" pool=1 timeout=$TEST_NGINX_PG_T500;
--- config
    location = /page.html {
        ssi on;
    }
    location = /l3 {
        velro_authz_pg;
    }
--- init
main::wait_ready(1);
main::lock_users(0.8 * $::SLOW);
--- user_files eval
[["page.html" => qq{[<!--# include virtual="} . main::uri('owner', 'gen_team')
  . qq{" wait="yes" -->]\n[<!--# include virtual="} . main::uri('editor')
  . qq{" -->]\n}]]
--- timeout eval: 3 * $::SLOW
--- request
GET /page.html
--- response_body eval
qq{[{"error":"temporarily_unavailable","error_description":"PostgreSQL query timed out"}]\n}
. "[" . main::l3($::ID{editor}) . "]\n"
--- error_log
velro: postgres query timed out on connection #0, reconnecting
velro: L3 lookup failed: PostgreSQL query timed out
velro: postgres connection #0 ready



=== TEST 12: requests queued behind a slow one time out (pool=1)
--- http_config
    velro_pg "$TEST_NGINX_PG_CONNINFO" pool=1 timeout=$TEST_NGINX_PG_T400;
--- config
    location = /page.html {
        ssi on;
    }
    location = /l3 {
        velro_authz_pg;
    }
--- init
main::wait_ready(1);
main::lock_users(0.7 * $::SLOW);
--- user_files eval
[["page.html" => qq{[<!--# include virtual="} . main::uri('owner')
  . qq{" -->]\n[<!--# include virtual="} . main::uri('editor')
  . qq{" -->]\n}]]
--- request
GET /page.html
--- response_body
[{"error":"temporarily_unavailable","error_description":"PostgreSQL query timed out"}]
[{"error":"temporarily_unavailable","error_description":"timed out waiting for a PostgreSQL connection"}]
--- error_log
velro: L3 lookup failed: timed out waiting for a PostgreSQL connection
velro: L3 lookup failed: PostgreSQL query timed out



=== TEST 13: the client goes away while its query runs: the result is read
and discarded, the connection serves the next request (pool=1)
--- http_config
    velro_pg "$TEST_NGINX_PG_CONNINFO" pool=1 timeout=5s;
--- config eval: $::L3
--- init
main::wait_ready(1);
main::lock_users(0.6 * $::SLOW);
--- request eval
"GET " . main::uri('owner', 'gen_team')
--- timeout eval: 0.2 * $::SLOW
--- abort
--- ignore_response
--- wait eval: $::SLOW
--- error_log
client prematurely closed connection
velro: L3 request went away, its query's result will be discarded
velro: postgres result discarded



=== TEST 14: ... and waiting in the queue when the client goes away: it
leaves the queue, the request before it is answered
--- http_config
    velro_pg "$TEST_NGINX_PG_CONNINFO" pool=1 timeout=5s;
--- config eval: $::L3
--- init
main::wait_ready(1);
main::lock_users(0.6 * $::SLOW);
main::bg_request(main::uri('editor'));
--- request eval
"GET " . main::uri('owner', 'gen_team')
--- timeout eval: 0.2 * $::SLOW
--- abort
--- ignore_response
--- wait eval: $::SLOW
--- error_log
velro: L3 query queued
client prematurely closed connection
velro: L3 request went away while waiting for a connection
--- no_error_log
[alert]
[error]
velro: postgres result discarded



=== TEST 15: the connections are killed: lost, re-established (the
subscriber's too, without a flush), and the next lookup is answered
--- http_config eval: $::HTTP
--- config
    location = /page.html {
        ssi on;
    }
    location = /l3 {
        velro_authz_pg;
    }
    location = /sql {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SQL_PORT;
    }
--- user_files eval
[["page.html" => qq{[<!--# include virtual="/sql?q=SELECT+count(pg_terminate_backend(pid))+FROM+pg_stat_activity+WHERE+application_name+%3D+'nginx-velro'" wait="yes" -->]\n}
  . qq{[<!--# include virtual="} . main::uri('viewer', 'gen_team') . qq{" -->]\n}]]
--- init
main::wait_ready(4);
--- request
GET /page.html
--- response_body eval
"[5\n]\n[" . main::l3($::ID{viewer}, $::ID{gen_team}) . "]\n"
--- error_log eval
[qr/velro: postgres: FATAL: +terminating connection due to administrator command/,
 qr/velro: postgres connection lost: .*reconnecting/,
 qr/velro: postgres is down, L3 lookups fail until a connection is back/,
 qr/velro: postgres connection re-established/,
 qr/velro: postgres subscriber connection lost/,
 qr/velro: postgres LISTEN "velro_invalidate" re-established/,
 qr/velro: invalidation log followed from seq \d+/]



=== TEST 16: LISTEN: a change in the database reaches the notify callback
--- http_config eval: $::HTTP
--- config
    location = /sql {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SQL_PORT;
    }
--- init
main::wait_ready(4);
--- request eval
"POST /sql
UPDATE users SET tokens_valid_after = now() WHERE id = '$::ID{unrevoked}';
UPDATE users SET tokens_valid_after = '2000-01-01Z' WHERE id = '$::ID{unrevoked}';
UPDATE team_members SET role = 'viewer' WHERE user_id = '$::ID{editor}';
UPDATE team_members SET role = 'editor' WHERE user_id = '$::ID{editor}';"
--- error_code: 200
--- error_log eval
[qr/velro: postgres LISTEN "velro_invalidate"/,
 qr/velro: invalidation log followed from seq \d+/,
 qq{velro: postgres notification "{"kind":"user","id":"$::ID{unrevoked}"}"},
 qq{velro: postgres notification "{"kind":"member","id":"$::ID{editor}"}"}]
--- no_error_log
[error]



=== TEST 17: velro_pg_listen CHANNEL: notifications on another channel
--- http_config
    velro_pg "$TEST_NGINX_PG_CONNINFO" pool=1;
    velro_pg_listen Velro_Other_1;
--- config
    location = /sql {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SQL_PORT;
    }
--- init
main::wait_ready(1);
--- request eval
"POST /sql
SET velro.channel = 'Velro_Other_1';
UPDATE users SET status = 'disabled' WHERE id = '$::ID{disabled}';
UPDATE users SET status = 'active' WHERE id = '$::ID{disabled}';
UPDATE users SET status = 'disabled' WHERE id = '$::ID{disabled}';"
--- error_log eval
[qr/velro: postgres LISTEN "Velro_Other_1"/,
 qq{velro: postgres notification "{"kind":"user","id":"$::ID{disabled}"}"}]
--- no_error_log
[error]



=== TEST 18: velro_pg_listen off: no LISTEN connection, no flush
--- http_config
    velro_pg_listen off;
    velro_pg "$TEST_NGINX_PG_CONNINFO" pool=2;
--- config eval: $::L3
--- log_level: info
--- init
main::wait_ready(2, 0);
--- request eval
"GET " . main::uri('owner')
--- response_body eval
main::l3($::ID{owner})
--- error_log
velro: postgres pool ready, 2 connections
--- no_error_log
LISTEN
L1 flushed



=== TEST 19: a URI conninfo, several hosts: the first refuses, the second
is no standby, and is taken in the second round (the socket changes while
connecting)
--- http_config
    velro_pg "postgresql://postgres@127.0.0.1:1,127.0.0.1:$TEST_NGINX_PG_PORT/velro?target_session_attrs=prefer-standby&application_name=velro-uri" pool=2 connect_timeout=5s;
--- config eval: $::L3
--- request eval
"GET " . main::uri('outsider', 'gen_team_open')
--- response_body eval
main::l3($::ID{outsider}, $::ID{gen_team_open})
--- error_log
velro: postgres socket changed
--- no_error_log
[error]



=== TEST 20: connect_timeout: a server that never answers
--- http_config
    velro_pg "$TEST_NGINX_PG_BLACKHOLE" pool=1 connect_timeout=300ms;
--- config eval: $::L3
--- request eval
"GET " . main::uri('owner')
--- error_code: 503
--- response_body chomp
{"error":"temporarily_unavailable","error_description":"no PostgreSQL connection"}
--- error_log
velro: postgres connection failed: connect timed out, reconnecting



=== TEST 21: velro_pg without the pool: the default pool is 20
--- http_config
    velro_pg "$TEST_NGINX_PG_CONNINFO";
--- config eval: $::L3
--- log_level: info
--- init
main::wait_ready(20);
--- request eval
"GET " . main::uri('owner')
--- response_body eval
main::l3($::ID{owner})
--- error_log
velro: postgres pool ready, 20 connections



=== TEST 22: SQL errors: 503 and a log line, the connection goes on;
SQL NULL is JSON null (pool=1, one connection for all three)
--- http_config
    velro_pg "$TEST_NGINX_PG_ALT" pool=1;
--- config
    location = /page.html {
        ssi on;
    }
    location = /l3 {
        velro_authz_pg;
    }
--- user_files eval
[["page.html" => join "",
  map { qq{[<!--# include virtual="} . main::uri(@$_) . qq{" -->]\n} }
  ['nobody', 'gen_team'], ['owner'], ['owner', 'gen_team']]]
--- request
GET /page.html
--- response_body eval
qq{[{"error":"temporarily_unavailable","error_description":"PostgreSQL query failed"}]\n}
. qq{[null]\n}
. qq{[{"u" : "$::ID{owner}", "r" : "$::ID{gen_team}"}]\n}
--- error_log
velro: postgres query failed: ERROR:  division by zero
velro: L3 lookup failed: PostgreSQL query failed
--- no_error_log
velro: postgres connection lost



=== TEST 23: no velro_l3_entities in the database: the statement is not
prepared, the connection is retried with a backoff, lookups fail
--- http_config
    velro_pg "$TEST_NGINX_PG_NOSCHEMA" pool=2;
--- config eval: $::L3
--- request eval
"GET " . main::uri('owner')
--- error_code: 503
--- response_body chomp
{"error":"temporarily_unavailable","error_description":"no PostgreSQL connection"}
--- error_log eval
[qr/velro: postgres connection failed: ERROR: +function velro_l3_entities\(uuid, uuid\) does not exist/,
 qr/velro: postgres is down/]



=== TEST 24: configuration error: velro_pg twice
--- http_config
    velro_pg "host=127.0.0.1";
    velro_pg "host=127.0.0.1";
--- config eval: $::L3
--- must_die
--- error_log
"velro_pg" directive is duplicate



=== TEST 25: configuration error: an invalid conninfo
--- http_config
    velro_pg "host=127.0.0.1 nosuchoption=1";
--- config eval: $::L3
--- must_die
--- error_log
invalid PostgreSQL conninfo: invalid connection option "nosuchoption"



=== TEST 26: configuration error: an invalid URI
--- http_config
    velro_pg "postgresql://[::1";
--- config eval: $::L3
--- must_die
--- error_log
invalid PostgreSQL conninfo: 



=== TEST 27: configuration error: pool=0
--- http_config
    velro_pg "host=127.0.0.1" pool=0;
--- config eval: $::L3
--- must_die
--- error_log
invalid pool size "pool=0", 1 to 1024



=== TEST 28: configuration error: timeout=0
--- http_config
    velro_pg "host=127.0.0.1" timeout=0;
--- config eval: $::L3
--- must_die
--- error_log
invalid time in "timeout=0"



=== TEST 29: configuration error: a bad connect_timeout
--- http_config
    velro_pg "host=127.0.0.1" connect_timeout=abc;
--- config eval: $::L3
--- must_die
--- error_log
invalid time in "connect_timeout=abc"



=== TEST 30: configuration error: an unknown parameter
--- http_config
    velro_pg "host=127.0.0.1" bogus=1;
--- config eval: $::L3
--- must_die
--- error_log
invalid parameter "bogus=1"



=== TEST 31: configuration error: a channel that is no identifier
--- http_config
    velro_pg "host=127.0.0.1";
    velro_pg_listen 1abc;
--- config eval: $::L3
--- must_die
--- error_log
invalid channel "1abc"



=== TEST 32: configuration error: a channel with a quote
--- http_config
    velro_pg "host=127.0.0.1";
    velro_pg_listen 'a"b';
--- config eval: $::L3
--- must_die
--- error_log
invalid channel "a"b"



=== TEST 33: configuration error: a channel of 64 characters
--- http_config
    velro_pg "host=127.0.0.1";
    velro_pg_listen aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;
--- config eval: $::L3
--- must_die
--- error_log
invalid channel "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"



=== TEST 34: configuration error: velro_pg_listen twice
--- http_config
    velro_pg_listen off;
    velro_pg_listen off;
    velro_pg "host=127.0.0.1";
--- config eval: $::L3
--- must_die
--- error_log
"velro_pg_listen" directive is duplicate



=== TEST 35: configuration error: velro_pg_listen without velro_pg
--- http_config
    velro_pg_listen chan;
--- config eval: $::L3
--- must_die
--- error_log
"velro_pg_listen" needs "velro_pg"



=== TEST 36: configuration error: velro_authz_pg with an unknown argument
--- http_config eval: $::HTTP
--- config
    location = /l3 {
        velro_authz_pg on;
    }
--- must_die
--- error_log
invalid value "on", it must be "entities" or "access"



=== TEST 37: the channel may come before velro_pg, which keeps it
--- http_config
    velro_pg_listen other_chan;
    velro_pg "$TEST_NGINX_PG_CONNINFO" pool=1;
--- config eval: $::L3
--- log_level: info
--- request eval
"GET " . main::uri('owner')
--- response_body eval
main::l3($::ID{owner})
--- error_log
velro: postgres LISTEN "other_chan"



=== TEST 38: the warm form, every fixture user, exactly as PostgreSQL gives it
--- http_config eval: $::HTTP
--- config eval: $::L3
--- request eval
[map { "GET /l3?user=$::ID{$_}&warm=1" } @::WARM]
--- error_code eval
[(200) x @::WARM]
--- response_headers eval
[("Content-Type: application/json") x @::WARM]
--- response_body eval
[map { main::warm($::ID{$_}) } @::WARM]
--- error_log eval
qr/velro: L3 warm query user=11111111-0000-4000-8000-0000000000\w\w limit=100$/
--- no_error_log
[error]
[alert]



=== TEST 39: the warm form: limit respected, arguments in any order, the
answer written out for the unknown user
--- http_config eval: $::HTTP
--- config eval: $::L3
--- request eval
["GET /l3?user=$::ID{owner}&warm=1&limit=3",
 "GET /l3?limit=1&warm=1&user=$::ID{owner}",
 "GET /l3?warm=1&user=$::ID{tadmin}&limit=1000",
 "GET /l3?user=$::ID{editor}&warm=1&limit=2&x=1",
 "GET /l3?user=$::ID{nobody}&warm=1&limit=5"]
--- response_body eval
[main::warm($::ID{owner}, 3), main::warm($::ID{owner}, 1),
 main::warm($::ID{tadmin}, 1000), main::warm($::ID{editor}, 2),
 '{"user":null,"generations":[],"projects":[]}']
--- error_log eval
qr/velro: L3 warm query user=11111111-0000-4000-8000-0000000000(01 limit=[13]|03 limit=1000|04 limit=2|ff limit=5)$/
--- no_error_log
[error]



=== TEST 40: the warm form's limit counts rows
--- http_config eval: $::HTTP
--- config eval: $::L3
--- request eval
["GET /l3?user=$::ID{owner}&warm=1&limit=4",
 "GET /l3?user=$::ID{owner}&warm=1"]
--- response_body_like eval
[qr/^\{"user":\{"id":"\Q$::ID{owner}\E"[^\[]*"generations":\[(?:\{[^{}]*\},){3}\{[^{}]*\}\],"projects":\[/,
 qr/^\{"user":\{"id":"\Q$::ID{owner}\E"[^\[]*"generations":\[(?:\{[^{}]*\},){9}\{[^{}]*\}\],"projects":\[/]
--- no_error_log
[error]



=== TEST 41: bad warm arguments: 400, and no query at all
--- http_config eval: $::HTTP
--- config eval: $::L3
--- request eval
my $u = $::ID{owner};
["GET /l3?warm=1",
 "GET /l3?warm=1&user=not-a-uuid",
 "GET /l3?user=$u&warm=0",
 "GET /l3?user=$u&warm=",
 "GET /l3?user=$u&warm=yes",
 "GET /l3?user=$u&warm=11",
 "GET /l3?user=$u&warm=1&limit=0",
 "GET /l3?user=$u&warm=1&limit=1001",
 "GET /l3?user=$u&warm=1&limit=",
 "GET /l3?user=$u&warm=1&limit=-1",
 "GET /l3?user=$u&warm=1&limit=%2B5",
 "GET /l3?user=$u&warm=1&limit=5x",
 "GET /l3?user=$u&warm=1&limit=99999999999999999999999",
 "GET /l3?user=$u&limit=5",
 "GET /l3?user=$u&resource=$::ID{gen_team}&limit=5"]
--- error_code eval
[(400) x 15]
--- response_headers eval
[("Content-Type: application/json") x 15]
--- response_body eval
[('{"error":"invalid_request","error_description":"user must be a UUID"}') x 2,
 ('{"error":"invalid_request","error_description":"warm must be 1"}') x 4,
 ('{"error":"invalid_request","error_description":"limit must be 1 to 1000"}') x 7,
 ('{"error":"invalid_request","error_description":"limit needs warm=1"}') x 2]
--- no_error_log
velro: L3 query
velro: L3 warm query
velro: postgres query



=== TEST 42: warm and a resource together: 400 (an empty one too), no query
--- http_config eval: $::HTTP
--- config eval: $::L3
--- request eval
my $u = $::ID{owner};
["GET /l3?user=$u&warm=1&resource=$::ID{gen_team}",
 "GET /l3?resource=$::ID{gen_team}&user=$u&warm=1&limit=5",
 "GET /l3?user=$u&warm=1&resource=",
 "GET /l3?user=$u&warm=1&resource=not-a-uuid",
 "GET /l3?user=$u&warm=0&resource=$::ID{gen_team}"]
--- error_code eval
[(400) x 5]
--- response_body eval
[('{"error":"invalid_request","error_description":"warm takes no resource"}') x 5]
--- error_log
velro: L3 warm request with a "resource"
--- no_error_log
velro: L3 query
velro: L3 warm query
velro: postgres query



=== TEST 43: the warm form through the pool, one connection, in an SSI page
with lookups in between: each statement answers its own form (pool=1)
--- http_config
    velro_pg "$TEST_NGINX_PG_CONNINFO" pool=1;
--- config
    location = /page.html {
        ssi on;
    }
    location = /l3 {
        velro_authz_pg;
    }
--- user_files eval
[["page.html" => qq{[<!--# include virtual="/l3?user=$::ID{editor}&warm=1&limit=2" -->]\n}
  . qq{[<!--# include virtual="} . main::uri('editor', 'gen_team') . qq{" -->]\n}
  . qq{[<!--# include virtual="/l3?user=$::ID{viewer}&warm=1" -->]\n}]]
--- request
GET /page.html
--- response_body eval
"[" . main::warm($::ID{editor}, 2) . "]\n"
. "[" . main::l3($::ID{editor}, $::ID{gen_team}) . "]\n"
. "[" . main::warm($::ID{viewer}) . "]\n"
--- no_error_log
[error]
[warn]



=== TEST 44: a database without velro_l3_warm_entities: a warning, lookups go on,
warm requests fail with 503 (pool=1)
--- http_config
    velro_pg "$TEST_NGINX_PG_ALT" pool=1;
--- config
    location = /page.html {
        ssi on;
    }
    location = /l3 {
        velro_authz_pg;
    }
--- user_files eval
[["page.html" => qq{[<!--# include virtual="/l3?user=$::ID{owner}&warm=1" -->]\n}
  . qq{[<!--# include virtual="} . main::uri('owner', 'gen_team') . qq{" -->]\n}]]
--- request
GET /page.html
--- response_body eval
qq{[{"error":"temporarily_unavailable","error_description":"PostgreSQL query failed"}]\n}
. qq{[{"u" : "$::ID{owner}", "r" : "$::ID{gen_team}"}]\n}
--- error_log eval
[qr/velro: postgres statement "velro_l3_warm" not prepared: ERROR: +function velro_l3_warm_entities\(uuid, integer\) does not exist.*; warm requests will fail/,
 qr/velro: postgres query failed: ERROR: +function velro_l3_warm_entities\(uuid, integer\) does not exist/]
--- no_error_log
velro: postgres connection lost
velro: postgres connection failed



=== TEST 45: the entity form, written out: the user with the memberships,
the generation, its project; an unknown generation; no resource
--- http_config eval: $::HTTP
--- config eval: $::L3
--- request eval
["GET /l3?user=$::ID{viewer}&resource=$::ID{gen_team}",
 "GET /l3?user=$::ID{outsider}&resource=$::ID{gen_unknown}",
 "GET /l3?user=$::ID{editor}",
 "GET /l3?user=$::ID{nobody}&resource=$::ID{gen_noproject}"]
--- response_body eval
[qq{{"user":{"id":"$::ID{viewer}","status":"active","tokens_valid_after":null,"teams":{"$::ID{team}":"viewer"}},"generation":{"id":"$::ID{gen_team}","user_id":"$::ID{owner}","project_id":"$::ID{proj_team}","status":"completed","media_url":"https://media.example.com/gen_team.png"},"project":{"id":"$::ID{proj_team}","team_id":"$::ID{team}","visibility":"team"}}},
 qq{{"user":{"id":"$::ID{outsider}","status":"active","tokens_valid_after":null,"teams":{"$::ID{team_other}":"owner"}},"generation":null,"project":null}},
 qq{{"user":{"id":"$::ID{editor}","status":"active","tokens_valid_after":null,"teams":{"$::ID{team}":"editor"}}}},
 qq{{"user":null,"generation":{"id":"$::ID{gen_noproject}","user_id":"$::ID{owner}","project_id":null,"status":"completed","media_url":"https://media.example.com/gen_noproject.png"},"project":null}}]
--- no_error_log
[error]
